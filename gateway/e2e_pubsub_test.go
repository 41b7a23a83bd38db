package gateway_test

import (
	"testing"

	"github.com/iox2go/iox2go/gateway/internal/gwtest"
)

// TestE2EPubSubEveryDirection: two hosts, a robot/imu publisher and
// subscriber on each, a robot/points (slice + user header) publisher and
// subscriber on each. Every subscriber gets every sample of both hosts'
// publishers exactly once (the origin host's subscriber too: no echo),
// in order, with every field and the user header exact; notifications
// cross both ways, each once.
func TestE2EPubSubEveryDirection(t *testing.T) {
	w := newWorld(t, 2)
	a, b := w.hosts[0], w.hosts[1]
	a.StartGateway()
	b.StartGateway()

	subA, subB := a.Peer("imu-sub"), b.Peer("imu-sub")
	ptsA, ptsB := a.Peer("points-sub"), b.Peer("points-sub")
	lisA, lisB := a.Peer("alarm-listen"), b.Peer("alarm-listen")
	pub1, pub2 := a.Peer("imu-pub", pubEnv(1)), b.Peer("imu-pub", pubEnv(2))
	pts3, pts4 := a.Peer("points-pub", pubEnv(3)), b.Peer("points-pub", pubEnv(4))
	notA, notB := a.Peer("alarm-notify"), b.Peer("alarm-notify")

	for _, p := range []*gwtest.Proc{pub1, pub2, pts3, pts4} {
		p.Send("warm")
	}
	for _, sub := range []*gwtest.Proc{subA, subB} {
		gwtest.WaitWarm(sub, 1)
		gwtest.WaitWarm(sub, 2)
	}
	for _, sub := range []*gwtest.Proc{ptsA, ptsB} {
		gwtest.WaitWarm(sub, 3)
		gwtest.WaitWarm(sub, 4)
	}
	// A listener's warm-up shows that some notifier reaches it: warm up
	// one host's notifier at a time, so that the remote one is the one.
	notB.Send("warm")
	gwtest.WaitWarm(lisA, 0)
	notB.Send("stop")
	notA.Send("warm")
	gwtest.WaitWarm(lisB, 0)
	notA.Send("stop")
	lisA.Drain(gwtest.Quiet)
	lisB.Drain(gwtest.Quiet)

	// Publish-subscribe, both hosts at once.
	pub1.Send("go 30 5ms")
	pub2.Send("go 30 5ms")
	pts3.Send("go 12 20ms")
	pts4.Send("go 12 20ms")
	for _, sub := range []*gwtest.Proc{subA, subB} {
		gwtest.Track(t, sub, "imu").Expect(map[uint32]uint64{1: 30, 2: 30})
	}
	for _, sub := range []*gwtest.Proc{ptsA, ptsB} {
		gwtest.Track(t, sub, "points").Expect(map[uint32]uint64{3: 12, 4: 12})
	}

	// Events: A -> B, then B -> A; each listener gets each notification
	// once (the origin's listener too).
	notA.Send("notify 3 4")
	gwtest.ExpectEvents(t, lisA, 3, 4)
	gwtest.ExpectEvents(t, lisB, 3, 4)
	notB.Send("notify 5 3")
	gwtest.ExpectEvents(t, lisA, 5, 3)
	gwtest.ExpectEvents(t, lisB, 5, 3)

	for _, h := range w.hosts {
		st, err := h.Status()
		if err != nil {
			t.Errorf("host %s: %v", h.Name, err)
			continue
		}
		t.Logf("host %s: gateway status: %v", h.Name, st)
	}
}

// TestE2EThreeHostsNoEcho: three hosts on one NATS server. Publishers on
// A and C, a subscriber on every host: each subscriber gets each sample
// exactly once (three gateways do not amplify), and a notification from
// B reaches each listener once.
func TestE2EThreeHostsNoEcho(t *testing.T) {
	w := newWorld(t, 3)
	for _, h := range w.hosts {
		h.StartGateway()
	}
	a, b, c := w.hosts[0], w.hosts[1], w.hosts[2]
	subs := []*gwtest.Proc{a.Peer("imu-sub"), b.Peer("imu-sub"), c.Peer("imu-sub")}
	lis := []*gwtest.Proc{a.Peer("alarm-listen"), b.Peer("alarm-listen"), c.Peer("alarm-listen")}
	pub1, pub3 := a.Peer("imu-pub", pubEnv(1)), c.Peer("imu-pub", pubEnv(3))
	not := b.Peer("alarm-notify")
	pub1.Send("warm")
	pub3.Send("warm")
	not.Send("warm")
	for _, s := range subs {
		gwtest.WaitWarm(s, 1)
		gwtest.WaitWarm(s, 3)
	}
	for _, l := range lis {
		gwtest.WaitWarm(l, 0)
	}
	not.Send("stop")
	pub1.Send("go 25 5ms")
	pub3.Send("go 25 5ms")
	for _, s := range subs {
		gwtest.Track(t, s, "imu").Expect(map[uint32]uint64{1: 25, 3: 25})
	}
	for _, l := range lis {
		l.Drain(gwtest.Quiet)
	}
	not.Send("notify 7 5")
	for _, l := range lis {
		gwtest.ExpectEvents(t, l, 7, 5)
	}
}
