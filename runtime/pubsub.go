package runtime

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
)

// pubSubCore is the untyped part of an open publish-subscribe service.
type pubSubCore struct {
	core    *serviceCore
	qos     PubSubQoS // as stored in the static config
	payload TypeInfo
	slice   bool     // payload variant dynamic
	header  TypeInfo // user header; Size 0 when none
}

type publisherOpts struct {
	maxLoans int
	strategy Backpressure
	maxSlice int
	exclude  ID
}

// newPublisher creates a publisher: a sender to the subscribers, in the
// first array of port slots.
func newPublisher(svc *pubSubCore, o publisherOpts) (*sender, error) {
	q := &svc.qos
	op := "create publisher"
	if err := svc.core.enter(op); err != nil {
		return nil, err
	}
	defer svc.core.exit()
	if o.maxLoans < 1 || o.maxSlice < 1 {
		return nil, &ServiceError{Op: op, Service: svc.core.name, Err: ErrInvalidQoS,
			Detail: fmt.Sprintf("max loaned samples %d and max slice length %d must be at least 1", o.maxLoans, o.maxSlice)}
	}
	node := svc.core.node
	f := publisherFootprint(q, svc.payload, svc.header, o.maxLoans, o.maxSlice)
	if err := f.check(node.config.PortMemoryLimit); err != nil {
		return nil, &ServiceError{Op: op, Service: svc.core.name, Err: ErrResourceLimit, Detail: err.Error()}
	}
	d := svc.core.dyn
	id := newID()
	slot := protocol.Claim(d.Pubs, id, node.id)
	if slot < 0 {
		return nil, &ServiceError{Op: op, Service: svc.core.name, Err: ErrExceedsMaxPublishers,
			Detail: fmt.Sprintf("the service supports %d", q.MaxPublishers)}
	}
	p, err := newSender(senderOpts{
		core: svc.core, id: id, op: op, mu: new(sync.Mutex), peers: d.Subs,
		connFor: func(pi protocol.PortInfo) connSpec {
			buf, hist := subscriberBuffer(q, pi)
			limit := buf + q.SubscriberMaxBorrowedSamples
			return connSpec{layout: protocol.NewConnLayout(1, uint32(buf), completionCap(limit)), limit: limit, history: hist}
		},
		elem: svc.payload, header: svc.header, maxSlice: o.maxSlice,
		numChunks: q.MaxSubscribers*(q.SubscriberMaxBufferSize+q.SubscriberMaxBorrowedSamples) + q.HistorySize + o.maxLoans,
		maxLoans:  o.maxLoans, history: q.HistorySize, safeOverflow: q.EnableSafeOverflow, strategy: o.strategy,
		exclude: o.exclude,
	})
	if err != nil {
		protocol.Release(&d.Pubs[slot], node.id)
		return nil, err
	}
	p.own, p.slot = d.Pubs, slot
	s := &d.Pubs[slot]
	s.SetPublisher(protocol.PublisherSlot{MaxSliceLen: p.maxSlice})
	protocol.Activate(s)
	d.bump()
	p.mu.Lock()
	p.update()
	err = p.connError(op, -1)
	p.mu.Unlock()
	if err != nil {
		// A subscriber that exists now would miss every sample.
		p.closePort()
		return nil, err
	}
	if err := svc.core.addPort(p); err != nil {
		p.closePort()
		return nil, err
	}
	return p, nil
}

// subscriberBuffer derives a subscriber's buffer size and history request
// from its slot, clamped to what the service allows (the slot is written
// by another process).
func subscriberBuffer(q *PubSubQoS, pi protocol.PortInfo) (buf, hist int) {
	v := pi.Subscriber()
	buf = int(min(max(v.BufferSize, 1), uint64(q.SubscriberMaxBufferSize)))
	hist = int(min(v.HistoryRequest, uint64(q.HistorySize), uint64(buf)))
	return buf, hist
}

type subscriberOpts struct {
	bufSize, histReq int
	histSet          bool
}

