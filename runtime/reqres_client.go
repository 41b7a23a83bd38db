package runtime

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
)

// pendingReq is the client-local state of one request slot (channel).
type pendingReq struct {
	used      bool
	gen       uint64 // bumped when the slot is given up: stale handles see another gen
	requestID uint64
	chunk     uint32
	length    uint64
	servers   int
	borrowed  int
	held      []heldChunk // responses received and not yet released
}

type heldChunk struct {
	conn  *recvConn
	chunk uint32
}

// client is the untyped core of a client port: a sender of requests to
// the servers and a receiver of responses from them, sharing one slot, one
// port ID and one mutex.
type client struct {
	rr   *reqResCore
	id   ID
	slot int

	mu     sync.Mutex
	closed bool

	snd *sender   // requests
	rcv *receiver // responses

	maxActive int
	active    int
	lastID    uint64
	pending   []pendingReq // by request slot
}

type clientOpts struct {
	maxActive int
	strategy  Backpressure
	maxSlice  int
}

func newClient(rr *reqResCore, o clientOpts) (*client, error) {
	q := &rr.qos
	op := "create client"
	name := rr.core.name
	if err := rr.core.enter(op); err != nil {
		return nil, err
	}
	defer rr.core.exit()
	switch {
	case o.maxActive < 1 || o.maxSlice < 1:
		return nil, &ServiceError{Op: op, Service: name, Err: ErrInvalidQoS,
			Detail: fmt.Sprintf("max active requests %d and max slice length %d must be at least 1", o.maxActive, o.maxSlice)}
	case o.maxActive > q.MaxActiveRequestsPerClient:
		return nil, &ServiceError{Op: op, Service: name, Err: ErrActiveRequestsExceedMax,
			Detail: fmt.Sprintf("requested %d, the service allows %d", o.maxActive, q.MaxActiveRequestsPerClient)}
	case o.maxSlice != 1 && !rr.reqSlice:
		return nil, &ServiceError{Op: op, Service: name, Err: ErrInvalidQoS, Detail: "MaxSliceLen needs a slice service (RequestResponseSlice)"}
	case o.strategy != RetryUntilDelivered && o.strategy != DiscardData:
		return nil, &ServiceError{Op: op, Service: name, Err: ErrInvalidQoS, Detail: fmt.Sprintf("unknown backpressure strategy %v", o.strategy)}
	}
	node := rr.core.node
	f := clientFootprint(q, rr.req, o.maxSlice)
	if err := f.check(node.config.PortMemoryLimit); err != nil {
		return nil, &ServiceError{Op: op, Service: name, Err: ErrResourceLimit, Detail: err.Error()}
	}
	d := rr.core.dyn
	c := &client{rr: rr, id: newID(), maxActive: o.maxActive, pending: make([]pendingReq, o.maxActive)}
	c.slot = protocol.Claim(d.Pubs, c.id, node.id)
	if c.slot < 0 {
		return nil, &ServiceError{Op: op, Service: name, Err: ErrExceedsMaxClients,
			Detail: fmt.Sprintf("the service supports %d", q.MaxClients)}
	}
	a := q.MaxActiveRequestsPerClient
	snd, err := newSender(senderOpts{
		core: rr.core, id: c.id, op: op, mu: &c.mu, peers: d.Subs,
		connFor: func(protocol.PortInfo) connSpec { return rr.requestConn() },
		elem:    rr.req, maxSlice: o.maxSlice, numChunks: q.clientChunks(), tableLen: a,
		maxLoans: q.MaxLoanedRequests, safeOverflow: q.EnableSafeOverflowForRequests, strategy: o.strategy,
	})
	if err != nil {
		protocol.Release(&d.Pubs[c.slot], node.id)
		return nil, err
	}
	c.snd = snd
	b := a * q.MaxBorrowedResponsesPerPendingResponse
	c.rcv = newReceiver(receiverOpts{
		core: rr.core, id: c.id, mu: &c.mu, peers: d.Subs, elem: rr.resp, slice: rr.respSlice,
		layout: rr.responseConn().layout, maxBorrowed: b, connMaxBorrowed: b,
	})
	c.rcv.wp = node.bell.newWaitpoint(&d.Pubs[c.slot].Wake, nil)
	s := &d.Pubs[c.slot]
	s.SetClient(protocol.ClientSlot{MaxActiveRequests: uint64(o.maxActive)})
	protocol.Activate(s)
	d.bump()
	c.mu.Lock()
	c.snd.update()
	c.rcv.update()
	err = c.snd.connError(op, -1)
	c.mu.Unlock()
	if err != nil {
		// A server that exists now would miss every request.
		c.closePort()
		return nil, err
	}
	if err := rr.core.addPort(c); err != nil {
		c.closePort()
		return nil, err
	}
	return c, nil
}

