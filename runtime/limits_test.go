package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
	"github.com/iox2go/iox2go/runtime/ring"
)

func init() { helpers["huge-peer-qos"] = helperHugePeerQoS }

// forgeService creates the service that sc describes without any of the
// builders' checks, as another process (a hostile one, a buggy one, or
// another language binding) could: the static config as given, and a
// dynamic config with its capacities. The node holds it like a service it
// opened, so closing the node removes it.
func forgeService(node *Node, sc StaticConfig) (*serviceCore, error) {
	cfg := node.config
	switch {
	case sc.PublishSubscribe != nil:
		sc.Pattern = PatternPublishSubscribe.String()
	case sc.Event != nil:
		sc.Pattern = PatternEvent.String()
	case sc.RequestResponse != nil:
		sc.Pattern = PatternRequestResponse.String()
	}
	p, caps, ok := staticShape(&sc)
	if !ok {
		return nil, fmt.Errorf("static config %+v has no valid capacities", sc)
	}
	sc.Version = protocol.VersionString
	sc.Hash, sc.UID = serviceHash(sc.Name, p), newID().String()
	tag := node.tagPath(sc.Hash, sc.UID)
	if err := writeJSONFile(tag, struct{}{}, cfg.FileMode); err != nil {
		return nil, err
	}
	d, err := createDynamic(cfg, node.shm, cfg.dynamicName(sc.Hash, sc.UID), caps, p, node.id)
	if err != nil {
		return nil, err
	}
	if err := writeStatic(cfg.staticPath(sc.Hash), node.dir, &sc, cfg.FileMode); err != nil {
		return nil, err
	}
	return startService(node, sc.Name, sc.Hash, &sc, d, tag, 0)
}

// hugePubSub is the service of the report: every value in its documented
// range, their combination a publisher pool of 8.6e9 chunks.
func hugePubSub(name string) StaticConfig {
	ti, _ := typeInfoOf[msg]()
	return StaticConfig{Name: name, PublishSubscribe: &PubSubStatic{
		Payload: ti, PayloadVariant: variantFixed,
		MaxPublishers: 2, MaxSubscribers: 1 << 16, MaxNodes: 20,
		SubscriberMaxBufferSize: 1 << 16, SubscriberMaxBorrowedSamples: 1 << 16, EnableSafeOverflow: true,
	}}
}

// helperHugePeerQoS plays both processes of the report: a peer creates
// the service with the huge combination, then a node with the default
// QoS opens it and creates a publisher. It prints what that gave; it must
// neither crash nor succeed.
func helperHugePeerQoS() error {
	cfg := helperConfig()
	cfg.InProcess = os.Getenv("IOX2_TEST_INPROCESS") == "1"
	peer, err := NewNodeBuilder().Name("peer").Config(cfg).SignalHandling(false).Create()
	if err != nil {
		return err
	}
	defer peer.Close()
	if _, err := forgeService(peer, hugePubSub("huge")); err != nil {
		return fmt.Errorf("forging the service: %w", err)
	}
	node, err := NewNodeBuilder().Name("opener").Config(cfg).SignalHandling(false).Create()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := PublishSubscribe[msg](node, "huge").Open()
	if err == nil {
		defer svc.Close()
		var pub *Publisher[msg]
		pub, err = svc.Publisher()
		if err == nil {
			pub.Close()
			return errors.New("the publisher was created")
		}
	}
	fmt.Printf("refused, resource limit %v: %v\n", errors.Is(err, ErrResourceLimit), err)
	return nil
}

// TestHugePeerQoSDoesNotKillTheOpener is the report's reproduction: a
// service whose QoS values are each within range but whose publisher pool
// would need 8.6e9 chunks. Opening it with the default QoS and creating a
// publisher killed the process (fatal error: runtime: out of memory in
// newSender, exit status 2). It runs in a child process, so that a
// regression fails this test instead of killing the test binary.
func TestHugePeerQoSDoesNotKillTheOpener(t *testing.T) {
	for _, inProcess := range []bool{false, true} {
		t.Run(fmt.Sprint("in process ", inProcess), func(t *testing.T) {
			cfg := testConfig(t)
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			env := "IOX2_TEST_INPROCESS=0"
			if inProcess {
				env = "IOX2_TEST_INPROCESS=1"
			}
			cmd.Env = append(os.Environ(), "IOX2_TEST_HELPER=huge-peer-qos", "IOX2_TEST_ROOT="+cfg.Root, "IOX2_TEST_PREFIX="+cfg.Prefix, env)
			var out, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &stderr
			err := cmd.Run()
			// Only the first lines of a Go crash: its goroutine dump is long.
			crash, _, _ := strings.Cut(stderr.String(), "\ngoroutine ")
			if err != nil {
				t.Fatalf("the opener: %v\n%s", err, crash)
			}
			got := out.String()
			for _, want := range []string{
				"refused, resource limit true: open service \"huge\": ",
				"a publisher needs max subscribers 65536 × (subscriber max buffer size 65536 + subscriber max borrowed samples 65536) + history size 0 + max loaned samples 2 = 8589934594 chunks",
				"a chunk index addresses at most 16777215",
			} {
				if !strings.Contains(got, want) {
					t.Errorf("the opener printed %q, want it to contain %q", got, want)
				}
			}
		})
	}
}

