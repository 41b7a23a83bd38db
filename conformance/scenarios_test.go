package conformance

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
)

// scenario is one scenario of the suite: two roles, a and b, each played
// by a peer of either implementation.
type scenario struct {
	name  string
	roles [2]string // what a and b are, for the subtest names
	run   func(h *harness, a, b impl)
}

// scenarios is the table of the suite. TestConformance runs each with
// every pairing of the implementations.
func scenarios() []scenario {
	s := []scenario{
		{"imu", [2]string{"pub", "sub"}, scenImu},
		{"points", [2]string{"pub", "sub"}, scenPoints},
		{"history", [2]string{"pub", "late-sub"}, scenHistory},
		{"closed-publisher", [2]string{"pub", "sub"}, scenClosedPublisher},
		{"overflow", [2]string{"pub", "sub"}, scenOverflow},
		{"backpressure", [2]string{"pub", "sub"}, scenBackpressure},
		{"limit-publishers", [2]string{"first", "third"}, scenLimitPublishers},
		{"limit-nodes", [2]string{"first", "third"}, scenLimitNodes},
		{"limit-servers", [2]string{"first", "second"}, scenLimitServers},
		{"events", [2]string{"listener", "notifier"}, scenEvents},
		{"reqres", [2]string{"server", "client"}, scenReqRes},
		{"killed-publisher", [2]string{"pub", "sub"}, func(h *harness, a, b impl) { scenKilled(h, a, b, false) }},
		{"killed-publisher-iox2-clean", [2]string{"pub", "sub"}, func(h *harness, a, b impl) { scenKilled(h, a, b, true) }},
		{"hostile-submission", [2]string{"pub", "victim-sub"}, scenHostileSubmission},
		{"hostile-completion", [2]string{"victim-pub", "sub"}, scenHostileCompletion},
		{"hostile-positions", [2]string{"pub", "victim-sub"}, scenHostilePositions},
	}
	for _, m := range mismatches {
		s = append(s, scenario{"mismatch-" + m.name, [2]string{"creator", "opener"},
			func(h *harness, a, b impl) { scenMismatch(h, a, b, m) }})
	}
	return s
}

// TestConformance runs every scenario with every pairing of the Go and
// the C implementation: Go with Go, Go with C both ways, C with C.
func TestConformance(t *testing.T) {
	impls := []impl{goImpl}
	b := cLibrary(false)
	switch {
	case b.skip != "":
		t.Logf("only Go with Go: %s", b.skip)
	case b.err != nil:
		t.Errorf("only Go with Go: building the C library failed: %v", b.err)
	case b.peerErr != nil:
		t.Errorf("only Go with Go: building lang/c/tests/peer.c failed: %v", b.peerErr)
	default:
		impls = append(impls, impl{name: "c", path: b.peer})
	}
	runTable(t, impls, false)
	if b.skip != "" {
		t.Run("c", func(t *testing.T) { t.Skip(b.skip) })
	}
}

// TestConformanceSanitized runs every scenario with the C library and peer
// built with -fsanitize=address,undefined, paired with Go and with
// themselves; any sanitizer report (leaks at exit included) fails.
func TestConformanceSanitized(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the sanitized run is skipped")
	}
	c := cImpl(t, true)
	runTable(t, []impl{goImpl, c}, true)
}

func runTable(t *testing.T, impls []impl, sanitized bool) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			for _, a := range impls {
				for _, b := range impls {
					if sanitized && !a.asan && !b.asan {
						continue // Go with Go: nothing to sanitize
					}
					t.Run(fmt.Sprintf("%s=%s,%s=%s", sc.roles[0], a.name, sc.roles[1], b.name), func(t *testing.T) {
						sc.run(newHarness(t), a, b)
					})
				}
			}
		})
	}
}

// Delivery of robot::Imu, every field checked by the receiver and its
// printed line by the driver.
func scenImu(h *harness, a, b impl) {
	const n = 16
	sub := h.start(b, "imu-sub", fmt.Sprint("n=", n), "buffer=16", "history=0")
	sub.ready()
	pub := h.start(a, "imu-pub", fmt.Sprint("n=", n), "linger=1")
	id := pub.ready()
	for seq := range n {
		pub.expectLine(fmt.Sprintf("sent seq=%d delivered=1", seq))
	}
	for seq := range uint64(n) {
		sub.expectLine(WantImuLine(seq, id))
	}
	sub.done()
	pub.goAhead()
	pub.done()
}