// send sends loaned request chunk i to every server and opens a request
// slot for its responses, whose index it returns. On error the loan is
// given back. Must be called with c.mu held.
func (c *client) send(i uint32, length uint64) (int, error) {
	if c.closed {
		c.snd.unloan(i) // ends the loan of a closed sender
		return -1, ErrClosed
	}
	if c.snd.state[i] != chunkLoaned {
		return -1, ErrSampleNotOwned
	}
	k := -1
	for j := range c.pending {
		if !c.pending[j].used {
			k = j
			break
		}
	}
	if k < 0 {
		c.snd.unloan(i)
		return -1, ErrExceedsMaxActiveRequests
	}
	c.lastID++
	id := c.lastID
	// SYNC POINT request-state: the slot turns active before the request
	// is pushed, so a server that receives it sees it connected; paired
	// with the servers' load in server.connected.
	c.snd.table[k].Store(protocol.ReqWord(id, true, false))
	n, err := c.snd.send(i, length, id, uint32(k), true)
	if err != nil {
		c.snd.table[k].Store(protocol.ReqWord(id, false, false))
		return -1, err
	}
	p := &c.pending[k]
	p.used, p.requestID, p.chunk, p.length, p.servers, p.borrowed = true, id, i, length, n, 0
	c.active++
	return k, nil
}

// pendingOf returns the open request slot k of generation gen, or nil.
// Must be called with c.mu held.
func (c *client) pendingOf(k int, gen uint64) *pendingReq {
	if c.closed || k < 0 || k >= len(c.pending) {
		return nil
	}
	p := &c.pending[k]
	if !p.used || p.gen != gen {
		return nil
	}
	return p
}

// receive takes the next response to the request in slot k. Must be
// called with c.mu held.
func (c *client) receive(k int, gen uint64) (*recvConn, uint32, uint64, error) {
	p := c.pendingOf(k, gen)
	if p == nil {
		return nil, 0, 0, ErrClosed
	}
	if p.borrowed >= c.rr.qos.MaxBorrowedResponsesPerPendingResponse {
		return nil, 0, 0, ErrExceedsMaxBorrows
	}
	conn, i, n := c.rcv.receiveOn(k, p.requestID)
	if conn == nil {
		return nil, 0, 0, nil
	}
	p.borrowed++
	p.held = append(p.held, heldChunk{conn, i})
	return conn, i, n, nil
}

// releaseResponse gives a received response back to its server. Must be
// called with c.mu held.
func (c *client) releaseResponse(k int, gen uint64, conn *recvConn, i uint32) {
	p := c.pendingOf(k, gen)
	if p == nil {
		return // released when its pending response was closed
	}
	for j, h := range p.held {
		if h.conn == conn && h.chunk == i {
			last := len(p.held) - 1
			p.held[j] = p.held[last]
			p.held[last] = heldChunk{}
			p.held = p.held[:last]
			p.borrowed--
			c.rcv.release(conn, i)
			return
		}
	}
}

// isConnected reports whether a server still has the request of slot k:
// queued or received and not yet closed. Must be called with c.mu held.
func (c *client) isConnected(k int, gen uint64) bool {
	p := c.pendingOf(k, gen)
	return p != nil && c.snd.inFlight(p.chunk)
}

// hasResponse reports whether a response may be waiting for slot k (it
// may be a late one of an earlier request of the slot, which Receive
// discards). Must be called with c.mu held.
func (c *client) hasResponse(k int, gen uint64) (bool, error) {
	if c.pendingOf(k, gen) == nil {
		return false, ErrClosed
	}
	return c.rcv.hasData(k), nil
}

// setDisconnectHint marks the request of slot k in the request table.
// Must be called with c.mu held.
func (c *client) setDisconnectHint(k int, gen uint64) {
	if p := c.pendingOf(k, gen); p != nil {
		// SYNC POINT request-state: paired with server.hasDisconnectHint.
		c.snd.table[k].Store(protocol.ReqWord(p.requestID, true, true))
	}
}

