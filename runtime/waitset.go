package runtime

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iox2go/iox2go/runtime/internal/futex"
)

// CallbackProgression tells a WaitSet, from its callback, whether to go on.
type CallbackProgression int

const (
	Continue CallbackProgression = iota // handle the next attachment, keep waiting
	Stop                                // return StopRequest now
)

// WaitSetRunResult says why a WaitSet's wait returned.
type WaitSetRunResult int

const (
	// AllEventsHandled: every ready attachment was handled (or a timeout
	// passed with none ready).
	AllEventsHandled WaitSetRunResult = iota
	// TerminationRequest: SIGTERM arrived (with WaitSetBuilder.SignalHandling(true)).
	TerminationRequest
	// Interrupt: SIGINT arrived (with WaitSetBuilder.SignalHandling(true)).
	Interrupt
	// StopRequest: the callback returned Stop.
	StopRequest
)

func (r WaitSetRunResult) String() string {
	switch r {
	case AllEventsHandled:
		return "AllEventsHandled"
	case TerminationRequest:
		return "TerminationRequest"
	case Interrupt:
		return "Interrupt"
	case StopRequest:
		return "StopRequest"
	}
	return fmt.Sprintf("WaitSetRunResult(%d)", int(r))
}

// WaitSetCapacity is the largest number of attachments of a WaitSet.
const WaitSetCapacity = 1024

// WaitSetBuilder configures a WaitSet.
type WaitSetBuilder struct{ signal bool }

// NewWaitSetBuilder returns a builder of a WaitSet that leaves signals
// alone.
func NewWaitSetBuilder() *WaitSetBuilder { return &WaitSetBuilder{} }

// SignalHandling sets whether SIGINT and SIGTERM end the WaitSet's waits
// (with Interrupt and TerminationRequest). It is off by default (iceoryx2's
// default is on; a Go library must not take its program's signals unless
// asked). With true, the process catches both signals from Create until
// the WaitSet is closed, exactly as with NodeBuilder.SignalHandling(true)
// (one-shot; the last Close restores the process's behaviour).
func (b *WaitSetBuilder) SignalHandling(on bool) *WaitSetBuilder { b.signal = on; return b }

// Create creates the WaitSet. It fails with ErrWaitUnsupported on a kernel
// without futex_waitv.
func (b *WaitSetBuilder) Create() (*WaitSet, error) {
	if futex.Supported() != nil {
		return nil, ErrWaitUnsupported
	}
	ws := &WaitSet{signal: b.signal}
	if ws.signal {
		ws.sig = subscribeSignals()
		// A WaitSet dropped without Close must not leave the process
		// catching signals for good.
		runtime.AddCleanup(ws, (*signalSub).release, ws.sig)
	}
	return ws, nil
}

// NewWaitSet creates a WaitSet with the default settings.
func NewWaitSet() (*WaitSet, error) { return NewWaitSetBuilder().Create() }

// WaitSet waits for several listeners, deadlines and intervals at once and
// calls back for those that are ready: iceoryx2's event multiplexer
// (reactor). It sleeps in one futex_waitv call on the listeners' futex
// words, its own wake-up word and the signal word, with the nearest
// deadline or interval as timeout: it never spins.
//
// It is level-triggered: a listener with pending events is reported on
// every wait until the callback takes them (with TryWait or TryWaitAll);
// a callback that does not, makes WaitAndProcess busy-loop.
//
// Attach and Detach may be called from any goroutine, also from the
// callback; the waits themselves run one at a time (a callback must not
// wait on its own WaitSet).
type WaitSet struct {
	signal bool
	sig    *signalSub // the subscription when signal; released by Close
	closed atomic.Bool

	mu      sync.Mutex
	atts    []*attachment // guarded by mu
	nextKey uint64        // guarded by mu

	// wake is a process-local futex word in the wait: Attach, Detach and
	// context cancellation bump it and wake the waiter.
	wake atomic.Uint32

	// wakeups counts the waits that slept and returned (tests check that
	// idle waits do not loop).
	wakeups atomic.Uint64

	waitMu sync.Mutex // one wait at a time; guards the scratch below
	cur    []*attachment
	ready  []readyAttachment
	words  []futex.Word
}

type attachKind uint8

const (
	attachNotification attachKind = iota
	attachDeadline
	attachInterval
)

type attachment struct {
	key    uint64
	kind   attachKind
	l      *Listener // notification and deadline
	period int64     // deadline and interval, nanoseconds
	// due is when the deadline expires or the interval ticks next
	// (CLOCK_MONOTONIC). Set by Attach before the attachment is published
	// under WaitSet.mu, then only by the waiting goroutine.
	due      int64
	pinned   bool // waiting goroutine only
	detached atomic.Bool
	// closedErr is what the waits return once the listener is closed (made
	// on the first such wait, then returned until the attachment is
	// detached). Waiting goroutine only.
	closedErr error
}

