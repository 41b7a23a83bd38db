package runtime

import (
	"context"
	"fmt"
	"iter"
	"math/bits"
	"unsafe"
)

// The raw publish-subscribe API works with payload bytes instead of a Go
// type: it is for tools (the iox2 command line's subscribe, publish,
// record, replay and hz) that handle services whose types they were not
// compiled with. The payload's identity comes from the service's static
// config (StaticConfig().PublishSubscribe.Payload); package
// runtime/typecodec turns its Layout into JSON and back.
//
// Raw ports are ordinary publishers and subscribers: a raw subscriber
// receives what a Publisher[T] sends and the other way round, and their
// hot paths (Loan, Send, Receive, Release) allocate nothing.

// RawPubSubBuilder opens or creates a publish-subscribe service without a
// Go payload type. Obtain one with PublishSubscribeRaw.
type RawPubSubBuilder struct {
	node  *Node
	name  string
	attrs []Attribute
	reqs  []Attribute
}

// PublishSubscribeRaw starts building the raw view of publish-subscribe
// service name on node.
func PublishSubscribeRaw(node *Node, name string) *RawPubSubBuilder {
	return &RawPubSubBuilder{node: node, name: name}
}

// Attribute adds a key=value attribute that Create stores with the service
// (and OpenOrCreate, when it creates).
func (b *RawPubSubBuilder) Attribute(key, value string) *RawPubSubBuilder {
	b.attrs = append(b.attrs, Attribute{Key: key, Value: value})
	return b
}

// RequireAttribute makes Open (and OpenOrCreate, when it opens) fail unless
// the service has the attribute key=value. An empty value requires only
// the key.
func (b *RawPubSubBuilder) RequireAttribute(key, value string) *RawPubSubBuilder {
	b.reqs = append(b.reqs, Attribute{Key: key, Value: value})
	return b
}

// Open opens the existing service whatever its payload: it adopts the
// payload type, payload variant (fixed or dynamic) and user header stored
// in the service's static config. It fails with ErrServiceNotExist if
// there is none and with ErrServiceCorrupted if the stored types are
// unusable (size 0, alignment not a power of two, ...).
func (b *RawPubSubBuilder) Open() (*RawPubSubService, error) {
	spec := pubSubSpec(b.name, nil, b.attrs, b.reqs, func(sc *StaticConfig) (error, string) {
		if sc.PublishSubscribe == nil {
			return ErrServiceCorrupted, "static config has no publish-subscribe section"
		}
		if d := checkRawStatic(sc.PublishSubscribe); d != "" {
			return ErrServiceCorrupted, d
		}
		return nil, ""
	}, b.maxLoans())
	return b.open(spec, modeOpen)
}

// Create creates the service with the type identity (payload, variant,
// user header) and QoS of static, for example those of a recorded
// service. Its PublisherMaxLoanedSamples is the node's default. It fails
// with ErrServiceExists if the service exists, with ErrInvalidType if a
// TypeInfo of static is unusable and with ErrInvalidQoS for bad QoS.
func (b *RawPubSubBuilder) Create(static PubSubStatic) (*RawPubSubService, error) {
	return b.create(static, modeCreate)
}

// OpenOrCreate opens the service, or creates it as Create does if it does
// not exist. An existing service must have the payload type, variant and
// user header of static (ErrIncompatibleTypes otherwise); its QoS is not
// compared with static's.
func (b *RawPubSubBuilder) OpenOrCreate(static PubSubStatic) (*RawPubSubService, error) {
	return b.create(static, modeOpenOrCreate)
}