// newSubscriber creates a subscriber: a receiver from the publishers, in
// the second array of port slots.
func newSubscriber(svc *pubSubCore, o subscriberOpts) (*receiver, error) {
	q := &svc.qos
	op := "create subscriber"
	if err := svc.core.enter(op); err != nil {
		return nil, err
	}
	defer svc.core.exit()
	if o.bufSize < 1 {
		return nil, &ServiceError{Op: op, Service: svc.core.name, Err: ErrInvalidQoS, Detail: fmt.Sprintf("buffer size %d must be at least 1", o.bufSize)}
	}
	if o.bufSize > q.SubscriberMaxBufferSize {
		return nil, &ServiceError{Op: op, Service: svc.core.name, Err: ErrBufferSizeExceedsMax,
			Detail: fmt.Sprintf("requested %d, the service allows %d", o.bufSize, q.SubscriberMaxBufferSize)}
	}
	if !o.histSet {
		o.histReq = min(q.HistorySize, o.bufSize)
	}
	if o.histReq < 0 || o.histReq > q.HistorySize || o.histReq > o.bufSize {
		return nil, &ServiceError{Op: op, Service: svc.core.name, Err: ErrHistoryRequestExceeds,
			Detail: fmt.Sprintf("requested %d, the service keeps %d and the buffer holds %d", o.histReq, q.HistorySize, o.bufSize)}
	}
	node := svc.core.node
	d := svc.core.dyn
	s := newReceiver(receiverOpts{
		core: svc.core, id: newID(), mu: new(sync.Mutex), peers: d.Pubs,
		elem: svc.payload, header: svc.header, slice: svc.slice,
		layout:      protocol.NewConnLayout(1, uint32(o.bufSize), completionCap(o.bufSize+q.SubscriberMaxBorrowedSamples)),
		maxBorrowed: q.SubscriberMaxBorrowedSamples, connMaxBorrowed: q.SubscriberMaxBorrowedSamples,
	})
	s.bufSize, s.histReq = o.bufSize, o.histReq
	s.slot = protocol.Claim(d.Subs, s.id, node.id)
	if s.slot < 0 {
		return nil, &ServiceError{Op: op, Service: svc.core.name, Err: ErrExceedsMaxSubscribers,
			Detail: fmt.Sprintf("the service supports %d", q.MaxSubscribers)}
	}
	s.own = d.Subs
	s.wp = node.bell.newWaitpoint(&d.Subs[s.slot].Wake, nil)
	s.src = &waitSource{key: s, wp: s.wp, ready: s.hasSamples, what: "subscriber " + s.id.String(), svc: svc.core.name}
	slot := &d.Subs[s.slot]
	slot.SetSubscriber(protocol.SubscriberSlot{BufferSize: uint64(s.bufSize), HistoryRequest: uint64(s.histReq)})
	// From here on, every Send of every publisher reaches us: a publisher
	// checks the change counter on every send and connects first.
	protocol.Activate(slot)
	d.bump()
	s.mu.Lock()
	s.update()
	s.mu.Unlock()
	if err := svc.core.addPort(s); err != nil {
		s.closePort()
		return nil, err
	}
	return s, nil
}

// PublishSubscribeService is an open publish-subscribe service with payload
// type T: the factory of its publishers and subscribers (iceoryx2's port
// factory). It is safe for concurrent use.
type PublishSubscribeService[T any] struct {
	ps *pubSubCore
}

func (b *PublishSubscribeBuilder[T]) spec(op string) (*serviceSpec, TypeInfo, error) {
	ti, err := typeInfoOf[T]()
	if err == nil {
		err = b.err
	}
	if err != nil {
		return nil, ti, &ServiceError{Op: op, Service: b.name, Err: ErrInvalidType, Detail: err.Error()}
	}
	q := b.qos
	if err := q.validate(); err != nil {
		return nil, ti, &ServiceError{Op: op, Service: b.name, Err: ErrInvalidQoS, Detail: err.Error()}
	}
	ps := PubSubStatic{
		Payload:                      ti,
		PayloadVariant:               variant(b.slice),
		UserHeader:                   b.header,
		MaxPublishers:                q.MaxPublishers,
		MaxSubscribers:               q.MaxSubscribers,
		MaxNodes:                     q.MaxNodes,
		HistorySize:                  q.HistorySize,
		SubscriberMaxBufferSize:      q.SubscriberMaxBufferSize,
		SubscriberMaxBorrowedSamples: q.SubscriberMaxBorrowedSamples,
		EnableSafeOverflow:           q.EnableSafeOverflow,
	}
	spec := pubSubSpec(b.name, &ps, b.attrs, b.reqs, func(sc *StaticConfig) (error, string) { return b.verify(sc, &ti) },
		q.PublisherMaxLoanedSamples)
	return spec, ti, nil
}

