package runtime

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
)

// activeReq is the server-local state of a received request.
type activeReq struct {
	used      bool
	gen       uint64 // bumped on close: stale responses see another gen
	idx       int    // in server.actives
	conn      *recvConn
	chunk     uint32
	length    uint64
	requestID uint64 // copied when received: the client cannot change it under us
	channel   uint32
	sequence  uint64
	loaned    []uint32 // response chunks on loan for this request
}

// server is the untyped core of a server port: a receiver of requests from
// the clients and a sender of responses to them, sharing one slot, one
// port ID and one mutex.
type server struct {
	rr   *reqResCore
	id   ID
	slot int

	mu     sync.Mutex
	closed bool

	rcv *receiver // requests
	snd *sender   // responses

	loansPerRequest int
	actives         []*activeReq
	skipped         uint64 // requests given up by their client, skipped without fire-and-forget
}

type serverOpts struct {
	loansPerRequest int
	strategy        Backpressure
	maxSlice        int
}

func newServer(rr *reqResCore, o serverOpts) (*server, error) {
	q := &rr.qos
	op := "create server"
	name := rr.core.name
	if err := rr.core.enter(op); err != nil {
		return nil, err
	}
	defer rr.core.exit()
	switch {
	case o.loansPerRequest < 1 || o.loansPerRequest > 1<<16 || o.maxSlice < 1:
		return nil, &ServiceError{Op: op, Service: name, Err: ErrInvalidQoS,
			Detail: fmt.Sprintf("max loaned responses per request %d must be in [1, 65536], max slice length %d at least 1", o.loansPerRequest, o.maxSlice)}
	case o.maxSlice != 1 && !rr.respSlice:
		return nil, &ServiceError{Op: op, Service: name, Err: ErrInvalidQoS, Detail: "MaxSliceLen needs a slice service (RequestResponseSlice)"}
	case o.strategy != RetryUntilDelivered && o.strategy != DiscardData:
		return nil, &ServiceError{Op: op, Service: name, Err: ErrInvalidQoS, Detail: fmt.Sprintf("unknown backpressure strategy %v", o.strategy)}
	}
	node := rr.core.node
	f := serverFootprint(q, rr.resp, o.loansPerRequest, o.maxSlice)
	if err := f.check(node.config.PortMemoryLimit); err != nil {
		return nil, &ServiceError{Op: op, Service: name, Err: ErrResourceLimit, Detail: err.Error()}
	}
	d := rr.core.dyn
	s := &server{rr: rr, id: newID(), loansPerRequest: o.loansPerRequest}
	s.slot = protocol.Claim(d.Subs, s.id, node.id)
	if s.slot < 0 {
		return nil, &ServiceError{Op: op, Service: name, Err: ErrExceedsMaxServers,
			Detail: fmt.Sprintf("the service supports %d", q.MaxServers)}
	}
	a := q.MaxActiveRequestsPerClient
	snd, err := newSender(senderOpts{
		core: rr.core, id: s.id, op: op, mu: &s.mu, peers: d.Pubs,
		connFor: func(protocol.PortInfo) connSpec { return rr.responseConn() },
		elem:    rr.resp, maxSlice: o.maxSlice, numChunks: q.serverChunks(o.loansPerRequest),
		maxLoans: q.MaxClients * a * o.loansPerRequest, safeOverflow: q.EnableSafeOverflowForResponses, strategy: o.strategy,
	})
	if err != nil {
		protocol.Release(&d.Subs[s.slot], node.id)
		return nil, err
	}
	s.snd = snd
	s.rcv = newReceiver(receiverOpts{
		core: rr.core, id: s.id, mu: &s.mu, peers: d.Pubs, elem: rr.req, slice: rr.reqSlice,
		layout: rr.requestConn().layout, wantTable: a, maxBorrowed: q.MaxClients * a, connMaxBorrowed: a,
	})
	s.rcv.wp = node.bell.newWaitpoint(&d.Subs[s.slot].Wake, nil)
	s.rcv.src = &waitSource{key: s, wp: s.rcv.wp, ready: s.hasRequests, what: "server " + s.id.String(), svc: name}
	sl := &d.Subs[s.slot]
	sl.SetServer(protocol.ServerSlot{MaxSliceLen: uint64(o.maxSlice)})
	protocol.Activate(sl)
	d.bump()
	s.mu.Lock()
	s.snd.update()
	s.rcv.update()
	err = s.snd.connError(op, -1)
	s.mu.Unlock()
	if err != nil {
		// A client that exists now would get no response from us.
		s.closePort()
		return nil, err
	}
	if err := rr.core.addPort(s); err != nil {
		s.closePort()
		return nil, err
	}
	return s, nil
}

