package runtime

import (
	"fmt"
	"time"

	"github.com/iox2go/iox2go/runtime/internal/futex"
	"github.com/iox2go/iox2go/runtime/internal/protocol"
	"github.com/iox2go/iox2go/runtime/shm"
)

// EventID identifies an event of an event service: 0 to the service's
// EventIDMaxValue.
type EventID = protocol.EventID

// EventActivation is what a listener reports for one event id: the id and
// how many notifications of it arrived since the listener last took it
// (iceoryx2's coalesced EventActivation).
type EventActivation struct {
	ID    EventID
	Count uint64
}

// maxEventIDLimit bounds EventIDMaxValue: a listener's segment holds one
// 8-byte counter per id.
const maxEventIDLimit = 1<<16 - 1

// MinEventDeadline bounds a service's deadline from below (0, no deadline,
// aside). A WaitSet that watches a deadline wakes once per deadline while
// no notification comes, and a sleeping thread wakes tens to hundreds of
// microseconds late under load: a shorter deadline would burn a core and
// be missed for nothing.
const MinEventDeadline = time.Millisecond

// EventQoS is the quality of service of an event service. The defaults
// are iceoryx2's.
type EventQoS struct {
	MaxNotifiers    int           // default 16
	MaxListeners    int           // default 16
	MaxNodes        int           // default 36
	EventIDMaxValue int           // default 255: ids 0..255; at most 65535
	Deadline        time.Duration // default 0: no deadline; else at least MinEventDeadline
	// The events a notifier sends by itself when it is created, when it is
	// closed, and that the process cleaning up a dead node sends for each
	// of the node's notifiers. nil (the default) sends none.
	NotifierCreatedEvent *EventID
	NotifierDroppedEvent *EventID
	NotifierDeadEvent    *EventID
}

// DefaultEventQoS returns iceoryx2's event defaults.
func DefaultEventQoS() EventQoS {
	return EventQoS{MaxNotifiers: 16, MaxListeners: 16, MaxNodes: 36, EventIDMaxValue: 255}
}

// EventStatic is the event part of a StaticConfig.
type EventStatic = protocol.EventStatic

func optID(p *EventID) *EventID {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func fmtOptID(p *EventID) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprint(uint64(*p))
}

func fmtDeadline(d time.Duration) string {
	if d == 0 {
		return "none"
	}
	return d.String()
}

func (q *EventQoS) validate() error {
	const limit = 1 << 16
	for _, v := range []struct {
		name     string
		n        int
		min, max int
	}{
		{"max notifiers", q.MaxNotifiers, 1, limit},
		{"max listeners", q.MaxListeners, 1, limit},
		{"max nodes", q.MaxNodes, 1, limit},
		{"event id max value", q.EventIDMaxValue, 0, maxEventIDLimit},
	} {
		if v.n < v.min || v.n > v.max {
			return fmt.Errorf("%s is %d, must be in [%d, %d]", v.name, v.n, v.min, v.max)
		}
	}
	if q.Deadline < 0 {
		return fmt.Errorf("deadline is %v, must be positive (or 0 for none)", q.Deadline)
	}
	if q.Deadline > 0 && q.Deadline < MinEventDeadline {
		return fmt.Errorf("deadline is %v, must be at least %v (or 0 for none)", q.Deadline, MinEventDeadline)
	}
	for _, e := range []struct {
		name string
		id   *EventID
	}{{"notifier created event", q.NotifierCreatedEvent}, {"notifier dropped event", q.NotifierDroppedEvent}, {"notifier dead event", q.NotifierDeadEvent}} {
		if e.id != nil && uint64(*e.id) > uint64(q.EventIDMaxValue) {
			return fmt.Errorf("%s %d exceeds the event id max value %d", e.name, *e.id, q.EventIDMaxValue)
		}
	}
	return nil
}

// EventBuilder configures an event service. Obtain one with Event; finish
// it with Create, Open or OpenOrCreate.
//
// As in iceoryx2, a value set on the builder is a requirement when the
// service is opened: the counts and the event id max value must be at
// least what was set, the deadline and the three notifier events exactly
// what was set (Disable* requires their absence). Unset values take the
// defaults of the node's Config (Config.Defaults.Event) on creation and are
// not checked on open.
type EventBuilder struct {
	node  *Node
	name  string
	qos   EventQoS
	set   eventSet
	attrs []Attribute
	reqs  []Attribute
	err   error // deferred to Create/Open
}

