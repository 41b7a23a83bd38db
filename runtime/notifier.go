package runtime

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iox2go/iox2go/runtime/internal/futex"
	"github.com/iox2go/iox2go/runtime/internal/protocol"
)

// NotifierBuilder configures a notifier.
type NotifierBuilder struct {
	svc       *EventService
	defaultID EventID
}

// NotifierBuilder starts building a notifier whose default event id is 0.
func (s *EventService) NotifierBuilder() *NotifierBuilder { return &NotifierBuilder{svc: s} }

// Notifier creates a notifier with the default settings.
func (s *EventService) Notifier() (*Notifier, error) { return s.NotifierBuilder().Create() }

// DefaultEventID sets the id that Notify sends.
func (b *NotifierBuilder) DefaultEventID(id EventID) *NotifierBuilder { b.defaultID = id; return b }

// Notifier wakes the listeners of an event service. It is safe for
// concurrent use.
type Notifier struct {
	ev        *eventCore
	id        ID
	slot      int
	defaultID EventID

	mu     sync.Mutex
	closed bool
	conns  []*notifierConn // by listener slot
	seen   uint32          // change count last acted on
}

// notifierConn is a notifier's mapping of one listener's event segment.
type notifierConn struct {
	listener ID
	seg      *eventSeg
	node     *atomic.Uint64 // the listener slot's node word, to ring
}

// Create creates the notifier, connects it to the service's listeners and,
// if the service defines a notifier created event, sends it.
func (b *NotifierBuilder) Create() (*Notifier, error) {
	ev := b.svc.ev
	op := "create notifier"
	if err := ev.core.enter(op); err != nil {
		return nil, err
	}
	defer ev.core.exit()
	if uint64(b.defaultID) > uint64(ev.qos.EventIDMaxValue) {
		return nil, &ServiceError{Op: op, Service: ev.core.name, Err: ErrEventIDOutOfBounds,
			Detail: fmt.Sprintf("default event id %d, the service's max is %d", b.defaultID, ev.qos.EventIDMaxValue)}
	}
	node := ev.core.node
	d := ev.core.dyn
	n := &Notifier{ev: ev, id: newID(), defaultID: b.defaultID, conns: make([]*notifierConn, ev.qos.MaxListeners)}
	n.slot = protocol.Claim(d.Pubs, n.id, node.id)
	if n.slot < 0 {
		return nil, &ServiceError{Op: op, Service: ev.core.name, Err: ErrExceedsMaxNotifiers,
			Detail: fmt.Sprintf("the service supports %d", ev.qos.MaxNotifiers)}
	}
	protocol.Activate(&d.Pubs[n.slot])
	d.bump()
	n.mu.Lock()
	n.update()
	if id := ev.qos.NotifierCreatedEvent; id != nil {
		n.deliver(uint32(*id))
	}
	n.mu.Unlock()
	if err := ev.core.addPort(n); err != nil {
		n.closePort()
		return nil, err
	}
	return n, nil
}

// ID returns the notifier's port ID.
func (n *Notifier) ID() ID { return n.id }

// Deadline returns the service's deadline, if it has one.
func (n *Notifier) Deadline() (time.Duration, bool) {
	return time.Duration(n.ev.deadline), n.ev.deadline > 0
}

// Notify notifies every listener of the service with the notifier's
// default event id; see NotifyWithCustomEventID.
func (n *Notifier) Notify() (int, error) { return n.NotifyWithCustomEventID(n.defaultID) }

// NotifyWithCustomEventID notifies every listener of the service with id
// and returns how many it reached. Every listener that existed when it was
// called receives the notification. It fails with ErrEventIDOutOfBounds
// (delivering nothing) when id exceeds the service's event id max value,
// and returns ErrMissedDeadline, after delivering, when the service has a
// deadline and the previous notification of any notifier of the service
// is older than that.
func (n *Notifier) NotifyWithCustomEventID(id EventID) (int, error) {
	if uint64(id) > uint64(n.ev.qos.EventIDMaxValue) {
		return 0, fmt.Errorf("%w: id %d, the service's max is %d", ErrEventIDOutOfBounds, id, n.ev.qos.EventIDMaxValue)
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return 0, ErrClosed
	}
	n.update()
	k := n.deliver(uint32(id))
	var now, prev int64
	dl := n.ev.deadline
	if dl > 0 {
		now = futex.Now()
		// SYNC POINT last-notification: shared by every notifier of the
		// service; each Swap sees the previous one's time. Under n.mu:
		// the service unmaps its dynamic segment only after closing this
		// port, which takes n.mu.
		prev = n.ev.core.dyn.Hdr.LastNotification.Swap(now)
	}
	n.mu.Unlock()
	if dl > 0 && prev != 0 && now-prev > dl {
		return k, fmt.Errorf("%w: %v since the previous notification, deadline %v",
			ErrMissedDeadline, time.Duration(now-prev), time.Duration(dl))
	}
	return k, nil
}

// deliver notifies every connected listener. Must be called with n.mu held.
func (n *Notifier) deliver(id uint32) int {
	k := 0
	cfg := n.ev.core.node.config
	for _, c := range n.conns {
		if c != nil {
			c.seg.notify(id, cfg, c.node)
			k++
		}
	}
	return k
}

// update maps the event segments of new listeners and drops those of
// vanished ones. Must be called with n.mu held. The common case is one
// atomic load.
func (n *Notifier) update() {
	d := n.ev.core.dyn
	cur := d.changeCount()
	if cur == n.seen {
		return
	}
	n.seen = cur
	node := n.ev.core.node
	for i := range d.Subs {
		pi, ok := protocol.Snapshot(&d.Subs[i])
		c := n.conns[i]
		if c != nil && (!ok || pi.ID != c.listener) {
			n.conns[i] = nil
			c.seg.close()
			c = nil
		}
		if ok && c == nil {
			// The listener published its segment before it activated its
			// slot; a failure means it is going away again, or garbage.
			seg, err := openEventSegment(node.shm, node.config.eventName(pi.ID), pi.ID, n.ev.numIDs, 0)
			if err == nil {
				n.conns[i] = &notifierConn{listener: pi.ID, seg: seg, node: &d.Subs[i].Node}
			}
		}
	}
}

// maintain is called by the service's rounds: it maps new listeners'
// segments ahead of the next Notify.
func (n *Notifier) maintain() (done, wake bool) {
	if !n.mu.TryLock() {
		return false, false
	}
	if !n.closed {
		n.update()
	}
	n.mu.Unlock()
	return true, false
}

func (n *Notifier) waitpoint() *waitpoint { return nil }

// Close closes the notifier, after sending the service's notifier dropped
// event if it defines one.
func (n *Notifier) Close() error { return n.closePort() }

func (n *Notifier) closePort() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.update()
	if id := n.ev.qos.NotifierDroppedEvent; id != nil {
		n.deliver(uint32(*id))
	}
	n.closed = true
	d := n.ev.core.dyn
	protocol.Release(&d.Pubs[n.slot], n.ev.core.node.id)
	d.bump()
	for i, c := range n.conns {
		if c != nil {
			c.seg.close()
			n.conns[i] = nil
		}
	}
	n.mu.Unlock()
	n.ev.core.removePort(n)
	return nil
}
