package runtime

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
	"github.com/iox2go/iox2go/runtime/ring"
)

func openEvent(t *testing.T, node *Node, name string, f func(*EventBuilder)) *EventService {
	t.Helper()
	b := Event(node, name)
	if f != nil {
		f(b)
	}
	svc, err := b.OpenOrCreate()
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// activations drains l and returns what it reported.
func activations(t *testing.T, l *Listener) ([]EventActivation, int) {
	t.Helper()
	var got []EventActivation
	n, err := l.TryWait(func(a EventActivation) { got = append(got, a) })
	if err != nil {
		t.Fatal(err)
	}
	return got, n
}

func TestEventNotifyAndWait(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openEvent(t, node, "MyEventName", nil)
	l := must[*Listener](t)(svc.Listener())
	nt := must[*Notifier](t)(svc.NotifierBuilder().DefaultEventID(12).Create())
	if id, ok, err := l.TryWaitOne(); ok || err != nil {
		t.Fatalf("TryWaitOne on nothing = %d, %v, %v", id, ok, err)
	}
	if n, err := nt.Notify(); n != 1 || err != nil {
		t.Fatalf("Notify = %d, %v; want 1 listener", n, err)
	}
	if id, ok, err := l.TryWaitOne(); !ok || err != nil || id != 12 {
		t.Fatalf("TryWaitOne = %d, %v, %v; want 12", id, ok, err)
	}
	if id, ok, _ := l.TryWaitOne(); ok {
		t.Fatalf("TryWaitOne reported %d twice", id)
	}
	for _, id := range []EventID{3, 200, 3, 0} {
		if _, err := nt.NotifyWithCustomEventID(id); err != nil {
			t.Fatal(err)
		}
	}
	var ids []EventID
	if n, err := l.TryWaitAll(func(id EventID) { ids = append(ids, id) }); n != 3 || err != nil {
		t.Fatalf("TryWaitAll = %d, %v", n, err)
	}
	if !slices.Equal(ids, []EventID{0, 3, 200}) {
		t.Fatalf("TryWaitAll reported %v, want [0 3 200]", ids)
	}
	if svc.NumberOfNotifiers() != 1 || svc.NumberOfListeners() != 1 {
		t.Fatalf("%d notifiers, %d listeners", svc.NumberOfNotifiers(), svc.NumberOfListeners())
	}
	if err := node.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := nt.Notify(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Notify after node.Close = %v", err)
	}
	if _, _, err := l.TryWaitOne(); !errors.Is(err, ErrClosed) {
		t.Fatalf("TryWaitOne after node.Close = %v", err)
	}
}

func TestEventCountsAreCoalesced(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openEvent(t, node, "counts", nil)
	l1 := must[*Listener](t)(svc.Listener())
	l2 := must[*Listener](t)(svc.Listener())
	nt := must[*Notifier](t)(svc.Notifier())
	for range 5 {
		nt.NotifyWithCustomEventID(3)
	}
	nt.NotifyWithCustomEventID(7)
	if n, _ := nt.NotifyWithCustomEventID(7); n != 2 {
		t.Fatalf("Notify reached %d listeners, want 2", n)
	}
	want := []EventActivation{{3, 5}, {7, 2}}
	for _, l := range []*Listener{l1, l2} {
		got, n := activations(t, l)
		if n != 7 || !slices.Equal(got, want) {
			t.Fatalf("TryWait = %v (%d), want %v (7)", got, n, want)
		}
		if got, n := activations(t, l); n != 0 || len(got) != 0 {
			t.Fatalf("second TryWait = %v (%d)", got, n)
		}
	}
	// TryWaitOne buffers a drain; TryWait reports the rest.
	for _, id := range []EventID{1, 2, 2, 9} {
		nt.NotifyWithCustomEventID(id)
	}
	if id, ok, _ := l1.TryWaitOne(); !ok || id != 1 {
		t.Fatalf("TryWaitOne = %d, %v; want 1", id, ok)
	}
	nt.NotifyWithCustomEventID(4)
	got, n := activations(t, l1)
	if want := []EventActivation{{2, 2}, {9, 1}, {4, 1}}; n != 4 || !slices.Equal(got, want) {
		t.Fatalf("TryWait after TryWaitOne = %v (%d), want %v", got, n, want)
	}
}

func TestEventLimitsAndBounds(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openEvent(t, node, "limits", func(b *EventBuilder) {
		b.MaxNotifiers(1).MaxListeners(1).EventIDMaxValue(10)
	})
	nt := must[*Notifier](t)(svc.Notifier())
	must[*Listener](t)(svc.Listener())
	if _, err := svc.Notifier(); !errors.Is(err, ErrExceedsMaxNotifiers) {
		t.Fatalf("second notifier: %v", err)
	}
	if _, err := svc.Listener(); !errors.Is(err, ErrExceedsMaxListeners) {
		t.Fatalf("second listener: %v", err)
	}
	if n, err := nt.NotifyWithCustomEventID(11); !errors.Is(err, ErrEventIDOutOfBounds) || n != 0 {
		t.Fatalf("Notify(11) = %d, %v", n, err)
	}
	if n, err := nt.NotifyWithCustomEventID(10); err != nil || n != 1 {
		t.Fatalf("Notify(10) = %d, %v", n, err)
	}
	nt.Close()
	if _, err := svc.NotifierBuilder().DefaultEventID(11).Create(); !errors.Is(err, ErrEventIDOutOfBounds) {
		t.Fatalf("notifier with default id 11: %v", err)
	}
	for _, f := range []func(*EventBuilder){
		func(b *EventBuilder) { b.MaxNotifiers(0) },
		func(b *EventBuilder) { b.EventIDMaxValue(1 << 16) },
		func(b *EventBuilder) { b.EventIDMaxValue(-1) },
		func(b *EventBuilder) { b.Deadline(0) },
		func(b *EventBuilder) { b.EventIDMaxValue(4).NotifierDeadEvent(5) },
	} {
		b := Event(node, "invalid")
		f(b)
		if _, err := b.Create(); !errors.Is(err, ErrInvalidQoS) {
			t.Errorf("invalid QoS: %v", err)
		}
	}
}

func TestEventOpenChecksQoS(t *testing.T) {
	cfg := testConfig(t)
	creator := testNode(t, cfg)
	svc, err := Event(creator, "qos").MaxNotifiers(4).MaxListeners(4).MaxNodes(4).EventIDMaxValue(20).
		Deadline(time.Hour).NotifierCreatedEvent(1).NotifierDeadEvent(2).Attribute("k", "v").Create()
	if err != nil {
		t.Fatal(err)
	}
	q := svc.QoS()
	if q.MaxNotifiers != 4 || q.EventIDMaxValue != 20 || q.Deadline != time.Hour || q.NotifierCreatedEvent == nil ||
		*q.NotifierCreatedEvent != 1 || q.NotifierDroppedEvent != nil || *q.NotifierDeadEvent != 2 {
		t.Fatalf("QoS = %+v", q)
	}
	node := testNode(t, cfg)
	if _, err := Event(node, "qos").Create(); !errors.Is(err, ErrServiceExists) {
		t.Fatalf("Create of an existing service: %v", err)
	}
	for _, tc := range []struct {
		f  func(*EventBuilder)
		ok bool
	}{
		{func(b *EventBuilder) {}, true},
		{func(b *EventBuilder) { b.MaxNotifiers(4).MaxListeners(3).MaxNodes(4).EventIDMaxValue(20) }, true},
		{func(b *EventBuilder) { b.Deadline(time.Hour).NotifierCreatedEvent(1).DisableNotifierDroppedEvent() }, true},
		{func(b *EventBuilder) { b.RequireAttribute("k", "v") }, true},
		{func(b *EventBuilder) { b.MaxNotifiers(5) }, false},
		{func(b *EventBuilder) { b.MaxListeners(5) }, false},
		{func(b *EventBuilder) { b.MaxNodes(5) }, false},
		{func(b *EventBuilder) { b.EventIDMaxValue(21) }, false},
		{func(b *EventBuilder) { b.Deadline(time.Minute) }, false},
		{func(b *EventBuilder) { b.DisableDeadline() }, false},
		{func(b *EventBuilder) { b.NotifierCreatedEvent(2) }, false},
		{func(b *EventBuilder) { b.DisableNotifierCreatedEvent() }, false},
		{func(b *EventBuilder) { b.NotifierDroppedEvent(1) }, false},
		{func(b *EventBuilder) { b.DisableNotifierDeadEvent() }, false},
	} {
		b := Event(node, "qos")
		tc.f(b)
		s, err := b.Open()
		if tc.ok && err != nil || !tc.ok && !errors.Is(err, ErrIncompatibleQoS) {
			t.Errorf("open: %v (want ok=%v)", err, tc.ok)
		}
		if s != nil {
			s.Close()
		}
	}
	if _, err := Event(node, "qos").RequireAttribute("k", "w").Open(); !errors.Is(err, ErrIncompatibleAttributes) {
		t.Errorf("open with another attribute: %v", err)
	}
	// A publish-subscribe service of the same name is another service.
	if _, err := PublishSubscribe[msg](node, "qos").Open(); !errors.Is(err, ErrServiceNotExist) {
		t.Errorf("pub-sub open of an event service's name: %v", err)
	}
	var se *ServiceError
	_, err = Event(node, "qos").Deadline(time.Second).Open()
	if !errors.As(err, &se) || se.Detail != "requested deadline 1s, service has 1h0m0s" {
		t.Errorf("deadline mismatch error: %v", err)
	}
}

func TestNotifierCreatedAndDroppedEvents(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openEvent(t, node, "lifecycle", func(b *EventBuilder) {
		b.NotifierCreatedEvent(1).NotifierDroppedEvent(2)
	})
	l := must[*Listener](t)(svc.Listener())
	nt := must[*Notifier](t)(svc.NotifierBuilder().DefaultEventID(5).Create())
	nt.Notify()
	if got, _ := activations(t, l); !slices.Equal(got, []EventActivation{{1, 1}, {5, 1}}) {
		t.Fatalf("after create + notify: %v", got)
	}
	nt.Close()
	nt.Close()
	if got, _ := activations(t, l); !slices.Equal(got, []EventActivation{{2, 1}}) {
		t.Fatalf("after close: %v", got)
	}
	if svc.NumberOfNotifiers() != 0 {
		t.Fatal("closed notifier still registered")
	}
}

func TestEventDeadline(t *testing.T) {
	node := testNode(t, testConfig(t))
	const dl = 250 * time.Millisecond
	svc := openEvent(t, node, "deadline", func(b *EventBuilder) { b.Deadline(dl) })
	l := must[*Listener](t)(svc.Listener())
	nt := must[*Notifier](t)(svc.Notifier())
	if d, ok := l.Deadline(); !ok || d != dl {
		t.Fatalf("Listener.Deadline = %v, %v", d, ok)
	}
	if d, ok := nt.Deadline(); !ok || d != dl {
		t.Fatalf("Notifier.Deadline = %v, %v", d, ok)
	}
	if _, err := nt.Notify(); err != nil {
		t.Fatalf("first notify, right after creation: %v", err)
	}
	time.Sleep(dl + 50*time.Millisecond) // the deadline is what is tested
	n, err := nt.Notify()
	if !errors.Is(err, ErrMissedDeadline) || n != 1 {
		t.Fatalf("late notify = %d, %v; want delivered and ErrMissedDeadline", n, err)
	}
	if _, n := activations(t, l); n != 2 {
		t.Fatalf("listener got %d notifications, want 2 (a missed deadline still delivers)", n)
	}
	if _, err := nt.Notify(); err != nil {
		t.Fatalf("prompt notify: %v", err)
	}
	other := openEvent(t, node, "no-deadline", nil)
	if _, ok := must[*Listener](t)(other.Listener()).Deadline(); ok {
		t.Fatal("a service without deadline reports one")
	}
}

func within(t *testing.T, what string, d, lo, hi time.Duration) {
	t.Helper()
	if d < lo || d > hi {
		t.Errorf("%s took %v, want %v..%v", what, d, lo, hi)
	}
}

func TestListenerTimeoutsAndCancellation(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openEvent(t, node, "timeouts", nil)
	l := must[*Listener](t)(svc.Listener())
	start := time.Now()
	if n, err := l.TimedWait(func(EventActivation) {}, 50*time.Millisecond); n != 0 || err != nil {
		t.Fatalf("TimedWait = %d, %v", n, err)
	}
	within(t, "TimedWait(50ms)", time.Since(start), 45*time.Millisecond, 2*time.Second)
	start = time.Now()
	if _, ok, err := l.TimedWaitOne(30 * time.Millisecond); ok || err != nil {
		t.Fatalf("TimedWaitOne = %v, %v", ok, err)
	}
	within(t, "TimedWaitOne(30ms)", time.Since(start), 25*time.Millisecond, 2*time.Second)

	// start is read before the context's deadline is set, so that the wait
	// measured is never shorter than 50ms, however late this goroutine runs
	// again; the upper bound leaves room for a loaded machine.
	start = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.BlockingWaitOne(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("BlockingWaitOne with a 50ms context = %v", err)
	}
	within(t, "BlockingWaitOne(ctx 50ms)", time.Since(start), 50*time.Millisecond, 2*time.Second)

	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := l.BlockingWaitAll(ctx, func(EventID) {})
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it fall asleep; the result does not depend on it
	start = time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("BlockingWaitAll after cancel = %v", err)
		}
		within(t, "cancellation", time.Since(start), 0, time.Second)
	case <-time.After(5 * time.Second):
		t.Fatal("BlockingWaitAll did not return after cancel")
	}

	// A closed listener wakes its waiters.
	go func() {
		_, err := l.BlockingWait(context.Background(), func(EventActivation) {})
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	l.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("BlockingWait on a closed listener = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("BlockingWait did not return after Close")
	}
}