// closePending gives up the request of slot k: the servers see it
// disconnected, its responses go back unread, its chunk to the pool once
// the servers are done with it. Must be called with c.mu held.
func (c *client) closePending(k int, gen uint64) {
	p := c.pendingOf(k, gen)
	if p == nil {
		return
	}
	// SYNC POINT request-state: paired with server.connected.
	c.snd.table[k].Store(protocol.ReqWord(p.requestID, false, false))
	for j, h := range p.held {
		c.rcv.release(h.conn, h.chunk)
		p.held[j] = heldChunk{}
	}
	p.held = p.held[:0]
	p.borrowed = 0
	c.rcv.drainChannel(k)
	c.snd.deref(p.chunk)
	p.used = false
	p.gen++
	c.active--
}

func (c *client) waitpoint() *waitpoint { return c.rcv.wp }

func (c *client) maintain() (done, wake bool) {
	if !c.mu.TryLock() {
		return false, false
	}
	if !c.closed {
		c.snd.maintainLocked()
		c.rcv.maintainLocked()
		// Late responses to given-up requests go back to their servers.
		for k := range c.pending {
			if !c.pending[k].used {
				c.rcv.drainChannel(k)
			}
		}
		// A server that came or went may start or end response streams.
		wake = c.rcv.takeChanged() || c.snd.changed
		c.snd.changed = false
	}
	c.mu.Unlock()
	return true, wake
}

func (c *client) closePort() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	for k := range c.pending {
		c.closePending(k, c.pending[k].gen)
	}
	// Requests on loan stay mapped until their holders send or release
	// them (another goroutine may be writing into one): see
	// sender.removeFiles.
	c.closed = true
	d := c.rr.core.dyn
	c.snd.closeLocked()
	c.rcv.wp.close() // before the slot, whose word it forgets, goes
	protocol.Release(&d.Pubs[c.slot], c.rr.core.node.id)
	d.bump()
	c.rcv.closeLocked()
	c.mu.Unlock()
	c.rr.core.removePort(c)
	return nil
}

// ClientBuilder configures a client.
type ClientBuilder[Req, Resp any] struct {
	svc  *RequestResponseService[Req, Resp]
	opts clientOpts
}

// ClientBuilder starts building a client with the service's defaults.
func (s *RequestResponseService[Req, Resp]) ClientBuilder() *ClientBuilder[Req, Resp] {
	q := &s.rr.qos
	return &ClientBuilder[Req, Resp]{svc: s, opts: clientOpts{
		maxActive: q.MaxActiveRequestsPerClient, strategy: q.ClientBackpressure, maxSlice: 1}}
}

// MaxActiveRequests sets how many pending responses the client may have at
// once (at most the service's MaxActiveRequestsPerClient, the default).
func (b *ClientBuilder[Req, Resp]) MaxActiveRequests(n int) *ClientBuilder[Req, Resp] {
	b.opts.maxActive = n
	return b
}

// Backpressure sets what Send does with a full server queue when the
// service has safe overflow for requests off.
func (b *ClientBuilder[Req, Resp]) Backpressure(s Backpressure) *ClientBuilder[Req, Resp] {
	b.opts.strategy = s
	return b
}

// MaxSliceLen sets the largest request a client of a slice service
// (RequestResponseSlice) can loan. Default 1.
func (b *ClientBuilder[Req, Resp]) MaxSliceLen(n int) *ClientBuilder[Req, Resp] {
	b.opts.maxSlice = n
	return b
}

// Create creates the client.
func (b *ClientBuilder[Req, Resp]) Create() (*Client[Req, Resp], error) {
	c, err := newClient(b.svc.rr, b.opts)
	if err != nil {
		return nil, err
	}
	cl := &Client[Req, Resp]{c: c, requests: make([]RequestMut[Req, Resp], c.snd.maxLoans),
		pendings: make([]PendingResponse[Req, Resp], c.maxActive)}
	for i := range cl.requests {
		cl.requests[i].cl = cl
	}
	for k := range cl.pendings {
		cl.pendings[k].cl, cl.pendings[k].k = cl, k
	}
	return cl, nil
}

// Client creates a client with the default settings.
func (s *RequestResponseService[Req, Resp]) Client() (*Client[Req, Resp], error) {
	return s.ClientBuilder().Create()
}

// Client sends requests of type Req to every server of the service and
// receives their responses of type Resp. It is safe for concurrent use.
type Client[Req, Resp any] struct {
	c        *client
	requests []RequestMut[Req, Resp]      // preallocated: loans allocate nothing
	pendings []PendingResponse[Req, Resp] // one per request slot
}

