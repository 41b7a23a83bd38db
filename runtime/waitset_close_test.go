package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// waitResult is what a WaitSet wait in another goroutine returned.
type waitResult struct {
	r   WaitSetRunResult
	err error
}

// waitSetWaits are the WaitSet's waits, each run until it returns.
var waitSetWaits = []struct {
	name string
	wait func(ws *WaitSet, cb func(AttachmentID) CallbackProgression) (WaitSetRunResult, error)
}{
	{"WaitAndProcess", func(ws *WaitSet, cb func(AttachmentID) CallbackProgression) (WaitSetRunResult, error) {
		return ws.WaitAndProcess(context.Background(), cb)
	}},
	{"WaitAndProcessOnce", func(ws *WaitSet, cb func(AttachmentID) CallbackProgression) (WaitSetRunResult, error) {
		ctx, cancel := context.WithCancel(context.Background()) // a context with Done
		defer cancel()
		return ws.WaitAndProcessOnce(ctx, cb)
	}},
	{"WaitAndProcessOnceWithTimeout", func(ws *WaitSet, cb func(AttachmentID) CallbackProgression) (WaitSetRunResult, error) {
		return ws.WaitAndProcessOnceWithTimeout(cb, time.Hour)
	}},
}

// returnsWithin runs the wait f and fails the test when it does not return
// within 2s (leaving it blocked).
func returnsWithin(t *testing.T, what string, f func() (WaitSetRunResult, error)) (WaitSetRunResult, error) {
	t.Helper()
	done := make(chan waitResult, 1)
	go func() {
		r, err := f()
		done <- waitResult{r, err}
	}()
	select {
	case res := <-done:
		return res.r, res.err
	case <-time.After(2 * time.Second):
		t.Fatalf("%s still blocked after 2s", what)
	}
	panic("unreachable")
}

// checkClosedErr checks that err says that listener l is closed.
func checkClosedErr(t *testing.T, what string, err error, l *Listener) {
	t.Helper()
	var se *ServiceError
	if !errors.Is(err, ErrClosed) || !errors.As(err, &se) || !strings.Contains(err.Error(), l.ID().String()) {
		t.Fatalf("%s: %v, want a *ServiceError wrapping ErrClosed that names listener %v", what, err, l.ID())
	}
}

// TestWaitSetWaitEndsOnClose blocks a WaitSet wait on a listener (attached
// with or without a deadline) and closes the listener, its service or its
// node: the wait returns ErrClosed at once, and so do the later waits until
// the attachment is detached; then the WaitSet goes on with the others.
func TestWaitSetWaitEndsOnClose(t *testing.T) {
	for _, closer := range []string{"listener", "service", "node"} {
		for _, attach := range []string{"notification", "deadline"} {
			for _, w := range waitSetWaits {
				t.Run(closer+"/"+attach+"/"+w.name, func(t *testing.T) {
					testWaitSetWaitEndsOnClose(t, closer, attach, w.wait)
				})
			}
		}
	}
}