type eventSet struct {
	notifiers, listeners, nodes, maxID, deadline, created, dropped, dead bool
}

// Event starts building the event service name on node.
func Event(node *Node, name string) *EventBuilder {
	b := &EventBuilder{node: node, name: name}
	if node != nil {
		b.qos = node.config.Defaults.Event
	} else {
		b.qos = DefaultEventQoS()
	}
	b.qos.NotifierCreatedEvent = optID(b.qos.NotifierCreatedEvent)
	b.qos.NotifierDroppedEvent = optID(b.qos.NotifierDroppedEvent)
	b.qos.NotifierDeadEvent = optID(b.qos.NotifierDeadEvent)
	return b
}

// MaxNotifiers sets how many notifiers the service supports at once.
func (b *EventBuilder) MaxNotifiers(n int) *EventBuilder {
	b.qos.MaxNotifiers, b.set.notifiers = n, true
	return b
}

// MaxListeners sets how many listeners the service supports at once.
func (b *EventBuilder) MaxListeners(n int) *EventBuilder {
	b.qos.MaxListeners, b.set.listeners = n, true
	return b
}

// MaxNodes sets how many nodes may have the service open at once.
func (b *EventBuilder) MaxNodes(n int) *EventBuilder {
	b.qos.MaxNodes, b.set.nodes = n, true
	return b
}

// EventIDMaxValue sets the largest event id of the service (ids are 0..n).
func (b *EventBuilder) EventIDMaxValue(n int) *EventBuilder {
	b.qos.EventIDMaxValue, b.set.maxID = n, true
	return b
}

// Deadline sets the longest time allowed between two notifications of the
// service: a Notify later than that after the previous one still delivers,
// and reports ErrMissedDeadline. Listeners learn it from Listener.Deadline,
// to attach themselves to a WaitSet with it.
func (b *EventBuilder) Deadline(d time.Duration) *EventBuilder {
	b.qos.Deadline, b.set.deadline = d, true
	if d <= 0 {
		b.err = fmt.Errorf("deadline is %v, must be positive (DisableDeadline removes it)", d)
	}
	return b
}

// DisableDeadline creates the service without a deadline, and requires an
// opened one to have none.
func (b *EventBuilder) DisableDeadline() *EventBuilder {
	b.qos.Deadline, b.set.deadline = 0, true
	return b
}

// NotifierCreatedEvent sets the event that every new notifier sends.
func (b *EventBuilder) NotifierCreatedEvent(id EventID) *EventBuilder {
	b.qos.NotifierCreatedEvent, b.set.created = &id, true
	return b
}

// DisableNotifierCreatedEvent makes new notifiers send nothing (and requires it on open).
func (b *EventBuilder) DisableNotifierCreatedEvent() *EventBuilder {
	b.qos.NotifierCreatedEvent, b.set.created = nil, true
	return b
}

// NotifierDroppedEvent sets the event that every notifier sends when it is closed.
func (b *EventBuilder) NotifierDroppedEvent(id EventID) *EventBuilder {
	b.qos.NotifierDroppedEvent, b.set.dropped = &id, true
	return b
}

// DisableNotifierDroppedEvent makes closing notifiers send nothing (and requires it on open).
func (b *EventBuilder) DisableNotifierDroppedEvent() *EventBuilder {
	b.qos.NotifierDroppedEvent, b.set.dropped = nil, true
	return b
}

// NotifierDeadEvent sets the event that the process cleaning up a dead
// node sends to the service's listeners for each notifier the node had.
func (b *EventBuilder) NotifierDeadEvent(id EventID) *EventBuilder {
	b.qos.NotifierDeadEvent, b.set.dead = &id, true
	return b
}

// DisableNotifierDeadEvent sends nothing for dead notifiers (and requires it on open).
func (b *EventBuilder) DisableNotifierDeadEvent() *EventBuilder {
	b.qos.NotifierDeadEvent, b.set.dead = nil, true
	return b
}

// Attribute adds a key=value attribute that Create stores with the service.
func (b *EventBuilder) Attribute(key, value string) *EventBuilder {
	b.attrs = append(b.attrs, Attribute{Key: key, Value: value})
	return b
}

// RequireAttribute makes Open fail unless the service has key=value (an
// empty value requires only the key).
func (b *EventBuilder) RequireAttribute(key, value string) *EventBuilder {
	b.reqs = append(b.reqs, Attribute{Key: key, Value: value})
	return b
}

