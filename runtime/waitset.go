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

// Create creates the WaitSet.
func (b *WaitSetBuilder) Create() (*WaitSet, error) {
	ws := &WaitSet{signal: b.signal, ch: make(chan struct{}, 1)}
	ws.timer = time.AfterFunc(time.Hour, ws.poke)
	ws.timer.Stop()
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

// Waitable is a receiving port that a WaitSet can attach: *Listener,
// *Subscriber[T], *RawSubscriber, *Server[Req, Resp] and
// *PendingResponse[Req, Resp]. It is ready when a non-blocking receive
// would find something: events (Listener.TryWait), a sample
// (Subscriber.Receive), a request (Server.Receive), a response or the end
// of the response stream (PendingResponse.Receive, IsConnected).
type Waitable interface {
	waitSource() *waitSource
}

// waitSource is what a WaitSet needs of a receiving port.
type waitSource struct {
	key   any        // identifies the port (and request) for ErrAlreadyAttached
	wp    *waitpoint // the port's waitpoint
	ready func() (bool, error)
	what  string // "listener 0x...", for errors
	svc   string // the service's name, for errors
}

// WaitSet waits for several receiving ports, deadlines and intervals at
// once and calls back for those that are ready: iceoryx2's event
// multiplexer (reactor). It sleeps on one channel that the attached
// ports' waitpoints, its timer and Attach and Detach wake: a wait parks a
// goroutine, holds no OS thread and never spins, whatever the number of
// attachments. Its channel is also usable in a select (Ready, with
// TryWaitAndProcess).
//
// It is level-triggered: a port with something to take is reported on
// every wait until the callback takes it (a listener's events with TryWait
// or TryWaitAll, a subscriber's samples with Receive, ...); a callback that
// does not, makes WaitAndProcess busy-loop.
//
// Attach and Detach may be called from any goroutine, also from the
// callback; the waits themselves run one at a time (a callback must not
// wait on its own WaitSet). Detach what you attached when you are done: an
// attachment keeps a reference to the WaitSet in the port until then (or
// until the port closes).
type WaitSet struct {
	signal bool
	sig    *signalSub // the subscription when signal; released by Close
	closed atomic.Bool

	mu      sync.Mutex
	atts    []*attachment // guarded by mu
	nextKey uint64        // guarded by mu

	// ch is poked (non-blocking send) by the attached ports' waitpoints,
	// by Attach and Detach, and by timer at the next deadline or interval.
	ch    chan struct{}
	timer *time.Timer

	// wakeups counts the waits that slept and returned (tests check that
	// idle waits do not loop).
	wakeups atomic.Uint64

	waitMu sync.Mutex // one wait at a time; guards the scratch below
	cur    []*attachment
	ready  []readyAttachment
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
	src    *waitSource // notification and deadline
	period int64       // deadline and interval, nanoseconds
	// due is when the deadline expires or the interval ticks next
	// (CLOCK_MONOTONIC). Set by Attach before the attachment is published
	// under WaitSet.mu, then only by the waiting goroutine.
	due      int64
	armed    atomic.Bool // counted as a sleeper of src.wp
	detached atomic.Bool
	// closedErr is what the waits return once the port is closed (made on
	// the first such wait, then returned until the attachment is
	// detached). Waiting goroutine only.
	closedErr error
}

// closedError is the error of a wait that found a's port closed.
func (a *attachment) closedError() error {
	if a.closedErr == nil {
		a.closedErr = &ServiceError{Op: "waitset wait", Service: a.src.svc, Err: ErrClosed,
			Detail: fmt.Sprintf("attached %s (attachment %d) is closed; detach it", a.src.what, a.key)}
	}
	return a.closedErr
}

// arm counts a as a sleeper of its port and stores the port's token in its
// word (again, if it is counted already: a claim cleared it), so that the
// port's senders ring. Waiting goroutine only.
func (a *attachment) arm() {
	if a.src == nil {
		return
	}
	// SYNC POINT ws-armed: the Swap makes the arming counted once; paired
	// with disarm's Swap. Detach stores detached before its disarm, and we
	// load it after our Swap: either Detach's disarm undoes our arming, or
	// we see detached and undo it ourselves.
	if !a.armed.Swap(true) {
		a.src.wp.arm()
	} else {
		a.src.wp.rearm()
	}
	if a.detached.Load() {
		a.disarm() // Detach ran meanwhile and may have missed our arming
	}
}

// disarm ends what arm began (exactly once, whoever calls it).
func (a *attachment) disarm() {
	// SYNC POINT ws-armed: paired with arm's Swap; exactly one disarm.
	if a.src != nil && a.armed.Swap(false) {
		a.src.wp.disarm()
	}
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
// because it has something to take (events, a sample, a request, a
// response), or because it is an interval that ticked.
func (id AttachmentID) HasEventFrom(g *WaitSetGuard) bool {
	return g != nil && id.key == g.key && !id.missed
}

// HasMissedDeadline reports whether the callback is called for g's
// deadline attachment because nothing arrived within its deadline.
func (id AttachmentID) HasMissedDeadline(g *WaitSetGuard) bool {
	return g != nil && id.key == g.key && id.missed
}

// WaitSetGuard is an attachment of a WaitSet; Detach removes it.
type WaitSetGuard struct {
	ws  *WaitSet
	key uint64
}

// AttachNotification attaches a receiving port (a *Listener,
// *Subscriber[T], *RawSubscriber, *Server[Req, Resp] or *PendingResponse[Req,
// Resp]): the WaitSet calls back when it has something to take. It fails
// with ErrClosed for a closed port and with ErrAlreadyAttached for one
// that is attached already.
func (ws *WaitSet) AttachNotification(w Waitable) (*WaitSetGuard, error) {
	return ws.attach(attachNotification, w, 0)
}

// AttachDeadline attaches a receiving port with a deadline: the WaitSet
// calls back when it has something to take (HasEventFrom) or when nothing
// arrived within d (HasMissedDeadline). The deadline restarts whenever the
// port has something and after every miss.
func (ws *WaitSet) AttachDeadline(w Waitable, d time.Duration) (*WaitSetGuard, error) {
	if d <= 0 {
		return nil, ErrInvalidInterval
	}
	return ws.attach(attachDeadline, w, d)
}

// AttachInterval attaches a timer: the WaitSet calls back every d.
func (ws *WaitSet) AttachInterval(d time.Duration) (*WaitSetGuard, error) {
	if d <= 0 {
		return nil, ErrInvalidInterval
	}
	return ws.attach(attachInterval, nil, d)
}

func (ws *WaitSet) attach(kind attachKind, w Waitable, d time.Duration) (*WaitSetGuard, error) {
	var src *waitSource
	if kind != attachInterval {
		if w == nil {
			return nil, ErrClosed
		}
		if src = w.waitSource(); src == nil {
			return nil, ErrClosed
		}
		if _, err := src.ready(); err != nil {
			return nil, err
		}
	}
	ws.mu.Lock()
	if len(ws.atts) >= WaitSetCapacity {
		ws.mu.Unlock()
		return nil, ErrWaitSetFull
	}
	if src != nil {
		for _, a := range ws.atts {
			if a.src != nil && a.src.key == src.key {
				ws.mu.Unlock()
				return nil, ErrAlreadyAttached
			}
		}
	}
	ws.nextKey++
	a := &attachment{key: ws.nextKey, kind: kind, src: src, period: int64(d)}
	if d > 0 {
		a.due = futex.Now() + int64(d)
	}
	ws.atts = append(ws.atts, a)
	if src != nil {
		src.wp.subscribe(ws.ch)
	}
	ws.mu.Unlock()
	ws.poke()
	return &WaitSetGuard{ws: ws, key: a.key}, nil
}

// Detach removes the attachment. It is idempotent.
func (g *WaitSetGuard) Detach() {
	ws := g.ws
	ws.mu.Lock()
	for i, a := range ws.atts {
		if a.key == g.key {
			// SYNC POINT ws-detached: before the disarm below; paired with
			// arm's load after its Swap (and the waiter's checks).
			a.detached.Store(true)
			ws.atts = append(ws.atts[:i], ws.atts[i+1:]...)
			if a.src != nil {
				a.src.wp.unsubscribe(ws.ch)
				a.disarm()
			}
			break
		}
	}
	ws.mu.Unlock()
	ws.poke()
}

// poke wakes the waiting goroutine (or a select on Ready), which then
// looks at its attachments and its context again.
func (ws *WaitSet) poke() {
	select {
	case ws.ch <- struct{}{}:
	default:
	}
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

// Close releases the WaitSet: with signal handling, it stops catching
// SIGINT and SIGTERM (once no other WaitSet or node asked for them). A
// wait in progress returns, and every later wait fails, with ErrClosed;
// the attachments stay (Detach is harmless). It is idempotent.
func (ws *WaitSet) Close() error {
	if ws.closed.CompareAndSwap(false, true) {
		ws.sig.release()
		ws.poke()
	}
	return nil
}

// SignalHandling reports whether SIGINT and SIGTERM end the waits.
func (ws *WaitSet) SignalHandling() bool { return ws.signal }

// WaitAndProcess waits and calls cb for every ready attachment, again and
// again, until cb returns Stop (StopRequest), SIGTERM or SIGINT arrives
// with signal handling on (TerminationRequest, Interrupt) or ctx ends
// (ctx.Err()). It fails with ErrNoAttachments when the WaitSet is empty,
// with ErrClosed once the WaitSet is closed, and with a *ServiceError
// wrapping ErrClosed when an attached port is closed (directly or by
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
// early as WaitAndProcess does (a closed port: ErrClosed).
func (ws *WaitSet) WaitAndProcessOnceWithTimeout(cb func(AttachmentID) CallbackProgression, d time.Duration) (WaitSetRunResult, error) {
	return ws.run(nil, futex.Now()+max(int64(d), 0), false, cb)
}

// Ready returns the WaitSet's channel, for a select: it receives when an
// attachment may be ready (something to take, a deadline or an interval
// due) or the attachments changed; then call TryWaitAndProcess, which
// calls back for what is ready and arms the WaitSet again. Nothing is
// received before the first TryWaitAndProcess (or wait) armed it, so
// call TryWaitAndProcess once before the first select. A value received
// with nothing ready is possible (and harmless). Do not use it while
// another goroutine is in a WaitAndProcess of the same WaitSet.
//
//	for {
//		if _, err := ws.TryWaitAndProcess(cb); err != nil { ... }
//		select {
//		case <-ws.Ready():
//		case v := <-otherChannel: ...
//		case <-ctx.Done(): return
//		}
//	}
func (ws *WaitSet) Ready() <-chan struct{} { return ws.ch }

// TryWaitAndProcess calls cb for every attachment that is ready now,
// without waiting, and arms the WaitSet so that Ready receives when
// something may be ready next (see Ready). It returns StopRequest when cb
// returned Stop, Interrupt or TerminationRequest after a handled signal,
// and the errors of WaitAndProcess (ErrNoAttachments, ErrClosed).
func (ws *WaitSet) TryWaitAndProcess(cb func(AttachmentID) CallbackProgression) (WaitSetRunResult, error) {
	ws.waitMu.Lock()
	defer ws.waitMu.Unlock()
	if ws.signal {
		if r, ok := signalResult(); ok {
			return r, nil
		}
	}
	if ws.closed.Load() {
		return AllEventsHandled, fmt.Errorf("iox2: waitset wait: %w", ErrClosed)
	}
	ws.mu.Lock()
	ws.cur = append(ws.cur[:0], ws.atts...)
	ws.mu.Unlock()
	if len(ws.cur) == 0 {
		return AllEventsHandled, ErrNoAttachments
	}
	next, closed := ws.collect(noDeadline)
	if closed != nil {
		return AllEventsHandled, closed.closedError()
	}
	r := AllEventsHandled
	if len(ws.ready) > 0 {
		r = ws.dispatch(cb)
	}
	// Stay armed after we return: the senders ring, and Ready receives.
	if ws.armAll() {
		ws.poke()
	}
	if next >= 0 {
		ws.timer.Reset(time.Duration(max(next-futex.Now(), 0)))
	} else {
		ws.timer.Stop()
	}
	return r, nil
}

func (ws *WaitSet) run(ctx context.Context, deadline int64, loop bool, cb func(AttachmentID) CallbackProgression) (WaitSetRunResult, error) {
	ws.waitMu.Lock()
	defer ws.waitMu.Unlock()
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
		next, closed := ws.collect(deadline)
		if closed != nil {
			// The port is closed (Close of the port, its service or its
			// node): the wait ends with ErrClosed until the attachment is
			// detached.
			return AllEventsHandled, closed.closedError()
		}
		if len(ws.ready) > 0 {
			return ws.dispatch(cb), nil
		}
		if deadline >= 0 && futex.Now() >= deadline {
			return AllEventsHandled, nil
		}
		if !ws.armAll() {
			ws.sleep(ctx, next)
		}
		ws.disarmAll()
	}
}

// collect fills ws.ready with the ready attachments of ws.cur, restarts the
// deadlines and intervals that fired, and returns when the wait must end
// at the latest (the earliest of deadline and every timer), and an
// attachment whose port is closed, if any.
func (ws *WaitSet) collect(deadline int64) (next int64, closed *attachment) {
	ws.ready = ws.ready[:0]
	now := futex.Now()
	next = deadline
	for _, a := range ws.cur {
		ready := false
		if a.src != nil {
			ok, err := a.src.ready()
			if err != nil {
				if closed == nil && !a.detached.Load() {
					closed = a
				}
				continue
			}
			ready = ok
		}
		switch a.kind {
		case attachNotification:
			if ready {
				ws.ready = append(ws.ready, readyAttachment{a, AttachmentID{key: a.key}})
			}
			continue
		case attachDeadline:
			if ready {
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
	return next, closed
}

// armAll arms every port of ws.cur (see attachment.arm), then reports
// whether one of them is ready or closed already: then the caller must
// not sleep (the sender that made it so may have come before our arming
// and not rung). Must be called with waitMu held.
func (ws *WaitSet) armAll() bool {
	for _, a := range ws.cur {
		a.arm()
	}
	for _, a := range ws.cur {
		if a.src == nil || a.detached.Load() {
			continue
		}
		// SYNC POINT W-arm: the checks come after every arming above.
		if ok, err := a.src.ready(); ok || err != nil {
			return true
		}
	}
	return false
}

func (ws *WaitSet) disarmAll() {
	for _, a := range ws.cur {
		a.disarm()
	}
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

// sleep parks until the WaitSet's channel receives (a waitpoint of an
// attached port fired, the timer fired at next, Attach or Detach), ctx
// ends or a handled signal arrives.
func (ws *WaitSet) sleep(ctx context.Context, next int64) {
	if next >= 0 {
		ws.timer.Reset(time.Duration(max(next-futex.Now(), 0)))
	}
	select {
	case <-ws.ch:
	case <-doneOf(ctx):
	case <-ws.sig.done(): // nil, never ready, without signal handling
	}
	if next >= 0 {
		ws.timer.Stop()
	}
	ws.wakeups.Add(1)
}
