package gateway

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	iox2 "github.com/iox2go/iox2go/runtime"
)

type otherReading struct {
	Seq   uint64
	Value [4]int32 // one more than reading's
}

func refusal(g *Gateway, name string) (Refusal, bool) {
	for _, r := range g.Status().Refused {
		if r.Service == name {
			return r, true
		}
	}
	return Refusal{}, false
}

// TestIdentityMismatchRefused: the same service name with another payload
// type on the other host is refused on both sides, with the reason in the
// status and the log, and nothing crosses.
func TestIdentityMismatchRefused(t *testing.T) {
	ns := startNATS(t, 0)
	a, b := domain(t, "a"), domain(t, "b")
	// Both hosts have their service before the gateways start: a gateway
	// that saw only A's would create A's on B first (docs/GATEWAY.md),
	// and B's program would then fail to open it instead (a race the
	// test lost now and then with both cores busy).
	ea := psPorts(t, a)
	nb := testNode(t, b, "app")
	svc := must[*iox2.PublishSubscribeService[otherReading]](t)(iox2.PublishSubscribe[otherReading](nb, psName).OpenOrCreate())
	defer svc.Close()
	sb := must[*iox2.Subscriber[otherReading]](t)(svc.Subscriber())
	defer sb.Close()
	ga := runGateway(t, a, ns.ClientURL(), nil)
	gb := runGateway(t, b, ns.ClientURL(), nil)
	for _, g := range []*testGW{ga, gb} {
		eventually(t, "refusal", func() bool { _, ok := refusal(g.Gateway, psName); return ok })
		r, _ := refusal(g.Gateway, psName)
		if !strings.Contains(r.Reason, "type identity differs from the local service's: payload type") {
			t.Errorf("gateway %s: reason %q", g.ID(), r.Reason)
		}
		if !g.log.has("refused: type identity differs") {
			t.Errorf("gateway %s: refusal not logged", g.ID())
		}
		if len(g.Status().Bridges) != 0 {
			t.Errorf("gateway %s bridges %+v", g.ID(), g.Status().Bridges)
		}
	}
	send(t, ea.pub, reading{Seq: 1}, "A")
	time.Sleep(100 * time.Millisecond)
	if s, _ := sb.Receive(); s != nil {
		t.Errorf("a sample crossed a refused service: %+v", *s.Payload())
	}
}

// TestByteOrderAndDenyRefused: a gateway of another byte order has every
// service refused; a denied service is neither announced nor bridged.
func TestByteOrderAndDenyRefused(t *testing.T) {
	ns := startNATS(t, 0)
	a, b, c := domain(t, "a"), domain(t, "b"), domain(t, "c")
	ga := runGateway(t, a, ns.ClientURL(), func(c *Config) { c.Deny = []string{"gw/secret/*"} })
	gb := runGateway(t, b, ns.ClientURL(), func(c *Config) { c.byteOrder = "big" })
	gc := runGateway(t, c, ns.ClientURL(), nil)
	// A payload type without a layout (opaque bytes) cannot be converted.
	nb := testNode(t, b, "app")
	typed := must[*iox2.PublishSubscribeService[reading]](t)(iox2.PublishSubscribe[reading](nb, "gw/typed").Create())
	defer typed.Close()
	static := *typed.StaticConfig().PublishSubscribe
	static.Payload = iox2.TypeInfo{Name: "blob", Size: 24, Align: 8}
	opaque := must[*iox2.RawPubSubService](t)(iox2.PublishSubscribeRaw(nb, psName).Create(static))
	defer opaque.Close()
	nc := testNode(t, c, "app")
	for _, name := range []string{"gw/secret/one", "gw/open"} {
		s := must[*iox2.EventService](t)(iox2.Event(nc, name).OpenOrCreate())
		defer s.Close()
	}
	eventually(t, "byte order refusal", func() bool { _, ok := refusal(ga.Gateway, psName); return ok })
	r, _ := refusal(ga.Gateway, psName)
	if want := `byte order big differs from this host's little, and the payload type "blob" has no layout that tells its fields (opaque<24>)`; r.Gateway != gb.ID() || r.Reason != want {
		t.Errorf("refusal %+v, want the reason %q", r, want)
	}
	// The typed one converts: bridged.
	eventually(t, "gw/typed bridged", func() bool { return bridged(ga.Gateway, "gw/typed", psPattern, 1) })
	eventually(t, "gw/open bridged", func() bool { return bridged(ga.Gateway, "gw/open", evPattern, 1) })
	r, ok := refusal(ga.Gateway, "gw/secret/one")
	if !ok || r.Reason != "not allowed by this gateway's allow and deny lists" || r.Gateway != gc.ID() {
		t.Errorf("denied service: %+v, %v", r, ok)
	}
	// Neither the denied nor the refused service exists on host a.
	svcs := must[[]iox2.ServiceInfo](t)(iox2.ListServices(a))
	var names []string
	for _, s := range svcs {
		names = append(names, s.Static.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"gw/open", "gw/typed"}) {
		t.Errorf("host a has %q, want gw/open and gw/typed", names)
	}
}