func (b *RawPubSubBuilder) create(static PubSubStatic, mode openMode) (*RawPubSubService, error) {
	op := mode.String()
	if d := checkRawStatic(&static); d != "" {
		return nil, &ServiceError{Op: op, Service: b.name, Err: ErrInvalidType, Detail: d}
	}
	q := PubSubQoS{
		MaxPublishers:                static.MaxPublishers,
		MaxSubscribers:               static.MaxSubscribers,
		MaxNodes:                     static.MaxNodes,
		HistorySize:                  static.HistorySize,
		SubscriberMaxBufferSize:      static.SubscriberMaxBufferSize,
		SubscriberMaxBorrowedSamples: static.SubscriberMaxBorrowedSamples,
		EnableSafeOverflow:           static.EnableSafeOverflow,
		PublisherMaxLoanedSamples:    b.maxLoans(),
	}
	if err := q.validate(); err != nil {
		return nil, &ServiceError{Op: op, Service: b.name, Err: ErrInvalidQoS, Detail: err.Error()}
	}
	if static.UserHeader != nil {
		h := *static.UserHeader
		static.UserHeader = &h
	}
	ti := static.Payload
	spec := pubSubSpec(b.name, &static, b.attrs, b.reqs, func(sc *StaticConfig) (error, string) {
		ps := sc.PublishSubscribe
		if ps == nil {
			return ErrServiceCorrupted, "static config has no publish-subscribe section"
		}
		if d := checkRawStatic(ps); d != "" {
			return ErrServiceCorrupted, d
		}
		return verifyPubSubTypes(ps, &ti, static.PayloadVariant == variantDynamic, static.UserHeader)
	}, q.PublisherMaxLoanedSamples)
	return b.open(spec, mode)
}

func (b *RawPubSubBuilder) maxLoans() int {
	if b.node == nil {
		return DefaultPubSubQoS().PublisherMaxLoanedSamples
	}
	return b.node.config.Defaults.PublishSubscribe.PublisherMaxLoanedSamples
}

func (b *RawPubSubBuilder) open(spec *serviceSpec, mode openMode) (*RawPubSubService, error) {
	ps, err := openPubSub(b.node, spec, mode, nil, b.maxLoans())
	if err != nil {
		return nil, err
	}
	return &RawPubSubService{ps: ps}, nil
}

// maxRawTypeSize is the largest payload or header type the raw API
// accepts: the IDL's limit (it must fit 32-bit targets).
const maxRawTypeSize = 1<<31 - 1

// checkRawStatic describes what makes the types of ps unusable, or
// returns "". The static config of an existing service is written by
// another process: nothing in it is trusted.
func checkRawStatic(ps *PubSubStatic) string {
	if d := checkRawType(&ps.Payload); d != "" {
		return "payload " + d
	}
	if ps.PayloadVariant != variantFixed && ps.PayloadVariant != variantDynamic {
		return fmt.Sprintf("payload variant %q is neither %q nor %q", ps.PayloadVariant, variantFixed, variantDynamic)
	}
	if ps.UserHeader != nil {
		if d := checkRawType(ps.UserHeader); d != "" {
			return "user header " + d
		}
	}
	return ""
}

func checkRawType(t *TypeInfo) string {
	switch {
	case t.Size == 0 || t.Size > maxRawTypeSize:
		return fmt.Sprintf("type %q has size %d, must be in [1, %d]", t.Name, t.Size, maxRawTypeSize)
	case t.Align == 0 || bits.OnesCount64(t.Align) != 1 || t.Align > 4096:
		return fmt.Sprintf("type %q has alignment %d, must be a power of two up to 4096", t.Name, t.Align)
	case t.Size%t.Align != 0:
		return fmt.Sprintf("type %q has size %d, not a multiple of its alignment %d", t.Name, t.Size, t.Align)
	}
	return ""
}

// RawPubSubService is an open publish-subscribe service seen as bytes: the
// factory of raw publishers and subscribers. It is safe for concurrent use.
type RawPubSubService struct {
	ps *pubSubCore
}

// Name returns the service name.
func (s *RawPubSubService) Name() string { return s.ps.core.name }

// StaticConfig returns the service's static config; its PublishSubscribe
// part holds the payload and user header types.
func (s *RawPubSubService) StaticConfig() StaticConfig { return *s.ps.core.static }

// QoS returns the service's quality of service as stored when it was created.
func (s *RawPubSubService) QoS() PubSubQoS { return s.ps.qos }