// Slices of robot::Vec3 with the robot::Stamp user header.
func scenPoints(h *harness, a, b impl) {
	const n = 4 // the subscriber's buffer: nothing is discarded
	sub := h.start(b, "points-sub", fmt.Sprint("n=", n))
	sub.ready()
	pub := h.start(a, "points-pub", fmt.Sprint("n=", n), "linger=1")
	id := pub.ready()
	for seq := range n {
		pub.expectLine(fmt.Sprintf("sent seq=%d delivered=1", seq))
	}
	for seq := range uint64(n) {
		sub.expectLine(WantPointsLine(seq, id))
	}
	sub.done()
	pub.goAhead()
	pub.done()
}

// A late subscriber gets the last 4 samples (robot/imu keeps a history of
// 4) from a publisher that sits idle.
func scenHistory(h *harness, a, b impl) {
	pub := h.start(a, "imu-pub", "n=6", "linger=1")
	id := pub.ready()
	for seq := range 6 {
		pub.expectLine(fmt.Sprintf("sent seq=%d delivered=0", seq))
	}
	pub.expectLine("hold")
	sub := h.start(b, "imu-sub", "n=4", "history=4", "buffer=8", "timeout_ms=5000")
	sub.ready()
	for seq := uint64(2); seq < 6; seq++ {
		sub.expectLine(WantImuLine(seq, id))
	}
	sub.done()
	resume(pub)
	pub.done()
}

// resume lets a peer whose "hold" line was already read go on.
func resume(p *proc) {
	p.h.t.Helper()
	if _, err := p.stdin.Write([]byte("go\n")); err != nil {
		p.h.t.Fatalf("write: %v\n%s", err, p.transcript())
	}
}

// Samples queued for a subscriber stay readable after their publisher
// closed.
func scenClosedPublisher(h *harness, a, b impl) {
	sub := h.start(b, "imu-sub", "wait=1", "drain=1", "history=0", "buffer=8")
	sub.ready()
	pub := h.start(a, "imu-pub", "n=3")
	id := pub.ready()
	for seq := range 3 {
		pub.expectLine(fmt.Sprintf("sent seq=%d delivered=1", seq))
	}
	pub.done()
	sub.goAhead()
	for seq := range uint64(3) {
		sub.expectLine(WantImuLine(seq, id))
	}
	sub.done()
}

// Safe overflow: a full queue of 2 keeps the 2 newest samples.
func scenOverflow(h *harness, a, b impl) {
	sub := h.start(b, "imu-sub", "wait=1", "drain=1", "history=0", "buffer=2")
	sub.ready()
	pub := h.start(a, "imu-pub", "n=5", "linger=1")
	id := pub.ready()
	for seq := range 5 {
		pub.expectLine(fmt.Sprintf("sent seq=%d delivered=1", seq))
	}
	sub.goAhead()
	sub.expectLine(WantImuLine(3, id))
	sub.expectLine(WantImuLine(4, id))
	sub.done()
	pub.goAhead()
	pub.done()
}

// Backpressure DISCARD_DATA without safe overflow (robot/points): a full
// queue of 4 makes the publisher drop the 5th and 6th sample for it.
func scenBackpressure(h *harness, a, b impl) {
	sub := h.start(b, "points-sub", "wait=1", "drain=1")
	sub.ready()
	pub := h.start(a, "points-pub", "n=6", "linger=1")
	id := pub.ready()
	for seq := range 6 {
		pub.expectLine(fmt.Sprintf("sent seq=%d delivered=%d", seq, map[bool]int{true: 1}[seq < 4]))
	}
	sub.goAhead()
	for seq := range uint64(4) {
		sub.expectLine(WantPointsLine(seq, id))
	}
	sub.done()
	pub.goAhead()
	pub.done()
}

// robot/imu has 2 publishers at most (the default): a third is refused.
func scenLimitPublishers(h *harness, a, b impl) {
	first := h.start(a, "imu-pub", "pubs=2", "n=0", "linger=1")
	first.ready()
	first.ready()
	third := h.start(b, "imu-pub", "n=0")
	sameMessage(h, b, third.failsWith("EXCEEDS_MAX_PUBLISHERS"),
		`create publisher service "robot/imu": iox2: service already has its maximum number of publishers: the service supports 2`)
	first.goAhead()
	first.done()
}