// pubSubSpec returns the spec of publish-subscribe service name: a service
// it creates stores ps (nil: the spec only opens), verify checks an
// existing one, and maxLoans is the default of the publishers that this
// process creates, with which the limits are checked. Shared by the typed
// and the raw builders.
func pubSubSpec(name string, ps *PubSubStatic, attrs, reqs []Attribute, verify func(*StaticConfig) (error, string), maxLoans int) *serviceSpec {
	spec := &serviceSpec{
		name:    name,
		pattern: PatternPublishSubscribe,
		attrs:   attrs,
		reqs:    reqs,
		verify:  verify,
		capsOf: func(sc *StaticConfig) protocol.DynCaps {
			ps := sc.PublishSubscribe
			return protocol.DynCaps{Nodes: ps.MaxNodes, Pubs: ps.MaxPublishers, Subs: ps.MaxSubscribers}
		},
		limits: func(sc *StaticConfig, cfg *Config) (error, string) {
			ps := sc.PublishSubscribe
			q := pubSubStaticQoS(ps, maxLoans)
			if err := q.validate(); err != nil {
				return ErrServiceCorrupted, err.Error()
			}
			var header TypeInfo
			if ps.UserHeader != nil {
				header = *ps.UserHeader
			}
			if err := checkPubSub(&q, ps.Payload, header, cfg.PortMemoryLimit); err != nil {
				return ErrResourceLimit, err.Error()
			}
			return nil, ""
		},
	}
	if ps != nil {
		spec.caps = protocol.DynCaps{Nodes: ps.MaxNodes, Pubs: ps.MaxPublishers, Subs: ps.MaxSubscribers}
		spec.newStatic = func(sc *StaticConfig) {
			c := *ps
			sc.PublishSubscribe = &c
		}
	}
	return spec
}

// pubSubStaticQoS returns the QoS that ps stores, with maxLoans as the publishers'
// default.
func pubSubStaticQoS(ps *PubSubStatic, maxLoans int) PubSubQoS {
	return PubSubQoS{
		MaxPublishers:                ps.MaxPublishers,
		MaxSubscribers:               ps.MaxSubscribers,
		MaxNodes:                     ps.MaxNodes,
		HistorySize:                  ps.HistorySize,
		SubscriberMaxBufferSize:      ps.SubscriberMaxBufferSize,
		SubscriberMaxBorrowedSamples: ps.SubscriberMaxBorrowedSamples,
		EnableSafeOverflow:           ps.EnableSafeOverflow,
		PublisherMaxLoanedSamples:    maxLoans,
	}
}

const (
	variantFixed   = "fixed"
	variantDynamic = "dynamic"
)

func variant(slice bool) string {
	if slice {
		return variantDynamic
	}
	return variantFixed
}

func (q *PubSubQoS) validate() error {
	const limit = 1 << 16
	for _, v := range []struct {
		name string
		n    int
		min  int
	}{
		{"max publishers", q.MaxPublishers, 1},
		{"max subscribers", q.MaxSubscribers, 1},
		{"max nodes", q.MaxNodes, 1},
		{"history size", q.HistorySize, 0},
		{"subscriber max buffer size", q.SubscriberMaxBufferSize, 1},
		{"subscriber max borrowed samples", q.SubscriberMaxBorrowedSamples, 1},
		{"publisher max loaned samples", q.PublisherMaxLoanedSamples, 1},
	} {
		if v.n < v.min || v.n > limit {
			return fmt.Errorf("%s is %d, must be in [%d, %d]", v.name, v.n, v.min, limit)
		}
	}
	if !q.EnableSafeOverflow && q.SubscriberMaxBufferSize < q.HistorySize {
		return fmt.Errorf("without safe overflow the subscriber max buffer size (%d) must be at least the history size (%d)",
			q.SubscriberMaxBufferSize, q.HistorySize)
	}
	return nil
}