// TestRemoteForgotten: a gateway that stops announcing without saying
// goodbye is forgotten after 3 of its heartbeat intervals; one that says
// goodbye at once.
func TestRemoteForgotten(t *testing.T) {
	ns := startNATS(t, 0)
	a := domain(t, "a")
	ga := runGateway(t, a, ns.ClientURL(), nil)
	nc := must[*nats.Conn](t)(nats.Connect(ns.ClientURL()))
	defer nc.Close()
	ann := announcement{Gateway: "00000000deadbeef", Host: "ghost", ByteOrder: nativeByteOrder(), Protocol: iox2.ProtocolVersion, Wire: wireVersion,
		HeartbeatNS: int64(200 * time.Millisecond)}
	b, _ := json.Marshal(&ann)
	subj := "iox2go." + ga.Namespace() + ".gw.00000000deadbeef.announce"
	eventually(t, "ghost known", func() bool { nc.Publish(subj, b); return len(ga.Status().Remotes) == 1 })
	start := time.Now()
	eventually(t, "ghost forgotten", func() bool { return len(ga.Status().Remotes) == 0 })
	if d := time.Since(start); d < 500*time.Millisecond || d > 1500*time.Millisecond {
		t.Errorf("forgotten after %v, want 3 x 200ms plus at most a heartbeat", d)
	}
	if !ga.log.has("gateway 00000000deadbeef on host \"ghost\" not heard from for") {
		t.Errorf("not logged: %q", ga.log.lines)
	}
	// Goodbye: forgotten at once, and later announcements of it ignored.
	eventually(t, "ghost known again", func() bool { nc.Publish(subj, b); return len(ga.Status().Remotes) == 1 })
	must[struct{}](t)(struct{}{}, nc.Publish("iox2go."+ga.Namespace()+".gw.00000000deadbeef.bye", nil))
	must[struct{}](t)(struct{}{}, nc.Publish(subj, b))
	start = time.Now()
	eventually(t, "ghost gone", func() bool { return len(ga.Status().Remotes) == 0 })
	if d := time.Since(start); d > 150*time.Millisecond {
		t.Errorf("bye took %v", d)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(ga.Status().Remotes); n != 0 {
		t.Errorf("a departed gateway came back: %+v", ga.Status().Remotes)
	}
}

// TestStatusSocket: QueryStatus reaches the running gateway; a second
// gateway in the domain is refused; after the gateway ends, no socket and
// ErrNotRunning; a dead gateway's socket is removed.
func TestStatusSocket(t *testing.T) {
	ns := startNATS(t, 0)
	a := domain(t, "a")
	ga := runGateway(t, a, ns.ClientURL(), nil)
	var st Status
	eventually(t, "status", func() bool {
		var err error
		st, err = QueryStatus(a)
		return err == nil && st.NATS.Connected
	})
	if st.Gateway != ga.ID() || st.PID != os.Getpid() || st.Namespace != ga.Namespace() || st.NATS.State != "CONNECTED" {
		t.Errorf("status %+v", st)
	}
	g2 := must[*Gateway](t)(New(a, Config{NATSURL: ns.ClientURL(), Logf: t.Logf}))
	if err := g2.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "another gateway runs in this domain") {
		t.Errorf("second gateway: %v", err)
	}
	ga.stop()
	if _, err := os.Stat(SocketPath(a)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left: %v", err)
	}
	if _, err := QueryStatus(a); !errors.Is(err, ErrNotRunning) {
		t.Errorf("after stop: %v", err)
	}
	// A socket file nobody serves, as a SIGKILLed gateway leaves.
	if err := os.WriteFile(SocketPath(a), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := QueryStatus(a); !errors.Is(err, ErrNotRunning) {
		t.Errorf("stale socket: %v", err)
	}
}

// TestWithdrawn: a service that the nodes of host A stop using is
// withdrawn, and host B's gateway closes its bridge and proxy service.
func TestWithdrawn(t *testing.T) {
	ns := startNATS(t, 0)
	a, b := domain(t, "a"), domain(t, "b")
	runGateway(t, a, ns.ClientURL(), nil)
	gb := runGateway(t, b, ns.ClientURL(), nil)
	node := must[*iox2.Node](t)(iox2.NewNodeBuilder().Name("app").Config(a).Create())
	svc := must[*iox2.EventService](t)(iox2.Event(node, evName).OpenOrCreate())
	eventually(t, "bridged on b", func() bool { return bridged(gb.Gateway, evName, evPattern, 1) })
	if svcs := must[[]iox2.ServiceInfo](t)(iox2.ListServices(b)); len(svcs) != 1 || svcs[0].Static.Name != evName {
		t.Fatalf("b has %+v, want the proxy of %s", svcs, evName)
	}
	svc.Close()
	node.Close()
	eventually(t, "bridge closed on b", func() bool { return len(gb.Status().Bridges) == 0 })
	eventually(t, "proxy service gone on b", func() bool {
		svcs, err := iox2.ListServices(b)
		return err == nil && len(svcs) == 0
	})
	if !gb.log.has("no remote gateway has it any more, bridge closed") {
		t.Errorf("not logged: %q", gb.log.lines)
	}
}