// wantLimit fails t unless err is a *ServiceError for ErrResourceLimit
// (and so ErrInvalidQoS) whose message contains every part of want.
func wantLimit(t *testing.T, what string, err error, want ...string) {
	t.Helper()
	var se *ServiceError
	if !errors.Is(err, ErrResourceLimit) || !errors.Is(err, ErrInvalidQoS) || !errors.As(err, &se) {
		t.Errorf("%s = %v, want a *ServiceError for ErrResourceLimit", what, err)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s = %v\nwant it to contain %q", what, err, w)
		}
	}
}

// assertNothingOf fails t if the service name of pattern p has a static
// config in cfg's domain.
func assertNoService(t *testing.T, cfg *Config, name string, p Pattern) {
	t.Helper()
	if _, err := os.Stat(cfg.staticPath(serviceHash(name, p))); err == nil {
		t.Errorf("%s %q has a static config", p, name)
	}
}

type megabyte struct{ B [1 << 20]byte }

// TestResourceLimitsOnCreate: a builder whose QoS values are each in range
// but combine into more than a port can have creates nothing and says
// which values, which limit.
func TestResourceLimitsOnCreate(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	_, err := PublishSubscribe[msg](node, "huge").MaxSubscribers(1 << 16).SubscriberMaxBufferSize(1 << 16).
		SubscriberMaxBorrowedSamples(1 << 16).Create()
	wantLimit(t, "pub-sub Create", err, `create service "huge"`,
		"a publisher needs max subscribers 65536 × (subscriber max buffer size 65536 + subscriber max borrowed samples 65536) + history size 0 + max loaned samples 2 = 8589934594 chunks; a chunk index addresses at most 16777215")
	_, err = PublishSubscribe[msg](node, "huge").MaxSubscribers(1 << 16).SubscriberMaxBufferSize(1 << 16).
		SubscriberMaxBorrowedSamples(1 << 16).OpenOrCreate()
	wantLimit(t, "pub-sub OpenOrCreate", err, "8589934594 chunks")
	assertNoService(t, cfg, "huge", PatternPublishSubscribe)

	// In range of the index, beyond the memory: 8 × (1024 + 2) + 2 chunks
	// of 1 MiB.
	_, err = PublishSubscribe[megabyte](node, "big").SubscriberMaxBufferSize(1024).Create()
	wantLimit(t, "pub-sub Create of 8 GiB", err,
		"a publisher needs up to 8.0 GiB", "a data segment of 8210 chunks of 1.0 MiB (1048640 bytes)",
		"more than the port memory limit of 1.0 GiB (1073741824 bytes) (Config.PortMemoryLimit, global.port-memory-limit)")
	assertNoService(t, cfg, "big", PatternPublishSubscribe)
	// The subscriber side: a publisher of 262146 chunks fits, but a
	// subscriber keeps a bitset over the chunks of each of 65536 of them.
	_, err = PublishSubscribe[msg](node, "fan-in").MaxPublishers(1 << 16).MaxSubscribers(2).
		SubscriberMaxBufferSize(1 << 16).SubscriberMaxBorrowedSamples(1 << 16).Create()
	wantLimit(t, "pub-sub Create of a huge fan-in", err, "a subscriber needs up to 2.1 GiB (2263351296 bytes) for bookkeeping, more than the port memory limit")
	assertNoService(t, cfg, "fan-in", PatternPublishSubscribe)

	_, err = RequestResponse[rqMsg, rsMsg](node, "rr").MaxActiveRequestsPerClient(1 << 16).MaxResponseBufferSize(1 << 16).Create()
	wantLimit(t, "request-response Create", err,
		"a server needs max clients 8 × max active requests per client 65536 × (max response buffer size 65536 + max borrowed responses per pending response 2 + max loaned responses per request 2) = 34361835520 chunks; a chunk index addresses at most 16777215")
	_, err = RequestResponse[rqMsg, rsMsg](node, "rr").MaxActiveRequestsPerClient(1 << 15).MaxServers(1 << 8).MaxClients(1).Create()
	wantLimit(t, "request-response Create", err,
		"a client needs max servers 256 × 2 × max active requests per client 32768 + max active requests per client 32768 + max loaned requests 2 = 16809986 chunks; a chunk index addresses at most 16777215")
	// In range of the index, beyond the memory: 8 clients × 64 × (2 + 2 +
	// 2) chunks of 1 MiB for each server.
	_, err = RequestResponse[rqMsg, megabyte](node, "rr").MaxActiveRequestsPerClient(64).Create()
	wantLimit(t, "request-response Create of 3 GiB", err, "a server needs up to 3.0 GiB", "a data segment of 3072 chunks of 1.0 MiB")
	assertNoService(t, cfg, "rr", PatternRequestResponse)

	small := testConfig(t)
	small.PortMemoryLimit = MinPortMemoryLimit
	snode := testNode(t, small)
	_, err = Event(snode, "ev").MaxNodes(1 << 16).MaxNotifiers(1 << 16).MaxListeners(1 << 16).Create()
	wantLimit(t, "event Create", err, "the service's dynamic config needs up to 9.0 MiB", "for the slots of max nodes 65536 and 65536 + 65536 ports, more than the port memory limit of 1.0 MiB (1048576 bytes)")
	_, err = Event(snode, "ev").EventIDMaxValue(65535).Create()
	wantLimit(t, "event Create", err, "a listener needs up to 1.5 MiB", "for an event segment of 65536 event ids (event id max value 65535) and 1.0 MiB (1048576 bytes) of bookkeeping")
	assertNoService(t, small, "ev", PatternEvent)
	// What fits is created.
	ev, err := Event(snode, "ev").EventIDMaxValue(4095).Create()
	if err != nil {
		t.Fatal(err)
	}
	ev.Close()
}