func testWaitSetWaitEndsOnClose(t *testing.T, closer, attach string,
	wait func(*WaitSet, func(AttachmentID) CallbackProgression) (WaitSetRunResult, error)) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc := openEvent(t, node, "ws-close", nil)
	l := must[*Listener](t)(svc.Listener())
	nt := must[*Notifier](t)(svc.Notifier())
	// The remaining attachments: a listener of another node, and an
	// interval that does not tick during the test.
	other := testNode(t, cfg)
	svc2 := openEvent(t, other, "ws-close-other", nil)
	l2 := must[*Listener](t)(svc2.Listener())
	nt2 := must[*Notifier](t)(svc2.Notifier())

	ws := newWaitSet(t)
	var g *WaitSetGuard
	if attach == "deadline" {
		g = must[*WaitSetGuard](t)(ws.AttachDeadline(l, time.Hour))
	} else {
		g = must[*WaitSetGuard](t)(ws.AttachNotification(l))
	}
	g2 := must[*WaitSetGuard](t)(ws.AttachNotification(l2))
	must[*WaitSetGuard](t)(ws.AttachInterval(time.Hour))

	cb := func(id AttachmentID) CallbackProgression {
		switch {
		case id.HasEventFrom(g):
			l.TryWait(func(EventActivation) {})
		case id.HasEventFrom(g2):
			l2.TryWait(func(EventActivation) {})
		}
		return Continue
	}
	// One event first, so that the wait has handled one round.
	nt.Notify()
	done := make(chan waitResult, 1)
	startWait := func() {
		go func() {
			r, err := wait(ws, cb)
			done <- waitResult{r, err}
		}()
	}
	startWait()
	time.Sleep(50 * time.Millisecond)
	select {
	case res := <-done:
		if res.err != nil || res.r != AllEventsHandled {
			t.Fatalf("wait before the close = %v, %v", res.r, res.err)
		}
		// WaitAndProcessOnce* return after the first event: wait again.
		startWait()
		time.Sleep(50 * time.Millisecond)
		select {
		case res := <-done:
			t.Fatalf("wait with nothing pending returned %v, %v", res.r, res.err)
		default:
		}
	default:
	}
	start := time.Now()
	way := closer
	if way == "listener" {
		way = "port"
	}
	closeBy(t, way, l, svc, node)
	var first error
	select {
	case res := <-done:
		first = res.err
		checkClosedErr(t, "wait in progress at the close", res.err, l)
	case <-time.After(2 * time.Second):
		t.Fatalf("wait still blocked 2s after the %s close", closer)
	}
	t.Logf("returned %v after the close: %v", time.Since(start), first)

	// Every later wait fails the same way, at once, even with events of
	// the other attachments pending.
	nt2.Notify()
	for _, w := range waitSetWaits {
		_, err := returnsWithin(t, w.name+" after the close", func() (WaitSetRunResult, error) {
			return w.wait(ws, func(id AttachmentID) CallbackProgression {
				t.Errorf("%s: callback for %v with a closed attachment", w.name, id)
				return Continue
			})
		})
		checkClosedErr(t, w.name+" after the close", err, l)
		if err != first {
			t.Errorf("%s after the close: %v, want the same error as the first", w.name, err)
		}
	}

	// Detached, the WaitSet goes on with the others.
	g.Detach()
	g.Detach()
	if ws.Len() != 2 {
		t.Fatalf("Len after Detach = %d", ws.Len())
	}
	var seen []AttachmentID
	r, err := ws.WaitAndProcessOnceWithTimeout(func(id AttachmentID) CallbackProgression {
		seen = append(seen, id)
		l2.TryWait(func(EventActivation) {})
		return Continue
	}, 2*time.Second)
	if err != nil || r != AllEventsHandled || len(seen) != 1 || !seen[0].HasEventFrom(g2) {
		t.Fatalf("wait after Detach = %v, %v, callbacks %v", r, err, seen)
	}
	// And a blocking wait sleeps until the next event.
	go func() {
		time.Sleep(20 * time.Millisecond)
		nt2.Notify()
	}()
	seen = seen[:0]
	r, err = returnsWithin(t, "WaitAndProcess after Detach", func() (WaitSetRunResult, error) {
		return ws.WaitAndProcess(context.Background(), func(id AttachmentID) CallbackProgression {
			seen = append(seen, id)
			l2.TryWait(func(EventActivation) {})
			return Stop
		})
	})
	if err != nil || r != StopRequest || len(seen) != 1 || !seen[0].HasEventFrom(g2) {
		t.Fatalf("WaitAndProcess after Detach = %v, %v, callbacks %v", r, err, seen)
	}
}