// A service of 2 nodes at most: a third node is refused.
func scenLimitNodes(h *harness, a, b impl) {
	first := h.start(a, "nodes", "k=2", "max_nodes=2", "linger=1")
	first.expectLine("opened i=0")
	first.expectLine("opened i=1")
	third := h.start(b, "nodes", "k=1", "max_nodes=2")
	sameMessage(h, b, third.failsWith("EXCEEDS_MAX_NODES"),
		`open or create service "conf/nodes": iox2: service already has its maximum number of nodes`)
	first.goAhead()
	first.done()
}

// robot/plan has one server at most.
func scenLimitServers(h *harness, a, b impl) {
	first := h.start(a, "plan-server", "requests=0", "linger=1")
	first.ready()
	second := h.start(b, "plan-server", "requests=0")
	sameMessage(h, b, second.failsWith("EXCEEDS_MAX_SERVERS"),
		`create server service "robot/plan": iox2: service already has its maximum number of servers: the service supports 1`)
	first.goAhead()
	first.done()
}

// A listener blocked in its wait is woken by a notifier of the other
// process.
func scenEvents(h *harness, a, b impl) {
	l := h.start(a, "alarm-listen", "n=2", "timeout_ms=10000")
	l.ready()
	l.expectLine("waiting")
	time.Sleep(100 * time.Millisecond) // let it block
	n := h.start(b, "alarm-notify", "ids=2,1")
	n.ready()
	start := time.Now()
	n.expectLine("notified id=2 listeners=1")
	n.expectLine("notified id=1 listeners=1")
	n.done()
	got := map[string]bool{}
	for range 2 {
		got[l.expect("event id=")] = true
	}
	if d := time.Since(start); d > 3*time.Second {
		h.t.Errorf("the listener woke %v after the notifications", d)
	}
	if !got["1"] || !got["2"] {
		h.t.Fatalf("events %v, want ids 1 and 2\n%s", got, l.transcript())
	}
	l.done()
}

// Request-response with response streams: 2 requests in flight, 5
// responses to each.
func scenReqRes(h *harness, a, b impl) {
	const requests, steps = 2, 5
	srv := h.start(a, "plan-server", fmt.Sprint("requests=", requests), fmt.Sprint("steps=", steps), "linger=1")
	srvID := srv.ready()
	cl := h.start(b, "plan-client", fmt.Sprint("requests=", requests), fmt.Sprint("steps=", steps))
	clID := cl.ready()
	// Request IDs count from 1 per client.
	for r := range requests {
		cl.expectLine(fmt.Sprintf("sent req=%d id=%d", r, r+1))
	}
	for r := range requests {
		srv.expectLine(fmt.Sprintf("request id=%d goal=%s client=%s", r+1, f3(PlanGoal(r)), clID))
		srv.expectLine(fmt.Sprintf("responded id=%d n=%d", r+1, steps))
	}
	for r := range requests {
		for i := range steps {
			cl.expectLine(fmt.Sprintf("resp req=%d step=%d waypoint=%s server=%s", r, i, f3(PlanWaypoint(PlanGoal(r), i)), srvID))
		}
		cl.expectLine(fmt.Sprintf("end req=%d n=%d", r, steps))
	}
	cl.done()
	srv.goAhead()
	srv.done()
}

