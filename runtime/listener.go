package runtime

import (
	"context"
	"fmt"
	"iter"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iox2go/iox2go/runtime/internal/futex"
	"github.com/iox2go/iox2go/runtime/internal/protocol"
)

// ListenerBuilder configures a listener.
type ListenerBuilder struct {
	svc *EventService
}

// ListenerBuilder starts building a listener.
func (s *EventService) ListenerBuilder() *ListenerBuilder { return &ListenerBuilder{svc: s} }

// Listener creates a listener with the default settings.
func (s *EventService) Listener() (*Listener, error) { return s.ListenerBuilder().Create() }

// Listener waits for the notifications of an event service. Its pending
// events live in its event segment, where every notifier of the service
// writes them; waiting for them never spins. It is safe for concurrent
// use: concurrent waits share the events (each is reported once).
type Listener struct {
	ev   *eventCore
	id   ID
	slot int
	seg  *eventSeg

	// refs counts the users of the mapping: 1 for the listener until Close,
	// plus one per wait or WaitSet round in progress. The last to leave
	// unmaps it, so Close never pulls the memory from under a sleeper.
	refs   atomic.Int32
	closed atomic.Bool
	// closeMu is held across closePort, so that a Close of the service
	// (which closes its ports and then unmaps the dynamic config) waits for
	// a concurrent Close of the listener that is still releasing its slot.
	closeMu sync.Mutex

	// wp is the listener's waitpoint, whose word W is the event segment's
	// wake word; src is what a WaitSet needs of it.
	wp  *waitpoint
	src *waitSource

	// The *One methods report one id per call: a drain's ids wait here.
	oneMu   sync.Mutex
	one     []EventActivation // guarded by oneMu; capacity numIDs, made on first use
	oneHead int               // guarded by oneMu
	oneLen  atomic.Int32      // len(one) - oneHead: lets the others skip the lock
}

// Create creates the listener: its event segment, then its port slot.
// From the moment Create returns, every Notify of every notifier of the
// service reaches it.
func (b *ListenerBuilder) Create() (*Listener, error) {
	ev := b.svc.ev
	op := "create listener"
	if err := ev.core.enter(op); err != nil {
		return nil, err
	}
	defer ev.core.exit()
	node := ev.core.node
	d := ev.core.dyn
	l := &Listener{ev: ev, id: newID()}
	l.slot = protocol.Claim(d.Subs, l.id, node.id)
	if l.slot < 0 {
		return nil, &ServiceError{Op: op, Service: ev.core.name, Err: ErrExceedsMaxListeners,
			Detail: fmt.Sprintf("the service supports %d", ev.qos.MaxListeners)}
	}
	// The journal entry comes first: if we die from here on, the cleanup
	// of our node finds the segment, whatever happens to the slot.
	if err := node.journalPort(l.id, portListener); err != nil {
		protocol.Release(&d.Subs[l.slot], node.id)
		return nil, journalErr(op, ev.core.name, err)
	}
	seg, err := createEventSegment(node.shm, node.config.eventName(l.id), l.id, ev.numIDs)
	if err != nil {
		node.forgetPort(l.id, portListener)
		protocol.Release(&d.Subs[l.slot], node.id)
		return nil, &ServiceError{Op: op, Service: ev.core.name, Err: errOr(err, ErrServiceCorrupted), Detail: err.Error()}
	}
	l.seg = seg
	l.wp = node.bell.newWaitpoint(&seg.hdr.Wake, nil)
	l.src = &waitSource{key: l, wp: l.wp, ready: l.readyToTake, what: "listener " + l.id.String(), svc: ev.core.name}
	l.refs.Store(1)
	protocol.Activate(&d.Subs[l.slot])
	d.bump()
	if err := ev.core.addPort(l); err != nil {
		l.closePort()
		return nil, err
	}
	return l, nil
}

// ID returns the listener's port ID.
func (l *Listener) ID() ID { return l.id }

// Deadline returns the service's deadline, if it has one: attach the
// listener to a WaitSet with it (AttachDeadline) to learn of missed ones.
func (l *Listener) Deadline() (time.Duration, bool) {
	return time.Duration(l.ev.deadline), l.ev.deadline > 0
}

// Close closes the listener: notifiers stop reaching it, and blocking waits
// on it return ErrClosed, as do the waits of every WaitSet it is attached
// to (until it is detached).
func (l *Listener) Close() error { return l.closePort() }

func (l *Listener) maintain() (done, wake bool) { return true, false }

func (l *Listener) waitpoint() *waitpoint { return l.wp }