// TestWaitSetClosedBeforeWait: a listener closed while nobody waits fails
// the next wait at once, with any other attachment ready or not; a
// listener closed and detached is forgotten.
func TestWaitSetClosedBeforeWait(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openEvent(t, node, "ws-closed-before", nil)
	l1 := must[*Listener](t)(svc.Listener())
	l2 := must[*Listener](t)(svc.Listener())
	nt := must[*Notifier](t)(svc.Notifier())
	ws := newWaitSet(t)
	g1 := must[*WaitSetGuard](t)(ws.AttachNotification(l1))
	g2 := must[*WaitSetGuard](t)(ws.AttachNotification(l2))
	l1.Close()
	if _, err := ws.AttachNotification(l1); !errors.Is(err, ErrClosed) {
		t.Fatalf("attaching a closed listener: %v", err)
	}
	_, err := returnsWithin(t, "WaitAndProcess", func() (WaitSetRunResult, error) {
		return ws.WaitAndProcess(context.Background(), nil)
	})
	checkClosedErr(t, "WaitAndProcess", err, l1)
	nt.Notify()
	_, err = returnsWithin(t, "WaitAndProcessOnceWithTimeout", func() (WaitSetRunResult, error) {
		return ws.WaitAndProcessOnceWithTimeout(nil, time.Hour)
	})
	checkClosedErr(t, "WaitAndProcessOnceWithTimeout", err, l1)
	g1.Detach()
	calls := 0
	r, err := returnsWithin(t, "WaitAndProcessOnce after Detach", func() (WaitSetRunResult, error) {
		return ws.WaitAndProcessOnce(context.Background(), func(id AttachmentID) CallbackProgression {
			calls++
			if !id.HasEventFrom(g2) {
				t.Errorf("callback for %v", id)
			}
			l2.TryWait(func(EventActivation) {})
			return Continue
		})
	})
	if err != nil || r != AllEventsHandled || calls != 1 {
		t.Fatalf("wait after Detach = %v, %v, %d callbacks", r, err, calls)
	}
	// A listener closed from the callback ends the same wait's next round.
	nt.Notify()
	_, err = returnsWithin(t, "WaitAndProcess whose callback closes the listener", func() (WaitSetRunResult, error) {
		return ws.WaitAndProcess(context.Background(), func(id AttachmentID) CallbackProgression {
			l2.TryWait(func(EventActivation) {})
			l2.Close()
			return Continue
		})
	})
	checkClosedErr(t, "WaitAndProcess whose callback closes the listener", err, l2)
	g2.Detach()
	if _, err := ws.WaitAndProcess(context.Background(), nil); !errors.Is(err, ErrNoAttachments) {
		t.Fatalf("wait after detaching everything: %v", err)
	}
}

// TestWaitSetCloseBeyondFirstWaitCall closes the last of more listeners
// than one futex_waitv call took (when the WaitSet slept in futex_waitv,
// its wake-up came through a helper goroutine's call).
func TestWaitSetCloseBeyondFirstWaitCall(t *testing.T) {
	node := testNode(t, testConfig(t))
	const n = 130
	svc := openEvent(t, node, "ws-close-many", func(b *EventBuilder) { b.MaxListeners(n) })
	ws := newWaitSet(t)
	var ls []*Listener
	for range n {
		l := must[*Listener](t)(svc.Listener())
		ls = append(ls, l)
		must[*WaitSetGuard](t)(ws.AttachNotification(l))
	}
	done := make(chan error, 1)
	go func() {
		_, err := ws.WaitAndProcess(context.Background(), nil)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	last := ls[n-1]
	last.Close()
	select {
	case err := <-done:
		checkClosedErr(t, "WaitAndProcess", err, last)
	case <-time.After(2 * time.Second):
		t.Fatal("WaitAndProcess still blocked 2s after the close of the last listener")
	}
}

// TestWaitSetAllocatesNothing: waits that find an event, or time out,
// allocate nothing.
func TestWaitSetAllocatesNothing(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openEvent(t, node, "ws-allocs", nil)
	l := must[*Listener](t)(svc.Listener())
	nt := must[*Notifier](t)(svc.Notifier())
	ws := newWaitSet(t)
	must[*WaitSetGuard](t)(ws.AttachDeadline(l, time.Hour))
	must[*WaitSetGuard](t)(ws.AttachInterval(time.Hour))
	calls := 0
	take := func(EventActivation) {}
	cb := func(AttachmentID) CallbackProgression {
		calls++
		l.TryWait(take)
		return Continue
	}
	ws.WaitAndProcessOnceWithTimeout(cb, time.Millisecond) // the scratch slices
	if a := testing.AllocsPerRun(100, func() {
		nt.Notify()
		if _, err := ws.WaitAndProcessOnceWithTimeout(cb, time.Second); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("Notify + WaitAndProcessOnceWithTimeout allocates %v times", a)
	}
	if a := testing.AllocsPerRun(20, func() {
		if _, err := ws.WaitAndProcessOnceWithTimeout(cb, time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("WaitAndProcessOnceWithTimeout that times out allocates %v times", a)
	}
	if calls < 100 {
		t.Errorf("%d callbacks for 101 events", calls)
	}
}