// connected reports whether the client still wants responses to request
// requestID of its slot ch, received on c: c's client is still there and
// its request table names the request as active. Must be called with
// s.mu held, after s.rcv.update.
func (s *server) connected(c *recvConn, ch uint32, requestID uint64) bool {
	if s.closed || c.expired || uint64(ch) >= uint64(len(c.table)) {
		return false
	}
	// SYNC POINT request-state: paired with the client's stores in send,
	// closePending and setDisconnectHint.
	return protocol.ReqConnected(c.table[ch].Load(), requestID)
}

// receive takes the next request into a. Requests whose slot names no
// entry of the client's table come from a buggy or hostile client and
// are dropped; without fire-and-forget, requests that their client gave up
// are skipped. Must be called with s.mu held.
func (s *server) receive(a *activeReq) (bool, error) {
	if s.closed {
		return false, ErrClosed
	}
	for {
		c, i, n, err := s.rcv.receive()
		if err != nil || c == nil {
			return false, err
		}
		h := c.chunk(i)
		// Read once: later writes of the client cannot change what we act on.
		requestID, ch, seq := h.RequestID, protocol.ChunkChannel(h), h.Sequence
		if uint64(ch) >= uint64(len(c.table)) || requestID == 0 {
			s.rcv.dropped++
			s.rcv.release(c, i)
			s.rcv.wakeSender(c)
			continue
		}
		if !s.rr.qos.EnableFireAndForgetRequests && !s.connected(c, ch, requestID) {
			s.skipped++
			s.rcv.release(c, i)
			s.rcv.wakeSender(c)
			continue
		}
		a.used, a.conn, a.chunk, a.length = true, c, i, n
		a.requestID, a.channel, a.sequence = requestID, ch, seq
		a.loaned = a.loaned[:0]
		a.idx = len(s.actives)
		s.actives = append(s.actives, a)
		return true, nil
	}
}

// hasRequests reports whether a request may be queued; ErrClosed once the
// server is closed.
func (s *server) hasRequests() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, ErrClosed
	}
	return s.rcv.hasData(0), nil
}

// isConnected reports whether a's client still wants responses. Must be
// called with s.mu held.
func (s *server) isConnected(a *activeReq, gen uint64) bool {
	if !a.used || a.gen != gen || s.closed {
		return false
	}
	s.rcv.update()
	return s.connected(a.conn, a.channel, a.requestID)
}

// hasDisconnectHint reports whether a's client asked for the end of the
// response stream. Must be called with s.mu held.
func (s *server) hasDisconnectHint(a *activeReq, gen uint64) bool {
	if !s.isConnected(a, gen) {
		return false
	}
	// SYNC POINT request-state: paired with client.setDisconnectHint.
	return protocol.ReqHinted(a.conn.table[a.channel].Load())
}

// loan takes a response chunk for a. Must be called with s.mu held.
func (s *server) loan(a *activeReq, gen uint64) (uint32, error) {
	if s.closed {
		return 0, ErrClosed
	}
	if !a.used || a.gen != gen {
		return 0, ErrSampleNotOwned
	}
	if len(a.loaned) >= s.loansPerRequest {
		return 0, ErrExceedsMaxLoans
	}
	i, err := s.snd.loan()
	if err != nil {
		return 0, err
	}
	a.loaned = append(a.loaned, i)
	return i, nil
}