func (l *Listener) closePort() error {
	l.closeMu.Lock()
	defer l.closeMu.Unlock()
	if l.closed.Swap(true) {
		return nil
	}
	core := l.ev.core
	node := core.node
	d := core.dyn
	// The file goes first, while the journal entry (and the slot) still
	// name it, so that dying in between leaks nothing (the cleanup of dead
	// nodes removes it by the entry's port id). The memory stays mapped, by
	// us until the last wait leaves and by notifiers until they see the
	// slot go.
	node.shm.Remove(node.config.eventName(l.id))
	node.forgetPort(l.id, portListener)
	protocol.Release(&d.Subs[l.slot], node.id)
	d.bump()
	// After the store of closed: wakes every sleeper for good (blocking
	// waits and the waits of the WaitSets that we are attached to see
	// closed and return ErrClosed), and forgets the wake word before the
	// segment can be unmapped.
	l.wp.close()
	l.unpin()
	core.removePort(l)
	return nil
}

// pin keeps the mapping alive for a wait; it fails once the listener is
// closed.
func (l *Listener) pin() bool {
	for {
		r := l.refs.Load()
		if r <= 0 || l.closed.Load() {
			return false
		}
		if l.refs.CompareAndSwap(r, r+1) {
			return true
		}
	}
}

func (l *Listener) unpin() {
	if l.refs.Add(-1) == 0 {
		l.seg.close()
	}
}

func (l *Listener) waitSource() *waitSource { return l.src }

// readyToTake reports whether a wait would find something (for a
// WaitSet); ErrClosed once the listener is closed.
func (l *Listener) readyToTake() (bool, error) {
	if !l.pin() {
		return false, ErrClosed
	}
	ok := l.pending()
	l.unpin()
	return ok, nil
}

// pending reports whether a wait would find something; may be stale under
// concurrency. The caller holds a pin.
func (l *Listener) pending() bool { return l.oneLen.Load() > 0 || l.seg.pending() }

// take reports what is pending to fn: first the ids that the *One methods
// drained and did not return yet, then the segment's. It returns the
// number of ids and of notifications reported. The caller holds a pin.
func (l *Listener) take(fn func(EventActivation)) (ids, total int) {
	for l.oneLen.Load() > 0 {
		a, ok := l.popOne()
		if !ok {
			break
		}
		ids++
		total += int(a.Count)
		fn(a)
	}
	i, t := l.seg.drain(fn)
	return ids + i, total + t
}

func (l *Listener) popOne() (EventActivation, bool) {
	l.oneMu.Lock()
	defer l.oneMu.Unlock()
	if l.oneHead >= len(l.one) {
		return EventActivation{}, false
	}
	a := l.one[l.oneHead]
	l.oneHead++
	l.oneLen.Add(-1)
	return a, true
}

// takeOne returns one pending id: the next that an earlier drain buffered,
// or the first of a new drain, whose other ids it buffers.
func (l *Listener) takeOne() (EventActivation, bool) {
	l.oneMu.Lock()
	defer l.oneMu.Unlock()
	if l.oneHead >= len(l.one) {
		if l.one == nil {
			l.one = make([]EventActivation, 0, l.ev.numIDs)
		}
		l.one, l.oneHead = l.one[:0], 0
		l.seg.drain(func(a EventActivation) { l.one = append(l.one, a) })
		l.oneLen.Store(int32(len(l.one)))
		if len(l.one) == 0 {
			return EventActivation{}, false
		}
	}
	a := l.one[l.oneHead]
	l.oneHead++
	l.oneLen.Add(-1)
	return a, true
}

// Wait modes: a deadline of tryOnce takes what is there, noDeadline blocks
// until something arrives, anything else is a CLOCK_MONOTONIC deadline.
const (
	tryOnce    int64 = 0
	noDeadline int64 = -1
)

func deadlineAfter(d time.Duration) int64 {
	if d <= 0 {
		return tryOnce
	}
	return futex.Now() + int64(d)
}

// wait calls try until it reports success, sleeping on the listener's
// waitpoint between attempts until deadline (see tryOnce, noDeadline),
// ctx ends (nil: never), the listener closes or a handled signal arrives.
func (l *Listener) wait(ctx context.Context, deadline int64, try func() bool) error {
	if !l.pin() {
		return ErrClosed
	}
	defer l.unpin()
	node := l.ev.core.node
	var t *time.Timer
	spun := false
	var start time.Time // of the wait, from the first attempt that found nothing
	for {
		if try() {
			putTimer(t)
			if spun {
				l.wp.waited(time.Since(start))
			}
			return nil
		}
		left := time.Duration(-1)
		if deadline != noDeadline {
			if deadline == tryOnce {
				putTimer(t)
				return nil
			}
			if left = time.Duration(deadline - futex.Now()); left <= 0 {
				putTimer(t)
				return nil
			}
		}
		if err := node.blockErr(ctx); err != nil {
			putTimer(t)
			return err
		}
		if !spun {
			// Spin first, as block does (see spinFor), if the last wait
			// was short.
			spun, start = true, time.Now()
			limit := spinFor
			if left >= 0 {
				limit = min(limit, left)
			}
			for l.wp.spins() && time.Since(start) < limit {
				goruntime.Gosched()
				if l.pending() {
					break
				}
			}
			continue
		}
		ch := l.wp.wait() // SYNC POINT W-arm, before the checks below
		if ch == nil || l.closed.Load() {
			if ch != nil {
				l.wp.unwait(ch)
			}
			putTimer(t)
			return ErrClosed
		}
		if l.pending() {
			l.wp.unwait(ch)
			continue
		}
		var tc <-chan time.Time
		if left >= 0 {
			if t == nil {
				t = getTimer(left)
			} else {
				t.Reset(left)
			}
			tc = t.C
		}
		select {
		case <-ch:
		case <-l.wp.done:
		case <-doneOf(ctx):
		case <-node.signalChan():
		case <-tc:
		}
		l.wp.unwait(ch)
	}
}

