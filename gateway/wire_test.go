package gateway

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	iox2 "github.com/iox2go/iox2go/runtime"
)

// record appends one record of the wire format to b.
func record(b []byte, h sampleHeader, uh, pl []byte) []byte {
	at := len(b)
	b = append(b, make([]byte, sampleHeaderLen)...)
	putSampleHeader(b[at:], h)
	return append(append(b, uh...), pl...)
}

// TestNextRecordSplitsABatch: the records of a batch come out in order,
// each with its own header, user header and payload.
func TestNextRecordSplitsABatch(t *testing.T) {
	var msg []byte
	msg = record(msg, sampleHeader{origin: 1, publisher: 7, seq: 1, userHeaderLen: 2, elems: 1}, []byte{0xaa, 0xbb}, []byte{1, 0, 0, 0})
	msg = record(msg, sampleHeader{origin: 1, publisher: 7, seq: 2, userHeaderLen: 0, elems: 3}, nil, []byte{2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0})
	msg = record(msg, sampleHeader{origin: 1, publisher: 9, seq: 5, userHeaderLen: 1, elems: 0}, []byte{0xcc}, nil)
	want := []struct {
		seq    uint64
		uh, pl []byte
	}{{1, []byte{0xaa, 0xbb}, []byte{1, 0, 0, 0}}, {2, []byte{}, []byte{2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0}}, {5, []byte{0xcc}, []byte{}}}
	rest := msg
	for i, w := range want {
		h, uh, pl, more, err := nextRecord(rest, 4)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if h.seq != w.seq || !bytes.Equal(uh, w.uh) || !bytes.Equal(pl, w.pl) {
			t.Errorf("record %d: seq %d uh %x pl %x, want %d %x %x", i, h.seq, uh, pl, w.seq, w.uh, w.pl)
		}
		rest = more
	}
	if len(rest) != 0 {
		t.Errorf("%d bytes left after the last record", len(rest))
	}
	// A message of one record is a sample, a request or a response; a
	// batch is not.
	if _, _, _, err := decodeSample(msg, 4); !errors.Is(err, errBadMessage) {
		t.Errorf("decodeSample of a batch: %v, want a malformed message", err)
	}
	if _, _, pl, err := decodeSample(msg[:sampleHeaderLen+2+4], 4); err != nil || !bytes.Equal(pl, []byte{1, 0, 0, 0}) {
		t.Errorf("decodeSample of one record: %x, %v", pl, err)
	}
}