// verify checks an existing service against the builder: its payload type
// must be the same, and every QoS value set on the builder must be met.
func (b *PublishSubscribeBuilder[T]) verify(sc *StaticConfig, ti *TypeInfo) (error, string) {
	ps := sc.PublishSubscribe
	if ps == nil {
		return ErrServiceCorrupted, "static config has no publish-subscribe section"
	}
	if err, d := verifyPubSubTypes(ps, ti, b.slice, b.header); err != nil {
		return err, d
	}
	q, s := &b.qos, &b.set
	for _, c := range []struct {
		set       bool
		name      string
		want, got int
	}{
		{s.publishers, "max publishers", q.MaxPublishers, ps.MaxPublishers},
		{s.subscribers, "max subscribers", q.MaxSubscribers, ps.MaxSubscribers},
		{s.nodes, "max nodes", q.MaxNodes, ps.MaxNodes},
		{s.history, "history size", q.HistorySize, ps.HistorySize},
		{s.buffer, "subscriber max buffer size", q.SubscriberMaxBufferSize, ps.SubscriberMaxBufferSize},
		{s.borrowed, "subscriber max borrowed samples", q.SubscriberMaxBorrowedSamples, ps.SubscriberMaxBorrowedSamples},
	} {
		if c.set && c.got < c.want {
			return ErrIncompatibleQoS, fmt.Sprintf("requested %s of at least %d, service has %d", c.name, c.want, c.got)
		}
	}
	if s.overflow && q.EnableSafeOverflow != ps.EnableSafeOverflow {
		return ErrIncompatibleQoS, fmt.Sprintf("requested safe overflow %v, service has %v", q.EnableSafeOverflow, ps.EnableSafeOverflow)
	}
	return nil, ""
}

// verifyPubSubTypes checks that an existing service ps has the payload
// type ti, the payload variant (slice or not) and the user header (nil for
// none) that an opener asks for.
func verifyPubSubTypes(ps *PubSubStatic, ti *TypeInfo, slice bool, header *TypeInfo) (error, string) {
	if d := typeMismatch(ti, &ps.Payload); d != "" {
		return ErrIncompatibleTypes, d
	}
	if v := variant(slice); v != ps.PayloadVariant {
		return ErrIncompatibleTypes, fmt.Sprintf("requested a %s payload of %s, service has a %s payload", v, ti.Name, ps.PayloadVariant)
	}
	switch {
	case header == nil && ps.UserHeader != nil:
		return ErrIncompatibleTypes, fmt.Sprintf("requested no user header, service has %s", typeSummary(ps.UserHeader))
	case header != nil && ps.UserHeader == nil:
		return ErrIncompatibleTypes, fmt.Sprintf("requested user header %s, service has none", typeSummary(header))
	case header != nil:
		if d := typeMismatch(header, ps.UserHeader); d != "" {
			return ErrIncompatibleTypes, "user header: " + d
		}
	}
	return nil, ""
}

// typeMismatch describes how two type identities differ, or returns "".
// As in iceoryx2, an opener may require a smaller alignment than the
// service has.
func typeMismatch(want, have *TypeInfo) string {
	if want.Name == have.Name && want.Size == have.Size && want.LayoutHash == have.LayoutHash && want.Align <= have.Align {
		return ""
	}
	return fmt.Sprintf("requested %s, service has %s", typeSummary(want), typeSummary(have))
}

func typeSummary(t *TypeInfo) string {
	h := t.LayoutHash
	if len(h) > 12 {
		h = h[:12]
	}
	return fmt.Sprintf("%s (size %d, align %d, layout %s)", t.Name, t.Size, t.Align, h)
}

func (b *PublishSubscribeBuilder[T]) open(mode openMode) (*PublishSubscribeService[T], error) {
	spec, ti, err := b.spec(mode.String())
	if err != nil {
		return nil, err
	}
	psc, err := openPubSub(b.node, spec, mode, &ti, b.qos.PublisherMaxLoanedSamples)
	if err != nil {
		return nil, err
	}
	return &PublishSubscribeService[T]{ps: psc}, nil
}

// openPubSub opens the publish-subscribe service of spec and returns its
// core, whose payload type is ti, or the service's own when ti is nil (the
// raw API). maxLoans is the default of the service's publishers.
func openPubSub(node *Node, spec *serviceSpec, mode openMode, ti *TypeInfo, maxLoans int) (*pubSubCore, error) {
	core, err := openService(node, spec, mode)
	if err != nil {
		return nil, err
	}
	// The QoS passed spec.limits, before the service was opened.
	ps := core.static.PublishSubscribe
	q := pubSubStaticQoS(ps, maxLoans)
	q.PublisherBackpressure = node.config.Defaults.PublishSubscribe.PublisherBackpressure
	psc := &pubSubCore{core: core, qos: q, payload: ps.Payload, slice: ps.PayloadVariant == variantDynamic}
	if ps.UserHeader != nil {
		psc.header = *ps.UserHeader
	}
	if ti != nil {
		psc.payload = *ti
	}
	return psc, nil
}

