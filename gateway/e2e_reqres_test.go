package gateway_test

import (
	"testing"

	"github.com/iox2go/iox2go/gateway/internal/gwtest"
)

// TestE2ERequestResponse: robot/plan's server on host B, a client on host
// A and one on host B. Each request of A's client gets its whole stream
// across (gwtest.PlanSteps responses with exact values, then the end of
// the stream); B's local client is served once per request (the gateway
// on B makes no proxy server: the service allows one server only).
func TestE2ERequestResponse(t *testing.T) {
	w := newWorld(t, 2)
	a, b := w.hosts[0], w.hosts[1]
	a.StartGateway()
	b.StartGateway()
	srv := b.Peer("plan-server")
	cliA := a.Peer("plan-client")
	cliB := b.Peer("plan-client")

	cliA.Send("warm")
	gwtest.WaitWarm(cliA, 0)
	cliB.Send("warm")
	gwtest.WaitWarm(cliB, 0)

	cliA.Send("go 4")
	cliB.Send("go 2")
	for _, c := range []struct {
		p *gwtest.Proc
		n uint64
	}{{cliA, 4}, {cliB, 2}} {
		for k := uint64(1); k <= c.n; k++ {
			m := c.p.Expect(func(m gwtest.Msg) bool { return m.Kind == "resp" }, "response stream")
			if m.Seq != k || m.N != gwtest.PlanSteps || m.Err != "" {
				t.Errorf("%s: request %d: %d responses (%s), want request %d with %d", c.p.Name, m.Seq, m.N, m.Err, k, gwtest.PlanSteps)
			}
		}
	}
	// The server saw each request once: 4 + 2 (goal.X = k).
	served := map[uint64]int{}
	for _, m := range srv.Drain(gwtest.Quiet) {
		if m.Kind == "served" {
			if m.Err != "" {
				t.Errorf("server: %s", m.Err)
			}
			served[m.Seq]++
		}
	}
	if served[1] != 2 || served[2] != 2 || served[3] != 1 || served[4] != 1 || len(served) != 4 {
		t.Errorf("server served requests %v, want {1:2 2:2 3:1 4:1}", served)
	}
}