// Attributes returns the attributes the service was created with.
func (s *RawPubSubService) Attributes() []Attribute {
	return append([]Attribute(nil), s.ps.core.static.Attributes...)
}

// PayloadType returns the type of one payload element.
func (s *RawPubSubService) PayloadType() TypeInfo { return s.ps.payload }

// IsSlice reports whether the payload variant is dynamic: each sample
// holds a slice of elements whose length its publisher chooses.
func (s *RawPubSubService) IsSlice() bool { return s.ps.slice }

// UserHeaderType returns the type of the user header and true, or false
// when the service has none.
func (s *RawPubSubService) UserHeaderType() (TypeInfo, bool) {
	return s.ps.header, s.ps.header.Size > 0
}

// NumberOfPublishers returns how many publishers the service has; may be
// stale under concurrency. It returns 0 once the service (or its node) is
// closed.
func (s *RawPubSubService) NumberOfPublishers() int { return s.ps.core.countActive(false) }

// NumberOfSubscribers returns how many subscribers the service has; may be
// stale under concurrency. It returns 0 once the service (or its node) is
// closed.
func (s *RawPubSubService) NumberOfSubscribers() int { return s.ps.core.countActive(true) }

// Close closes the service's ports created through this handle and leaves
// the service; the last node to leave removes it.
func (s *RawPubSubService) Close() error { return s.ps.core.close() }

// RawPublisherOptions configures a raw publisher. Zero values take the
// defaults.
type RawPublisherOptions struct {
	// MaxSliceLen is the most elements a sample of a dynamic service can
	// hold (default 1); it must be 0 or 1 for a fixed service.
	MaxSliceLen int
	// MaxLoanedSamples is how many samples may be on loan at once
	// (default: the node config's PublisherMaxLoanedSamples).
	MaxLoanedSamples int
	// Backpressure is what Send does with a full subscriber queue when
	// the service has safe overflow off (default RetryUntilDelivered).
	Backpressure Backpressure
	// Exclude is a subscriber of the service that this publisher never
	// delivers to (0: none). A bridge sets it to its own forwarding
	// subscriber, so that what it injects into the service is not handed
	// back to it (see the gateway package).
	Exclude ID
}

// Publisher creates a raw publisher with the default settings whose
// samples hold up to maxSliceLen elements; maxSliceLen is ignored (taken
// as 1) for a fixed payload.
func (s *RawPubSubService) Publisher(maxSliceLen int) (*RawPublisher, error) {
	if !s.ps.slice {
		maxSliceLen = 1
	}
	return s.PublisherWith(RawPublisherOptions{MaxSliceLen: maxSliceLen})
}

// PublisherWith creates a raw publisher with options o.
func (s *RawPubSubService) PublisherWith(o RawPublisherOptions) (*RawPublisher, error) {
	opts := publisherOpts{maxLoans: s.ps.qos.PublisherMaxLoanedSamples, strategy: o.Backpressure, maxSlice: 1, exclude: o.Exclude}
	if o.MaxLoanedSamples != 0 {
		opts.maxLoans = o.MaxLoanedSamples
	}
	if o.MaxSliceLen != 0 {
		opts.maxSlice = o.MaxSliceLen
	}
	if !s.ps.slice && opts.maxSlice != 1 {
		return nil, &ServiceError{Op: "create publisher", Service: s.ps.core.name, Err: ErrInvalidQoS,
			Detail: fmt.Sprintf("max slice length %d needs a dynamic payload, the service's is fixed", o.MaxSliceLen)}
	}
	p, err := newPublisher(s.ps, opts)
	if err != nil {
		return nil, err
	}
	pub := &RawPublisher{p: p, slice: s.ps.slice, samples: make([]RawSampleMut, p.maxLoans)}
	for i := range pub.samples {
		pub.samples[i].pub = pub
	}
	return pub, nil
}