// closedError is the error of a wait that found a's listener closed.
func (a *attachment) closedError() error {
	if a.closedErr == nil {
		a.closedErr = &ServiceError{Op: "waitset wait", Service: a.l.ev.core.name, Err: ErrClosed,
			Detail: fmt.Sprintf("attached listener %v (attachment %d) is closed; detach it", a.l.id, a.key)}
	}
	return a.closedErr
}

type readyAttachment struct {
	att *attachment
	id  AttachmentID
}

// AttachmentID names the attachment that a WaitSet's callback is called
// for. It is comparable (usable as a map key).
type AttachmentID struct {
	key    uint64
	missed bool
}

// HasEventFrom reports whether the callback is called for g's attachment
// because it has an event: a listener with pending events, or an interval
// that ticked.
func (id AttachmentID) HasEventFrom(g *WaitSetGuard) bool {
	return g != nil && id.key == g.key && !id.missed
}

// HasMissedDeadline reports whether the callback is called for g's
// deadline attachment because no event arrived within its deadline.
func (id AttachmentID) HasMissedDeadline(g *WaitSetGuard) bool {
	return g != nil && id.key == g.key && id.missed
}

// WaitSetGuard is an attachment of a WaitSet; Detach removes it.
type WaitSetGuard struct {
	ws  *WaitSet
	key uint64
}

// AttachNotification attaches l: the WaitSet calls back when l has events.
func (ws *WaitSet) AttachNotification(l *Listener) (*WaitSetGuard, error) {
	return ws.attach(attachNotification, l, 0)
}

// AttachDeadline attaches l with a deadline: the WaitSet calls back when l
// has events (HasEventFrom) or when none arrived within d (HasMissedDeadline).
// The deadline restarts whenever l has events and after every miss.
func (ws *WaitSet) AttachDeadline(l *Listener, d time.Duration) (*WaitSetGuard, error) {
	if d <= 0 {
		return nil, ErrInvalidInterval
	}
	return ws.attach(attachDeadline, l, d)
}

// AttachInterval attaches a timer: the WaitSet calls back every d.
func (ws *WaitSet) AttachInterval(d time.Duration) (*WaitSetGuard, error) {
	if d <= 0 {
		return nil, ErrInvalidInterval
	}
	return ws.attach(attachInterval, nil, d)
}

func (ws *WaitSet) attach(kind attachKind, l *Listener, d time.Duration) (*WaitSetGuard, error) {
	if kind != attachInterval && (l == nil || l.closed.Load()) {
		return nil, ErrClosed
	}
	ws.mu.Lock()
	if len(ws.atts) >= WaitSetCapacity {
		ws.mu.Unlock()
		return nil, ErrWaitSetFull
	}
	if l != nil {
		for _, a := range ws.atts {
			if a.l == l {
				ws.mu.Unlock()
				return nil, ErrAlreadyAttached
			}
		}
	}
	ws.nextKey++
	a := &attachment{key: ws.nextKey, kind: kind, l: l, period: int64(d)}
	if d > 0 {
		a.due = futex.Now() + int64(d)
	}
	ws.atts = append(ws.atts, a)
	ws.mu.Unlock()
	ws.kick()
	return &WaitSetGuard{ws: ws, key: a.key}, nil
}

// Detach removes the attachment. It is idempotent.
func (g *WaitSetGuard) Detach() {
	ws := g.ws
	ws.mu.Lock()
	for i, a := range ws.atts {
		if a.key == g.key {
			a.detached.Store(true)
			ws.atts = append(ws.atts[:i], ws.atts[i+1:]...)
			break
		}
	}
	ws.mu.Unlock()
	ws.kick()
}

// kick wakes the waiting goroutine, which then looks at its attachments
// and its context again.
func (ws *WaitSet) kick() {
	// SYNC POINT ws-wake: after the change it announces; paired with the
	// waiter's load of wake at the start of its round.
	ws.wake.Add(1)
	futex.WakePrivate(&ws.wake)
}

// Len returns the number of attachments.
func (ws *WaitSet) Len() int {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return len(ws.atts)
}

// IsEmpty reports whether the WaitSet has no attachments.
func (ws *WaitSet) IsEmpty() bool { return ws.Len() == 0 }

// Capacity returns the largest number of attachments (WaitSetCapacity).
func (ws *WaitSet) Capacity() int { return WaitSetCapacity }

// SignalHandling reports whether SIGINT and SIGTERM end the waits.
func (ws *WaitSet) SignalHandling() bool { return ws.signal }