// Create creates the service; it fails with ErrServiceExists if it exists.
func (b *PublishSubscribeBuilder[T]) Create() (*PublishSubscribeService[T], error) {
	return b.open(modeCreate)
}

// Open opens the existing service; it fails with ErrServiceNotExist if there
// is none, and with ErrIncompatibleTypes, ErrIncompatibleQoS or
// ErrIncompatibleAttributes when it does not match the builder.
func (b *PublishSubscribeBuilder[T]) Open() (*PublishSubscribeService[T], error) {
	return b.open(modeOpen)
}

// OpenOrCreate opens the service, or creates it if it does not exist. Many
// processes may call it at once: exactly one creates, all succeed.
func (b *PublishSubscribeBuilder[T]) OpenOrCreate() (*PublishSubscribeService[T], error) {
	return b.open(modeOpenOrCreate)
}

// Name returns the service name.
func (s *PublishSubscribeService[T]) Name() string { return s.ps.core.name }

// QoS returns the service's quality of service as stored when it was created.
func (s *PublishSubscribeService[T]) QoS() PubSubQoS { return s.ps.qos }

// StaticConfig returns the service's static config.
func (s *PublishSubscribeService[T]) StaticConfig() StaticConfig { return *s.ps.core.static }

// Attributes returns the attributes the service was created with.
func (s *PublishSubscribeService[T]) Attributes() []Attribute {
	return append([]Attribute(nil), s.ps.core.static.Attributes...)
}

// NumberOfPublishers returns how many publishers the service has; may be
// stale under concurrency. It returns 0 once the service (or its node) is
// closed.
func (s *PublishSubscribeService[T]) NumberOfPublishers() int { return s.ps.core.countActive(false) }

// NumberOfSubscribers returns how many subscribers the service has; may be
// stale under concurrency. It returns 0 once the service (or its node) is
// closed.
func (s *PublishSubscribeService[T]) NumberOfSubscribers() int { return s.ps.core.countActive(true) }

func countActive(slots []protocol.PortSlot) int {
	n := 0
	for i := range slots {
		if _, ok := protocol.Snapshot(&slots[i]); ok {
			n++
		}
	}
	return n
}

// Close closes the service's ports created through this handle's node and
// leaves the service; the last node to leave removes it.
func (s *PublishSubscribeService[T]) Close() error { return s.ps.core.close() }

// PublisherBuilder configures a publisher.
type PublisherBuilder[T any] struct {
	svc  *PublishSubscribeService[T]
	opts publisherOpts
}

// PublisherBuilder starts building a publisher with the node's defaults.
func (s *PublishSubscribeService[T]) PublisherBuilder() *PublisherBuilder[T] {
	return &PublisherBuilder[T]{svc: s, opts: publisherOpts{
		maxLoans: s.ps.qos.PublisherMaxLoanedSamples, strategy: s.ps.qos.PublisherBackpressure, maxSlice: 1}}
}

// MaxLoanedSamples sets how many samples the publisher may have on loan at once.
func (b *PublisherBuilder[T]) MaxLoanedSamples(n int) *PublisherBuilder[T] {
	b.opts.maxLoans = n
	return b
}

// Backpressure sets what Send does with a full subscriber queue when the
// service has safe overflow off. Default: the node config's
// Defaults.PublishSubscribe.PublisherBackpressure (RetryUntilDelivered).
func (b *PublisherBuilder[T]) Backpressure(s Backpressure) *PublisherBuilder[T] {
	b.opts.strategy = s
	return b
}

// MaxSliceLen sets the largest slice a publisher of a slice service
// (PublishSubscribeSlice) can loan; its data segment is sized for it.
// Default 1. It is iceoryx2's initial_max_slice_len with the Static
// allocation strategy: the segment never grows.
func (b *PublisherBuilder[T]) MaxSliceLen(n int) *PublisherBuilder[T] { b.opts.maxSlice = n; return b }

// Create creates the publisher.
func (b *PublisherBuilder[T]) Create() (*Publisher[T], error) {
	if !b.svc.ps.slice && b.opts.maxSlice != 1 {
		return nil, &ServiceError{Op: "create publisher", Service: b.svc.ps.core.name, Err: ErrInvalidQoS,
			Detail: "MaxSliceLen needs a slice service (PublishSubscribeSlice)"}
	}
	p, err := newPublisher(b.svc.ps, b.opts)
	if err != nil {
		return nil, err
	}
	pub := &Publisher[T]{p: p, samples: make([]SampleMut[T], p.maxLoans)}
	for i := range pub.samples {
		pub.samples[i].pub = pub
	}
	return pub, nil
}