// TestResourceLimitsOnOpen: the static config of an existing service was
// written by another process. Opening one whose QoS exceeds this process's
// limits fails with ErrResourceLimit, and one with a value out of its
// range with ErrServiceCorrupted, before the opener joins or maps it.
func TestResourceLimitsOnOpen(t *testing.T) {
	cfg := testConfig(t)
	peer := testNode(t, cfg)
	node := testNode(t, cfg)
	joined := func(core *serviceCore) int { return len(core.dyn.nodeIDs()) }

	ps, err := forgeService(peer, hugePubSub("huge"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = PublishSubscribe[msg](node, "huge").Open()
	wantLimit(t, "pub-sub Open", err, `open service "huge"`, "= 8589934594 chunks; a chunk index addresses at most 16777215")
	_, err = PublishSubscribe[msg](node, "huge").OpenOrCreate()
	wantLimit(t, "pub-sub OpenOrCreate", err, "= 8589934594 chunks")
	_, err = PublishSubscribeRaw(node, "huge").Open()
	wantLimit(t, "raw Open", err, "= 8589934594 chunks")
	if n := joined(ps); n != 1 {
		t.Errorf("the refused openers joined the service: %d nodes", n)
	}

	rqTI, _ := typeInfoOf[rqMsg]()
	rsTI, _ := typeInfoOf[rsMsg]()
	rs := &ReqResStatic{Request: rqTI, RequestVariant: variantFixed, Response: rsTI, ResponseVariant: variantFixed,
		MaxActiveRequestsPerClient: 1 << 16, MaxLoanedRequests: 2, MaxResponseBufferSize: 1 << 16,
		MaxBorrowedResponsesPerPendingResponse: 1 << 16, MaxServers: 1 << 16, MaxClients: 1 << 16, MaxNodes: 20}
	rr, err := forgeService(peer, StaticConfig{Name: "rr", RequestResponse: rs})
	if err != nil {
		t.Fatal(err)
	}
	_, err = RequestResponse[rqMsg, rsMsg](node, "rr").Open()
	wantLimit(t, "request-response Open", err, "a client needs max servers 65536 × 2 × max active requests per client 65536")
	if n := joined(rr); n != 1 {
		t.Errorf("the refused opener joined the service: %d nodes", n)
	}

	ev, err := forgeService(peer, StaticConfig{Name: "ev", Event: &EventStatic{MaxNotifiers: 1 << 16, MaxListeners: 1 << 16,
		MaxNodes: 1 << 16, EventIDMaxValue: maxEventIDLimit}})
	if err != nil {
		t.Fatal(err)
	}
	small := cfg.clone()
	small.PortMemoryLimit = MinPortMemoryLimit
	snode := testNode(t, small)
	_, err = Event(snode, "ev").Open()
	wantLimit(t, "event Open", err, "the service's dynamic config needs up to 9.0 MiB")
	if n := joined(ev); n != 1 {
		t.Errorf("the refused opener joined the service: %d nodes", n)
	}
	// With the default limit, the same service opens.
	if svc, err := Event(node, "ev").Open(); err != nil {
		t.Errorf("event Open with the default limit: %v", err)
	} else {
		svc.Close()
	}

	// A value out of its range is corruption, refused before joining.
	bad := hugePubSub("bad")
	bad.PublishSubscribe.SubscriberMaxBufferSize, bad.PublishSubscribe.HistorySize = 2, 1<<20
	core, err := forgeService(peer, bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PublishSubscribe[msg](node, "bad").Open(); !errors.Is(err, ErrServiceCorrupted) ||
		!strings.Contains(err.Error(), "history size is 1048576, must be in [0, 65536]") {
		t.Errorf("Open of a history size out of range = %v, want ErrServiceCorrupted", err)
	}
	if n := joined(core); n != 1 {
		t.Errorf("the refused opener joined the service: %d nodes", n)
	}
}

// TestPortMemoryLimitIsThisProcesss: the limit is each process's own. A
// service that its creator can use is refused to an opener with a smaller
// limit, and works for the creator.
func TestPortMemoryLimitIsThisProcesss(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	type kib64 struct{ B [64 << 10]byte }
	// 8 × (16 + 2) + 2 = 146 chunks of 64 KiB: 9.2 MiB per publisher.
	svc, err := PublishSubscribe[kib64](node, "video").SubscriberMaxBufferSize(16).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	small := cfg.clone()
	small.PortMemoryLimit = 4 << 20
	_, err = PublishSubscribe[kib64](testNode(t, small), "video").Open()
	wantLimit(t, "Open with a 4 MiB limit", err, "a publisher needs up to 9.", "for a data segment of 146 chunks of 64.1 KiB",
		"more than the port memory limit of 4.0 MiB (4194304 bytes)")
	pub := must[*Publisher[kib64]](t)(svc.Publisher())
	sub := must[*Subscriber[kib64]](t)(svc.Subscriber())
	if _, err := pub.SendCopy(kib64{}); err != nil {
		t.Fatal(err)
	}
	if s, err := sub.Receive(); err != nil || s == nil {
		t.Fatalf("Receive = %v, %v", s, err)
	} else {
		s.Release()
	}
	pub.Close()
	sub.Close()
}

// TestResourceLimitsOnPortCreation: a port's own settings (loans, slice
// length) enter its footprint too; a port that would exceed a limit is
// refused, and nothing of it is left.
func TestResourceLimitsOnPortCreation(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc, err := PublishSubscribeSlice[uint64](node, "slices").Create()
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	_, err = svc.PublisherBuilder().MaxLoanedSamples(1 << 30).Create()
	wantLimit(t, "MaxLoanedSamples(2^30)", err, `create publisher service "slices"`,
		"a publisher needs max subscribers 8 × (subscriber max buffer size 2 + subscriber max borrowed samples 2) + history size 0 + max loaned samples 1073741824 = 1073741856 chunks")
	_, err = svc.PublisherBuilder().MaxSliceLen(1 << 30).Create()
	wantLimit(t, "MaxSliceLen(2^30)", err, "a publisher needs up to 272.0 GiB", "for a data segment of 34 chunks of 8.0 GiB")
	_, err = svc.PublisherBuilder().MaxSliceLen(math.MaxInt).Create()
	wantLimit(t, "MaxSliceLen(MaxInt)", err, "a publisher needs up to more than 8 EiB")
	// 2^61 elements of 8 bytes are 2^64 bytes: a size that wrapped to 0
	// made a segment of 3 KiB, and LoanSlice(2^20) wrote 8 MiB into it.
	_, err = svc.PublisherBuilder().MaxSliceLen(1 << 61).Create()
	wantLimit(t, "MaxSliceLen(2^61)", err, "a publisher needs up to more than 8 EiB", "chunks of more than 8 EiB")
	raw := openRaw(t, node, "slices")
	_, err = raw.PublisherWith(RawPublisherOptions{MaxSliceLen: 1 << 40, MaxLoanedSamples: 1})
	wantLimit(t, "raw MaxSliceLen(2^40)", err, "a publisher needs up to")
	if n := svc.NumberOfPublishers(); n != 0 {
		t.Errorf("%d publishers after the refusals", n)
	}
	// What fits is created.
	pub := must[*Publisher[uint64]](t)(svc.PublisherBuilder().MaxSliceLen(1 << 20).Create())
	pub.Close()

	rr, err := RequestResponseSlice[byte, byte](node, "rr").MaxClients(64).MaxActiveRequestsPerClient(16).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	_, err = rr.ClientBuilder().MaxSliceLen(1 << 40).Create()
	wantLimit(t, "client MaxSliceLen(2^40)", err, `create client service "rr"`, "a client needs up to")
	_, err = rr.ServerBuilder().MaxSliceLen(1 << 40).Create()
	wantLimit(t, "server MaxSliceLen(2^40)", err, `create server service "rr"`, "a server needs up to")
	_, err = rr.ServerBuilder().MaxLoanedResponsesPerRequest(1 << 16).Create()
	wantLimit(t, "server MaxLoanedResponsesPerRequest(65536)", err,
		"a server needs max clients 64 × max active requests per client 16 × (max response buffer size 2 + max borrowed responses per pending response 2 + max loaned responses per request 65536) = 67112960 chunks")
	if n, m := rr.NumberOfClients(), rr.NumberOfServers(); n != 0 || m != 0 {
		t.Errorf("%d clients and %d servers after the refusals", n, m)
	}
}

// TestPortMemoryLimitSetting: the bound is a setting of its own, with a
// default and a floor.
func TestPortMemoryLimitSetting(t *testing.T) {
	if got := DefaultConfig().PortMemoryLimit; got != DefaultPortMemoryLimit || DefaultPortMemoryLimit != 1<<30 {
		t.Errorf("default PortMemoryLimit = %d, want 1 GiB", got)
	}
	for _, n := range []int{0, -1, MinPortMemoryLimit - 1} {
		cfg := DefaultConfig()
		cfg.PortMemoryLimit = n
		want := fmt.Sprintf("iox2: config: port memory limit is %d bytes, must be at least 1048576 (1 MiB)", n)
		if err := cfg.Validate(); err == nil || err.Error() != want {
			t.Errorf("Validate() with %d = %v, want %s", n, err, want)
		}
	}
	cfg := DefaultConfig()
	cfg.PortMemoryLimit = MinPortMemoryLimit
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate() with MinPortMemoryLimit = %v", err)
	}
}

// TestFootprintArithmeticSaturates: the sizes never wrap around, whatever
// the settings (a wrapped size would pass the check and allocate little,
// then index far past it).
func TestFootprintArithmeticSaturates(t *testing.T) {
	if protocol.SatMul(1<<32, 1<<32) != math.MaxUint64 || protocol.SatAdd(math.MaxUint64, 1) != math.MaxUint64 || protocol.SatMul(3, 5) != 15 || protocol.SatAdd(3, 5) != 8 {
		t.Fatal("saturating arithmetic")
	}
	if got := protocol.AlignU(math.MaxUint64-3, 64); got != math.MaxUint64&^63 {
		t.Errorf("AlignU near 2^64 = %#x", got)
	}
	l := protocol.NewDataLayout(1<<31-1, 4096, math.MaxUint64, ring.MaxCapacity, 1<<30, 4096, 1<<40)
	if l.Bytes != math.MaxUint64 || l.Size != math.MaxInt {
		t.Errorf("layout of 2^64 slices: bytes %d, size %d", l.Bytes, l.Size)
	}
	q := DefaultPubSubQoS()
	for _, c := range []struct{ loans, slice int }{{math.MaxInt, 1}, {1, math.MaxInt}, {math.MaxInt, math.MaxInt}} {
		f := publisherFootprint(&q, TypeInfo{Size: 1 << 31, Align: 8}, TypeInfo{}, c.loans, c.slice)
		if err := f.check(math.MaxInt); err == nil {
			t.Errorf("loans %d, slice %d pass the check", c.loans, c.slice)
		}
	}
}
