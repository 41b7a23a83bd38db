package gateway_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/iox2go/iox2go/gateway/internal/gwtest"
)

// TestE2EIdentityMismatch: robot/imu carries robot::Imu on host A and
// robot::Vec3 on host B. Nothing crosses, and a gateway's status says
// that the service is refused and why.
func TestE2EIdentityMismatch(t *testing.T) {
	w := newWorld(t, 2)
	a, b := w.hosts[0], w.hosts[1]
	// Both services exist before the gateways start (else a gateway may
	// mirror the other host's service first, and the local program is the
	// one that finds the other type).
	vec := b.Peer("vec-sub")
	pub := a.Peer("imu-pub", pubEnv(1))
	sub := a.Peer("imu-sub") // the local route works meanwhile
	a.StartGateway()
	b.StartGateway()
	pub.Send("warm")
	gwtest.WaitWarm(sub, 1)

	var reason string
	deadline := time.Now().Add(gwtest.Patience)
	for reason == "" && time.Now().Before(deadline) {
		for _, h := range w.hosts {
			st, err := h.Status()
			if err != nil {
				t.Logf("host %s: %v", h.Name, err)
				continue
			}
			if r, ok := gwtest.FindRefusal(st, "robot/imu"); ok {
				reason = r
				t.Logf("host %s refuses robot/imu: %s", h.Name, r)
			}
		}
		time.Sleep(gwtest.Heartbeat)
	}
	if reason == "" {
		st, _ := b.Status()
		t.Errorf("no gateway reports robot/imu as refused within %v; B's status: %v", gwtest.Patience, st)
	}
	pub.Send("go 10 5ms")
	gwtest.Track(t, sub, "imu").Expect(map[uint32]uint64{1: 10})
	for _, m := range vec.Drain(gwtest.Quiet) {
		if m.Kind == "vec" {
			t.Errorf("host B's robot::Vec3 subscriber received %s", m.Text)
		}
	}
}

// TestE2ENATSRestart: the NATS server goes down for a second and comes
// back on the same port; the gateways reconnect and re-announce, and
// samples and notifications cross again, without restarting any local
// process.
func TestE2ENATSRestart(t *testing.T) {
	w := newWorld(t, 2)
	a, b := w.hosts[0], w.hosts[1]
	a.StartGateway()
	b.StartGateway()
	sub := b.Peer("imu-sub")
	pub := a.Peer("imu-pub", pubEnv(1))
	lis := b.Peer("alarm-listen")
	not := a.Peer("alarm-notify")
	pub.Send("warm")
	gwtest.WaitWarm(sub, 1)
	pub.Send("go 10 5ms")
	tr := gwtest.Track(t, sub, "imu")
	tr.Expect(map[uint32]uint64{1: 10})

	w.nats.Restart(time.Second)

	pub.Send("warm")
	not.Send("warm")
	gwtest.WaitWarm(sub, 1)
	gwtest.WaitWarm(lis, 0)
	not.Send("stop")
	lis.Drain(gwtest.Quiet)
	pub.Send("go 10 5ms")
	tr.Expect(map[uint32]uint64{1: 20})
	not.Send("notify 2 3")
	gwtest.ExpectEvents(t, lis, 2, 3)
}

// TestE2EGatewayKilled: host A's gateway is SIGKILLed; a new gateway on A
// cleans the dead one's node (no dead node is left) and takes over:
// samples cross again, each once, without restarting the publisher or
// the subscriber.
func TestE2EGatewayKilled(t *testing.T) {
	w := newWorld(t, 2)
	a, b := w.hosts[0], w.hosts[1]
	gw := a.StartGateway()
	b.StartGateway()
	sub := b.Peer("imu-sub")
	pub := a.Peer("imu-pub", pubEnv(1))
	pub.Send("warm")
	gwtest.WaitWarm(sub, 1)
	pub.Send("go 10 5ms")
	tr := gwtest.Track(t, sub, "imu")
	tr.Expect(map[uint32]uint64{1: 10})

	// One gateway per domain: a second one on B ends with an error.
	second := b.StartGateway()
	if err, ended := second.WaitExit(gwtest.Patience); !ended || err == nil {
		t.Errorf("a second gateway on host B: ended %v with %v, want an error exit (stderr: %s)", ended, err, second.Stderr())
	} else if !strings.Contains(second.Stderr(), "another gateway") {
		t.Logf("second gateway's error: %s", second.Stderr())
	}

	gw.Kill()
	// The dead gateway's status socket is detected and removed.
	if st, err := a.Status(); err == nil {
		t.Errorf("host A: status of a killed gateway: %v, want an error", st)
	} else if _, serr := os.Stat(a.StatusSocket()); serr == nil {
		t.Errorf("host A: the killed gateway's socket %s is still there after %v", a.StatusSocket(), err)
	}
	a.StartGateway()
	pub.Send("warm")
	gwtest.WaitWarm(sub, 1)
	pub.Send("go 10 5ms")
	tr.Expect(map[uint32]uint64{1: 20})

	deadline := time.Now().Add(gwtest.Patience)
	for deadNodes(t, a) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("host A: the killed gateway's node is still there %v after the new gateway started", gwtest.Patience)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := a.Status(); err != nil {
		t.Errorf("host A: status of the new gateway: %v", err)
	}
}

// deadNodes counts the dead nodes of host h (`iox2 node list --json`).
func deadNodes(t *testing.T, h *gwtest.Host) int {
	t.Helper()
	out, err := h.CLI(context.Background(), "node", "list", "--state", "dead", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var l struct{ Num int }
	if err := json.Unmarshal(out, &l); err != nil {
		t.Fatalf("node list --json: %v: %s", err, out)
	}
	return l.Num
}

// TestE2EAllowDeny: host A's gateway allows robot/* but denies
// robot/points. robot/imu crosses A -> B; robot/points crosses neither
// A -> B nor B -> A, while it works locally on each host.
func TestE2EAllowDeny(t *testing.T) {
	w := newWorld(t, 2)
	a, b := w.hosts[0], w.hosts[1]
	a.StartGateway("--allow", "robot/*", "--deny", "robot/points")
	b.StartGateway()
	imuSub := b.Peer("imu-sub")
	ptsA, ptsB := a.Peer("points-sub"), b.Peer("points-sub")
	imuPub := a.Peer("imu-pub", pubEnv(1))
	pts1, pts2 := a.Peer("points-pub", pubEnv(1)), b.Peer("points-pub", pubEnv(2))
	imuPub.Send("warm")
	gwtest.WaitWarm(imuSub, 1) // the gateways are connected
	pts1.Send("warm")
	pts2.Send("warm")
	gwtest.WaitWarm(ptsA, 1) // locally
	gwtest.WaitWarm(ptsB, 2)
	pts1.Send("go 8 10ms")
	pts2.Send("go 8 10ms")
	imuPub.Send("go 10 5ms")
	gwtest.Track(t, imuSub, "imu").Expect(map[uint32]uint64{1: 10})
	gwtest.Track(t, ptsA, "points").Expect(map[uint32]uint64{1: 8})
	gwtest.Track(t, ptsB, "points").Expect(map[uint32]uint64{2: 8})
	for _, c := range []struct {
		p   *gwtest.Proc
		pub uint32
	}{{ptsA, 2}, {ptsB, 1}} {
		for _, m := range c.p.Drain(gwtest.Quiet) {
			if m.Pub == c.pub {
				t.Errorf("%s: robot/points crossed the denying gateway: %+v", c.p.Name, m)
			}
		}
	}
}
