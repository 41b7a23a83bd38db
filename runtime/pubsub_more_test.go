package runtime

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func openMsg(t *testing.T, node *Node, name string, f func(*PublishSubscribeBuilder[msg])) *PublishSubscribeService[msg] {
	t.Helper()
	b := PublishSubscribe[msg](node, name)
	if f != nil {
		f(b)
	}
	svc, err := b.OpenOrCreate()
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func send(t *testing.T, p *Publisher[msg], seq uint64) int {
	t.Helper()
	n, err := p.SendCopy(msg{Seq: seq})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func receiveAll(t *testing.T, s *Subscriber[msg]) []uint64 {
	t.Helper()
	var got []uint64
	for {
		smp, err := s.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if smp == nil {
			return got
		}
		got = append(got, smp.Payload().Seq)
		smp.Release()
	}
}

func eq(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSafeOverflowKeepsTheNewest(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openMsg(t, node, "overflow", func(b *PublishSubscribeBuilder[msg]) { b.SubscriberMaxBufferSize(2) })
	sub := must[*Subscriber[msg]](t)(svc.Subscriber())
	pub := must[*Publisher[msg]](t)(svc.Publisher())
	for i := uint64(0); i < 5; i++ {
		if n := send(t, pub, i); n != 1 {
			t.Fatalf("send %d reached %d subscribers", i, n)
		}
	}
	if got := receiveAll(t, sub); !eq(got, []uint64{3, 4}) {
		t.Fatalf("received %v, want [3 4]", got)
	}
	if pub.p.overflows != 3 {
		t.Fatalf("publisher counted %d overflows, want 3", pub.p.overflows)
	}
}

func TestDiscardDataWithoutSafeOverflow(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openMsg(t, node, "discard", func(b *PublishSubscribeBuilder[msg]) {
		b.SubscriberMaxBufferSize(2).EnableSafeOverflow(false)
	})
	sub := must[*Subscriber[msg]](t)(svc.Subscriber())
	pub := must[*Publisher[msg]](t)(svc.PublisherBuilder().Backpressure(DiscardData).Create())
	var reached []int
	for i := uint64(0); i < 4; i++ {
		reached = append(reached, send(t, pub, i))
	}
	if reached[0] != 1 || reached[1] != 1 || reached[2] != 0 || reached[3] != 0 {
		t.Fatalf("sends reached %v subscribers, want [1 1 0 0]", reached)
	}
	if got := receiveAll(t, sub); !eq(got, []uint64{0, 1}) {
		t.Fatalf("received %v, want [0 1]", got)
	}
}

// TestDefaultBackpressureFromConfig: a publisher built without Backpressure
// takes the node config's default, here DiscardData (so Send never waits).
func TestDefaultBackpressureFromConfig(t *testing.T) {
	cfg := testConfig(t)
	cfg.Defaults.PublishSubscribe.PublisherBackpressure = DiscardData
	node := testNode(t, cfg)
	svc := openMsg(t, node, "discard-default", func(b *PublishSubscribeBuilder[msg]) {
		b.SubscriberMaxBufferSize(1).EnableSafeOverflow(false)
	})
	sub := must[*Subscriber[msg]](t)(svc.Subscriber())
	pub := must[*Publisher[msg]](t)(svc.Publisher())
	first := send(t, pub, 0)
	second := make(chan int, 1)
	go func() { // with RetryUntilDelivered it would wait for room
		n, _ := pub.SendCopy(msg{Seq: 1})
		second <- n
	}()
	select {
	case n := <-second:
		if first != 1 || n != 0 {
			t.Fatalf("sends reached [%d %d] subscribers, want [1 0]", first, n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Send waited for room: the config's DiscardData default was not applied")
	}
	if got := receiveAll(t, sub); !eq(got, []uint64{0}) {
		t.Fatalf("received %v, want [0]", got)
	}
}

func TestRetryUntilDeliveredWaitsForRoom(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openMsg(t, node, "retry", func(b *PublishSubscribeBuilder[msg]) {
		b.SubscriberMaxBufferSize(1).EnableSafeOverflow(false)
	})
	sub := must[*Subscriber[msg]](t)(svc.Subscriber())
	pub := must[*Publisher[msg]](t)(svc.Publisher())
	send(t, pub, 0)
	done := make(chan int)
	go func() {
		n, _ := pub.SendCopy(msg{Seq: 1})
		done <- n
	}()
	select {
	case <-done:
		t.Fatal("Send returned while the subscriber's queue was full")
	case <-time.After(50 * time.Millisecond):
	}
	got := receiveAll(t, sub)
	if len(got) == 0 || got[0] != 0 || len(got) > 2 || len(got) == 2 && got[1] != 1 {
		t.Fatalf("received %v, want 0 first (and perhaps 1)", got)
	}
	if n := <-done; n != 1 {
		t.Fatalf("blocked Send reached %d subscribers, want 1", n)
	}
	// The unblocked sample arrives, unless receiveAll already took it: the
	// waiting Send puts it in as soon as 0 leaves the queue.
	deadline := time.Now().Add(5 * time.Second)
	for len(got) == 1 {
		smp, _ := sub.Receive()
		if smp != nil {
			if smp.Payload().Seq != 1 {
				t.Fatalf("got %d, want 1", smp.Payload().Seq)
			}
			smp.Release()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sample 1 never arrived")
		}
	}
}

func TestLateJoinerGetsHistoryFromIdlePublisher(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openMsg(t, node, "history", func(b *PublishSubscribeBuilder[msg]) {
		b.HistorySize(3).SubscriberMaxBufferSize(5)
	})
	pub := must[*Publisher[msg]](t)(svc.Publisher())
	for i := uint64(0); i < 5; i++ {
		send(t, pub, i)
	}
	// No call on the publisher after this point.
	sub := must[*Subscriber[msg]](t)(svc.Subscriber())
	deadline := time.Now().Add(5 * time.Second)
	var got []uint64
	for len(got) < 3 && time.Now().Before(deadline) {
		got = append(got, receiveAll(t, sub)...)
		time.Sleep(time.Millisecond)
	}
	if !eq(got, []uint64{2, 3, 4}) {
		t.Fatalf("late joiner received %v, want [2 3 4]", got)
	}
}

func TestHistoryRequestLimitsHistory(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openMsg(t, node, "history-request", func(b *PublishSubscribeBuilder[msg]) {
		b.HistorySize(3).SubscriberMaxBufferSize(5)
	})
	pub := must[*Publisher[msg]](t)(svc.Publisher())
	for i := uint64(0); i < 5; i++ {
		send(t, pub, i)
	}
	sub := must[*Subscriber[msg]](t)(svc.SubscriberBuilder().HistoryRequest(1).Create())
	deadline := time.Now().Add(5 * time.Second)
	var got []uint64
	for len(got) < 1 && time.Now().Before(deadline) {
		got = append(got, receiveAll(t, sub)...)
	}
	time.Sleep(20 * time.Millisecond)
	got = append(got, receiveAll(t, sub)...)
	if !eq(got, []uint64{4}) {
		t.Fatalf("received %v, want [4]", got)
	}
	if _, err := svc.SubscriberBuilder().HistoryRequest(4).Create(); !errors.Is(err, ErrHistoryRequestExceeds) {
		t.Fatalf("history request above the service's = %v, want ErrHistoryRequestExceeds", err)
	}
	if _, err := svc.SubscriberBuilder().BufferSize(6).Create(); !errors.Is(err, ErrBufferSizeExceedsMax) {
		t.Fatalf("buffer above the service's = %v, want ErrBufferSizeExceedsMax", err)
	}
}

func TestSendReachesSubscriberCreatedJustBefore(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openMsg(t, node, "no-loss", nil)
	pub := must[*Publisher[msg]](t)(svc.Publisher())
	for i := 0; i < 50; i++ {
		sub := must[*Subscriber[msg]](t)(svc.Subscriber())
		if n := send(t, pub, uint64(i)); n != 1 {
			t.Fatalf("round %d: Send right after the subscriber's creation reached %d", i, n)
		}
		if got := receiveAll(t, sub); !eq(got, []uint64{uint64(i)}) {
			t.Fatalf("round %d: received %v", i, got)
		}
		sub.Close()
	}
}

func TestBorrowAndLoanLimits(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openMsg(t, node, "limits", func(b *PublishSubscribeBuilder[msg]) {
		b.SubscriberMaxBufferSize(4).SubscriberMaxBorrowedSamples(2).MaxPublishers(1).MaxSubscribers(1)
	})
	sub := must[*Subscriber[msg]](t)(svc.Subscriber())
	pub := must[*Publisher[msg]](t)(svc.PublisherBuilder().MaxLoanedSamples(2).Create())
	for i := uint64(0); i < 3; i++ {
		send(t, pub, i)
	}
	a := must[*Sample[msg]](t)(sub.Receive())
	b := must[*Sample[msg]](t)(sub.Receive())
	if _, err := sub.Receive(); !errors.Is(err, ErrExceedsMaxBorrows) {
		t.Fatalf("third Receive = %v, want ErrExceedsMaxBorrows", err)
	}
	a.Release()
	a.Release() // idempotent
	c := must[*Sample[msg]](t)(sub.Receive())
	if c.Payload().Seq != 2 {
		t.Fatalf("got %d", c.Payload().Seq)
	}
	b.Release()
	c.Release()

	l1 := must[*SampleMut[msg]](t)(pub.Loan())
	l2 := must[*SampleMut[msg]](t)(pub.Loan())
	if _, err := pub.Loan(); !errors.Is(err, ErrExceedsMaxLoans) {
		t.Fatalf("third Loan = %v, want ErrExceedsMaxLoans", err)
	}
	l1.Release()
	if _, err := l1.Send(); !errors.Is(err, ErrSampleNotOwned) {
		t.Fatalf("Send after Release = %v, want ErrSampleNotOwned", err)
	}
	must[int](t)(l2.Send())
	if _, err := svc.Publisher(); !errors.Is(err, ErrExceedsMaxPublishers) {
		t.Fatalf("second publisher = %v, want ErrExceedsMaxPublishers", err)
	}
	if _, err := svc.Subscriber(); !errors.Is(err, ErrExceedsMaxSubscribers) {
		t.Fatalf("second subscriber = %v, want ErrExceedsMaxSubscribers", err)
	}
}

type otherMsg struct{ A, B uint32 }

func TestOpenChecksTypesQoSAndAttributes(t *testing.T) {
	cfg := testConfig(t)
	n1 := testNode(t, cfg)
	n2 := testNode(t, cfg)
	_, err := PublishSubscribe[msg](n1, "checked").HistorySize(2).Attribute("camera", "front").Create()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PublishSubscribe[msg](n2, "checked").Create(); !errors.Is(err, ErrServiceExists) {
		t.Fatalf("second Create = %v, want ErrServiceExists", err)
	}
	_, err = PublishSubscribe[otherMsg](n2, "checked").Open()
	if !errors.Is(err, ErrIncompatibleTypes) {
		t.Fatalf("Open with another type = %v, want ErrIncompatibleTypes", err)
	}
	for _, want := range []string{"otherMsg", "runtime.msg", "size 8", "size 40"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("incompatible-types error %q does not mention %q", err, want)
		}
	}
	var se *ServiceError
	if !errors.As(err, &se) || se.Service != "checked" {
		t.Errorf("error %v is not a *ServiceError for service checked", err)
	}
	if _, err := PublishSubscribe[msg](n2, "checked").HistorySize(3).Open(); !errors.Is(err, ErrIncompatibleQoS) {
		t.Fatalf("Open requiring more history = %v, want ErrIncompatibleQoS", err)
	}
	if _, err := PublishSubscribe[msg](n2, "checked").EnableSafeOverflow(false).Open(); !errors.Is(err, ErrIncompatibleQoS) {
		t.Fatalf("Open with other overflow = %v, want ErrIncompatibleQoS", err)
	}
	if _, err := PublishSubscribe[msg](n2, "checked").RequireAttribute("camera", "rear").Open(); !errors.Is(err, ErrIncompatibleAttributes) {
		t.Fatalf("Open requiring another attribute = %v, want ErrIncompatibleAttributes", err)
	}
	// Requirements below what the service offers are met.
	if _, err := PublishSubscribe[msg](n2, "checked").MaxPublishers(1).MaxSubscribers(1).MaxNodes(3).Open(); err != nil {
		t.Fatalf("Open requiring less than the service offers: %v", err)
	}
	svc, err := PublishSubscribe[msg](n2, "checked").HistorySize(1).RequireAttribute("camera", "").Open()
	if err != nil {
		t.Fatalf("compatible Open: %v", err)
	}
	if a := svc.Attributes(); len(a) != 1 || a[0] != (Attribute{Key: "camera", Value: "front"}) {
		t.Fatalf("attributes %v", a)
	}
}

func TestInvalidNamesTypesAndQoS(t *testing.T) {
	node := testNode(t, testConfig(t))
	for _, name := range []string{"", "iox2://x", strings.Repeat("a", 256), "caf\xc3\xa9"} {
		if _, err := PublishSubscribe[msg](node, name).OpenOrCreate(); !errors.Is(err, ErrInvalidServiceName) {
			t.Errorf("name %q: %v, want ErrInvalidServiceName", name, err)
		}
	}
	type withPointer struct{ P *int }
	if _, err := PublishSubscribe[withPointer](node, "ptr").OpenOrCreate(); !errors.Is(err, ErrInvalidType) {
		t.Errorf("pointer payload: %v, want ErrInvalidType", err)
	}
	if _, err := PublishSubscribe[[]byte](node, "slice").OpenOrCreate(); !errors.Is(err, ErrInvalidType) {
		t.Errorf("slice payload: %v, want ErrInvalidType", err)
	}
	if _, err := PublishSubscribe[int](node, "int").OpenOrCreate(); !errors.Is(err, ErrInvalidType) {
		t.Errorf("int payload: %v, want ErrInvalidType", err)
	}
	if _, err := PublishSubscribe[msg](node, "q").MaxSubscribers(0).Create(); !errors.Is(err, ErrInvalidQoS) {
		t.Errorf("0 subscribers: %v, want ErrInvalidQoS", err)
	}
	if _, err := PublishSubscribe[msg](node, "q").EnableSafeOverflow(false).HistorySize(5).SubscriberMaxBufferSize(2).Create(); !errors.Is(err, ErrInvalidQoS) {
		t.Errorf("history > buffer without overflow: %v, want ErrInvalidQoS", err)
	}
	if _, err := NewNodeBuilder().Name("caf\xc3\xa9").Create(); !errors.Is(err, ErrInvalidNodeName) {
		t.Errorf("node name: %v, want ErrInvalidNodeName", err)
	}
}

func TestLastNodeRemovesService(t *testing.T) {
	cfg := testConfig(t)
	n1 := testNode(t, cfg)
	n2 := testNode(t, cfg)
	s1 := openMsg(t, n1, "lifetime", nil)
	s2 := openMsg(t, n2, "lifetime", nil)
	path := cfg.staticPath(serviceHash("lifetime", PatternPublishSubscribe))
	s1.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("service removed while a node still had it open: %v", err)
	}
	s2.Close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("static config still there after the last node left: %v", err)
	}
	n1.Close()
	n2.Close()
	ents, _ := os.ReadDir(cfg.nodesDir())
	if len(ents) != 0 {
		t.Fatalf("node files left: %v", ents)
	}
}

func TestZeroCopyInProcess(t *testing.T) {
	node := testNode(t, testConfig(t))
	type big struct{ B [4 << 20]byte }
	svc, err := PublishSubscribe[big](node, "zero-copy").SubscriberMaxBufferSize(1).OpenOrCreate()
	if err != nil {
		t.Fatal(err)
	}
	sub := must[*Subscriber[big]](t)(svc.Subscriber())
	pub := must[*Publisher[big]](t)(svc.Publisher())
	s := must[*SampleMut[big]](t)(pub.LoanUninit())
	written := s.Payload()
	written.B[0], written.B[len(written.B)-1] = 1, 2
	must[int](t)(s.Send())
	r := must[*Sample[big]](t)(sub.Receive())
	defer r.Release()
	// The subscriber reads the publisher's segment through its own mapping.
	m := r.conn.data.Bytes()
	addr := uintptr(unsafe.Pointer(r.Payload()))
	lo, hi := uintptr(unsafe.Pointer(&m[0])), uintptr(unsafe.Pointer(&m[len(m)-1]))
	if addr < lo || addr+unsafe.Sizeof(big{}) > hi+1 {
		t.Fatalf("payload at %#x is outside the publisher's segment [%#x, %#x]", addr, lo, hi)
	}
	// Writing after the send shows through: the two are the same memory.
	written.B[12345] = 7
	if r.Payload().B[12345] != 7 || r.Payload().B[0] != 1 || r.Payload().B[len(r.Payload().B)-1] != 2 {
		t.Fatal("the received payload is a copy of the sent one")
	}
}

func TestChunksOfClosedSubscriberReturnToPool(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openMsg(t, node, "reclaim", func(b *PublishSubscribeBuilder[msg]) { b.SubscriberMaxBufferSize(4) })
	pub := must[*Publisher[msg]](t)(svc.Publisher())
	total := pub.p.freeChunks()
	sub := must[*Subscriber[msg]](t)(svc.Subscriber())
	for i := uint64(0); i < 4; i++ {
		send(t, pub, i)
	}
	held := must[*Sample[msg]](t)(sub.Receive())
	_ = held
	if free := pub.p.freeChunks(); free != total-4 {
		t.Fatalf("%d chunks free with 4 in flight, want %d", free, total-4)
	}
	sub.Close() // without releasing: the publisher takes everything back
	pub.p.mu.Lock()
	pub.p.update()
	pub.p.mu.Unlock()
	if free := pub.p.freeChunks(); free != total {
		t.Fatalf("%d chunks free after the subscriber left, want %d", free, total)
	}
}

func TestHotPathAllocatesNothing(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openMsg(t, node, "allocs", nil)
	sub := must[*Subscriber[msg]](t)(svc.Subscriber())
	pub := must[*Publisher[msg]](t)(svc.Publisher())
	allocs := testing.AllocsPerRun(1000, func() {
		s, err := pub.Loan()
		if err != nil {
			t.Fatal(err)
		}
		s.Payload().Seq = 1
		if _, err := s.Send(); err != nil {
			t.Fatal(err)
		}
		r, err := sub.Receive()
		if err != nil || r == nil {
			t.Fatal("no sample", err)
		}
		_ = r.Payload().Seq
		r.Release()
	})
	if allocs != 0 {
		t.Fatalf("loan+send+receive+release allocates %v times", allocs)
	}
	allocs = testing.AllocsPerRun(1000, func() {
		pub.SendCopy(msg{Seq: 2})
		if r, _ := sub.Receive(); r != nil {
			r.Release()
		}
	})
	if allocs != 0 {
		t.Fatalf("SendCopy+receive allocates %v times", allocs)
	}
}

// TestNodeOpensServiceTwice opens one service twice through one node:
// closing one handle leaves the other working, and the service goes when
// both are closed.
func TestNodeOpensServiceTwice(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	a := openMsg(t, node, "twice", nil)
	b := openMsg(t, node, "twice", nil)
	sub := must[*Subscriber[msg]](t)(b.Subscriber())
	a.Close()
	pub := must[*Publisher[msg]](t)(b.Publisher())
	if n := send(t, pub, 7); n != 1 {
		t.Fatalf("send after closing the other handle reached %d", n)
	}
	if got := receiveAll(t, sub); !eq(got, []uint64{7}) {
		t.Fatalf("received %v", got)
	}
	b.Close()
	if svcs, _ := ListServices(cfg); len(svcs) != 0 {
		t.Fatalf("services left: %+v", svcs)
	}
}
