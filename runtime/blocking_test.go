package runtime

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Tests of the blocking receives and the iterators in one process (every
// one also runs over the in-process transport, see
// TestBlockingInProcessTransport); the cross-process ones are in
// blocking_mp_test.go.

// result is what a goroutine's blocking call returned.
type result[R any] struct {
	v   R
	err error
}

// goBlock runs f in a goroutine and returns the channel of its result.
func goBlock[R any](f func() (R, error)) <-chan result[R] {
	c := make(chan result[R], 1)
	go func() {
		v, err := f()
		c <- result[R]{v, err}
	}()
	return c
}

// await returns the result of c, failing the test after a generous 10 s
// (a loaded machine delays a wake-up by milliseconds, never seconds).
func await[R any](t *testing.T, what string, c <-chan result[R]) result[R] {
	t.Helper()
	select {
	case r := <-c:
		return r
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still blocked after 10s", what)
		panic("unreachable")
	}
}

// stillBlocked checks that c has no result after a short while.
func stillBlocked[R any](t *testing.T, what string, c <-chan result[R]) {
	t.Helper()
	select {
	case r := <-c:
		t.Fatalf("%s returned %v, %v; want it to block", what, r.v, r.err)
	case <-time.After(20 * time.Millisecond):
	}
}

func TestSubscriberBlockingReceive(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openMsg(t, node, "block/sub", func(b *PublishSubscribeBuilder[msg]) {
		b.SubscriberMaxBufferSize(16).SubscriberMaxBorrowedSamples(8)
	})
	sub := must[*Subscriber[msg]](t)(svc.Subscriber())
	pub := must[*Publisher[msg]](t)(svc.Publisher())

	// Data already there: no wait.
	send(t, pub, 1)
	if s, err := sub.BlockingReceive(context.Background()); err != nil || s.Payload().Seq != 1 {
		t.Fatalf("BlockingReceive with a queued sample = %v, %v", s, err)
	} else {
		s.Release()
	}
	// A wait that a Send ends.
	c := goBlock(func() (*Sample[msg], error) { return sub.BlockingReceive(context.Background()) })
	stillBlocked(t, "BlockingReceive on an empty queue", c)
	send(t, pub, 2)
	if r := await(t, "BlockingReceive", c); r.err != nil || r.v.Payload().Seq != 2 {
		t.Fatalf("woken BlockingReceive = %v, %v", r.v, r.err)
	} else {
		r.v.Release()
	}
	// Many goroutines blocked on one subscriber: each send wakes one
	// receive; every sample arrives once.
	const n = 8
	cs := make([]<-chan result[uint64], n)
	for i := range cs {
		cs[i] = goBlock(func() (uint64, error) {
			s, err := sub.BlockingReceive(context.Background())
			if err != nil {
				return 0, err
			}
			defer s.Release()
			return s.Payload().Seq, nil
		})
	}
	time.Sleep(10 * time.Millisecond)
	for i := range n {
		send(t, pub, uint64(100+i))
	}
	seen := map[uint64]bool{}
	for _, c := range cs {
		r := await(t, "concurrent BlockingReceive", c)
		if r.err != nil || seen[r.v] {
			t.Fatalf("concurrent BlockingReceive = %v, %v (seen %v)", r.v, r.err, seen)
		}
		seen[r.v] = true
	}
	// The context.
	ctx, cancel := context.WithCancel(context.Background())
	c = goBlock(func() (*Sample[msg], error) { return sub.BlockingReceive(ctx) })
	stillBlocked(t, "BlockingReceive", c)
	cancel()
	if r := await(t, "cancelled BlockingReceive", c); !errors.Is(r.err, context.Canceled) || r.v != nil {
		t.Fatalf("cancelled BlockingReceive = %v, %v", r.v, r.err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if s, err := sub.BlockingReceive(ctx); !errors.Is(err, context.DeadlineExceeded) || s != nil {
		t.Fatalf("BlockingReceive past its deadline = %v, %v", s, err)
	}
	// Borrow limit: at once.
	held := []*Sample[msg]{}
	for i := range svc.QoS().SubscriberMaxBorrowedSamples {
		send(t, pub, uint64(200+i))
		held = append(held, must[*Sample[msg]](t)(sub.BlockingReceive(context.Background())))
	}
	if _, err := sub.BlockingReceive(context.Background()); !errors.Is(err, ErrExceedsMaxBorrows) {
		t.Fatalf("BlockingReceive at the borrow limit: %v", err)
	}
	for _, s := range held {
		s.Release()
	}
}

// TestBlockingReceiveEndsOnClose: a Close of the port, of its service or
// of its node, from another goroutine, ends the waits with ErrClosed.
func TestBlockingReceiveEndsOnClose(t *testing.T) {
	for _, what := range []string{"port", "service", "node"} {
		t.Run(what, func(t *testing.T) {
			cfg := testConfig(t)
			node := testNode(t, cfg)
			ps := openMsg(t, node, "block/close", nil)
			sub := must[*Subscriber[msg]](t)(ps.Subscriber())
			raw := must[*RawPubSubService](t)(PublishSubscribeRaw(node, "block/close").Open())
			rsub := must[*RawSubscriber](t)(raw.Subscriber())
			rr := openRR(t, node, "block/close", nil)
			srv := must[*Server[rqMsg, rsMsg]](t)(rr.Server())
			cl := must[*Client[rqMsg, rsMsg]](t)(rr.Client())
			// A server of another node holds the request, so that the
			// stream does not end when ours closes before the client.
			other := openRR(t, testNode(t, cfg), "block/close", nil)
			keep := must[*Server[rqMsg, rsMsg]](t)(other.Server())
			pending := must[*PendingResponse[rqMsg, rsMsg]](t)(cl.SendCopy(rqMsg{N: 1}))
			ev := openEvent(t, node, "block/close", nil)
			l := must[*Listener](t)(ev.Listener())
			ctx := context.Background()
			defer receiveWithin(t, keep.Receive).Close()
			receiveWithin(t, srv.Receive)

			waits := map[string]<-chan result[any]{
				"subscriber":       goBlock(func() (any, error) { return sub.BlockingReceive(ctx) }),
				"raw subscriber":   goBlock(func() (any, error) { return rsub.BlockingReceive(ctx) }),
				"server":           goBlock(func() (any, error) { return srv.BlockingReceive(ctx) }),
				"pending response": goBlock(func() (any, error) { return pending.BlockingReceive(ctx) }),
				"listener":         goBlock(func() (any, error) { return l.BlockingWaitOne(ctx) }),
			}
			for w, c := range waits {
				stillBlocked(t, w, c)
			}
			switch what {
			case "port":
				sub.Close()
				rsub.Close()
				srv.Close()
				cl.Close()
				l.Close()
			case "service":
				ps.Close()
				raw.Close()
				rr.Close()
				ev.Close()
			case "node":
				node.Close()
			}
			for w, c := range waits {
				if r := await(t, w, c); !errors.Is(r.err, ErrClosed) {
					t.Errorf("%s: blocked receive after the %s closed returned %v, %v", w, what, r.v, r.err)
				}
			}
			if _, err := sub.BlockingReceive(ctx); !errors.Is(err, ErrClosed) {
				t.Errorf("BlockingReceive on a closed subscriber: %v", err)
			}
		})
	}
}

// TestBlockingReceiveWakesOnANewConnection: a subscriber that blocks
// before any publisher exists is woken by the first sample of a publisher
// created later, and a late subscriber gets its history while the
// publisher stays idle.
func TestBlockingReceiveWakesOnANewConnection(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openMsg(t, node, "block/new", func(b *PublishSubscribeBuilder[msg]) { b.HistorySize(2) })
	sub := must[*Subscriber[msg]](t)(svc.Subscriber())
	c := goBlock(func() (*Sample[msg], error) { return sub.BlockingReceive(context.Background()) })
	stillBlocked(t, "BlockingReceive without a publisher", c)
	pub := must[*Publisher[msg]](t)(svc.Publisher())
	send(t, pub, 7)
	if r := await(t, "BlockingReceive", c); r.err != nil || r.v.Payload().Seq != 7 {
		t.Fatalf("first sample of a new publisher = %v, %v", r.v, r.err)
	} else {
		r.v.Release()
	}
	send(t, pub, 8)
	// From here on the publisher does nothing: the late subscriber's
	// history comes from the round that its creation triggers.
	late := must[*Subscriber[msg]](t)(svc.Subscriber())
	var got []uint64
	for len(got) < 2 {
		r := await(t, "late subscriber", goBlock(func() (*Sample[msg], error) { return late.BlockingReceive(context.Background()) }))
		if r.err != nil {
			t.Fatal(r.err)
		}
		got = append(got, r.v.Payload().Seq)
		r.v.Release()
	}
	if !eq(got, []uint64{7, 8}) {
		t.Fatalf("late subscriber got history %v, want [7 8]", got)
	}
}

func TestRequestResponseBlockingReceive(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openRR(t, node, "block/rr", nil)
	srv := must[*Server[rqMsg, rsMsg]](t)(svc.Server())
	cl := must[*Client[rqMsg, rsMsg]](t)(svc.Client())
	ctx := context.Background()

	reqs := goBlock(func() (*ActiveRequest[rqMsg, rsMsg], error) { return srv.BlockingReceive(ctx) })
	stillBlocked(t, "server BlockingReceive", reqs)
	pending := must[*PendingResponse[rqMsg, rsMsg]](t)(cl.SendCopy(rqMsg{N: 3}))
	r := await(t, "server BlockingReceive", reqs)
	if r.err != nil || r.v.Payload().N != 3 {
		t.Fatalf("server BlockingReceive = %v, %v", r.v, r.err)
	}
	req := r.v
	resps := goBlock(func() (*Response[rsMsg], error) { return pending.BlockingReceive(ctx) })
	stillBlocked(t, "pending response BlockingReceive", resps)
	if err := req.SendCopy(rsMsg{N: 3, I: 0}); err != nil {
		t.Fatal(err)
	}
	if r := await(t, "pending response BlockingReceive", resps); r.err != nil || r.v.Payload().I != 0 {
		t.Fatalf("pending response BlockingReceive = %v, %v", r.v, r.err)
	} else {
		r.v.Release()
	}
	// The end of the stream wakes the client: a response sent just before
	// the server closes the request arrives first.
	resps = goBlock(func() (*Response[rsMsg], error) { return pending.BlockingReceive(ctx) })
	stillBlocked(t, "pending response BlockingReceive", resps)
	req.SendCopy(rsMsg{N: 3, I: 1})
	req.Close()
	if r := await(t, "pending response BlockingReceive", resps); r.err != nil || r.v.Payload().I != 1 {
		t.Fatalf("last response = %v, %v", r.v, r.err)
	} else {
		r.v.Release()
	}
	if _, err := pending.BlockingReceive(ctx); !errors.Is(err, ErrStreamEnded) {
		t.Fatalf("BlockingReceive after the stream ended: %v", err)
	}
	pending.Close()
	if _, err := pending.BlockingReceive(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("BlockingReceive of a closed pending response: %v", err)
	}
	// A server that goes away ends the stream too.
	pending = must[*PendingResponse[rqMsg, rsMsg]](t)(cl.SendCopy(rqMsg{N: 4}))
	receiveWithin(t, srv.Receive).Keep() // (no effect outside a loop)
	resps = goBlock(func() (*Response[rsMsg], error) { return pending.BlockingReceive(ctx) })
	stillBlocked(t, "pending response BlockingReceive", resps)
	srv.Close()
	if r := await(t, "pending response BlockingReceive", resps); !errors.Is(r.err, ErrStreamEnded) {
		t.Fatalf("BlockingReceive when the server closed = %v, %v", r.v, r.err)
	}
}

func TestIterators(t *testing.T) {
	node := testNode(t, testConfig(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Samples: released after each body unless kept.
	svc := openMsg(t, node, "iter/ps", func(b *PublishSubscribeBuilder[msg]) {
		b.SubscriberMaxBorrowedSamples(2).SubscriberMaxBufferSize(8)
	})
	sub := must[*Subscriber[msg]](t)(svc.Subscriber())
	pub := must[*Publisher[msg]](t)(svc.Publisher())
	for i := range uint64(5) {
		send(t, pub, i)
	}
	var got []uint64
	var kept []*Sample[msg]
	var iterErr error
	for s, err := range sub.Samples(ctx) {
		if err != nil {
			iterErr = err
			break
		}
		got = append(got, s.Payload().Seq)
		if s.Payload().Seq >= 3 {
			s.Keep()
			kept = append(kept, s)
		}
	}
	// 0..2 released by the loop, 3 and 4 kept: then the borrow limit.
	if !eq(got, []uint64{0, 1, 2, 3, 4}) || !errors.Is(iterErr, ErrExceedsMaxBorrows) {
		t.Fatalf("Samples yielded %v, then %v", got, iterErr)
	}
	if kept[0].Payload().Seq != 3 || kept[1].Payload().Seq != 4 {
		t.Fatalf("kept samples read %d, %d", kept[0].Payload().Seq, kept[1].Payload().Seq)
	}
	kept[0].Release()
	kept[1].Release()
	// break releases too; a cancelled context ends the loop with its error.
	send(t, pub, 9)
	for s, err := range sub.Samples(ctx) {
		if err != nil || s.Payload().Seq != 9 {
			t.Fatalf("Samples yielded %v, %v", s, err)
		}
		break
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		cancel()
	}()
	for s, err := range sub.Samples(ctx) {
		if !errors.Is(err, context.Canceled) || s != nil {
			t.Fatalf("Samples after cancel yielded %v, %v", s, err)
		}
	}
	ctx = context.Background()
	for range 2 { // both borrow slots are free again
		send(t, pub, 10)
		s := must[*Sample[msg]](t)(sub.BlockingReceive(ctx))
		defer s.Release()
	}

	// Requests and Responses: a server answers two responses per request
	// in a loop; the request closes after the body (the stream ends).
	rr := openRR(t, node, "iter/rr", nil)
	srv := must[*Server[rqMsg, rsMsg]](t)(rr.Server())
	cl := must[*Client[rqMsg, rsMsg]](t)(rr.Client())
	sctx, stop := context.WithCancel(context.Background())
	served := goBlock(func() (int, error) {
		n := 0
		for req, err := range srv.Requests(sctx) {
			if err != nil {
				return n, err
			}
			n++
			for i := range uint64(2) {
				if err := req.SendCopy(rsMsg{N: req.Payload().N, I: i}); err != nil {
					return n, err
				}
			}
		}
		return n, nil
	})
	for n := range uint64(3) {
		pending := must[*PendingResponse[rqMsg, rsMsg]](t)(cl.SendCopy(rqMsg{N: n}))
		var is []uint64
		for r, err := range pending.Responses(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			if r.Payload().N != n {
				t.Fatalf("response to %d for request %d", r.Payload().N, n)
			}
			is = append(is, r.Payload().I)
		}
		if !eq(is, []uint64{0, 1}) {
			t.Fatalf("request %d: responses %v", n, is)
		}
		pending.Close()
	}
	stop()
	if r := await(t, "Requests loop", served); r.v != 3 || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Requests loop served %d, ended with %v", r.v, r.err)
	}

	// Events.
	ev := openEvent(t, node, "iter/ev", nil)
	l := must[*Listener](t)(ev.Listener())
	nt := must[*Notifier](t)(ev.Notifier())
	nt.NotifyWithCustomEventID(3)
	nt.NotifyWithCustomEventID(3)
	nt.NotifyWithCustomEventID(5)
	var acts []EventActivation
	for a, err := range l.Events(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		acts = append(acts, a)
		if len(acts) == 3 {
			break
		}
		if len(acts) == 2 {
			go func() {
				time.Sleep(10 * time.Millisecond)
				nt.NotifyWithCustomEventID(1)
			}()
		}
	}
	if len(acts) != 3 || acts[0] != (EventActivation{3, 2}) || acts[1] != (EventActivation{5, 1}) || acts[2] != (EventActivation{1, 1}) {
		t.Fatalf("Events yielded %v", acts)
	}
}

// TestBlockingReceiveAllocatesNothing: a blocking receive allocates
// nothing, whether it finds a sample at once or sleeps until one comes.
func TestBlockingReceiveAllocatesNothing(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openMsg(t, node, "block/allocs", nil)
	sub := must[*Subscriber[msg]](t)(svc.Subscriber())
	pub := must[*Publisher[msg]](t)(svc.Publisher())
	raw := must[*RawPubSubService](t)(PublishSubscribeRaw(node, "block/allocs").Open())
	rsub := must[*RawSubscriber](t)(raw.Subscriber())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	recv := func() {
		s, err := sub.BlockingReceive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s.Release()
		r, err := rsub.BlockingReceive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r.Release()
	}
	pub.SendCopy(msg{})
	recv() // warm
	if a := testing.AllocsPerRun(100, func() {
		pub.SendCopy(msg{Seq: 1})
		recv()
	}); a != 0 {
		t.Errorf("Send + BlockingReceive with the sample queued allocates %v times", a)
	}
	// Sleeping: a goroutine sends when told to, after a pause.
	kick := make(chan struct{})
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-kick:
			case <-done:
				return
			}
			time.Sleep(200 * time.Microsecond)
			pub.SendCopy(msg{Seq: 2})
		}
	}()
	if a := testing.AllocsPerRun(100, func() {
		kick <- struct{}{}
		recv()
	}); a != 0 {
		t.Errorf("BlockingReceive that sleeps allocates %v times", a)
	}

	rr := openRR(t, node, "block/allocs", nil)
	srv := must[*Server[rqMsg, rsMsg]](t)(rr.Server())
	cl := must[*Client[rqMsg, rsMsg]](t)(rr.Client())
	round := func() {
		pending, err := cl.SendCopy(rqMsg{N: 1})
		if err != nil {
			t.Fatal(err)
		}
		req, err := srv.BlockingReceive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		req.SendCopy(rsMsg{N: 1})
		resp, err := pending.BlockingReceive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		resp.Release()
		req.Close()
		pending.Close()
	}
	round() // warm the free lists
	if a := testing.AllocsPerRun(100, round); a != 0 {
		t.Errorf("request-response round with blocking receives allocates %v times", a)
	}
}

func TestBlockingInProcessTransport(t *testing.T) {
	inProcess = true
	t.Cleanup(func() { inProcess = false })
	for _, tc := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"subscriber", TestSubscriberBlockingReceive},
		{"close", TestBlockingReceiveEndsOnClose},
		{"new connection", TestBlockingReceiveWakesOnANewConnection},
		{"request-response", TestRequestResponseBlockingReceive},
		{"iterators", TestIterators},
		{"allocations", TestBlockingReceiveAllocatesNothing},
		{"waitset ports", TestWaitSetAttachesEveryReceivingPort},
		{"waitset channel", TestWaitSetChannelForm},
	} {
		t.Run(tc.name, tc.f)
	}
}

