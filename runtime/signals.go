package runtime

import (
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
)

// Signal handling is off unless a program asks for it: a library must not
// take its program's signals. A Node or WaitSet built with
// SignalHandling(true) subscribes; while at least one subscription is open
// (not yet closed), the process catches SIGINT and SIGTERM, and the waits
// of the subscribed nodes and WaitSets return ErrNodeInterrupted /
// ErrNodeTerminationRequest (Interrupt / TerminationRequest).
//
// Catching is one-shot, as signal.NotifyContext is meant to be used: the
// first SIGINT or SIGTERM is recorded (and stays the answer of every later
// wait of the subscribers), and the process's own behaviour for both
// signals is restored at once, so that a second Ctrl-C kills a program
// whose shutdown hangs. Closing the last subscription restores it too
// (signal.Stop of our channel only: the program's own signal.Notify
// channels, and a SIG_IGN the process inherited, are left as they were).
// A later subscription starts afresh, with no signal recorded.

// signalWatch is one period of catching: from the first subscription to
// the release of the last one.
type signalWatch struct {
	c        chan os.Signal
	last     atomic.Int32  // the signal caught, 0 before
	arrived  chan struct{} // closed when a signal is caught
	stopOnce sync.Once
}

// signalSub is one Node's or WaitSet's subscription, released once.
type signalSub struct {
	w    *signalWatch
	once sync.Once
}

var signals struct {
	mu    sync.Mutex
	users int                         // open subscriptions; guarded by mu
	cur   atomic.Pointer[signalWatch] // non-nil while users > 0; stored under mu
}

// subscribeSignals opens a subscription: the process catches SIGINT and
// SIGTERM until the last one is released (or the first signal arrives).
func subscribeSignals() *signalSub {
	signals.mu.Lock()
	defer signals.mu.Unlock()
	if signals.users == 0 {
		w := &signalWatch{c: make(chan os.Signal, 1), arrived: make(chan struct{})}
		signal.Notify(w.c, syscall.SIGINT, syscall.SIGTERM)
		go w.run()
		// SYNC POINT signal-cur: publishes the watch of this period; paired
		// with pendingSignal's load. A subscriber's waits run after its
		// subscribeSignals returned, so they see it.
		signals.cur.Store(w)
	}
	signals.users++
	return &signalSub{w: signals.cur.Load()}
}

// release closes the subscription; the last one restores the process's
// behaviour for SIGINT and SIGTERM. It is idempotent and accepts nil.
func (s *signalSub) release() {
	if s == nil {
		return
	}
	s.once.Do(func() {
		signals.mu.Lock()
		defer signals.mu.Unlock()
		if signals.users--; signals.users == 0 {
			// SYNC POINT signal-cur: ends the period; paired with
			// pendingSignal's load (only waits of closed subscribers can
			// still run then, and they end with ErrClosed).
			signals.cur.Swap(nil).stop()
		}
	})
}

// pending returns the error for the signal caught, or nil (also for a nil
// s: no signal handling).
func (s *signalSub) pending() error {
	if s == nil {
		return nil
	}
	return s.w.pending()
}

// done returns a channel that is closed when a signal is caught (then
// pending says which); for a nil s, nil: never ready. A wait that selects
// on it needs no other hook.
func (s *signalSub) done() <-chan struct{} {
	if s == nil {
		return nil
	}
	return s.w.arrived
}

func (w *signalWatch) pending() error {
	// SYNC POINT signal-last: paired with run's store; a waiter that saw
	// arrived closed sees the signal.
	switch syscall.Signal(w.last.Load()) {
	case syscall.SIGINT:
		return ErrNodeInterrupted
	case syscall.SIGTERM:
		return ErrNodeTerminationRequest
	}
	return nil
}

// run waits for the first signal, records it and wakes every waiter.
func (w *signalWatch) run() {
	s, ok := <-w.c
	if !ok {
		return // released before any signal
	}
	w.stop() // one is enough: a second Ctrl-C is the process's again
	// SYNC POINT signal-last: before the close of arrived; paired with
	// pending's load.
	w.last.Store(int32(s.(syscall.Signal)))
	close(w.arrived) // happens before a wait's receive from done()
}

// stop stops catching. After signal.Stop returns, nothing is sent on c, so
// closing it is safe; it ends run if no signal came.
func (w *signalWatch) stop() {
	w.stopOnce.Do(func() {
		signal.Stop(w.c)
		close(w.c)
	})
}

// pendingSignal returns the error for the signal caught while the current
// subscriptions are open, or nil. Waits of a node or WaitSet that
// subscribed call it (their subscription keeps the period open).
func pendingSignal() error {
	if w := signals.cur.Load(); w != nil { // SYNC POINT signal-cur: paired with subscribeSignals' store.
		return w.pending()
	}
	return nil
}