func TestBlockingWaitWakesOnNotify(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openEvent(t, node, "wake", nil)
	l := must[*Listener](t)(svc.Listener())
	nt := must[*Notifier](t)(svc.Notifier())
	for i := range 50 {
		done := make(chan EventID)
		go func() {
			id, err := l.BlockingWaitOne(context.Background())
			if err != nil {
				t.Error(err)
			}
			done <- id
		}()
		if i%2 == 0 {
			time.Sleep(time.Millisecond) // sometimes asleep, sometimes not yet
		}
		nt.NotifyWithCustomEventID(EventID(i))
		select {
		case id := <-done:
			if id != EventID(i) {
				t.Fatalf("round %d: woke with id %d", i, id)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: lost wake-up", i)
		}
	}
}

// TestConcurrentNotifyNoLoss has notifiers in several goroutines notify a
// listener that counts with BlockingWait: every notification is counted,
// with its id.
func TestConcurrentNotifyNoLoss(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openEvent(t, node, "storm", nil)
	l := must[*Listener](t)(svc.Listener())
	const senders, per = 4, 5000
	counts := make([]uint64, 256)
	var total uint64
	done := make(chan error)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for total < senders*per {
			if _, err := l.BlockingWait(ctx, func(a EventActivation) {
				counts[a.ID] += a.Count
				total += a.Count
			}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	var wg sync.WaitGroup
	for s := range senders {
		nt := must[*Notifier](t)(svc.Notifier())
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				if _, err := nt.NotifyWithCustomEventID(EventID(s*8 + i%8)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := <-done; err != nil {
		t.Fatalf("listener: %v after %d of %d", err, total, senders*per)
	}
	for id, c := range counts {
		if want := uint64(0); id < senders*8 {
			want = per / 8
			if c != want {
				t.Fatalf("id %d counted %d times, want %d", id, c, want)
			}
		} else if c != 0 {
			t.Fatalf("id %d counted %d times, never sent", id, c)
		}
	}
}

func TestNotifyReachesListenerCreatedJustBefore(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc := openEvent(t, node, "discovery", func(b *EventBuilder) { b.MaxListeners(64) })
	nt := must[*Notifier](t)(svc.Notifier())
	var ls []*Listener
	for i := range 64 {
		ls = append(ls, must[*Listener](t)(svc.Listener()))
		if n, err := nt.Notify(); n != i+1 || err != nil {
			t.Fatalf("Notify after listener %d reached %d: %v", i+1, n, err)
		}
	}
	for i, l := range ls {
		if _, n := activations(t, l); n != 64-i {
			t.Fatalf("listener %d got %d notifications, want %d", i, n, 64-i)
		}
		l.Close()
	}
	if n, _ := nt.Notify(); n != 0 {
		t.Fatalf("Notify after every listener closed reached %d", n)
	}
	if left := shmLeftovers(cfg); len(left) != 1 && !inProcess { // the dynamic config
		t.Fatalf("files left with the service open: %v", left)
	}
	node.Close()
	assertNoFiles(t, cfg)
}

func TestEventHotPathAllocatesNothing(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openEvent(t, node, "allocs", nil)
	l := must[*Listener](t)(svc.Listener())
	nt := must[*Notifier](t)(svc.Notifier())
	var got uint64
	fn := func(a EventActivation) { got += a.Count }
	if a := testing.AllocsPerRun(1000, func() {
		if _, err := l.TryWait(fn); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("TryWait with nothing pending allocates %v times", a)
	}
	if a := testing.AllocsPerRun(1000, func() {
		if _, err := nt.Notify(); err != nil {
			t.Fatal(err)
		}
		if n, err := l.TryWait(fn); n != 1 || err != nil {
			t.Fatal(n, err)
		}
		nt.NotifyWithCustomEventID(7)
		if _, ok, _ := l.TryWaitOne(); !ok {
			t.Fatal("nothing")
		}
		nt.NotifyWithCustomEventID(8)
		if n, _ := l.TryWaitAll(func(EventID) {}); n != 1 {
			t.Fatal("nothing")
		}
	}); a != 0 {
		t.Fatalf("Notify + TryWait allocates %v times", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		nt.Notify()
		if n, err := l.TimedWait(fn, time.Second); n != 1 || err != nil {
			t.Fatal(n, err)
		}
	}); a != 0 {
		t.Fatalf("Notify + TimedWait with a pending event allocates %v times", a)
	}
}

// TestEventInProcessTransport runs the event and WaitSet behaviour tests
// again over the in-process (heap-backed) shared memory, which the race
// detector can see into: `go test -race -run InProcess`.
func TestEventInProcessTransport(t *testing.T) {
	inProcess = true
	t.Cleanup(func() { inProcess = false })
	for _, tc := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"notify and wait", TestEventNotifyAndWait},
		{"coalesced counts", TestEventCountsAreCoalesced},
		{"limits", TestEventLimitsAndBounds},
		{"compatibility", TestEventOpenChecksQoS},
		{"created and dropped events", TestNotifierCreatedAndDroppedEvents},
		{"deadline", TestEventDeadline},
		{"timeouts", TestListenerTimeoutsAndCancellation},
		{"wake-up", TestBlockingWaitWakesOnNotify},
		{"no loss", TestConcurrentNotifyNoLoss},
		{"no loss on discovery", TestNotifyReachesListenerCreatedJustBefore},
		{"allocations", TestEventHotPathAllocatesNothing},
		{"waitset notifications", TestWaitSetNotifications},
		{"waitset context", TestWaitSetContextAndAttachWake},
		{"waitset timers", TestWaitSetIntervalAndDeadline},
		{"waitset idle", TestWaitSetDoesNotSpin},
	} {
		t.Run(tc.name, tc.f)
	}
}

// FuzzEventSegment attaches to an event segment full of whatever another
// process may have written, notifies and drains it: nothing may panic or
// report an id out of range.
func FuzzEventSegment(f *testing.F) {
	for _, n := range []uint32{1, 70, 256} {
		seed := make([]byte, protocol.NewEventLayout(n).Size)
		seg := fakeSegment{b: seed}
		if _, err := createEventSegmentIn(seg, 7, n); err != nil {
			f.Fatal(err)
		}
		f.Add(seed, uint16(n), uint16(3))
	}
	f.Add(make([]byte, 64), uint16(1), uint16(0))
	f.Fuzz(func(t *testing.T, b []byte, n, id uint16) {
		if n == 0 {
			return
		}
		mem := make([]uint64, (len(b)+7)/8+1)
		buf := unsafe.Slice((*byte)(unsafe.Pointer(&mem[0])), len(b))
		copy(buf, b)
		s, err := attachEventSegment(fakeSegment{b: buf}, 7, uint32(n))
		if err != nil {
			return
		}
		if uint32(id) < uint32(n) {
			// A wake word of garbage is claimed and rung to node 0: nobody.
			s.notify(uint32(id), nil, new(atomic.Uint64))
		}
		s.pending()
		s.drain(func(a EventActivation) {
			if a.ID >= EventID(n) || a.Count == 0 {
				t.Fatalf("drain reported %+v of a segment with %d ids", a, n)
			}
		})
	})
}

// createEventSegmentIn initializes seg as createEventSegment does, without
// a provider (for the fuzz seeds).
func createEventSegmentIn(seg fakeSegment, id ID, n uint32) (*eventSeg, error) {
	s, l, err := layEventSegment(seg, n)
	if err != nil {
		return nil, err
	}
	if s.bits, err = ring.NewBitSet(seg.b[l.BitsOff:l.CountersOff], n); err != nil {
		return nil, err
	}
	s.hdr.Listener, s.hdr.NumIDs = uint64(id), uint64(n)
	return s, nil
}