// TryWait reports every pending event to fn, once per id with the number
// of notifications of that id (iceoryx2's try_wait with EventActivation),
// and returns the number of notifications. It never blocks.
func (l *Listener) TryWait(fn func(EventActivation)) (int, error) {
	return l.waitAct(nil, tryOnce, fn)
}

// TimedWait is TryWait that first waits up to d for an event.
func (l *Listener) TimedWait(fn func(EventActivation), d time.Duration) (int, error) {
	return l.waitAct(nil, deadlineAfter(d), fn)
}

// BlockingWait is TryWait that first waits until an event arrives. It
// returns ctx.Err() when ctx ends, and ErrNodeInterrupted or
// ErrNodeTerminationRequest on SIGINT or SIGTERM when the node handles
// signals.
func (l *Listener) BlockingWait(ctx context.Context, fn func(EventActivation)) (int, error) {
	return l.waitAct(ctx, noDeadline, fn)
}

func (l *Listener) waitAct(ctx context.Context, deadline int64, fn func(EventActivation)) (int, error) {
	var total int
	err := l.wait(ctx, deadline, func() bool {
		_, total = l.take(fn)
		return total > 0
	})
	return total, err
}

// TryWaitAll calls fn once for every event id that was notified since the
// last wait (iceoryx2 v0.9.3's try_wait_all; several notifications of one
// id are reported once: TryWait gives their number) and returns the
// number of ids. It never blocks.
func (l *Listener) TryWaitAll(fn func(EventID)) (int, error) {
	return l.waitAll(nil, tryOnce, fn)
}

// TimedWaitAll is TryWaitAll that first waits up to d for an event.
func (l *Listener) TimedWaitAll(fn func(EventID), d time.Duration) (int, error) {
	return l.waitAll(nil, deadlineAfter(d), fn)
}

// BlockingWaitAll is TryWaitAll that first waits until an event arrives;
// see BlockingWait for how it ends otherwise.
func (l *Listener) BlockingWaitAll(ctx context.Context, fn func(EventID)) (int, error) {
	return l.waitAll(ctx, noDeadline, fn)
}

func (l *Listener) waitAll(ctx context.Context, deadline int64, fn func(EventID)) (int, error) {
	var ids int
	err := l.wait(ctx, deadline, func() bool {
		ids, _ = l.take(func(a EventActivation) { fn(a.ID) })
		return ids > 0
	})
	return ids, err
}

// TryWaitOne returns one event id that was notified since it was last
// returned, and false when there is none. It never blocks. Ids are
// coalesced as in TryWaitAll.
func (l *Listener) TryWaitOne() (EventID, bool, error) { return l.waitOne(nil, tryOnce) }

// TimedWaitOne is TryWaitOne that first waits up to d for an event.
func (l *Listener) TimedWaitOne(d time.Duration) (EventID, bool, error) {
	return l.waitOne(nil, deadlineAfter(d))
}

// BlockingWaitOne waits until an event arrives and returns its id; see
// BlockingWait for how it ends otherwise.
func (l *Listener) BlockingWaitOne(ctx context.Context) (EventID, error) {
	id, _, err := l.waitOne(ctx, noDeadline)
	return id, err
}

func (l *Listener) waitOne(ctx context.Context, deadline int64) (EventID, bool, error) {
	var a EventActivation
	var ok bool
	err := l.wait(ctx, deadline, func() bool {
		a, ok = l.takeOne()
		return ok
	})
	return a.ID, ok, err
}

// Events returns an iterator over the listener's events, for a range loop:
//
//	for ev, err := range listener.Events(ctx) {
//		if err != nil {
//			return err // ctx ended, or the listener closed
//		}
//		handle(ev.ID, ev.Count)
//	}
//
// Each iteration waits for the next event id that was notified (as
// BlockingWaitOne) and yields it with the number of its notifications
// (coalesced, as TryWait reports them). An EventActivation is a value:
// there is nothing to release or keep. When a wait fails (ctx ended, the
// listener closed, a handled signal), the iterator yields the error once
// and stops.
func (l *Listener) Events(ctx context.Context) iter.Seq2[EventActivation, error] {
	return func(yield func(EventActivation, error) bool) {
		for {
			var a EventActivation
			var ok bool
			err := l.wait(ctx, noDeadline, func() bool {
				a, ok = l.takeOne()
				return ok
			})
			if err != nil {
				yield(EventActivation{}, err)
				return
			}
			if !yield(a, nil) {
				return
			}
		}
	}
}