// Create creates the service; it fails with ErrServiceExists if it exists.
func (b *EventBuilder) Create() (*EventService, error) { return b.open(modeCreate) }

// Open opens the existing service; it fails with ErrServiceNotExist if there
// is none and with ErrIncompatibleQoS or ErrIncompatibleAttributes when it
// does not meet the builder's requirements.
func (b *EventBuilder) Open() (*EventService, error) { return b.open(modeOpen) }

// OpenOrCreate opens the service, or creates it if it does not exist.
func (b *EventBuilder) OpenOrCreate() (*EventService, error) { return b.open(modeOpenOrCreate) }

func (b *EventBuilder) open(mode openMode) (*EventService, error) {
	q := b.qos
	err := b.err
	if err == nil {
		err = q.validate()
	}
	if err != nil {
		return nil, &ServiceError{Op: mode.String(), Service: b.name, Err: ErrInvalidQoS, Detail: err.Error()}
	}
	spec := &serviceSpec{
		name:    b.name,
		pattern: PatternEvent,
		caps:    protocol.DynCaps{Nodes: q.MaxNodes, Pubs: q.MaxNotifiers, Subs: q.MaxListeners},
		attrs:   b.attrs,
		reqs:    b.reqs,
		newStatic: func(sc *StaticConfig) {
			sc.Event = &EventStatic{
				MaxNotifiers: q.MaxNotifiers, MaxListeners: q.MaxListeners, MaxNodes: q.MaxNodes,
				EventIDMaxValue: q.EventIDMaxValue, Deadline: q.Deadline,
				NotifierCreatedEvent: optID(q.NotifierCreatedEvent),
				NotifierDroppedEvent: optID(q.NotifierDroppedEvent),
				NotifierDeadEvent:    optID(q.NotifierDeadEvent),
			}
		},
	}
	spec.verify = b.verify
	spec.capsOf = func(sc *StaticConfig) protocol.DynCaps {
		return protocol.DynCaps{Nodes: sc.Event.MaxNodes, Pubs: sc.Event.MaxNotifiers, Subs: sc.Event.MaxListeners}
	}
	spec.limits = func(sc *StaticConfig, cfg *Config) (error, string) {
		have := eventStaticQoS(sc.Event)
		if err := have.validate(); err != nil {
			return ErrServiceCorrupted, err.Error()
		}
		if err := checkEvent(&have, cfg.PortMemoryLimit); err != nil {
			return ErrResourceLimit, err.Error()
		}
		return nil, ""
	}
	core, err := openService(b.node, spec, mode)
	if err != nil {
		return nil, err
	}
	// The QoS passed spec.limits, before the service was opened.
	have := eventStaticQoS(core.static.Event)
	ev := &eventCore{core: core, qos: have, numIDs: uint32(have.EventIDMaxValue) + 1, deadline: int64(have.Deadline)}
	if ev.deadline > 0 {
		// iceoryx2 measures the first gap from the service's creation; the
		// first process to open the service starts the clock.
		// SYNC POINT last-notification: paired with Notify's Swap.
		core.dyn.Hdr.LastNotification.CompareAndSwap(0, futex.Now())
	}
	return &EventService{ev: ev}, nil
}

func eventStaticQoS(es *EventStatic) EventQoS {
	return EventQoS{
		MaxNotifiers: es.MaxNotifiers, MaxListeners: es.MaxListeners, MaxNodes: es.MaxNodes,
		EventIDMaxValue: es.EventIDMaxValue, Deadline: es.Deadline,
		NotifierCreatedEvent: optID(es.NotifierCreatedEvent),
		NotifierDroppedEvent: optID(es.NotifierDroppedEvent),
		NotifierDeadEvent:    optID(es.NotifierDeadEvent),
	}
}