// RawPublisher sends samples given as bytes. It is safe for concurrent use.
type RawPublisher struct {
	p       *sender
	slice   bool
	samples []RawSampleMut // preallocated: loans allocate nothing
}

// RawSampleMut is a loaned sample: payload bytes in the publisher's data
// segment that the caller writes in place and then sends (or releases).
type RawSampleMut struct {
	pub     *RawPublisher
	owned   bool
	chunk   uint32
	length  uint64
	payload []byte
	header  []byte
}

// ID returns the publisher's port ID, the one its samples carry.
func (p *RawPublisher) ID() ID { return p.p.id }

// MaxSliceLen returns the most elements a sample can hold (1 for a fixed
// payload).
func (p *RawPublisher) MaxSliceLen() int { return int(p.p.maxSlice) }

// ElementSize returns the size in bytes of one payload element.
func (p *RawPublisher) ElementSize() int { return int(p.p.layout.ElemSize) }

// Undelivered returns how many deliveries of this publisher's samples
// did not reach a subscriber, since it was created: discarded (a full
// queue under DiscardData, or a subscriber that broke the protocol) and
// overwritten (safe overflow took the oldest sample back from a full
// queue to make room).
func (p *RawPublisher) Undelivered() (discarded, overwritten uint64) {
	p.p.mu.Lock()
	defer p.p.mu.Unlock()
	return p.p.discarded, p.p.overflows
}

// DiscardIfFull is for a publisher that makes samples only to send them,
// such as a gateway relaying a flood that the local subscribers cannot
// take. It reports whether a sample sent now would be discarded by every
// receiver: at least one is connected, every one's queue is full, and p
// discards rather than waits or overwrites (backpressure DiscardData,
// safe overflow off) and keeps no history. If so it accounts for the
// sample as a send would have, without one: it takes a sequence number
// (the receivers see the gap) and counts a discarded delivery per receiver
// (Undelivered); the caller then does not loan, fill nor send it. Queues
// drain concurrently: the answer is that of the moment it looked, as a
// send's would be.
func (p *RawPublisher) DiscardIfFull() bool { return p.p.discardIfFull() }

// UserHeaderSize returns the size of the user header of p's samples in
// bytes, 0 for none.
func (p *RawPublisher) UserHeaderSize() int { return int(p.p.layout.HeaderSize) }

// Close closes the publisher. Samples already sent stay readable by the
// subscribers until they release them.
func (p *RawPublisher) Close() error { return p.p.closePort() }

// Loan loans a sample of n elements whose payload and user header are
// zeroed. n must be 1 for a fixed payload; for a dynamic one it may be 0
// and at most the publisher's MaxSliceLen.
func (p *RawPublisher) Loan(n int) (*RawSampleMut, error) {
	s, err := p.LoanUninit(n)
	if err != nil {
		return nil, err
	}
	clear(s.payload)
	clear(s.header)
	return s, nil
}

// LoanUninit is Loan without zeroing: the payload and user header hold
// whatever an earlier sample left there. Write every byte before sending.
func (p *RawPublisher) LoanUninit(n int) (*RawSampleMut, error) {
	if !p.slice && n != 1 {
		return nil, fmt.Errorf("%w: requested %d elements of a fixed payload, which has exactly 1", ErrSliceLengthExceedsLimit, n)
	}
	if n < 0 || uint64(n) > p.p.maxSlice {
		return nil, fmt.Errorf("%w: requested %d elements, the publisher's maximum is %d", ErrSliceLengthExceedsLimit, n, p.p.maxSlice)
	}
	p.p.mu.Lock()
	i, err := p.p.loan()
	if err != nil {
		p.p.mu.Unlock()
		return nil, err
	}
	var s *RawSampleMut
	for k := range p.samples {
		if !p.samples[k].owned {
			s = &p.samples[k]
			break
		}
	}
	l := &p.p.layout
	s.owned, s.chunk, s.length = true, i, uint64(n)
	s.payload = unsafe.Slice((*byte)(p.p.payload(i)), uint64(n)*l.ElemSize)
	s.header = nil
	if l.HeaderSize > 0 {
		s.header = unsafe.Slice((*byte)(p.p.userHeader(i)), l.HeaderSize)
	}
	p.p.mu.Unlock()
	return s, nil
}