// unloan gives back response chunk i of a without sending it; it reports
// whether a had it. Must be called with s.mu held.
func (s *server) unloan(a *activeReq, gen uint64, i uint32) bool {
	if !a.used || a.gen != gen {
		return false
	}
	for j, x := range a.loaned {
		if x == i {
			last := len(a.loaned) - 1
			a.loaned[j] = a.loaned[last]
			a.loaned = a.loaned[:last]
			return true
		}
	}
	return false
}

// send sends loaned response chunk i of a to a's client, on the slot of
// the request. A response to a client that gave the request up or went
// away is dropped without error, as in iceoryx2. Must be called with s.mu
// held.
func (s *server) send(a *activeReq, gen uint64, i uint32, length uint64) error {
	if s.closed {
		s.snd.unloan(i) // ends the loan of a closed sender
		return ErrClosed
	}
	if !s.unloan(a, gen, i) {
		return ErrSampleNotOwned
	}
	s.rcv.update()
	if !s.connected(a.conn, a.channel, a.requestID) {
		s.snd.unloan(i)
		return nil
	}
	wanted := func() bool {
		s.rcv.update()
		return s.connected(a.conn, a.channel, a.requestID)
	}
	_, err := s.snd.sendTo(i, length, a.requestID, a.channel, a.conn.slot, a.conn.peer, wanted)
	return err
}

// closeActive ends a's response stream: its loans go back, its request
// chunk to the client, whose PendingResponse turns disconnected once every
// server did the same. Must be called with s.mu held.
func (s *server) closeActive(a *activeReq, gen uint64) {
	if !a.used || a.gen != gen {
		return
	}
	if !s.closed {
		for _, i := range a.loaned {
			s.snd.unloan(i)
		}
	}
	// (A closing server leaves its responses on loan: they stay mapped
	// until their holders send or release them, see sender.removeFiles.)
	a.loaned = a.loaned[:0]
	s.rcv.release(a.conn, a.chunk)
	// The client's PendingResponse may wait for the end of its stream.
	s.rcv.wakeSender(a.conn)
	last := len(s.actives) - 1
	s.actives[a.idx] = s.actives[last]
	s.actives[a.idx].idx = a.idx
	s.actives[last] = nil
	s.actives = s.actives[:last]
	a.used, a.conn = false, nil
	a.gen++
}

func (s *server) maintain() (done, wake bool) {
	if !s.mu.TryLock() {
		return false, false
	}
	if !s.closed {
		s.snd.maintainLocked()
		s.rcv.maintainLocked()
		wake = s.rcv.takeChanged()
	}
	s.mu.Unlock()
	return true, wake
}

func (s *server) waitpoint() *waitpoint { return s.rcv.wp }

func (s *server) closePort() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for len(s.actives) > 0 {
		a := s.actives[len(s.actives)-1]
		s.closeActive(a, a.gen)
	}
	d := s.rr.core.dyn
	s.snd.closeLocked()
	s.rcv.wp.close() // before the slot, whose word it forgets, goes
	protocol.Release(&d.Subs[s.slot], s.rr.core.node.id)
	d.bump()
	s.rcv.closeLocked()
	s.mu.Unlock()
	s.rr.core.removePort(s)
	return nil
}

// ServerBuilder configures a server.
type ServerBuilder[Req, Resp any] struct {
	svc  *RequestResponseService[Req, Resp]
	opts serverOpts
}

// ServerBuilder starts building a server with the service's defaults.
func (s *RequestResponseService[Req, Resp]) ServerBuilder() *ServerBuilder[Req, Resp] {
	q := &s.rr.qos
	return &ServerBuilder[Req, Resp]{svc: s, opts: serverOpts{
		loansPerRequest: q.ServerMaxLoanedResponsesPerRequest, strategy: q.ServerBackpressure, maxSlice: 1}}
}