// RequestMut is a loaned request: memory in the client's data segment that
// the caller writes in place and then sends (or releases).
type RequestMut[Req, Resp any] struct {
	cl     *Client[Req, Resp]
	chunk  uint32
	length uint64
	data   *Req
}

// Loan loans a request whose payload is zeroed.
func (c *Client[Req, Resp]) Loan() (*RequestMut[Req, Resp], error) { return c.LoanSlice(1) }

// LoanUninit loans a request without initializing its payload.
func (c *Client[Req, Resp]) LoanUninit() (*RequestMut[Req, Resp], error) {
	return c.LoanSliceUninit(1)
}

// LoanSlice loans a request of n zeroed elements (see RequestResponseSlice).
func (c *Client[Req, Resp]) LoanSlice(n int) (*RequestMut[Req, Resp], error) {
	r, err := c.LoanSliceUninit(n)
	if err != nil {
		return nil, err
	}
	clear(unsafe.Slice((*byte)(unsafe.Pointer(r.data)), uintptr(n)*unsafe.Sizeof(*r.data)))
	return r, nil
}

// LoanSliceUninit is LoanSlice without zeroing.
func (c *Client[Req, Resp]) LoanSliceUninit(n int) (*RequestMut[Req, Resp], error) {
	s := c.c.snd
	if n < 0 || uint64(n) > s.maxSlice {
		return nil, fmt.Errorf("%w: requested %d elements, the client's maximum is %d", ErrSliceLengthExceedsLimit, n, s.maxSlice)
	}
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	if c.c.closed {
		return nil, ErrClosed
	}
	i, err := s.loan()
	if err != nil {
		return nil, err
	}
	var r *RequestMut[Req, Resp]
	for k := range c.requests {
		if c.requests[k].data == nil {
			r = &c.requests[k]
			break
		}
	}
	r.chunk, r.length, r.data = i, uint64(n), (*Req)(s.payload(i))
	return r, nil
}

// SendCopy copies v into a loaned request and sends it.
func (c *Client[Req, Resp]) SendCopy(v Req) (*PendingResponse[Req, Resp], error) {
	r, err := c.LoanUninit()
	if err != nil {
		return nil, err
	}
	*r.data = v
	return r.Send()
}

// ID returns the client's port ID.
func (c *Client[Req, Resp]) ID() ID { return c.c.id }

// MaxActiveRequests returns how many pending responses the client may have.
func (c *Client[Req, Resp]) MaxActiveRequests() int { return c.c.maxActive }

// Close closes the client: its pending responses and loans are given up.
func (c *Client[Req, Resp]) Close() error { return c.c.closePort() }

// Payload returns the request's payload, in shared memory.
func (r *RequestMut[Req, Resp]) Payload() *Req { return r.data }

// PayloadSlice returns the elements of a slice request, in shared memory.
func (r *RequestMut[Req, Resp]) PayloadSlice() []Req {
	if r.data == nil {
		return nil
	}
	return unsafe.Slice(r.data, r.length)
}

// Send sends the request to every server and returns its pending
// response. It fails with ErrExceedsMaxActiveRequests when the client has
// MaxActiveRequests pending responses open (the request is then given
// back). The request must not be used afterwards.
func (r *RequestMut[Req, Resp]) Send() (*PendingResponse[Req, Resp], error) {
	cl := r.cl
	c := cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.data == nil {
		return nil, ErrSampleNotOwned
	}
	data, length := r.data, r.length
	k, err := c.send(r.chunk, r.length)
	r.data = nil
	if err != nil {
		return nil, err
	}
	p := &cl.pendings[k]
	p.gen, p.req, p.length = c.pending[k].gen, data, length
	return p, nil
}

// Release gives the loan back without sending.
func (r *RequestMut[Req, Resp]) Release() {
	c := r.cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.data == nil {
		return
	}
	c.snd.unloan(r.chunk)
	r.data = nil
}

// PendingResponse is a sent request that may get responses: a stream, from
// each server that received the request. Close it (iceoryx2's drop) when
// no more responses are wanted.
type PendingResponse[Req, Resp any] struct {
	cl     *Client[Req, Resp]
	k      int
	gen    uint64
	req    *Req
	length uint64
	free   []*Response[Resp]
}