// Payload returns the sample's payload: Len() elements of the service's
// payload type, in shared memory. It is nil once the sample is sent or
// released.
func (s *RawSampleMut) Payload() []byte { return s.payload }

// Len returns the number of payload elements.
func (s *RawSampleMut) Len() int { return int(s.length) }

// UserHeader returns the sample's user header in shared memory, or nil
// when the service has none.
func (s *RawSampleMut) UserHeader() []byte { return s.header }

// Send sends the sample to every subscriber and returns how many received
// it. The sample must not be used afterwards.
func (s *RawSampleMut) Send() (int, error) {
	p := s.pub.p
	p.mu.Lock()
	if !s.owned {
		p.mu.Unlock()
		return 0, ErrSampleNotOwned
	}
	n, err := p.send(s.chunk, s.length, 0, 0, false)
	s.owned, s.payload, s.header = false, nil, nil
	p.mu.Unlock()
	return n, err
}

// Release gives the loan back without sending; it does nothing if the
// sample was sent or released already. Use it with defer on error paths.
func (s *RawSampleMut) Release() {
	p := s.pub.p
	p.mu.Lock()
	if !s.owned {
		p.mu.Unlock()
		return
	}
	p.unloan(s.chunk)
	s.owned, s.payload, s.header = false, nil, nil
	p.mu.Unlock()
}

// Subscriber creates a raw subscriber whose buffer is the service's
// maximum and whose history request is the default.
func (s *RawPubSubService) Subscriber() (*RawSubscriber, error) {
	return s.SubscriberWith(0, -1)
}

// SubscriberWith creates a raw subscriber with a queue of bufferSize
// samples (0: the service's maximum) that asks for historyRequest samples
// of history when it connects to a publisher (negative: min(history size,
// buffer size)).
func (s *RawPubSubService) SubscriberWith(bufferSize, historyRequest int) (*RawSubscriber, error) {
	o := subscriberOpts{bufSize: s.ps.qos.SubscriberMaxBufferSize}
	if bufferSize != 0 {
		o.bufSize = bufferSize
	}
	if historyRequest >= 0 {
		o.histReq, o.histSet = historyRequest, true
	}
	r, err := newSubscriber(s.ps, o)
	if err != nil {
		return nil, err
	}
	sub := &RawSubscriber{s: r, samples: make([]RawSample, r.maxBorrowed)}
	for i := range sub.samples {
		sub.samples[i].sub = sub
	}
	return sub, nil
}

// RawSubscriber receives samples as bytes. It is safe for concurrent use.
type RawSubscriber struct {
	s       *receiver
	samples []RawSample
}

// RawSample is a received sample: read-only bytes in the publisher's data
// segment, held until Release.
type RawSample struct {
	sub     *RawSubscriber
	conn    *recvConn
	chunk   uint32
	length  uint64
	seq     uint64
	from    ID
	payload []byte
	header  []byte
	use     uint64 // counts the receives into this object (see Samples)
	kept    bool   // Keep was called since it was received
}

// ID returns the subscriber's port ID.
func (r *RawSubscriber) ID() ID { return r.s.id }

// BufferSize returns the subscriber's queue capacity.
func (r *RawSubscriber) BufferSize() int { return r.s.bufSize }

// HasSamples reports whether Receive would return a sample; may be stale
// under concurrency.
func (r *RawSubscriber) HasSamples() (bool, error) { return r.s.hasSamples() }

// Close closes the subscriber. Release its samples first.
func (r *RawSubscriber) Close() error { return r.s.closePort() }

