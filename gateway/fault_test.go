package gateway

import (
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	iox2 "github.com/iox2go/iox2go/runtime"
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
// B dropped. Then a flood of single-sample messages, more than B's
// callback can take, is dropped at B's subscription and counted from the
// records' numbers.
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
	// A loss is counted when the next sample shows the gap: one more,
	// after the burst.
	time.Sleep(50 * time.Millisecond)
	send(t, ea.pub, reading{Seq: n}, "A")
	var sa, sb BridgeStatus
	eventually(t, "the counts to add up", func() bool {
		sa, sb = bridgeOf(t, ga.Gateway, psName, psPattern), bridgeOf(t, gb.Gateway, psName, psPattern)
		return sa.Sent+sa.Dropped == n+1 && sb.Received+sb.Dropped == sa.Sent
	})
	t.Logf("A: sent %d, lost locally %d; B: injected %d, dropped %d", sa.Sent, sa.Dropped, sb.Received, sb.Dropped)
	receiveAll(t, eb.sub, 20*time.Millisecond)

	// The flood: single-sample messages of a gateway that does not
	// exist, numbered 0..m-1, then one more after a pause.
	nc := must[*nats.Conn](t)(nats.Connect(ns.ClientURL()))
	defer nc.Close()
	const m = 3000
	var msg [sampleHeaderLen + 16 + 24]byte
	put := func(i uint32) {
		putSampleHeader(msg[:], sampleHeader{origin: 77, publisher: 5, seq: uint64(i), userHeaderLen: 16, number: i, elems: 1})
		must[struct{}](t)(struct{}{}, nc.Publish(sb.Subject, msg[:]))
	}
	for i := range uint32(m) {
		put(i)
	}
	must[struct{}](t)(struct{}{}, nc.Flush())
	time.Sleep(50 * time.Millisecond)
	put(m)
	var sb2 BridgeStatus
	eventually(t, "the flood counted", func() bool {
		sb2 = bridgeOf(t, gb.Gateway, psName, psPattern)
		return (sb2.Received-sb.Received)+(sb2.Dropped-sb.Dropped) == m+1
	})
	t.Logf("flood of %d: B injected %d, dropped %d", m+1, sb2.Received-sb.Received, sb2.Dropped-sb.Dropped)
	if sb2.Dropped == sb.Dropped {
		t.Errorf("B dropped nothing of a flood of %d messages with a pending limit of 1", m)
	}
	receiveAll(t, eb.sub, 20*time.Millisecond)
	// Traffic goes on after the drops.
	send(t, ea.pub, reading{Seq: 9999}, "A")
	got, _ := receiveAll(t, eb.sub, 200*time.Millisecond)
	if len(got) != 1 || got[0].Seq != 9999 {
		t.Errorf("after the drops b got %+v", got)
	}
}

type big struct{ B [2048]byte }

// TestMaxPayload: a sample larger than the NATS server's max_payload is
// dropped, counted and logged; smaller traffic goes on.
func TestMaxPayload(t *testing.T) {
	ns := startNATSWith(t, &server.Options{MaxPayload: 1024})
	a, b := domain(t, "a"), domain(t, "b")
	ga := runGateway(t, a, ns.ClientURL(), nil)
	gb := runGateway(t, b, ns.ClientURL(), nil)
	na, nb := testNode(t, a, "app"), testNode(t, b, "app")
	sa := must[*iox2.PublishSubscribeService[big]](t)(iox2.PublishSubscribe[big](na, "gw/big").OpenOrCreate())
	defer sa.Close()
	sb := must[*iox2.PublishSubscribeService[big]](t)(iox2.PublishSubscribe[big](nb, "gw/big").OpenOrCreate())
	defer sb.Close()
	pub := must[*iox2.Publisher[big]](t)(sa.Publisher())
	defer pub.Close()
	sub := must[*iox2.Subscriber[big]](t)(sb.Subscriber())
	defer sub.Close()
	eventually(t, "both bridges", func() bool {
		return bridged(ga.Gateway, "gw/big", psPattern, 1) && bridged(gb.Gateway, "gw/big", psPattern, 1)
	})
	must[int](t)(pub.SendCopy(big{}))
	eventually(t, "the drop", func() bool { return bridgeOf(t, ga.Gateway, "gw/big", psPattern).Dropped == 1 })
	if !ga.log.has("a sample of 2096 bytes exceeds the NATS server's max_payload of 1024 bytes: dropped") {
		t.Errorf("not logged: %q", ga.log.lines)
	}
	if s, _ := sub.Receive(); s != nil {
		t.Errorf("a sample crossed")
	}
}