// Publisher creates a publisher with the default settings.
func (s *PublishSubscribeService[T]) Publisher() (*Publisher[T], error) {
	return s.PublisherBuilder().Create()
}

// SubscriberBuilder configures a subscriber.
type SubscriberBuilder[T any] struct {
	svc  *PublishSubscribeService[T]
	opts subscriberOpts
}

// SubscriberBuilder starts building a subscriber whose buffer is the
// service's maximum.
func (s *PublishSubscribeService[T]) SubscriberBuilder() *SubscriberBuilder[T] {
	return &SubscriberBuilder[T]{svc: s, opts: subscriberOpts{bufSize: s.ps.qos.SubscriberMaxBufferSize}}
}

// BufferSize sets how many unread samples the subscriber's queue holds (at
// most the service's SubscriberMaxBufferSize).
func (b *SubscriberBuilder[T]) BufferSize(n int) *SubscriberBuilder[T] { b.opts.bufSize = n; return b }

// HistoryRequest sets how many history samples the subscriber wants when it
// connects to a publisher (default: min(history size, buffer size)).
func (b *SubscriberBuilder[T]) HistoryRequest(n int) *SubscriberBuilder[T] {
	b.opts.histReq, b.opts.histSet = n, true
	return b
}

// Create creates the subscriber.
func (b *SubscriberBuilder[T]) Create() (*Subscriber[T], error) {
	s, err := newSubscriber(b.svc.ps, b.opts)
	if err != nil {
		return nil, err
	}
	sub := &Subscriber[T]{s: s, samples: make([]Sample[T], s.maxBorrowed)}
	for i := range sub.samples {
		sub.samples[i].sub = sub
	}
	return sub, nil
}

// Subscriber creates a subscriber with the default settings.
func (s *PublishSubscribeService[T]) Subscriber() (*Subscriber[T], error) {
	return s.SubscriberBuilder().Create()
}

// Publisher sends samples of type T. It is safe for concurrent use.
type Publisher[T any] struct {
	p       *sender
	samples []SampleMut[T] // preallocated: loans allocate nothing
}

// SampleMut is a loaned sample: memory in the publisher's data segment that
// the caller writes in place and then sends (or releases).
type SampleMut[T any] struct {
	pub    *Publisher[T]
	chunk  uint32
	length uint64
	data   *T
}

// Loan loans a sample whose payload is zeroed.
func (p *Publisher[T]) Loan() (*SampleMut[T], error) { return p.LoanSlice(1) }

// LoanUninit loans a sample without initializing its payload: it holds
// whatever an earlier sample left there. Write every field before sending.
func (p *Publisher[T]) LoanUninit() (*SampleMut[T], error) { return p.LoanSliceUninit(1) }

// LoanSlice loans a sample of n zeroed elements (see PublishSubscribeSlice);
// read and write them with PayloadSlice. n may be 0 and at most the
// publisher's MaxSliceLen.
func (p *Publisher[T]) LoanSlice(n int) (*SampleMut[T], error) {
	s, err := p.LoanSliceUninit(n)
	if err != nil {
		return nil, err
	}
	clear(unsafe.Slice((*byte)(unsafe.Pointer(s.data)), uintptr(n)*unsafe.Sizeof(*s.data)))
	if h := p.p.layout.HeaderSize; h > 0 {
		clear(unsafe.Slice((*byte)(p.p.userHeader(s.chunk)), h))
	}
	return s, nil
}

// LoanSliceUninit is LoanSlice without zeroing.
func (p *Publisher[T]) LoanSliceUninit(n int) (*SampleMut[T], error) {
	if n < 0 || uint64(n) > p.p.maxSlice {
		return nil, fmt.Errorf("%w: requested %d elements, the publisher's maximum is %d", ErrSliceLengthExceedsLimit, n, p.p.maxSlice)
	}
	p.p.mu.Lock()
	i, err := p.p.loan()
	if err != nil {
		p.p.mu.Unlock()
		return nil, err
	}
	var s *SampleMut[T]
	for k := range p.samples {
		if p.samples[k].data == nil {
			s = &p.samples[k]
			break
		}
	}
	s.chunk = i
	s.length = uint64(n)
	s.data = (*T)(p.p.payload(i))
	p.p.mu.Unlock()
	return s, nil
}