// Close releases the WaitSet: with signal handling, it stops catching
// SIGINT and SIGTERM (once no other WaitSet or node asked for them). A
// wait in progress returns, and every later wait fails, with ErrClosed;
// the attachments stay (Detach is harmless). It is idempotent.
func (ws *WaitSet) Close() error {
	if ws.closed.CompareAndSwap(false, true) {
		ws.sig.release()
		ws.kick()
	}
	return nil
}

// WaitAndProcess waits and calls cb for every ready attachment, again and
// again, until cb returns Stop (StopRequest), SIGTERM or SIGINT arrives
// with signal handling on (TerminationRequest, Interrupt) or ctx ends
// (ctx.Err()). It fails with ErrNoAttachments when the WaitSet is empty,
// with ErrClosed once the WaitSet is closed, and with a *ServiceError
// wrapping ErrClosed when an attached listener is closed (directly or by
// closing its service or node): at once if it is waiting, and on every
// later wait until that attachment is detached.
func (ws *WaitSet) WaitAndProcess(ctx context.Context, cb func(AttachmentID) CallbackProgression) (WaitSetRunResult, error) {
	return ws.run(ctx, noDeadline, true, cb)
}

// WaitAndProcessOnce waits until at least one attachment is ready, calls
// cb for every ready one, and returns. It ends as WaitAndProcess does.
func (ws *WaitSet) WaitAndProcessOnce(ctx context.Context, cb func(AttachmentID) CallbackProgression) (WaitSetRunResult, error) {
	return ws.run(ctx, noDeadline, false, cb)
}

// WaitAndProcessOnceWithTimeout is WaitAndProcessOnce that waits at most d;
// it returns AllEventsHandled when d passes with nothing ready, and ends
// early as WaitAndProcess does (a closed listener: ErrClosed).
func (ws *WaitSet) WaitAndProcessOnceWithTimeout(cb func(AttachmentID) CallbackProgression, d time.Duration) (WaitSetRunResult, error) {
	return ws.run(nil, futex.Now()+max(int64(d), 0), false, cb)
}

func (ws *WaitSet) run(ctx context.Context, deadline int64, loop bool, cb func(AttachmentID) CallbackProgression) (WaitSetRunResult, error) {
	if futex.Supported() != nil {
		return AllEventsHandled, ErrWaitUnsupported
	}
	ws.waitMu.Lock()
	defer ws.waitMu.Unlock()
	if ctx != nil && ctx.Done() != nil {
		stop := context.AfterFunc(ctx, ws.kick)
		defer stop()
	}
	for {
		r, err := ws.round(ctx, deadline, cb)
		if err != nil || !loop || r != AllEventsHandled {
			return r, err
		}
	}
}

func signalResult() (WaitSetRunResult, bool) {
	switch pendingSignal() {
	case ErrNodeInterrupted:
		return Interrupt, true
	case ErrNodeTerminationRequest:
		return TerminationRequest, true
	}
	return AllEventsHandled, false
}

// round sleeps until an attachment is ready (or deadline passes, or the
// wait must end), then calls back for the ready ones. Must be called with
// waitMu held.
func (ws *WaitSet) round(ctx context.Context, deadline int64, cb func(AttachmentID) CallbackProgression) (WaitSetRunResult, error) {
	for {
		// Load the wake words first, then check what they announce: a change
		// after the check makes futex_waitv return at once.
		w0 := ws.wake.Load()    // SYNC POINT ws-wake: paired with kick.
		s0 := signalWord.Load() // SYNC POINT signal-word: paired with the signal watcher.
		if ws.signal {
			if r, ok := signalResult(); ok {
				return r, nil
			}
		}
		if ws.closed.Load() {
			return AllEventsHandled, fmt.Errorf("iox2: waitset wait: %w", ErrClosed)
		}
		if ctx != nil {
			if err := ctx.Err(); err != nil {
				return AllEventsHandled, err
			}
		}
		ws.mu.Lock()
		ws.cur = append(ws.cur[:0], ws.atts...)
		ws.mu.Unlock()
		if len(ws.cur) == 0 {
			return AllEventsHandled, ErrNoAttachments
		}
		var closed *attachment
		for _, a := range ws.cur {
			if a.l == nil {
				continue
			}
			// pin fails only once the listener is closed (Close of the
			// listener, its service or its node): the wait ends with
			// ErrClosed until the attachment is detached.
			a.pinned = a.l.pin()
			if !a.pinned && closed == nil && !a.detached.Load() {
				closed = a
			}
		}
		if closed != nil {
			ws.unpin()
			return AllEventsHandled, closed.closedError()
		}
		next := ws.collect(deadline)
		if len(ws.ready) > 0 {
			ws.unpin()
			return ws.dispatch(cb), nil
		}
		if deadline >= 0 && futex.Now() >= deadline {
			ws.unpin()
			return AllEventsHandled, nil
		}
		ws.sleep(w0, s0, next)
		ws.unpin()
	}
}