// verify checks an existing service against the builder's requirements.
// iceoryx2 has one error per field (IncompatibleDeadline,
// DoesNotSupportRequestedAmountOfNotifiers, ...); as for publish-subscribe,
// iox2go reports them all as ErrIncompatibleQoS with a detail that names
// the field and both values.
func (b *EventBuilder) verify(sc *StaticConfig) (error, string) {
	es := sc.Event
	if es == nil {
		return ErrServiceCorrupted, "static config has no event section"
	}
	q, s := &b.qos, &b.set
	for _, c := range []struct {
		set       bool
		name      string
		want, got int
	}{
		{s.notifiers, "max notifiers", q.MaxNotifiers, es.MaxNotifiers},
		{s.listeners, "max listeners", q.MaxListeners, es.MaxListeners},
		{s.nodes, "max nodes", q.MaxNodes, es.MaxNodes},
		{s.maxID, "event id max value", q.EventIDMaxValue, es.EventIDMaxValue},
	} {
		if c.set && c.got < c.want {
			return ErrIncompatibleQoS, fmt.Sprintf("requested %s of at least %d, service has %d", c.name, c.want, c.got)
		}
	}
	if s.deadline && q.Deadline != es.Deadline {
		return ErrIncompatibleQoS, fmt.Sprintf("requested deadline %s, service has %s", fmtDeadline(q.Deadline), fmtDeadline(es.Deadline))
	}
	for _, e := range []struct {
		set       bool
		name      string
		want, got *EventID
	}{
		{s.created, "notifier created event", q.NotifierCreatedEvent, es.NotifierCreatedEvent},
		{s.dropped, "notifier dropped event", q.NotifierDroppedEvent, es.NotifierDroppedEvent},
		{s.dead, "notifier dead event", q.NotifierDeadEvent, es.NotifierDeadEvent},
	} {
		if e.set && fmtOptID(e.want) != fmtOptID(e.got) {
			return ErrIncompatibleQoS, fmt.Sprintf("requested %s %s, service has %s", e.name, fmtOptID(e.want), fmtOptID(e.got))
		}
	}
	return nil, ""
}

// eventCore is the part of an open event service that its ports share.
type eventCore struct {
	core     *serviceCore
	qos      EventQoS // as stored in the static config
	numIDs   uint32   // EventIDMaxValue + 1
	deadline int64    // nanoseconds; 0: none
}

// EventService is an open event service: the factory of its notifiers and
// listeners (iceoryx2's port factory). It is safe for concurrent use.
type EventService struct {
	ev *eventCore
}

// Name returns the service name.
func (s *EventService) Name() string { return s.ev.core.name }

// QoS returns the service's quality of service as stored when it was created.
func (s *EventService) QoS() EventQoS {
	q := s.ev.qos
	q.NotifierCreatedEvent = optID(q.NotifierCreatedEvent)
	q.NotifierDroppedEvent = optID(q.NotifierDroppedEvent)
	q.NotifierDeadEvent = optID(q.NotifierDeadEvent)
	return q
}

// StaticConfig returns the service's static config.
func (s *EventService) StaticConfig() StaticConfig { return *s.ev.core.static }

// Attributes returns the attributes the service was created with.
func (s *EventService) Attributes() []Attribute {
	return append([]Attribute(nil), s.ev.core.static.Attributes...)
}

// NumberOfNotifiers returns how many notifiers the service has; may be
// stale under concurrency. It returns 0 once the service (or its node) is
// closed.
func (s *EventService) NumberOfNotifiers() int { return s.ev.core.countActive(false) }

// NumberOfListeners returns how many listeners the service has; may be
// stale under concurrency. It returns 0 once the service (or its node) is
// closed.
func (s *EventService) NumberOfListeners() int { return s.ev.core.countActive(true) }

// Close closes the notifiers and listeners created through this handle's
// node and leaves the service; the last node to leave removes it.
func (s *EventService) Close() error { return s.ev.core.close() }

// notifyDeadNotifiers sends a dead event for each of n notifiers of a dead
// node to the listeners that the event service of incarnation uid still
// has, if its static config defines a notifier dead event. The cleanup of
// dead nodes calls it after it has removed the dead node's ports.
func notifyDeadNotifiers(cfg *Config, p shm.Provider, d *dynamic, hash, uid string, n int) {
	if n == 0 {
		return
	}
	sc, err := readStatic(cfg.staticPath(hash), hash)
	if err != nil || sc.UID != uid || sc.Event == nil || sc.Event.NotifierDeadEvent == nil {
		return
	}
	q := eventStaticQoS(sc.Event)
	if q.validate() != nil || len(d.Subs) != q.MaxListeners {
		return
	}
	id := uint32(*q.NotifierDeadEvent)
	for i := range d.Subs {
		pi, ok := protocol.Snapshot(&d.Subs[i])
		if !ok {
			continue
		}
		seg, err := openEventSegment(p, cfg.eventName(pi.ID), pi.ID, uint32(q.EventIDMaxValue)+1, cfg.CreationTimeout)
		if err != nil {
			continue
		}
		for range n {
			seg.notify(id, cfg, &d.Subs[i].Node)
		}
		seg.close()
	}
}