// Receive returns the next sample, or nil, nil when none is queued. It
// never blocks. It fails with ErrExceedsMaxBorrows when the subscriber
// already holds SubscriberMaxBorrowedSamples samples. The payload of a
// sample never reaches past its chunk, whatever length the sender wrote.
func (r *RawSubscriber) Receive() (*RawSample, error) {
	r.s.mu.Lock()
	c, i, n, err := r.s.receive()
	if err != nil || c == nil {
		r.s.mu.Unlock()
		return nil, err
	}
	var smp *RawSample
	for k := range r.samples {
		if r.samples[k].conn == nil {
			smp = &r.samples[k]
			break
		}
	}
	h := c.chunk(i)
	smp.conn, smp.chunk, smp.length = c, i, n
	smp.seq, smp.from = h.Sequence, ID(h.Publisher)
	smp.payload = unsafe.Slice((*byte)(c.payload(i)), n*c.layout.ElemSize)
	smp.header = nil
	if c.layout.HeaderSize > 0 {
		smp.header = unsafe.Slice((*byte)(c.userHeader(i)), c.layout.HeaderSize)
	}
	smp.use++
	smp.kept = false
	r.s.mu.Unlock()
	return smp, nil
}

// BlockingReceive returns the next sample, waiting as long as it takes for
// one; it ends as Subscriber.BlockingReceive does, and allocates nothing.
func (r *RawSubscriber) BlockingReceive(ctx context.Context) (*RawSample, error) {
	return block(ctx, r.s.core.node, r.s.wp, func() (*RawSample, bool, error) {
		smp, err := r.Receive()
		return smp, smp != nil, err
	})
}

// Samples returns an iterator over the samples that arrive; each is
// released when the loop body returns unless the body called its Keep.
// See Subscriber.Samples.
func (r *RawSubscriber) Samples(ctx context.Context) iter.Seq2[*RawSample, error] {
	return receiveSeq(func() (*RawSample, uint64, error) {
		smp, err := r.BlockingReceive(ctx)
		if err != nil {
			return nil, 0, err
		}
		return smp, smp.use, nil
	}, (*RawSample).releaseUnkept, nil)
}

func (r *RawSubscriber) waitSource() *waitSource { return r.s.src }

// Payload returns the sample's payload: Len() elements of the service's
// payload type. It lives in shared memory that the subscriber maps
// read-only: writing to it crashes the process. Copy what must outlive
// Release.
func (s *RawSample) Payload() []byte { return s.payload }

// Len returns the number of payload elements (1 for a fixed payload).
func (s *RawSample) Len() int { return int(s.length) }

// UserHeader returns the sample's user header (read-only), or nil when the
// service has none.
func (s *RawSample) UserHeader() []byte { return s.header }

// Sequence returns the sample's sequence number, counted per publisher
// from 0; a gap means the subscriber missed samples.
func (s *RawSample) Sequence() uint64 { return s.seq }

// Publisher returns the ID of the publisher that sent the sample.
func (s *RawSample) Publisher() ID { return s.from }

// Keep keeps the sample after the body of a loop over Samples returns: the
// caller then owns it and must Release it. Outside such a loop it does
// nothing.
func (s *RawSample) Keep() {
	sub := s.sub.s
	sub.mu.Lock()
	if s.conn != nil {
		s.kept = true
	}
	sub.mu.Unlock()
}

// releaseUnkept releases the sample received as use unless it was kept or
// released already.
func (s *RawSample) releaseUnkept(use uint64) {
	sub := s.sub.s
	sub.mu.Lock()
	if s.conn != nil && s.use == use && !s.kept {
		sub.release(s.conn, s.chunk)
		s.conn, s.payload, s.header = nil, nil, nil
	}
	sub.mu.Unlock()
}

// Release gives the sample back to its publisher; it does nothing if the
// sample was released already. The sample must not be used afterwards.
func (s *RawSample) Release() {
	sub := s.sub.s
	sub.mu.Lock()
	if s.conn == nil {
		sub.mu.Unlock()
		return
	}
	sub.release(s.conn, s.chunk)
	s.conn, s.payload, s.header = nil, nil, nil
	sub.mu.Unlock()
}