// SendCopy copies v into a loaned sample and sends it. It returns how many
// subscribers received it. For large payloads, Loan and write in place.
func (p *Publisher[T]) SendCopy(v T) (int, error) {
	s, err := p.LoanUninit()
	if err != nil {
		return 0, err
	}
	*s.data = v
	return s.Send()
}

// ID returns the publisher's port ID.
func (p *Publisher[T]) ID() ID { return p.p.id }

// Close closes the publisher. Samples already sent stay readable by the
// subscribers until they release them.
func (p *Publisher[T]) Close() error { return p.p.closePort() }

// Payload returns the sample's payload, in shared memory (the first
// element of a slice sample).
func (s *SampleMut[T]) Payload() *T { return s.data }

// PayloadSlice returns the elements of a slice sample, in shared memory.
func (s *SampleMut[T]) PayloadSlice() []T {
	if s.data == nil {
		return nil
	}
	return unsafe.Slice(s.data, s.length)
}

func (s *SampleMut[T]) userHeader() (unsafe.Pointer, uint64) {
	p := s.pub.p
	if s.data == nil || p.layout.HeaderSize == 0 {
		return nil, 0
	}
	return p.userHeader(s.chunk), p.layout.HeaderSize
}

// Send sends the sample to every subscriber and returns how many received
// it. The sample must not be used afterwards. If the publisher could not
// create its connection to a subscriber (a full or read-only ShmDir), Send
// delivers to nobody, gives the sample back and returns that error, which
// wraps the errno (errors.Is(err, syscall.ENOSPC)); each Send retries.
func (s *SampleMut[T]) Send() (int, error) {
	p := s.pub.p
	p.mu.Lock()
	if s.data == nil {
		p.mu.Unlock()
		return 0, ErrSampleNotOwned
	}
	n, err := p.send(s.chunk, s.length, 0, 0, false)
	s.data = nil
	p.mu.Unlock()
	return n, err
}

// Release gives the loan back without sending. It is what a dropped
// SampleMut does in iceoryx2; use it with defer on error paths.
func (s *SampleMut[T]) Release() {
	p := s.pub.p
	p.mu.Lock()
	if s.data == nil {
		p.mu.Unlock()
		return
	}
	p.unloan(s.chunk)
	s.data = nil
	p.mu.Unlock()
}

// Subscriber receives samples of type T. It is safe for concurrent use.
type Subscriber[T any] struct {
	s       *receiver
	samples []Sample[T]
}

// Sample is a received sample: read-only memory in the publisher's data
// segment, held until Release.
type Sample[T any] struct {
	sub    *Subscriber[T]
	conn   *recvConn
	chunk  uint32
	length uint64
	data   *T
	use    uint64 // counts the receives into this object (see Samples)
	kept   bool   // Keep was called since it was received
}

// Receive returns the next sample, or nil when there is none. It never
// blocks. It fails with ErrExceedsMaxBorrows when the subscriber already
// holds SubscriberMaxBorrowedSamples samples.
func (s *Subscriber[T]) Receive() (*Sample[T], error) {
	s.s.mu.Lock()
	c, i, n, err := s.s.receive()
	if err != nil || c == nil {
		s.s.mu.Unlock()
		return nil, err
	}
	var smp *Sample[T]
	for k := range s.samples {
		if s.samples[k].data == nil {
			smp = &s.samples[k]
			break
		}
	}
	smp.conn, smp.chunk, smp.length, smp.data = c, i, n, (*T)(c.payload(i))
	smp.use++
	smp.kept = false
	s.s.mu.Unlock()
	return smp, nil
}

// BlockingReceive returns the next sample, waiting as long as it takes for
// one. It returns ctx.Err() when ctx ends, ErrClosed when the subscriber
// (or its service or node) is closed, while it waits too, and
// ErrExceedsMaxBorrows at once when the subscriber holds
// SubscriberMaxBorrowedSamples samples; with signal handling on, also
// ErrNodeInterrupted or ErrNodeTerminationRequest. The goroutine parks
// without holding an OS thread, and the call allocates nothing.
func (s *Subscriber[T]) BlockingReceive(ctx context.Context) (*Sample[T], error) {
	return block(ctx, s.s.core.node, s.s.wp, func() (*Sample[T], bool, error) {
		smp, err := s.Receive()
		return smp, smp != nil, err
	})
}