// A publisher SIGKILLed while it sends: the subscriber keeps the samples
// it holds and reads what is queued; the next Go node (or `iox2 clean`)
// removes every file the dead process left. (A Go subscriber's node may
// clean up first: it watches its peers die.)
func scenKilled(h *harness, a, b impl, iox2Clean bool) {
	// The subscriber keeps its first 2 samples (as many as it may borrow).
	sub := h.start(b, "imu-sub", "n=2", "keep=2", "buffer=8", "history=0")
	sub.ready()
	pub := h.start(a, "imu-pub", "forever=1", "interval_us=300")
	id := pub.ready()
	// The first two samples it receives, whole and in order. On a busy
	// machine the subscriber may not run for longer than its 8 queued
	// samples take to send (2.4 ms): safe overflow then replaces the
	// oldest, so the first one received need not be seq 0.
	var kept []uint64
	next := uint64(0)
	for len(kept) < 2 {
		l, ok := sub.next()
		if !ok {
			h.t.Fatalf("the subscriber ended early\n%s", sub.transcript())
		}
		s, found := next, false
		for ; s < next+256; s++ {
			if l == WantImuLine(s, id) {
				found = true
				break
			}
		}
		if !found {
			h.t.Fatalf("received line %q is no sample from %d on\n%s", l, next, sub.transcript())
		}
		kept = append(kept, s)
		next = s + 1
	}
	sub.expectLine("hold")
	pub.skipTo(fmt.Sprintf("sent seq=%d ", next+18)) // in the middle of sending
	pub.kill()
	resume(sub)
	for _, s := range kept {
		sub.expectLine(fmt.Sprintf("kept seq=%d", s))
	}
	// Then what was queued, in order, each sample whole.
	for {
		l, ok := sub.next()
		if !ok {
			h.t.Fatalf("no ok\n%s", sub.transcript())
		}
		if l == "ok" {
			break
		}
		if l != WantImuLine(next, id) {
			// Safe overflow may have replaced older samples: skip ahead.
			found := false
			for s := next + 1; s < next+64; s++ {
				if l == WantImuLine(s, id) {
					next, found = s, true
					break
				}
			}
			if !found {
				h.t.Fatalf("drained line %q is no sample after %d\n%s", l, next, sub.transcript())
			}
		}
		next++
	}
	sub.exit(0)
	before := h.shmLeft()
	h.t.Logf("left by the killed publisher before the cleanup: %d files in %s", len(before), h.cfg.ShmDir)
	by := "the next Go node"
	if iox2Clean {
		by = "iox2 clean"
		cmd := exec.Command(iox2CLI(h.t), "-root", h.cfg.Root, "-prefix", h.cfg.Prefix, "clean", "--verbose")
		out, err := cmd.CombinedOutput()
		if err != nil {
			h.t.Fatalf("iox2 clean: %v\n%s", err, out)
		}
		if len(before) > 0 && !strings.Contains(string(out), "removed node") {
			h.t.Errorf("iox2 clean did not say it removed the dead node:\n%s", out)
		}
		h.t.Logf("iox2 clean: %s", strings.TrimSpace(string(out)))
	} else {
		node, err := iox2.NewNodeBuilder().Name("cleaner").Config(h.cfg).SignalHandling(false).Create()
		if err != nil {
			h.t.Fatal(err)
		}
		if err := node.Close(); err != nil {
			h.t.Fatal(err)
		}
	}
	if left := h.shmLeft(); len(left) > 0 {
		h.t.Fatalf("after %s, left in %s: %s", by, h.cfg.ShmDir, strings.Join(left, ", "))
	}
	h.checkRootEmpty()
}

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
)

// iox2CLI builds cmd/iox2 once per test binary.
func iox2CLI(t *testing.T) string {
	t.Helper()
	cliOnce.Do(func() {
		dir, err := tmpBuildDir()
		if err != nil {
			cliErr = err
			return
		}
		cliPath = filepath.Join(dir, "iox2")
		cmd := exec.Command("go", "build", "-o", cliPath, "./cmd/iox2")
		cmd.Dir = repoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			cliErr = fmt.Errorf("go build ./cmd/iox2: %v\n%s", err, out)
		}
	})
	if cliErr != nil {
		t.Fatal(cliErr)
	}
	return cliPath
}

// sameMessage checks an error message against the Go runtime's text: both
// implementations say the same, word for word.
func sameMessage(h *harness, im impl, got, want string) {
	h.t.Helper()
	if got != want {
		h.t.Errorf("%s says\n    %s\nwant (the Go runtime's words)\n    %s", im.name, got, want)
	}
}

// mismatch is a service opened with one thing different from what it is.
type mismatch struct {
	name    string
	creator []string // role and args of the peer that creates the service
	opener  []string // args of role open
	code    string
	message string // the opener's error, the same in both implementations
}