// MaxLoanedResponsesPerRequest sets how many responses the server may have
// on loan for one active request at once. Default 2.
func (b *ServerBuilder[Req, Resp]) MaxLoanedResponsesPerRequest(n int) *ServerBuilder[Req, Resp] {
	b.opts.loansPerRequest = n
	return b
}

// Backpressure sets what a response's Send does with a full response
// buffer when the service has safe overflow for responses off.
func (b *ServerBuilder[Req, Resp]) Backpressure(s Backpressure) *ServerBuilder[Req, Resp] {
	b.opts.strategy = s
	return b
}

// MaxSliceLen sets the largest response a server of a slice service
// (RequestResponseSlice) can loan. Default 1.
func (b *ServerBuilder[Req, Resp]) MaxSliceLen(n int) *ServerBuilder[Req, Resp] {
	b.opts.maxSlice = n
	return b
}

// Create creates the server.
func (b *ServerBuilder[Req, Resp]) Create() (*Server[Req, Resp], error) {
	s, err := newServer(b.svc.rr, b.opts)
	if err != nil {
		return nil, err
	}
	return &Server[Req, Resp]{s: s}, nil
}

// Server creates a server with the default settings.
func (s *RequestResponseService[Req, Resp]) Server() (*Server[Req, Resp], error) {
	return s.ServerBuilder().Create()
}

// Server receives requests of type Req from every client of the service
// and answers them with responses of type Resp. It is safe for concurrent
// use.
type Server[Req, Resp any] struct {
	s        *server
	free     []*ActiveRequest[Req, Resp] // reused: receives allocate nothing once warm
	freeResp []*ResponseMut[Resp]
}

// ActiveRequest is a received request, read-only memory in the client's
// data segment, to which the server may send any number of responses
// until it closes it.
type ActiveRequest[Req, Resp any] struct {
	srv  *Server[Req, Resp]
	a    activeReq
	gen  uint64
	data *Req
	use  uint64 // counts the receives into this object (see Requests)
	kept bool   // Keep was called since it was received
}

// Receive returns the next request, or nil when there is none. It never
// blocks.
func (s *Server[Req, Resp]) Receive() (*ActiveRequest[Req, Resp], error) {
	sv := s.s
	sv.mu.Lock()
	defer sv.mu.Unlock()
	var ar *ActiveRequest[Req, Resp]
	if k := len(s.free); k > 0 {
		ar = s.free[k-1]
		s.free = s.free[:k-1]
	} else {
		ar = &ActiveRequest[Req, Resp]{srv: s}
		ar.a.loaned = make([]uint32, 0, sv.loansPerRequest)
	}
	ok, err := sv.receive(&ar.a)
	if !ok {
		s.free = append(s.free, ar)
		return nil, err
	}
	ar.gen = ar.a.gen
	ar.data = (*Req)(ar.a.conn.payload(ar.a.chunk))
	ar.use++
	ar.kept = false
	return ar, nil
}

// BlockingReceive returns the next request, waiting as long as it takes
// for one. It returns ctx.Err() when ctx ends, ErrClosed when the server
// (or its service or node) is closed, while it waits too; with signal
// handling on, also ErrNodeInterrupted or ErrNodeTerminationRequest. The
// goroutine parks without holding an OS thread, and the call allocates
// nothing once the server's free lists are warm.
func (s *Server[Req, Resp]) BlockingReceive(ctx context.Context) (*ActiveRequest[Req, Resp], error) {
	return block(ctx, s.s.rr.core.node, s.s.rcv.wp, func() (*ActiveRequest[Req, Resp], bool, error) {
		r, err := s.Receive()
		return r, r != nil, err
	})
}