// Receive returns the next response to the request, or nil when there is
// none. It never blocks. It fails with ErrExceedsMaxBorrows when the
// pending response holds MaxBorrowedResponsesPerPendingResponse responses,
// and with ErrClosed after Close.
func (p *PendingResponse[Req, Resp]) Receive() (*Response[Resp], error) {
	c := p.cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	conn, i, n, err := c.receive(p.k, p.gen)
	if err != nil || conn == nil {
		return nil, err
	}
	var r *Response[Resp]
	if k := len(p.free); k > 0 {
		r = p.free[k-1]
		p.free = p.free[:k-1]
	} else {
		r = &Response[Resp]{c: c, home: &p.free}
	}
	r.k, r.gen, r.conn, r.chunk, r.length = p.k, p.gen, conn, i, n
	r.data = (*Resp)(conn.payload(i))
	r.use++
	r.kept = false
	return r, nil
}

// BlockingReceive returns the next response to the request, waiting as
// long as it takes for one. It returns ErrStreamEnded once no server will
// respond any more (IsConnected is false and no response is queued),
// ctx.Err() when ctx ends, ErrClosed after Close and when the client (or
// its service or node) is closed, while it waits too, and
// ErrExceedsMaxBorrows at once when the pending response holds
// MaxBorrowedResponsesPerPendingResponse responses; with signal handling
// on, also ErrNodeInterrupted or ErrNodeTerminationRequest. The goroutine
// parks without holding an OS thread, and the call allocates nothing once
// the pending response's free list is warm.
func (p *PendingResponse[Req, Resp]) BlockingReceive(ctx context.Context) (*Response[Resp], error) {
	c := p.cl.c
	return block(ctx, c.rr.core.node, c.rcv.wp, func() (*Response[Resp], bool, error) {
		r, err := p.Receive()
		if r != nil || err != nil {
			return r, r != nil, err
		}
		if p.IsConnected() {
			return nil, false, nil
		}
		// No server holds the request any more. A server pushes its
		// responses before it gives the request back, so what it sent is
		// queued now.
		if r, err = p.Receive(); r != nil || err != nil {
			return r, r != nil, err
		}
		return nil, false, ErrStreamEnded
	})
}

// Responses returns an iterator over the responses that arrive, for a
// range loop:
//
//	for resp, err := range pending.Responses(ctx) {
//		if err != nil {
//			return err // ctx ended, or the client closed
//		}
//		use(resp.Payload())
//	}
//
// Each iteration waits for the next response (BlockingReceive); the loop
// ends when the stream ends (ErrStreamEnded is not yielded: every server
// that received the request closed it, went away or died, and every
// response was taken). The response is released when the loop body
// returns to the iterator, unless the body called its Keep: a kept
// response belongs to the caller, who releases it. When a wait fails
// otherwise, the iterator yields a nil response with the error once and
// stops.
func (p *PendingResponse[Req, Resp]) Responses(ctx context.Context) iter.Seq2[*Response[Resp], error] {
	return receiveSeq(func() (*Response[Resp], uint64, error) {
		r, err := p.BlockingReceive(ctx)
		if err != nil {
			return nil, 0, err
		}
		return r, r.use, nil
	}, (*Response[Resp]).releaseUnkept, ErrStreamEnded)
}

// pendingKey identifies a pending response (a request) for a WaitSet.
type pendingKey struct {
	c   *client
	k   int
	gen uint64
}

// waitSource makes the pending response attachable to a WaitSet: it is
// ready when a response is queued or the stream ended (IsConnected is
// false: detach it, or Close it, then).
func (p *PendingResponse[Req, Resp]) waitSource() *waitSource {
	c := p.cl.c
	c.mu.Lock()
	k, gen := p.k, p.gen
	c.mu.Unlock()
	return &waitSource{
		key: pendingKey{c, k, gen},
		wp:  c.rcv.wp,
		ready: func() (bool, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			if has, err := c.hasResponse(k, gen); has || err != nil {
				return has, err
			}
			return !c.isConnected(k, gen), nil
		},
		what: fmt.Sprintf("pending response %d of client %v", k, c.id),
		svc:  c.rr.core.name,
	}
}

// HasResponse reports whether Receive may return a response; may be stale
// under concurrency.
func (p *PendingResponse[Req, Resp]) HasResponse() (bool, error) {
	c := p.cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hasResponse(p.k, p.gen)
}