var mismatches = []mismatch{
	{"payload-type", []string{"imu-pub", "n=0", "linger=1"}, []string{"svc=imu", "type=vec3"}, "INCOMPATIBLE_TYPES",
		`open service "robot/imu": iox2: incompatible payload types: requested robot::Vec3 (size 24, align 8, layout 6b60897c2654), service has robot::Imu (size 1688, align 8, layout d2dc1aec3d1d)`},
	{"history-qos", []string{"imu-pub", "n=0", "linger=1"}, []string{"svc=imu", "history=8"}, "INCOMPATIBLE_QOS",
		`open service "robot/imu": iox2: incompatible quality of service: requested history size of at least 8, service has 4`},
	{"attribute", []string{"imu-pub", "n=0", "linger=1"}, []string{"svc=imu", "require=rate_hz:100"}, "INCOMPATIBLE_ATTRIBUTES",
		`open service "robot/imu": iox2: incompatible attributes: required rate_hz=100, service has {rate_hz=200, frame=base_link}`},
	{"slice", []string{"points-pub", "n=0", "linger=1"}, []string{"svc=points", "slice=0"}, "INCOMPATIBLE_TYPES",
		`open service "robot/points": iox2: incompatible payload types: requested a fixed payload of robot::Vec3, service has a dynamic payload`},
	{"user-header", []string{"points-pub", "n=0", "linger=1"}, []string{"svc=points", "header=none"}, "INCOMPATIBLE_TYPES",
		`open service "robot/points": iox2: incompatible payload types: requested no user header, service has robot::Stamp (size 16, align 8, layout a8ec0639efe7)`},
	{"request-type", []string{"plan-server", "requests=0", "linger=1"}, []string{"svc=plan", "swap=1"}, "INCOMPATIBLE_TYPES",
		`open service "robot/plan": iox2: incompatible payload types: request: requested robot::PlanResponse (size 32, align 8, layout d81a6c0f8dac), service has robot::PlanRequest (size 24, align 8, layout 828694f48c24)`},
	{"event-qos", []string{"alarm-notify", "ids=", "linger=1"}, []string{"svc=alarm", "notifiers=8"}, "INCOMPATIBLE_QOS",
		`open service "robot/alarm": iox2: incompatible quality of service: requested max notifiers of at least 8, service has 4`},
}

// The opener is refused with the code and the Go runtime's message, word
// for word, whichever implementation created the service and opens it.
func scenMismatch(h *harness, a, b impl, m mismatch) {
	creator := h.start(a, m.creator[0], m.creator[1:]...)
	creator.ready()
	opener := h.start(b, "open", m.opener...)
	sameMessage(h, b, opener.failsWith(m.code), m.message)
	creator.goAhead()
	creator.done()
}

// TestStaticConfigsAlike: the static config that each implementation
// writes when it creates a service of robot.idl is the same file, byte for
// byte, but for the service's random uid.
func TestStaticConfigsAlike(t *testing.T) {
	b := cLibrary(false)
	if b.skip != "" {
		t.Skip(b.skip)
	}
	if b.err != nil || b.peerErr != nil {
		t.Fatalf("building the C side: %v %v", b.err, b.peerErr)
	}
	c := impl{name: "c", path: b.peer}
	uid := regexp.MustCompile(`"uid": "[0-9a-f]{16}"`)
	for _, creator := range [][]string{
		{"imu-pub", "n=0", "linger=1"},
		{"points-pub", "n=0", "linger=1"},
		{"alarm-notify", "ids=", "linger=1"},
		{"plan-server", "requests=0", "linger=1"},
	} {
		t.Run(creator[0], func(t *testing.T) {
			written := map[string]string{}
			for _, im := range []impl{goImpl, c} {
				h := newHarness(t)
				p := h.start(im, creator[0], creator[1:]...)
				p.ready()
				files, _ := filepath.Glob(filepath.Join(h.cfg.Root, "services", "*"))
				if len(files) != 1 {
					t.Fatalf("%s: %d static configs: %v", im.name, len(files), files)
				}
				text, err := os.ReadFile(files[0])
				if err != nil {
					t.Fatal(err)
				}
				written[im.name] = strings.TrimPrefix(filepath.Base(files[0]), h.cfg.Prefix) + "\n" +
					uid.ReplaceAllString(string(text), `"uid": "-"`)
				p.goAhead()
				p.done()
			}
			if written["go"] != written["c"] {
				t.Errorf("the static configs differ\ngo:\n%s\nc:\n%s", written["go"], written["c"])
			}
		})
	}
}