// Requests returns an iterator over the requests that arrive, for a range
// loop:
//
//	for req, err := range server.Requests(ctx) {
//		if err != nil {
//			return err // ctx ended, or the server closed
//		}
//		req.SendCopy(answer(req.Payload()))
//	}
//
// Each iteration waits for the next request (BlockingReceive). The request
// is closed (ActiveRequest.Close: its response stream ends) when the loop
// body returns to the iterator, unless the body called its Keep: a kept
// request belongs to the caller, who responds later and closes it. When a
// wait fails, the iterator yields a nil request with the error once and
// stops.
func (s *Server[Req, Resp]) Requests(ctx context.Context) iter.Seq2[*ActiveRequest[Req, Resp], error] {
	return receiveSeq(func() (*ActiveRequest[Req, Resp], uint64, error) {
		r, err := s.BlockingReceive(ctx)
		if err != nil {
			return nil, 0, err
		}
		return r, r.use, nil
	}, (*ActiveRequest[Req, Resp]).closeUnkept, nil)
}

func (s *Server[Req, Resp]) waitSource() *waitSource { return s.s.rcv.src }

// HasRequests reports whether Receive may return a request; may be stale
// under concurrency.
func (s *Server[Req, Resp]) HasRequests() (bool, error) { return s.s.hasRequests() }

// ID returns the server's port ID.
func (s *Server[Req, Resp]) ID() ID { return s.s.id }

// Close closes the server: its active requests are closed (their clients
// see them disconnected) and its loans given back.
func (s *Server[Req, Resp]) Close() error { return s.s.closePort() }

// Payload returns the request's payload. It lives in shared memory that
// the server maps read-only: writing to it crashes the process.
func (r *ActiveRequest[Req, Resp]) Payload() *Req { return r.data }

// PayloadSlice returns the elements of a slice request, read-only.
func (r *ActiveRequest[Req, Resp]) PayloadSlice() []Req {
	if r.data == nil {
		return nil
	}
	return unsafe.Slice(r.data, r.a.length)
}

// Header returns the request's header.
func (r *ActiveRequest[Req, Resp]) Header() RequestHeader {
	sv := r.srv.s
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if !r.a.used || r.a.gen != r.gen {
		return RequestHeader{}
	}
	return RequestHeader{ClientID: r.a.conn.peer, RequestID: r.a.requestID, Sequence: r.a.sequence}
}

// IsConnected reports whether the client still wants responses: false once
// it closed the PendingResponse, closed the client or died (after its node
// was cleaned up). Responses sent then are dropped without error.
func (r *ActiveRequest[Req, Resp]) IsConnected() bool {
	sv := r.srv.s
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return sv.isConnected(&r.a, r.gen)
}

// HasDisconnectHint reports whether the client asked the servers to end
// the response stream (PendingResponse.SetDisconnectHint).
func (r *ActiveRequest[Req, Resp]) HasDisconnectHint() bool {
	sv := r.srv.s
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return sv.hasDisconnectHint(&r.a, r.gen)
}

// Loan loans a response whose payload is zeroed.
func (r *ActiveRequest[Req, Resp]) Loan() (*ResponseMut[Resp], error) { return r.LoanSlice(1) }

// LoanUninit loans a response without initializing its payload.
func (r *ActiveRequest[Req, Resp]) LoanUninit() (*ResponseMut[Resp], error) {
	return r.LoanSliceUninit(1)
}

// LoanSlice loans a response of n zeroed elements (see RequestResponseSlice).
func (r *ActiveRequest[Req, Resp]) LoanSlice(n int) (*ResponseMut[Resp], error) {
	m, err := r.LoanSliceUninit(n)
	if err != nil {
		return nil, err
	}
	clear(unsafe.Slice((*byte)(unsafe.Pointer(m.data)), uintptr(n)*unsafe.Sizeof(*m.data)))
	return m, nil
}

