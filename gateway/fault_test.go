package gateway

import (
	"net"
	"testing"
	"time"
)

// TestNATSRestart: the NATS server goes away and comes back on the same
// port; both gateways reconnect and re-announce, and samples cross again
// without restarting any port.
func TestNATSRestart(t *testing.T) {
	ns := startNATS(t, 0)
	url, port := ns.ClientURL(), ns.Addr().(*net.TCPAddr).Port
	a, b := domain(t, "a"), domain(t, "b")
	ga := runGateway(t, a, url, nil)
	gb := runGateway(t, b, url, nil)
	ea, eb := psPorts(t, a), psPorts(t, b)
	eventually(t, "both bridges", func() bool {
		return bridged(ga.Gateway, psName, psPattern, 1) && bridged(gb.Gateway, psName, psPattern, 1)
	})
	send(t, ea.pub, reading{Seq: 1}, "A")
	if got, _ := receiveAll(t, eb.sub, 300*time.Millisecond); len(got) != 1 || got[0].Seq != 1 {
		t.Fatalf("before the restart b got %+v", got)
	}
	receiveAll(t, ea.sub, 20*time.Millisecond)

	ns.Shutdown()
	ns.WaitForShutdown()
	eventually(t, "both disconnected", func() bool { return !ga.Status().NATS.Connected && !gb.Status().NATS.Connected })
	time.Sleep(300 * time.Millisecond) // longer than 3 heartbeats: nobody is forgotten while cut off
	startNATS(t, port)
	eventually(t, "both reconnected", func() bool {
		sa, sb := ga.Status(), gb.Status()
		return sa.NATS.Connected && sb.NATS.Connected && sa.NATS.Reconnects >= 1 && sb.NATS.Reconnects >= 1
	})
	if !bridged(ga.Gateway, psName, psPattern, 1) || !bridged(gb.Gateway, psName, psPattern, 1) {
		t.Errorf("bridges lost over the restart: %+v / %+v", ga.Status().Bridges, gb.Status().Bridges)
	}
	// The subscriptions come back with the connection: wait for one
	// sample to cross, then count exactly.
	seq := uint64(10)
	eventually(t, "a sample crossing again", func() bool {
		seq++
		send(t, ea.pub, reading{Seq: seq}, "A")
		got, _ := receiveAll(t, eb.sub, 50*time.Millisecond)
		return len(got) > 0
	})
	receiveAll(t, eb.sub, 100*time.Millisecond)
	receiveAll(t, ea.sub, 20*time.Millisecond)
	for i := uint64(100); i < 105; i++ {
		send(t, eb.pub, reading{Seq: i}, "B")
	}
	got, _ := receiveAll(t, ea.sub, 300*time.Millisecond)
	if len(got) != 5 || got[0].Seq != 100 || got[4].Seq != 104 {
		t.Errorf("after the restart a got %+v, want seq 100..104", got)
	}
	if !ga.log.has("reconnected to NATS") {
		t.Errorf("reconnection not logged")
	}
}

// TestBoundedPending: a receiving gateway whose NATS subscription may
// queue one message drops what does not fit, counts it, and the counts
// add up: what A's publisher sent is what A's gateway sent to NATS plus
// what it lost, and what A's gateway sent is what B's injected plus what
// B dropped.
func TestBoundedPending(t *testing.T) {
	ns := startNATS(t, 0)
	a, b := domain(t, "a"), domain(t, "b")
	ga := runGateway(t, a, ns.ClientURL(), nil)
	gb := runGateway(t, b, ns.ClientURL(), func(c *Config) { c.MaxPendingMessages = 1 })
	ea, eb := psPorts(t, a), psPorts(t, b)
	eventually(t, "both bridges", func() bool {
		return bridged(ga.Gateway, psName, psPattern, 1) && bridged(gb.Gateway, psName, psPattern, 1)
	})
	// A first sample: the gateway's subscriber counts gaps in a
	// publisher's sequence from the first sample it sees.
	send(t, ea.pub, reading{Seq: 0}, "A")
	eventually(t, "the first sample", func() bool { return bridgeOf(t, gb.Gateway, psName, psPattern).Received == 1 })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of A: %q\nlog of B: %q", ga.log.lines, gb.log.lines)
		}
	})
	const n = 3000
	for i := uint64(1); i < n; i++ {
		send(t, ea.pub, reading{Seq: i}, "A")
	}
	var sa, sb BridgeStatus
	eventually(t, "the counts to add up", func() bool {
		sa, sb = bridgeOf(t, ga.Gateway, psName, psPattern), bridgeOf(t, gb.Gateway, psName, psPattern)
		return sa.Sent+sa.Dropped == n && sb.Received+sb.Dropped == sa.Sent
	})
	t.Logf("A: sent %d, lost locally %d; B: injected %d, dropped %d", sa.Sent, sa.Dropped, sb.Received, sb.Dropped)
	if sb.Dropped == 0 {
		t.Errorf("B dropped nothing with a pending limit of 1 message (A sent %d)", sa.Sent)
	}
	receiveAll(t, eb.sub, 20*time.Millisecond)
	// Traffic goes on after the drops.
	send(t, ea.pub, reading{Seq: 9999}, "A")
	got, _ := receiveAll(t, eb.sub, 200*time.Millisecond)
	if len(got) != 1 || got[0].Seq != 9999 {
		t.Errorf("after the drops b got %+v", got)
	}
}