// collect fills ws.ready with the ready attachments of ws.cur, restarts the
// deadlines and intervals that fired, and returns when the wait must end
// at the latest (the earliest of deadline and every timer).
func (ws *WaitSet) collect(deadline int64) int64 {
	ws.ready = ws.ready[:0]
	now := futex.Now()
	next := deadline
	for _, a := range ws.cur {
		switch a.kind {
		case attachNotification:
			if a.pinned && a.l.pending() {
				ws.ready = append(ws.ready, readyAttachment{a, AttachmentID{key: a.key}})
			}
			continue
		case attachDeadline:
			if a.pinned && a.l.pending() {
				ws.ready = append(ws.ready, readyAttachment{a, AttachmentID{key: a.key}})
				a.due = now + a.period
			} else if now >= a.due {
				ws.ready = append(ws.ready, readyAttachment{a, AttachmentID{key: a.key, missed: true}})
				a.due = now + a.period
			}
		case attachInterval:
			if now >= a.due {
				ws.ready = append(ws.ready, readyAttachment{a, AttachmentID{key: a.key}})
				a.due += a.period
				if a.due <= now { // we fell behind: skip the missed ticks
					a.due = now + a.period
				}
			}
		}
		if next < 0 || a.due < next {
			next = a.due
		}
	}
	return next
}

func (ws *WaitSet) dispatch(cb func(AttachmentID) CallbackProgression) WaitSetRunResult {
	for _, r := range ws.ready {
		if r.att.detached.Load() {
			continue // detached by an earlier callback
		}
		if cb(r.id) == Stop {
			return StopRequest
		}
	}
	return AllEventsHandled
}

func (ws *WaitSet) unpin() {
	for _, a := range ws.cur {
		if a.pinned {
			a.pinned = false
			a.l.unpin()
		}
	}
}

// sleep waits on the wake-up word, the signal word and every pinned
// listener's epoch until one changes or deadline passes. It does not sleep
// when a listener has events or is closed (the next round reports it).
func (ws *WaitSet) sleep(w0, s0 uint32, deadline int64) {
	ws.words = append(ws.words[:0], futex.Private(&ws.wake, w0))
	if ws.signal {
		ws.words = append(ws.words, futex.Private(&signalWord, s0))
	}
	fixed := len(ws.words)
	for _, a := range ws.cur {
		if a.pinned {
			// SYNC POINT sleep-announce (Dekker with notify's sleep-check):
			// before the pending checks below.
			a.l.seg.hdr.sleeping.Add(1)
		}
	}
	ready := false
	for _, a := range ws.cur {
		if !a.pinned {
			continue
		}
		h := a.l.seg.hdr
		ws.words = append(ws.words, futex.Shared(&h.epoch, h.epoch.Load())) // SYNC POINT epoch: paired with notify's Add.
		// SYNC POINT close: after the epoch load, paired with closePort's
		// store of closed before its epoch Add: a Close after this check
		// changes the epoch, which ends the futex_waitv below.
		if a.l.closed.Load() || a.l.pending() {
			ready = true
			break
		}
	}
	if !ready {
		waitWords(ws.words, fixed, deadline, &ws.wake)
		ws.wakeups.Add(1)
	}
	for _, a := range ws.cur {
		if a.pinned {
			a.l.seg.hdr.sleeping.Add(^uint32(0))
		}
	}
}

// waitWords is futex.WaitV over any number of words. The first fixed words
// (the WaitSet's wake word, the signal word) go into every call of at most
// futex.MaxWords words; beyond one call, helper goroutines wait on the
// other groups, and whoever returns first bumps wake so that all return.
func waitWords(words []futex.Word, fixed int, deadline int64, wake *atomic.Uint32) {
	if len(words) <= futex.MaxWords {
		futex.WaitV(words, deadline)
		return
	}
	kick := func() {
		wake.Add(1)
		futex.WakePrivate(wake)
	}
	per := futex.MaxWords - fixed
	var wg sync.WaitGroup
	for i := fixed + per; i < len(words); i += per {
		chunk := make([]futex.Word, 0, futex.MaxWords)
		chunk = append(chunk, words[:fixed]...)
		chunk = append(chunk, words[i:min(i+per, len(words))]...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			futex.WaitV(chunk, deadline)
			kick()
		}()
	}
	futex.WaitV(words[:fixed+per], deadline)
	kick()
	wg.Wait()
}