// LoanSliceUninit is LoanSlice without zeroing. It fails with
// ErrExceedsMaxLoans when the request has MaxLoanedResponsesPerRequest
// responses on loan.
func (r *ActiveRequest[Req, Resp]) LoanSliceUninit(n int) (*ResponseMut[Resp], error) {
	srv := r.srv
	sv := srv.s
	if n < 0 || uint64(n) > sv.snd.maxSlice {
		return nil, fmt.Errorf("%w: requested %d elements, the server's maximum is %d", ErrSliceLengthExceedsLimit, n, sv.snd.maxSlice)
	}
	sv.mu.Lock()
	defer sv.mu.Unlock()
	i, err := sv.loan(&r.a, r.gen)
	if err != nil {
		return nil, err
	}
	var m *ResponseMut[Resp]
	if k := len(srv.freeResp); k > 0 {
		m = srv.freeResp[k-1]
		srv.freeResp = srv.freeResp[:k-1]
	} else {
		m = &ResponseMut[Resp]{s: sv, home: &srv.freeResp}
	}
	m.a, m.gen, m.chunk, m.length = &r.a, r.gen, i, uint64(n)
	m.data = (*Resp)(sv.snd.payload(i))
	return m, nil
}

// SendCopy copies v into a loaned response and sends it.
func (r *ActiveRequest[Req, Resp]) SendCopy(v Resp) error {
	m, err := r.LoanUninit()
	if err != nil {
		return err
	}
	*m.data = v
	return m.Send()
}

// Close ends the response stream (iceoryx2's drop of an ActiveRequest):
// responses on loan for it are given back, and the client's
// PendingResponse turns disconnected once every server closed the
// request. The active request must not be used afterwards.
func (r *ActiveRequest[Req, Resp]) Close() {
	srv := r.srv
	sv := srv.s
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if r.data == nil {
		return
	}
	sv.closeActive(&r.a, r.gen)
	r.data = nil
	srv.free = append(srv.free, r)
}

// Keep keeps the request open after the body of a loop over Requests
// returns: the caller then owns it (responds to it later) and must Close
// it. Outside such a loop it does nothing.
func (r *ActiveRequest[Req, Resp]) Keep() {
	sv := r.srv.s
	sv.mu.Lock()
	if r.data != nil {
		r.kept = true
	}
	sv.mu.Unlock()
}

// closeUnkept closes the request received as use unless it was kept (or
// closed already: then the object may hold another receive's).
func (r *ActiveRequest[Req, Resp]) closeUnkept(use uint64) {
	srv := r.srv
	sv := srv.s
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if r.data == nil || r.use != use || r.kept {
		return
	}
	sv.closeActive(&r.a, r.gen)
	r.data = nil
	srv.free = append(srv.free, r)
}

// ResponseMut is a loaned response: memory in the server's data segment
// that the caller writes in place and then sends (or releases).
type ResponseMut[Resp any] struct {
	s      *server
	home   *[]*ResponseMut[Resp]
	a      *activeReq
	gen    uint64
	chunk  uint32
	length uint64
	data   *Resp
}

// Payload returns the response's payload, in shared memory.
func (m *ResponseMut[Resp]) Payload() *Resp { return m.data }

// PayloadSlice returns the elements of a slice response, in shared memory.
func (m *ResponseMut[Resp]) PayloadSlice() []Resp {
	if m.data == nil {
		return nil
	}
	return unsafe.Slice(m.data, m.length)
}

// Send sends the response to the client of its request, on the stream of
// that request only. A response to a client that no longer wants it is
// dropped without error. The response must not be used afterwards.
func (m *ResponseMut[Resp]) Send() error {
	s := m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.data == nil {
		return ErrSampleNotOwned
	}
	err := s.send(m.a, m.gen, m.chunk, m.length)
	m.data, m.a = nil, nil
	*m.home = append(*m.home, m)
	return err
}

// Release gives the loan back without sending.
func (m *ResponseMut[Resp]) Release() {
	s := m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.data == nil {
		return
	}
	if s.closed || s.unloan(m.a, m.gen, m.chunk) {
		s.snd.unloan(m.chunk)
	}
	m.data, m.a = nil, nil
	*m.home = append(*m.home, m)
}