// Samples returns an iterator over the samples that arrive, for a range
// loop:
//
//	for smp, err := range sub.Samples(ctx) {
//		if err != nil {
//			return err // ctx ended, or the subscriber closed
//		}
//		use(smp.Payload())
//	}
//
// Each iteration waits for the next sample (BlockingReceive). The sample
// is released when the loop body returns to the iterator (at the end of
// the body, at continue or at break), unless the body called its Keep: a
// kept sample belongs to the caller, who releases it. When a wait fails
// (ctx ended, the subscriber closed, ErrExceedsMaxBorrows because kept
// samples fill the subscriber's borrow limit, a handled signal), the
// iterator yields a nil sample with the error once and stops.
func (s *Subscriber[T]) Samples(ctx context.Context) iter.Seq2[*Sample[T], error] {
	return receiveSeq(func() (*Sample[T], uint64, error) {
		smp, err := s.BlockingReceive(ctx)
		if err != nil {
			return nil, 0, err
		}
		return smp, smp.use, nil
	}, (*Sample[T]).releaseUnkept, nil)
}

func (s *Subscriber[T]) waitSource() *waitSource { return s.s.src }

// HasSamples reports whether Receive would return a sample; may be stale
// under concurrency.
func (s *Subscriber[T]) HasSamples() (bool, error) { return s.s.hasSamples() }

// ID returns the subscriber's port ID.
func (s *Subscriber[T]) ID() ID { return s.s.id }

// BufferSize returns the subscriber's queue capacity.
func (s *Subscriber[T]) BufferSize() int { return s.s.bufSize }

// Close closes the subscriber. Release its samples first.
func (s *Subscriber[T]) Close() error { return s.s.closePort() }

// Payload returns the sample's payload. It lives in shared memory that the
// subscriber maps read-only: writing to it crashes the process.
func (s *Sample[T]) Payload() *T { return s.data }

// PayloadSlice returns the elements of a slice sample, read-only.
func (s *Sample[T]) PayloadSlice() []T {
	if s.data == nil {
		return nil
	}
	return unsafe.Slice(s.data, s.length)
}

func (s *Sample[T]) userHeader() (unsafe.Pointer, uint64) {
	if s.data == nil || s.conn.layout.HeaderSize == 0 {
		return nil, 0
	}
	return s.conn.userHeader(s.chunk), s.conn.layout.HeaderSize
}

// Header returns the sample's chunk header (sequence number, publisher).
func (s *Sample[T]) Header() ChunkHeader { return *s.conn.chunk(s.chunk) }

// Release gives the sample back to its publisher. Use it with defer. The
// sample must not be used afterwards.
func (s *Sample[T]) Release() {
	sub := s.sub.s
	sub.mu.Lock()
	if s.data == nil {
		sub.mu.Unlock()
		return
	}
	sub.release(s.conn, s.chunk)
	s.data, s.conn = nil, nil
	sub.mu.Unlock()
}

// Keep keeps the sample after the body of a loop over Samples returns: the
// caller then owns it and must Release it. Outside such a loop it does
// nothing (a sample from Receive is the caller's anyway).
func (s *Sample[T]) Keep() {
	sub := s.sub.s
	sub.mu.Lock()
	if s.data != nil {
		s.kept = true
	}
	sub.mu.Unlock()
}

// releaseUnkept releases the sample received as use unless it was kept
// (or released already: then the object may hold another receive's).
func (s *Sample[T]) releaseUnkept(use uint64) {
	sub := s.sub.s
	sub.mu.Lock()
	if s.data != nil && s.use == use && !s.kept {
		sub.release(s.conn, s.chunk)
		s.data, s.conn = nil, nil
	}
	sub.mu.Unlock()
}

// UserHeader returns the user header of a sample (received or loaned) of a
// service made with WithUserHeader[H], or nil if the service has no user
// header of H's size. Call it as iox2.UserHeader[MyHeader](sample).
func UserHeader[H any, S interface {
	userHeader() (unsafe.Pointer, uint64)
}](s S) *H {
	p, size := s.userHeader()
	if p == nil || size != uint64(unsafe.Sizeof(*new(H))) {
		return nil
	}
	return (*H)(p)
}

// completionCap is the capacity of the completion queue of a connection
// whose limit (queue capacity + max borrowed) is limit: one more, because a
// safe-overflow push at the limit whose oldest element the receiver took
// first (so that nothing was evicted) leaves limit+1 chunks in flight,
// every one of which the receiver may give back before the sender looks.
func completionCap(limit int) uint32 { return uint32(limit + 1) }
