package runtime

import (
	"context"
	"errors"
	"testing"
	"time"
)

func newWaitSet(t *testing.T) *WaitSet {
	t.Helper()
	ws, err := NewWaitSetBuilder().SignalHandling(false).Create()
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestWaitSetNeedsAttachments(t *testing.T) {
	ws := newWaitSet(t)
	if !ws.IsEmpty() || ws.Capacity() < 128 || ws.SignalHandling() {
		t.Fatalf("new waitset: len %d, capacity %d, signals %v", ws.Len(), ws.Capacity(), ws.SignalHandling())
	}
	if _, err := ws.WaitAndProcessOnce(context.Background(), nil); !errors.Is(err, ErrNoAttachments) {
		t.Fatalf("waiting on an empty waitset: %v", err)
	}
	g, err := ws.AttachInterval(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	g.Detach()
	g.Detach()
	if _, err := ws.WaitAndProcess(context.Background(), nil); !errors.Is(err, ErrNoAttachments) {
		t.Fatalf("waiting on a waitset emptied again: %v", err)
	}
	if _, err := ws.AttachInterval(0); !errors.Is(err, ErrInvalidInterval) {
		t.Fatalf("interval 0: %v", err)
	}
}

func TestWaitSetNotifications(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openEvent(t, node, "ws", nil)
	l1 := must[*Listener](t)(svc.Listener())
	l2 := must[*Listener](t)(svc.Listener())
	other := openEvent(t, node, "ws-other", nil)
	l3 := must[*Listener](t)(other.Listener())
	nt := must[*Notifier](t)(other.Notifier())
	ws := newWaitSet(t)
	g1 := must[*WaitSetGuard](t)(ws.AttachNotification(l1))
	g2 := must[*WaitSetGuard](t)(ws.AttachNotification(l2))
	g3 := must[*WaitSetGuard](t)(ws.AttachNotification(l3))
	if _, err := ws.AttachNotification(l1); !errors.Is(err, ErrAlreadyAttached) {
		t.Fatalf("attaching twice: %v", err)
	}
	if _, err := ws.AttachDeadline(l2, time.Second); !errors.Is(err, ErrAlreadyAttached) {
		t.Fatalf("attaching twice with a deadline: %v", err)
	}
	if ws.Len() != 3 {
		t.Fatalf("Len = %d", ws.Len())
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		nt.NotifyWithCustomEventID(4)
	}()
	var seen []AttachmentID
	r, err := ws.WaitAndProcessOnce(context.Background(), func(id AttachmentID) CallbackProgression {
		seen = append(seen, id)
		return Continue
	})
	if err != nil || r != AllEventsHandled {
		t.Fatalf("WaitAndProcessOnce = %v, %v", r, err)
	}
	if len(seen) != 1 || !seen[0].HasEventFrom(g3) || seen[0].HasEventFrom(g1) || seen[0].HasEventFrom(g2) || seen[0].HasMissedDeadline(g3) {
		t.Fatalf("callbacks for %v, want one for the third listener", seen)
	}
	// Level-triggered: reported again until taken.
	seen = seen[:0]
	ws.WaitAndProcessOnceWithTimeout(func(id AttachmentID) CallbackProgression {
		seen = append(seen, id)
		if id.HasEventFrom(g3) {
			if id, ok, _ := l3.TryWaitOne(); !ok || id != 4 {
				t.Errorf("TryWaitOne in callback = %d, %v", id, ok)
			}
		}
		return Continue
	}, time.Second)
	if len(seen) != 1 || !seen[0].HasEventFrom(g3) {
		t.Fatalf("second wait: callbacks for %v", seen)
	}
	start := time.Now()
	r, err = ws.WaitAndProcessOnceWithTimeout(func(id AttachmentID) CallbackProgression {
		t.Errorf("callback for %v after the event was taken", id)
		return Continue
	}, 30*time.Millisecond)
	if r != AllEventsHandled || err != nil {
		t.Fatalf("timed out wait = %v, %v", r, err)
	}
	within(t, "WaitAndProcessOnceWithTimeout(30ms)", time.Since(start), 25*time.Millisecond, 2*time.Second)

	// Stop ends WaitAndProcess; the ids are map keys.
	nt2 := must[*Notifier](t)(svc.Notifier())
	nt2.Notify()
	byID := map[AttachmentID]int{}
	r, err = ws.WaitAndProcess(context.Background(), func(id AttachmentID) CallbackProgression {
		byID[id]++
		return Stop
	})
	if r != StopRequest || err != nil || len(byID) != 1 {
		t.Fatalf("WaitAndProcess = %v, %v, callbacks %v", r, err, byID)
	}
	// A guard detached from the callback gets no more callbacks.
	calls := 0
	ws.WaitAndProcessOnce(context.Background(), func(id AttachmentID) CallbackProgression {
		calls++
		g1.Detach()
		g2.Detach()
		return Continue
	})
	if calls != 1 || ws.Len() != 1 {
		t.Fatalf("%d callbacks after detaching both pending listeners, %d attachments", calls, ws.Len())
	}
}

func TestWaitSetContextAndAttachWake(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openEvent(t, node, "ws-ctx", nil)
	l := must[*Listener](t)(svc.Listener())
	nt := must[*Notifier](t)(svc.Notifier())
	ws := newWaitSet(t)
	must[*WaitSetGuard](t)(ws.AttachInterval(time.Hour))
	// start is read before the context's deadline is set, so that the wait
	// measured is never shorter than 50ms, however late this goroutine runs
	// again; the upper bound leaves room for a loaded machine.
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := ws.WaitAndProcess(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitAndProcess with a 50ms context: %v", err)
	}
	within(t, "WaitAndProcess(ctx 50ms)", time.Since(start), 50*time.Millisecond, 2*time.Second)

	// Attaching from another goroutine wakes a sleeping wait, which then
	// sees the new listener's event.
	guard := make(chan *WaitSetGuard, 1)
	go func() {
		time.Sleep(20 * time.Millisecond)
		g, err := ws.AttachNotification(l)
		if err != nil {
			t.Error(err)
		}
		guard <- g // the race detector does not see the sync through shared memory
		nt.Notify()
	}()
	r, err := ws.WaitAndProcessOnce(context.Background(), func(id AttachmentID) CallbackProgression {
		if !id.HasEventFrom(<-guard) {
			t.Errorf("callback for %v", id)
		}
		l.TryWait(func(EventActivation) {})
		return Continue
	})
	if r != AllEventsHandled || err != nil {
		t.Fatalf("WaitAndProcessOnce = %v, %v", r, err)
	}
}

func TestWaitSetIntervalAndDeadline(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openEvent(t, node, "ws-timers", func(b *EventBuilder) { b.Deadline(80 * time.Millisecond) })
	l := must[*Listener](t)(svc.Listener())
	nt := must[*Notifier](t)(svc.Notifier())
	ws := newWaitSet(t)
	const tick = 25 * time.Millisecond
	gi := must[*WaitSetGuard](t)(ws.AttachInterval(tick))
	dl, ok := l.Deadline()
	if !ok {
		t.Fatal("no deadline")
	}
	gd := must[*WaitSetGuard](t)(ws.AttachDeadline(l, dl))
	start := time.Now()
	var ticks []time.Duration
	var missed []time.Duration
	var events int
	r, err := ws.WaitAndProcess(context.Background(), func(id AttachmentID) CallbackProgression {
		now := time.Since(start)
		switch {
		case id.HasEventFrom(gi):
			ticks = append(ticks, now)
			if len(ticks) == 4 {
				nt.Notify() // an event restarts the deadline
			}
		case id.HasMissedDeadline(gd):
			missed = append(missed, now)
		case id.HasEventFrom(gd):
			events++
			l.TryWait(func(EventActivation) {})
		default:
			t.Errorf("callback for %v", id)
		}
		if len(missed) == 2 {
			return Stop
		}
		return Continue
	})
	if r != StopRequest || err != nil {
		t.Fatalf("WaitAndProcess = %v, %v", r, err)
	}
	t.Logf("ticks %v, missed deadlines %v, events %d", ticks, missed, events)
	// Ticks every 25ms; the deadline missed at 80ms, then restarted by the
	// event at the 4th tick (100ms) and missed again 80ms later (180ms).
	if len(ticks) < 4 {
		t.Fatalf("ticks at %v", ticks)
	}
	for i, at := range ticks {
		// Ticks are due on a grid of 25ms from the attachment (a late one
		// skips the missed ones); none comes early.
		if at < time.Duration(i+1)*tick-2*time.Millisecond {
			t.Errorf("tick %d at %v, before %v", i, at, time.Duration(i+1)*tick)
		}
	}
	if events != 1 {
		t.Errorf("%d event callbacks, want 1", events)
	}
	if missed[0] < 75*time.Millisecond || missed[0] > time.Second {
		t.Errorf("first deadline missed at %v, want 80ms", missed[0])
	}
	if missed[1]-ticks[3] < 75*time.Millisecond {
		t.Errorf("second deadline missed %v after the event, want 80ms", missed[1]-ticks[3])
	}
}

// TestWaitSetDoesNotSpin attaches several idle listeners and checks that a
// wait of 200ms sleeps through it, and that a WaitSet takes more listeners
// than one futex_waitv call took words (126, when the WaitSet slept in
// futex_waitv).
func TestWaitSetDoesNotSpin(t *testing.T) {
	node := testNode(t, testConfig(t))
	const n = 130
	svc := openEvent(t, node, "ws-many", func(b *EventBuilder) { b.MaxListeners(n) })
	ws := newWaitSet(t)
	var ls []*Listener
	var gs []*WaitSetGuard
	for range n {
		l := must[*Listener](t)(svc.Listener())
		ls = append(ls, l)
		gs = append(gs, must[*WaitSetGuard](t)(ws.AttachNotification(l)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := ws.WaitAndProcess(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	if w := ws.wakeups.Load(); w > 3 {
		t.Fatalf("an idle wait of 200ms woke %d times", w)
	}
	// One notifier reaches every listener: each of them, including those
	// beyond the 126 words of one futex_waitv call, is reported.
	nt := must[*Notifier](t)(svc.Notifier())
	go func() {
		time.Sleep(5 * time.Millisecond)
		nt.Notify()
	}()
	seen := map[int]bool{}
	for len(seen) < n {
		_, err := ws.WaitAndProcessOnceWithTimeout(func(id AttachmentID) CallbackProgression {
			for i, g := range gs {
				if id.HasEventFrom(g) {
					seen[i] = true
					ls[i].TryWait(func(EventActivation) {})
				}
			}
			return Continue
		}, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
	}
	// The event of a single listener attached last (in the second group of
	// words of the futex_waitv days) wakes the wait.
	svc2 := openEvent(t, node, "ws-single", nil)
	l := must[*Listener](t)(svc2.Listener())
	g := must[*WaitSetGuard](t)(ws.AttachNotification(l))
	nt2 := must[*Notifier](t)(svc2.Notifier())
	go func() {
		time.Sleep(10 * time.Millisecond)
		nt2.Notify()
	}()
	got := false
	ws.WaitAndProcessOnceWithTimeout(func(id AttachmentID) CallbackProgression {
		got = id.HasEventFrom(g)
		l.TryWait(func(EventActivation) {})
		return Continue
	}, 5*time.Second)
	if !got {
		t.Fatalf("event of the listener in attachment %d not reported", ws.Len())
	}
	// Every wake-up has a cause: a listener that was notified (each rings
	// the WaitSet once per arming; the notifier reaches the n listeners one
	// after the other, so a waiter that is quick wakes for several), an
	// Attach. A spinning wait would wake thousands of times.
	if w := ws.wakeups.Load(); w > n+8 {
		t.Fatalf("%d wake-ups for 3 waits on %d listeners", w, n+1)
	}
}