// IsConnected reports whether a server may still respond: true while some
// server has the request queued or open as an ActiveRequest, false once
// every server that received it closed it, went away or died, or when no
// server received it. Responses already queued stay receivable.
func (p *PendingResponse[Req, Resp]) IsConnected() bool {
	c := p.cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.isConnected(p.k, p.gen)
}

// NumberOfServerConnections returns how many servers the request was
// delivered to.
func (p *PendingResponse[Req, Resp]) NumberOfServerConnections() int {
	c := p.cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if q := c.pendingOf(p.k, p.gen); q != nil {
		return q.servers
	}
	return 0
}

// SetDisconnectHint asks the servers to finish the response stream (they
// see it with ActiveRequest.HasDisconnectHint).
func (p *PendingResponse[Req, Resp]) SetDisconnectHint() {
	c := p.cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setDisconnectHint(p.k, p.gen)
}

// Header returns the request's header.
func (p *PendingResponse[Req, Resp]) Header() RequestHeader {
	c := p.cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.pendingOf(p.k, p.gen)
	if q == nil {
		return RequestHeader{}
	}
	h := c.snd.chunk(q.chunk)
	return RequestHeader{ClientID: c.id, RequestID: q.requestID, Sequence: h.Sequence}
}

// Payload returns the request that was sent; valid until Close.
func (p *PendingResponse[Req, Resp]) Payload() *Req { return p.req }

// PayloadSlice returns the elements of the slice request that was sent.
func (p *PendingResponse[Req, Resp]) PayloadSlice() []Req { return unsafe.Slice(p.req, p.length) }

// Close gives up the request (iceoryx2's drop of a PendingResponse): the
// servers' ActiveRequests turn disconnected, responses not yet received
// and those still held go back to the servers. The pending response and
// its responses must not be used afterwards.
func (p *PendingResponse[Req, Resp]) Close() {
	c := p.cl.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closePending(p.k, p.gen)
}

// RequestHeader describes a request.
type RequestHeader struct {
	ClientID  ID     // the client's port ID
	RequestID uint64 // unique per client, from 1
	Sequence  uint64 // per client, from 0
}

// ResponseHeader describes a response.
type ResponseHeader struct {
	ServerID  ID     // the server's port ID
	RequestID uint64 // the request it answers
	Sequence  uint64 // per server, from 0
}

// Response is a received response: read-only memory in the server's data
// segment, held until Release.
type Response[Resp any] struct {
	c      *client
	home   *[]*Response[Resp]
	k      int
	gen    uint64
	conn   *recvConn
	chunk  uint32
	length uint64
	data   *Resp
	use    uint64 // counts the receives into this object (see Responses)
	kept   bool   // Keep was called since it was received
}

// Payload returns the response's payload. It lives in shared memory that
// the client maps read-only: writing to it crashes the process.
func (r *Response[Resp]) Payload() *Resp { return r.data }

// PayloadSlice returns the elements of a slice response, read-only.
func (r *Response[Resp]) PayloadSlice() []Resp {
	if r.data == nil {
		return nil
	}
	return unsafe.Slice(r.data, r.length)
}

// Header returns the response's header (zero after Release or after its
// pending response was closed).
func (r *Response[Resp]) Header() ResponseHeader {
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.data == nil || c.pendingOf(r.k, r.gen) == nil {
		return ResponseHeader{}
	}
	h := r.conn.chunk(r.chunk)
	return ResponseHeader{ServerID: r.conn.peer, RequestID: h.RequestID, Sequence: h.Sequence}
}

// Keep keeps the response after the body of a loop over Responses
// returns: the caller then owns it and must Release it. Outside such a
// loop it does nothing.
func (r *Response[Resp]) Keep() {
	c := r.c
	c.mu.Lock()
	if r.data != nil {
		r.kept = true
	}
	c.mu.Unlock()
}

// releaseUnkept releases the response received as use unless it was kept
// or released already.
func (r *Response[Resp]) releaseUnkept(use uint64) {
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.data == nil || r.use != use || r.kept {
		return
	}
	c.releaseResponse(r.k, r.gen, r.conn, r.chunk)
	r.data, r.conn = nil, nil
	*r.home = append(*r.home, r)
}

// Release gives the response back to its server. Use it with defer. The
// response must not be used afterwards.
func (r *Response[Resp]) Release() {
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.data == nil {
		return
	}
	c.releaseResponse(r.k, r.gen, r.conn, r.chunk)
	r.data, r.conn = nil, nil
	*r.home = append(*r.home, r)
}