// TestEachHandleLeavesItsOwnNodeSlot: a node that has a service open twice
// holds two node slots, each armed with its own handle's token. Closing the
// second handle must free the second slot, not the first: a late
// subscriber of another node must still reach the first handle's idle
// publisher (its history) through the first slot's token.
func TestEachHandleLeavesItsOwnNodeSlot(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	opts := func(b *PublishSubscribeBuilder[msg]) { b.HistorySize(1) }
	first := openMsg(t, node, "block/handles", opts)
	second := openMsg(t, node, "block/handles", opts)
	pub := must[*Publisher[msg]](t)(first.Publisher())
	send(t, pub, 5)
	second.Close()
	other := testNode(t, cfg)
	late := must[*Subscriber[msg]](t)(openMsg(t, other, "block/handles", opts).Subscriber())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := late.BlockingReceive(ctx)
	if err != nil {
		t.Fatalf("late subscriber of another node: %v (the first handle was not rung)", err)
	}
	if s.Payload().Seq != 5 {
		t.Fatalf("history %d, want 5", s.Payload().Seq)
	}
	s.Release()
}

// TestBlockSpinsOnlyAfterShortWaits: a blocking wait spins before it
// parks only when the last wait on the same port got something within
// spinFor; after a long wait the next one parks at once (a few attempts,
// not a spin's thousands), and a short wait turns the spin back on.
func TestBlockSpinsOnlyAfterShortWaits(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openMsg(t, node, "block/adaptive", nil)
	sub := must[*Subscriber[msg]](t)(svc.Subscriber())
	pub := must[*Publisher[msg]](t)(svc.Publisher())
	wp := sub.s.wp
	if !wp.spins() {
		t.Fatal("a port that never waited does not spin")
	}
	var tries int
	wait := func() <-chan result[uint64] {
		tries = 0
		return goBlock(func() (uint64, error) {
			return block(context.Background(), node, wp, func() (uint64, bool, error) {
				tries++
				s, err := sub.Receive()
				if s == nil || err != nil {
					return 0, false, err
				}
				defer s.Release()
				return s.Payload().Seq, true, nil
			})
		})
	}
	const gap = 20 * time.Millisecond
	for i, spin := range []bool{true, false} {
		if wp.spins() != spin {
			t.Fatalf("wait %d: spins %v, want %v (last wait %v)", i, wp.spins(), spin, time.Duration(wp.lastWait.Load()))
		}
		c := wait()
		time.Sleep(gap)
		send(t, pub, uint64(10+i))
		if r := await(t, "block", c); r.err != nil || r.v != uint64(10+i) {
			t.Fatalf("wait %d: %v, %v", i, r.v, r.err)
		}
		if last := time.Duration(wp.lastWait.Load()); last < gap {
			t.Errorf("wait %d took at least %v, recorded %v", i, gap, last)
		}
		// Without the spin: the first attempt, the one after arming, the
		// one after the wake-up (and one more per spurious wake-up).
		if !spin && tries > 6 {
			t.Errorf("wait %d after a long one: %d attempts, want a park at once (at most 6)", i, tries)
		}
	}
	wp.waited(time.Microsecond) // a short wait
	if !wp.spins() {
		t.Error("no spin after a short wait")
	}
}
