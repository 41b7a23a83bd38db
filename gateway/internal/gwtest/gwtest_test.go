package gwtest

import "testing"

func TestMain(m *testing.M) { Main(m) }

// TestHarnessLocal checks the harness without a gateway: the roles of one
// host talk to each other, and the embedded NATS server restarts on its
// port.
func TestHarnessLocal(t *testing.T) {
	n := StartNATS(t, "127.0.0.1")
	url := n.URL()
	n.Restart(0)
	if n.URL() != url {
		t.Errorf("restarted on %s, want %s", n.URL(), url)
	}
	h := NewHost(t, "A", url, "harness")
	sub, pts, lis := h.Peer("imu-sub"), h.Peer("points-sub"), h.Peer("alarm-listen")
	pub, ppub, not := h.Peer("imu-pub", EnvPub+"=1"), h.Peer("points-pub", EnvPub+"=2"), h.Peer("alarm-notify")
	srv, cli := h.Peer("plan-server"), h.Peer("plan-client")
	pub.Send("warm")
	ppub.Send("warm")
	WaitWarm(sub, 1)
	WaitWarm(pts, 2)
	pub.Send("go 20 1ms")
	ppub.Send("go 10 5ms")
	Track(t, sub, "imu").Expect(map[uint32]uint64{1: 20})
	Track(t, pts, "points").Expect(map[uint32]uint64{2: 10})
	not.Send("notify 4 3")
	ExpectEvents(t, lis, 4, 3)
	cli.Send("warm")
	WaitWarm(cli, 0)
	cli.Send("go 2")
	for k := uint64(1); k <= 2; k++ {
		m := cli.Expect(func(m Msg) bool { return m.Kind == "resp" }, "response stream")
		if m.Seq != k || m.N != PlanSteps || m.Err != "" {
			t.Errorf("request %d: %+v", k, m)
		}
	}
	_ = srv
}