// TestNextRecordRefuses: what another host sent is untrusted; every
// length is checked, none wraps.
func TestNextRecordRefuses(t *testing.T) {
	one := record(nil, sampleHeader{userHeaderLen: 1, elems: 2}, []byte{9}, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	hdr := func(mod func(b []byte)) []byte {
		b := bytes.Clone(one)
		mod(b)
		return b
	}
	le := binary.LittleEndian
	cases := []struct {
		name string
		msg  []byte
		want string
	}{
		{"short", one[:sampleHeaderLen-1], "47 bytes without the sample header"},
		{"magic", hdr(func(b []byte) { b[0] = 'X' }), "57 bytes without the sample header"},
		{"version", hdr(func(b []byte) { b[4] = 1 }), "sample wire version 1, this gateway speaks 2"},
		{"user header", hdr(func(b []byte) { le.PutUint32(b[32:], 10) }), "user header of 10 bytes in 9"},
		{"elements", hdr(func(b []byte) { le.PutUint64(b[40:], 3) }), "3 elements of 4 bytes in 8 bytes"},
		{"wrap", hdr(func(b []byte) { le.PutUint64(b[40:], 1<<62+2) }), "4611686018427387906 elements of 4 bytes in 8 bytes"},
		{"truncated batch", append(bytes.Clone(one), one[:20]...), "20 bytes without the sample header"},
	}
	for _, c := range cases {
		rest := c.msg
		var err error
		for err == nil && len(rest) > 0 {
			_, _, _, rest, err = nextRecord(rest, 4)
		}
		if !errors.Is(err, errBadMessage) || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// FuzzNextRecord: any bytes split into records that lie within them, or
// an error; never a panic.
func FuzzNextRecord(f *testing.F) {
	f.Add(record(record(nil, sampleHeader{elems: 1}, nil, []byte{1, 2}), sampleHeader{userHeaderLen: 1, elems: 2}, []byte{3}, []byte{4, 5, 6, 7}), uint8(2))
	f.Add([]byte("IOX2\x02"), uint8(1))
	f.Fuzz(func(t *testing.T, msg []byte, elemSize uint8) {
		rest := msg
		for len(rest) > 0 {
			_, uh, pl, more, err := nextRecord(rest, uint64(elemSize))
			if err != nil {
				return
			}
			if len(uh)+len(pl)+len(more)+sampleHeaderLen != len(rest) || len(pl)%int(elemSize) != 0 {
				t.Fatalf("record of %d+%d bytes and %d left from %d", len(uh), len(pl), len(more), len(rest))
			}
			rest = more
		}
	})
}

// psHosts is two hosts with a gateway each on one NATS server, the
// publish-subscribe service psName bridged between them, and a raw NATS
// connection to that server.
type psHosts struct {
	ga, gb *testGW
	ea, eb psEnd
	nc     *nats.Conn
}

func bridgedPubSub(t *testing.T) psHosts {
	t.Helper()
	ns := startNATS(t, 0)
	a, b := domain(t, "a"), domain(t, "b")
	h := psHosts{ga: runGateway(t, a, ns.ClientURL(), nil), gb: runGateway(t, b, ns.ClientURL(), nil)}
	h.ea, h.eb = psPorts(t, a), psPorts(t, b)
	eventually(t, "both bridges", func() bool {
		return bridged(h.ga.Gateway, psName, psPattern, 1) && bridged(h.gb.Gateway, psName, psPattern, 1)
	})
	h.nc = must[*nats.Conn](t)(nats.Connect(ns.ClientURL()))
	t.Cleanup(h.nc.Close)
	return h
}

// psBridge returns g's bridge of publish-subscribe service name.
func psBridge(t *testing.T, g *testGW, name string) *bridge {
	t.Helper()
	hash := bridgeOf(t, g.Gateway, name, psPattern).Subject[len("iox2go."+g.Namespace()+".ps."):]
	g.mu.Lock()
	br := g.bridges[hash]
	g.mu.Unlock()
	if br == nil {
		t.Fatalf("no bridge of %q", name)
	}
	return br
}

// smallQueueHosts bridges service name, whose subscribers hold buffer
// samples without safe overflow, between two hosts with a gateway each: a
// publisher on host A, a subscriber on host B, and B's gateway.
func smallQueueHosts(t *testing.T, name string, buffer int) (*testGW, *iox2.Publisher[reading], *iox2.Subscriber[reading]) {
	t.Helper()
	ns := startNATS(t, 0)
	a, b := domain(t, "a"), domain(t, "b")
	ga, gb := runGateway(t, a, ns.ClientURL(), nil), runGateway(t, b, ns.ClientURL(), nil)
	open := func(cfg *iox2.Config) *iox2.PublishSubscribeService[reading] {
		svc := must[*iox2.PublishSubscribeService[reading]](t)(iox2.PublishSubscribe[reading](testNode(t, cfg, "app"), name).
			SubscriberMaxBufferSize(buffer).EnableSafeOverflow(false).OpenOrCreate())
		t.Cleanup(func() { svc.Close() })
		return svc
	}
	pub := must[*iox2.Publisher[reading]](t)(open(a).Publisher())
	sub := must[*iox2.Subscriber[reading]](t)(open(b).Subscriber())
	eventually(t, "both bridges", func() bool {
		return bridged(ga.Gateway, name, psPattern, 1) && bridged(gb.Gateway, name, psPattern, 1)
	})
	return gb, pub, sub
}

// TestBatchedBurst: a burst that the forwarder finds waiting travels in
// fewer NATS messages than samples, and every sample still reaches the
// other host once, in order, with its user header. A raw NATS subscriber
// counts the messages and the records on the service's subject.
func TestBatchedBurst(t *testing.T) {
	h := bridgedPubSub(t)
	ga, gb, ea, eb, nc := h.ga, h.gb, h.ea, h.eb, h.nc
	var msgs, records, bad atomic.Uint64
	sub := must[*nats.Subscription](t)(nc.Subscribe(bridgeOf(t, ga.Gateway, psName, psPattern).Subject, func(m *nats.Msg) {
		msgs.Add(1)
		for rest := m.Data; len(rest) > 0; {
			var err error
			if _, _, _, rest, err = nextRecord(rest, 24); err != nil {
				bad.Add(1)
				return
			}
			records.Add(1)
		}
	}))
	defer sub.Unsubscribe()
	must[struct{}](t)(struct{}{}, nc.Flush())
	// The subscriber buffer is 16: bursts of 16 that the forwarder finds
	// waiting. Whether it does depends on the scheduling (it wakes tens
	// of microseconds after the first sample of a burst here, the burst
	// takes a few): up to 20 bursts, until one travels batched.
	seq := uint64(0)
	var got []reading
	for burst := 0; burst < 20; burst++ {
		before := msgs.Load()
		for range 16 {
			seq++
			send(t, ea.pub, reading{Seq: seq, Value: [3]int32{int32(seq), 2, 3}, Tail: 0xa}, "A")
		}
		want := seq
		eventually(t, "the burst across", func() bool {
			r, _ := receiveAll(t, eb.sub, 10*time.Millisecond)
			got = append(got, r...)
			return uint64(len(got)) >= want && records.Load() >= want
		})
		if msgs.Load()-before < 16 {
			break
		}
	}
	for i, r := range got {
		if r.Seq != uint64(i+1) || r.Value != [3]int32{int32(r.Seq), 2, 3} || r.Tail != 0xa {
			t.Fatalf("sample %d on b is %+v, want seq %d (in order, once each)", i, r, i+1)
		}
	}
	if uint64(len(got)) != seq || records.Load() != seq || bad.Load() != 0 {
		t.Errorf("%d samples sent, %d received, %d records on NATS, %d malformed messages", seq, len(got), records.Load(), bad.Load())
	}
	if msgs.Load() >= seq {
		t.Errorf("%d samples in %d NATS messages: never batched in 20 bursts", seq, msgs.Load())
	}
	t.Logf("%d samples in %d NATS messages", seq, msgs.Load())
	if st := bridgeOf(t, gb.Gateway, psName, psPattern); st.Received != seq || st.Malformed != 0 || st.Dropped != 0 {
		t.Errorf("gateway b: %+v, want %d received", st, seq)
	}
}

// TestMalformedFromNATS: a message on a service's subject that does not
// decode is dropped and counted; the records of a batch before the bad
// one are injected; the service goes on.
func TestMalformedFromNATS(t *testing.T) {
	h := bridgedPubSub(t)
	gb, eb, nc := h.gb, h.eb, h.nc
	subj := bridgeOf(t, gb.Gateway, psName, psPattern).Subject
	pl := func(seq uint64) []byte {
		var r [24]byte // reading
		binary.NativeEndian.PutUint64(r[0:], seq)
		binary.NativeEndian.PutUint32(r[8:], uint32(seq))
		binary.NativeEndian.PutUint32(r[20:], 0xc)
		return r[:]
	}
	uh := make([]byte, 16)
	binary.NativeEndian.PutUint64(uh, 1000)
	uh[8] = 'N'
	good := record(nil, sampleHeader{origin: 42, publisher: 1, seq: 1, userHeaderLen: 16, elems: 1}, uh, pl(1))
	binary.NativeEndian.PutUint64(uh, 2000)
	batch := record(bytes.Clone(good[:0]), sampleHeader{origin: 42, publisher: 1, seq: 2, userHeaderLen: 16, elems: 1}, uh, pl(2))
	batch = append(batch, "garbage"...)
	for _, m := range [][]byte{[]byte("not a sample"), good[:30], batch, good} {
		must[struct{}](t)(struct{}{}, nc.Publish(subj, m))
	}
	must[struct{}](t)(struct{}{}, nc.Flush())
	var got []reading
	eventually(t, "the good samples", func() bool {
		r, _ := receiveAll(t, eb.sub, 10*time.Millisecond)
		got = append(got, r...)
		return len(got) >= 2
	})
	if len(got) != 2 || got[0].Seq != 2 || got[1].Seq != 1 || got[0].Tail != 0xc {
		t.Errorf("got %+v, want seq 2 (the batch's good record) then seq 1", got)
	}
	eventually(t, "counted", func() bool {
		st := bridgeOf(t, gb.Gateway, psName, psPattern)
		return st.Malformed == 3 && st.Received == 2
	})
	if !gb.log.has("dropped a message from " + subj) {
		t.Errorf("not logged: %q", gb.log.lines)
	}
}

// TestPendingLimitFollowsBatches: a publish-subscribe subscription's
// message limit is max-pending-messages divided by the samples a message
// holds on average, so that about as many samples can queue whether they
// come one a message or in batches.
func TestPendingLimitFollowsBatches(t *testing.T) {
	h := bridgedPubSub(t)
	gb, eb, nc := h.gb, h.eb, h.nc
	limit := func() int {
		n, _, err := psBridge(t, gb, psName).natsSub.PendingLimits()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := limit(); n != 65536 {
		t.Fatalf("limit %d before any batch, want 65536 (one sample a message)", n)
	}
	subj := bridgeOf(t, gb.Gateway, psName, psPattern).Subject
	uh, pl := make([]byte, 16), make([]byte, 24)
	number := uint32(0)
	for range 128 {
		var msg []byte
		for range 10 {
			msg = record(msg, sampleHeader{origin: 99, publisher: 1, userHeaderLen: 16, number: number, elems: 1}, uh, pl)
			number++
		}
		must[struct{}](t)(struct{}{}, nc.Publish(subj, msg))
	}
	must[struct{}](t)(struct{}{}, nc.Flush())
	eventually(t, "the batches injected", func() bool {
		receiveAll(t, eb.sub, time.Millisecond)
		return bridgeOf(t, gb.Gateway, psName, psPattern).Received+bridgeOf(t, gb.Gateway, psName, psPattern).Dropped >= 1280
	})
	// 65536 / ~10 samples a message.
	if n := limit(); n < 6000 || n > 7500 {
		t.Errorf("limit %d after batches of 10, want about 6554", n)
	}
}

// TestFullLocalQueue: a local subscriber that does not keep up, on a
// service without safe overflow. Gateway B injects through its
// DiscardData proxy: the subscriber keeps the first samples its queue
// holds, every later one is counted as received and undelivered (once its
// queue is full the gateway counts them without loaning and copying them,
// RawPublisher.DiscardIfFull), and the sample after the subscriber drained
// its queue arrives with the gap in the proxy's sequence numbers.
func TestFullLocalQueue(t *testing.T) {
	const name, buffer, flood = "gw/full", 4, 100
	gb, pub, sub := smallQueueHosts(t, name, buffer)
	for i := 1; i <= flood; i++ {
		must[int](t)(pub.SendCopy(reading{Seq: uint64(i)}))
	}
	eventually(t, "the flood injected", func() bool { return bridgeOf(t, gb.Gateway, name, psPattern).Received == flood })
	st := bridgeOf(t, gb.Gateway, name, psPattern)
	if st.Undelivered != flood-buffer || st.Dropped != 0 {
		t.Errorf("gateway B after the flood: %+v; want %d undelivered, none dropped", st, flood-buffer)
	}
	var firstSeq uint64
	for i := 1; i <= buffer; i++ {
		s := must[*iox2.Sample[reading]](t)(sub.Receive())
		if s == nil || s.Payload().Seq != uint64(i) {
			t.Fatalf("sample %d of the queue: %v", i, s)
		}
		if i == 1 {
			firstSeq = s.Header().Sequence
		}
		s.Release()
	}
	if s := must[*iox2.Sample[reading]](t)(sub.Receive()); s != nil {
		t.Fatalf("more than the queue held: %+v", s.Payload())
	}
	must[int](t)(pub.SendCopy(reading{Seq: flood + 1}))
	var got *iox2.Sample[reading]
	eventually(t, "the sample after the flood", func() bool {
		got = must[*iox2.Sample[reading]](t)(sub.Receive())
		return got != nil
	})
	if got.Payload().Seq != flood+1 || got.Header().Sequence != firstSeq+flood {
		t.Errorf("after the flood: seq %d with the proxy's sequence number %d; want seq %d with %d (the gap of the undelivered ones)",
			got.Payload().Seq, got.Header().Sequence, flood+1, firstSeq+flood)
	}
	got.Release()
}

// TestYieldWhileLocalQueueFull: a message from NATS that leaves the local
// subscribers' queues full ends with a yield of the processor, so that in
// a program that embeds the gateway the goroutines that drain those queues
// run before more of a flood is read; a message that did not fill them does
// not yield. With one P, a goroutine started just before a message is
// injected runs before the injection returns only if it yielded (a yield
// may resume the yielder first, once in 61 schedules, for the global run
// queue's fairness: each side of the check gets five tries).
func TestYieldWhileLocalQueueFull(t *testing.T) {
	const name, buffer = "gw/yield", 4
	gb, pub, sub := smallQueueHosts(t, name, buffer)
	// The first sample through the bridge creates gateway B's proxy
	// publisher (files, system calls): after it, an injection does not block.
	must[int](t)(pub.SendCopy(reading{Seq: 1}))
	eventually(t, "the first sample", func() bool { return bridgeOf(t, gb.Gateway, name, psPattern).Received == 1 })
	br := psBridge(t, gb, name)
	number := uint32(0)
	inject := func() (yielded bool) {
		number++
		msg := &nats.Msg{Subject: "test", Data: record(nil, sampleHeader{origin: 77, publisher: 1, seq: uint64(number), number: number, elems: 1}, nil, make([]byte, 24))}
		var ran atomic.Bool
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		go ran.Store(true)
		br.onSample(msg)
		return ran.Load()
	}
	tries := func(want bool) bool {
		for range 5 {
			if inject() == want {
				return true
			}
		}
		return false
	}
	// The queue holds 1: each of these reaches the subscriber, until the
	// fourth fills the queue.
	if !tries(false) {
		t.Error("injecting into a queue with room yielded in 5 of 5 tries")
	}
	for st := bridgeOf(t, gb.Gateway, name, psPattern); st.Undelivered == 0; st = bridgeOf(t, gb.Gateway, name, psPattern) {
		if st.Received > buffer+10 {
			t.Fatalf("the queue never filled: %+v", st)
		}
		inject()
	}
	if !tries(true) {
		t.Error("injecting into a full queue did not yield in 5 of 5 tries")
	}
	// The subscriber holds its first sample and the three that filled its
	// queue; the rest were counted as undelivered.
	for i := range buffer {
		s := must[*iox2.Sample[reading]](t)(sub.Receive())
		if s == nil || (i == 0) != (s.Payload().Seq == 1) {
			t.Fatalf("sample %d of the queue: %v", i, s)
		}
		s.Release()
	}
	if s := must[*iox2.Sample[reading]](t)(sub.Receive()); s != nil {
		t.Errorf("more than the queue held: %+v", s.Payload())
	}
}

// TestStopForwardsWhatIsQueued: samples that a local publisher sent just
// before its gateway stops still reach the other host, and before the
// gateway's goodbye. A raw NATS subscriber sees the records on the
// service's subject and the goodbye, in the order NATS delivers them.
func TestStopForwardsWhatIsQueued(t *testing.T) {
	h := bridgedPubSub(t)
	ga, ea, eb, nc := h.ga, h.ea, h.eb, h.nc
	var mu sync.Mutex
	records, recordsAtBye := 0, -1
	data := bridgeOf(t, ga.Gateway, psName, psPattern).Subject
	bye := ga.subj("gw." + ga.idStr + ".bye")
	sub := must[*nats.Subscription](t)(nc.Subscribe(">", func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		switch m.Subject {
		case data:
			for rest := m.Data; len(rest) > 0; {
				var err error
				if _, _, _, rest, err = nextRecord(rest, 24); err != nil {
					return
				}
				records++
			}
		case bye:
			recordsAtBye = records
		}
	}))
	defer sub.Unsubscribe()
	must[struct{}](t)(struct{}{}, nc.Flush())
	const n = 16 // the service's subscriber buffer: the gateway's subscriber holds them all
	for i := 1; i <= n; i++ {
		send(t, ea.pub, reading{Seq: uint64(i), Tail: 0xd}, "A")
	}
	ga.stop() // at once: the forwarder may not have taken any of them yet
	if ga.err != nil {
		t.Fatal(ga.err)
	}
	var got []reading
	eventually(t, "the samples sent before the stop", func() bool {
		r, _ := receiveAll(t, eb.sub, 10*time.Millisecond)
		got = append(got, r...)
		return len(got) >= n
	})
	for i, r := range got {
		if r.Seq != uint64(i+1) {
			t.Fatalf("got %+v, want seqs 1..%d in order", got, n)
		}
	}
	eventually(t, "the goodbye", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return recordsAtBye >= 0
	})
	mu.Lock()
	defer mu.Unlock()
	if recordsAtBye != n {
		t.Errorf("%d records on NATS before the goodbye, want %d", recordsAtBye, n)
	}
}
