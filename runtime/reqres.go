package runtime

import "github.com/iox2go/iox2go/runtime/internal/protocol"
import "fmt"

// ReqResQoS is the quality of service of a request-response service and
// the default settings of its ports. The defaults are iceoryx2's.
type ReqResQoS struct {
	// What a client does with a server whose request queue is full:
	// replace the oldest request (true) or apply the client's backpressure.
	EnableSafeOverflowForRequests bool // default true
	// What a server does with a full response buffer of a pending
	// response: replace the oldest response (true) or apply the server's
	// backpressure.
	EnableSafeOverflowForResponses bool // default true
	// Whether servers receive requests whose PendingResponse the client
	// has already closed (true), or skip them (false).
	EnableFireAndForgetRequests bool // default true
	MaxActiveRequestsPerClient  int  // default 4: pending responses per client at once
	MaxLoanedRequests           int  // default 2: requests a client may have on loan
	// MaxResponseBufferSize is the number of unread responses one server
	// can queue for one pending response.
	MaxResponseBufferSize                  int // default 2
	MaxBorrowedResponsesPerPendingResponse int // default 2
	MaxServers                             int // default 2
	MaxClients                             int // default 8
	MaxNodes                               int // default 20

	// Port settings: the defaults of the client and server builders.
	ServerMaxLoanedResponsesPerRequest int          // default 2
	ClientBackpressure                 Backpressure // default RetryUntilDelivered
	ServerBackpressure                 Backpressure // default RetryUntilDelivered
}

// DefaultReqResQoS returns iceoryx2's request-response defaults.
func DefaultReqResQoS() ReqResQoS {
	return ReqResQoS{
		EnableSafeOverflowForRequests:          true,
		EnableSafeOverflowForResponses:         true,
		EnableFireAndForgetRequests:            true,
		MaxActiveRequestsPerClient:             4,
		MaxLoanedRequests:                      2,
		MaxResponseBufferSize:                  2,
		MaxBorrowedResponsesPerPendingResponse: 2,
		MaxServers:                             2,
		MaxClients:                             8,
		MaxNodes:                               20,
		ServerMaxLoanedResponsesPerRequest:     2,
	}
}

// ReqResStatic is the request-response part of a StaticConfig.
type ReqResStatic = protocol.ReqResStatic

func reqResStaticQoS(rs *ReqResStatic, ports ReqResQoS) ReqResQoS {
	return ReqResQoS{
		EnableSafeOverflowForRequests:          rs.EnableSafeOverflowForRequests,
		EnableSafeOverflowForResponses:         rs.EnableSafeOverflowForResponses,
		EnableFireAndForgetRequests:            rs.EnableFireAndForgetRequests,
		MaxActiveRequestsPerClient:             rs.MaxActiveRequestsPerClient,
		MaxLoanedRequests:                      rs.MaxLoanedRequests,
		MaxResponseBufferSize:                  rs.MaxResponseBufferSize,
		MaxBorrowedResponsesPerPendingResponse: rs.MaxBorrowedResponsesPerPendingResponse,
		MaxServers:                             rs.MaxServers,
		MaxClients:                             rs.MaxClients,
		MaxNodes:                               rs.MaxNodes,
		ServerMaxLoanedResponsesPerRequest:     ports.ServerMaxLoanedResponsesPerRequest,
		ClientBackpressure:                     ports.ClientBackpressure,
		ServerBackpressure:                     ports.ServerBackpressure,
	}
}

// Chunk counts of the data segments, from the worst case (see
// docs/ARCHITECTURE.md, "Request-response"). Each is checked against the
// capacity of the free list first (clientFootprint, serverFootprint),
// with values in range: then none of them overflows.
func (q *ReqResQoS) clientChunks() int {
	a := q.MaxActiveRequestsPerClient
	return q.MaxServers*2*a + a + q.MaxLoanedRequests
}

func (q *ReqResQoS) responseConnLimit() int {
	return q.MaxActiveRequestsPerClient * (q.MaxResponseBufferSize + q.MaxBorrowedResponsesPerPendingResponse)
}

func (q *ReqResQoS) serverChunks(loansPerRequest int) int {
	a := q.MaxActiveRequestsPerClient
	return q.MaxClients * (q.responseConnLimit() + a*loansPerRequest)
}

func (q *ReqResQoS) validate() error {
	const limit = 1 << 16
	for _, v := range []struct {
		name string
		n    int
	}{
		{"max active requests per client", q.MaxActiveRequestsPerClient},
		{"max loaned requests", q.MaxLoanedRequests},
		{"max response buffer size", q.MaxResponseBufferSize},
		{"max borrowed responses per pending response", q.MaxBorrowedResponsesPerPendingResponse},
		{"max servers", q.MaxServers},
		{"max clients", q.MaxClients},
		{"max nodes", q.MaxNodes},
		{"server max loaned responses per request", q.ServerMaxLoanedResponsesPerRequest},
	} {
		if v.n < 1 || v.n > limit {
			return fmt.Errorf("%s is %d, must be in [1, %d]", v.name, v.n, limit)
		}
	}
	for _, b := range []Backpressure{q.ClientBackpressure, q.ServerBackpressure} {
		if b != RetryUntilDelivered && b != DiscardData {
			return fmt.Errorf("unknown backpressure strategy %v", b)
		}
	}
	return nil
}

// RequestResponseBuilder configures a request-response service whose
// clients send requests of type Req and whose servers answer with
// responses of type Resp. Obtain one with RequestResponse; finish it with
// Create, Open or OpenOrCreate.
//
// As in iceoryx2, a QoS value set on the builder is a requirement when the
// service is opened: the existing service must offer at least that much,
// and exactly the same for the three behaviour flags. Values left unset
// take the defaults of the node's Config (Config.Defaults.RequestResponse)
// when the service is created and are not checked when it is opened.
type RequestResponseBuilder[Req, Resp any] struct {
	node      *Node
	name      string
	qos       ReqResQoS
	set       reqResSet
	attrs     []Attribute
	reqs      []Attribute
	reqSlice  bool
	respSlice bool
}

type reqResSet struct {
	reqOverflow, respOverflow, fireAndForget, active, loaned, respBuffer, borrowed, servers, clients, nodes bool
}

// RequestResponse starts building the request-response service name on
// node. Req and Resp must be fixed-layout types without pointers, as for
// PublishSubscribe.
func RequestResponse[Req, Resp any](node *Node, name string) *RequestResponseBuilder[Req, Resp] {
	b := &RequestResponseBuilder[Req, Resp]{node: node, name: name}
	if node != nil {
		b.qos = node.config.Defaults.RequestResponse
	} else {
		b.qos = DefaultReqResQoS()
	}
	return b
}

// RequestResponseSlice starts building a request-response service whose
// requests are slices of Req and whose responses are slices of Resp, of a
// length the sender picks per message (iceoryx2's request_response::<[Req],
// [Resp]>()): loan them with LoanSlice, read them with PayloadSlice.
func RequestResponseSlice[Req, Resp any](node *Node, name string) *RequestResponseBuilder[Req, Resp] {
	b := RequestResponse[Req, Resp](node, name)
	b.reqSlice, b.respSlice = true, true
	return b
}

// EnableSafeOverflowForRequests sets what a client does when a server's
// request queue is full: replace the oldest request (true, the default)
// or apply the client's backpressure strategy.
func (b *RequestResponseBuilder[Req, Resp]) EnableSafeOverflowForRequests(on bool) *RequestResponseBuilder[Req, Resp] {
	b.qos.EnableSafeOverflowForRequests, b.set.reqOverflow = on, true
	return b
}

// EnableSafeOverflowForResponses sets what a server does when the response
// buffer of a pending response is full: replace the oldest response (true,
// the default) or apply the server's backpressure strategy.
func (b *RequestResponseBuilder[Req, Resp]) EnableSafeOverflowForResponses(on bool) *RequestResponseBuilder[Req, Resp] {
	b.qos.EnableSafeOverflowForResponses, b.set.respOverflow = on, true
	return b
}

// EnableFireAndForgetRequests sets whether servers receive requests whose
// PendingResponse is already closed (true, the default; such an
// ActiveRequest is not connected) or skip them.
func (b *RequestResponseBuilder[Req, Resp]) EnableFireAndForgetRequests(on bool) *RequestResponseBuilder[Req, Resp] {
	b.qos.EnableFireAndForgetRequests, b.set.fireAndForget = on, true
	return b
}

// MaxActiveRequestsPerClient sets how many pending responses a client may
// have at once.
func (b *RequestResponseBuilder[Req, Resp]) MaxActiveRequestsPerClient(n int) *RequestResponseBuilder[Req, Resp] {
	b.qos.MaxActiveRequestsPerClient, b.set.active = n, true
	return b
}

// MaxLoanedRequests sets how many requests a client may have on loan at once.
func (b *RequestResponseBuilder[Req, Resp]) MaxLoanedRequests(n int) *RequestResponseBuilder[Req, Resp] {
	b.qos.MaxLoanedRequests, b.set.loaned = n, true
	return b
}

// MaxResponseBufferSize sets how many unread responses each server can
// queue for one pending response.
func (b *RequestResponseBuilder[Req, Resp]) MaxResponseBufferSize(n int) *RequestResponseBuilder[Req, Resp] {
	b.qos.MaxResponseBufferSize, b.set.respBuffer = n, true
	return b
}

// MaxBorrowedResponsesPerPendingResponse sets how many received responses
// a pending response may hold at once before releasing them.
func (b *RequestResponseBuilder[Req, Resp]) MaxBorrowedResponsesPerPendingResponse(n int) *RequestResponseBuilder[Req, Resp] {
	b.qos.MaxBorrowedResponsesPerPendingResponse, b.set.borrowed = n, true
	return b
}

// MaxServers sets how many servers the service supports at once.
func (b *RequestResponseBuilder[Req, Resp]) MaxServers(n int) *RequestResponseBuilder[Req, Resp] {
	b.qos.MaxServers, b.set.servers = n, true
	return b
}

// MaxClients sets how many clients the service supports at once.
func (b *RequestResponseBuilder[Req, Resp]) MaxClients(n int) *RequestResponseBuilder[Req, Resp] {
	b.qos.MaxClients, b.set.clients = n, true
	return b
}

// MaxNodes sets how many nodes may have the service open at once.
func (b *RequestResponseBuilder[Req, Resp]) MaxNodes(n int) *RequestResponseBuilder[Req, Resp] {
	b.qos.MaxNodes, b.set.nodes = n, true
	return b
}

// Attribute adds a key=value attribute that Create stores with the service.
func (b *RequestResponseBuilder[Req, Resp]) Attribute(key, value string) *RequestResponseBuilder[Req, Resp] {
	b.attrs = append(b.attrs, Attribute{Key: key, Value: value})
	return b
}

// RequireAttribute makes Open fail unless the service has key=value (an
// empty value requires only the key).
func (b *RequestResponseBuilder[Req, Resp]) RequireAttribute(key, value string) *RequestResponseBuilder[Req, Resp] {
	b.reqs = append(b.reqs, Attribute{Key: key, Value: value})
	return b
}

// Create creates the service; it fails with ErrServiceExists if it exists.
func (b *RequestResponseBuilder[Req, Resp]) Create() (*RequestResponseService[Req, Resp], error) {
	return b.open(modeCreate)
}

// Open opens the existing service; it fails with ErrServiceNotExist if there
// is none, and with ErrIncompatibleTypes, ErrIncompatibleQoS or
// ErrIncompatibleAttributes when it does not match the builder.
func (b *RequestResponseBuilder[Req, Resp]) Open() (*RequestResponseService[Req, Resp], error) {
	return b.open(modeOpen)
}

// OpenOrCreate opens the service, or creates it if it does not exist.
func (b *RequestResponseBuilder[Req, Resp]) OpenOrCreate() (*RequestResponseService[Req, Resp], error) {
	return b.open(modeOpenOrCreate)
}

func (b *RequestResponseBuilder[Req, Resp]) open(mode openMode) (*RequestResponseService[Req, Resp], error) {
	op := mode.String()
	reqTI, err := typeInfoOf[Req]()
	if err != nil {
		return nil, &ServiceError{Op: op, Service: b.name, Err: ErrInvalidType, Detail: "request: " + err.Error()}
	}
	respTI, err := typeInfoOf[Resp]()
	if err != nil {
		return nil, &ServiceError{Op: op, Service: b.name, Err: ErrInvalidType, Detail: "response: " + err.Error()}
	}
	q := b.qos
	if err := q.validate(); err != nil {
		return nil, &ServiceError{Op: op, Service: b.name, Err: ErrInvalidQoS, Detail: err.Error()}
	}
	spec := &serviceSpec{
		name:    b.name,
		pattern: PatternRequestResponse,
		caps:    protocol.DynCaps{Nodes: q.MaxNodes, Pubs: q.MaxClients, Subs: q.MaxServers},
		attrs:   b.attrs,
		reqs:    b.reqs,
		newStatic: func(sc *StaticConfig) {
			sc.RequestResponse = &ReqResStatic{
				Request:                                reqTI,
				RequestVariant:                         variant(b.reqSlice),
				Response:                               respTI,
				ResponseVariant:                        variant(b.respSlice),
				EnableSafeOverflowForRequests:          q.EnableSafeOverflowForRequests,
				EnableSafeOverflowForResponses:         q.EnableSafeOverflowForResponses,
				EnableFireAndForgetRequests:            q.EnableFireAndForgetRequests,
				MaxActiveRequestsPerClient:             q.MaxActiveRequestsPerClient,
				MaxLoanedRequests:                      q.MaxLoanedRequests,
				MaxResponseBufferSize:                  q.MaxResponseBufferSize,
				MaxBorrowedResponsesPerPendingResponse: q.MaxBorrowedResponsesPerPendingResponse,
				MaxServers:                             q.MaxServers,
				MaxClients:                             q.MaxClients,
				MaxNodes:                               q.MaxNodes,
			}
		},
		verify: func(sc *StaticConfig) (error, string) { return b.verify(sc, &reqTI, &respTI) },
		capsOf: func(sc *StaticConfig) protocol.DynCaps {
			rs := sc.RequestResponse
			return protocol.DynCaps{Nodes: rs.MaxNodes, Pubs: rs.MaxClients, Subs: rs.MaxServers}
		},
		limits: func(sc *StaticConfig, cfg *Config) (error, string) {
			rs := sc.RequestResponse
			have := reqResStaticQoS(rs, q)
			if err := have.validate(); err != nil {
				return ErrServiceCorrupted, err.Error()
			}
			if err := checkReqRes(&have, rs.Request, rs.Response, cfg.PortMemoryLimit); err != nil {
				return ErrResourceLimit, err.Error()
			}
			return nil, ""
		},
	}
	core, err := openService(b.node, spec, mode)
	if err != nil {
		return nil, err
	}
	// The QoS passed spec.limits, before the service was opened.
	rs := core.static.RequestResponse
	have := reqResStaticQoS(rs, q)
	rr := &reqResCore{core: core, qos: have, req: reqTI, resp: respTI,
		reqSlice: rs.RequestVariant == variantDynamic, respSlice: rs.ResponseVariant == variantDynamic}
	return &RequestResponseService[Req, Resp]{rr: rr}, nil
}

// verify checks an existing service against the builder: the request and
// response types must be the same, and every QoS value set on the builder
// must be met. The static config was written by another process: verify
// is also what keeps its values within the limits (via validate, after).
func (b *RequestResponseBuilder[Req, Resp]) verify(sc *StaticConfig, reqTI, respTI *TypeInfo) (error, string) {
	rs := sc.RequestResponse
	if rs == nil {
		return ErrServiceCorrupted, "static config has no request-response section"
	}
	if d := typeMismatch(reqTI, &rs.Request); d != "" {
		return ErrIncompatibleTypes, "request: " + d
	}
	if d := typeMismatch(respTI, &rs.Response); d != "" {
		return ErrIncompatibleTypes, "response: " + d
	}
	if v := variant(b.reqSlice); v != rs.RequestVariant {
		return ErrIncompatibleTypes, fmt.Sprintf("requested a %s request of %s, service has a %s request", v, reqTI.Name, rs.RequestVariant)
	}
	if v := variant(b.respSlice); v != rs.ResponseVariant {
		return ErrIncompatibleTypes, fmt.Sprintf("requested a %s response of %s, service has a %s response", v, respTI.Name, rs.ResponseVariant)
	}
	q, s := &b.qos, &b.set
	for _, c := range []struct {
		set       bool
		name      string
		want, got int
	}{
		{s.active, "max active requests per client", q.MaxActiveRequestsPerClient, rs.MaxActiveRequestsPerClient},
		{s.loaned, "max loaned requests", q.MaxLoanedRequests, rs.MaxLoanedRequests},
		{s.respBuffer, "max response buffer size", q.MaxResponseBufferSize, rs.MaxResponseBufferSize},
		{s.borrowed, "max borrowed responses per pending response", q.MaxBorrowedResponsesPerPendingResponse, rs.MaxBorrowedResponsesPerPendingResponse},
		{s.servers, "max servers", q.MaxServers, rs.MaxServers},
		{s.clients, "max clients", q.MaxClients, rs.MaxClients},
		{s.nodes, "max nodes", q.MaxNodes, rs.MaxNodes},
	} {
		if c.set && c.got < c.want {
			return ErrIncompatibleQoS, fmt.Sprintf("requested %s of at least %d, service has %d", c.name, c.want, c.got)
		}
	}
	for _, c := range []struct {
		set       bool
		name      string
		want, got bool
	}{
		{s.reqOverflow, "safe overflow for requests", q.EnableSafeOverflowForRequests, rs.EnableSafeOverflowForRequests},
		{s.respOverflow, "safe overflow for responses", q.EnableSafeOverflowForResponses, rs.EnableSafeOverflowForResponses},
		{s.fireAndForget, "fire-and-forget requests", q.EnableFireAndForgetRequests, rs.EnableFireAndForgetRequests},
	} {
		if c.set && c.want != c.got {
			return ErrIncompatibleQoS, fmt.Sprintf("requested %s %v, service has %v", c.name, c.want, c.got)
		}
	}
	return nil, ""
}

// reqResCore is the untyped part of an open request-response service.
type reqResCore struct {
	core                *serviceCore
	qos                 ReqResQoS // as stored in the static config; port settings from the builder
	req, resp           TypeInfo
	reqSlice, respSlice bool
}

// Connection geometries. Both sides derive them from the static config,
// never from a port slot: a request connection (client to server) has one
// queue of MaxActiveRequestsPerClient requests, and the server holds at
// most as many active requests from one client; a response connection
// (server to client) has one queue of MaxResponseBufferSize responses per
// request slot of the client, and the client holds at most
// MaxBorrowedResponsesPerPendingResponse per slot.
func (rr *reqResCore) requestConn() connSpec {
	a := rr.qos.MaxActiveRequestsPerClient
	return connSpec{layout: protocol.NewConnLayout(1, uint32(a), uint32(2*a)), limit: 2 * a}
}

func (rr *reqResCore) responseConn() connSpec {
	q := &rr.qos
	limit := q.responseConnLimit()
	return connSpec{layout: protocol.NewConnLayout(uint32(q.MaxActiveRequestsPerClient), uint32(q.MaxResponseBufferSize), uint32(limit)), limit: limit}
}

// RequestResponseService is an open request-response service: the factory
// of its clients and servers (iceoryx2's port factory). It is safe for
// concurrent use.
type RequestResponseService[Req, Resp any] struct {
	rr *reqResCore
}

// Name returns the service name.
func (s *RequestResponseService[Req, Resp]) Name() string { return s.rr.core.name }

// QoS returns the service's quality of service as stored when it was
// created (the port settings are this builder's).
func (s *RequestResponseService[Req, Resp]) QoS() ReqResQoS { return s.rr.qos }

// StaticConfig returns the service's static config.
func (s *RequestResponseService[Req, Resp]) StaticConfig() StaticConfig { return *s.rr.core.static }

// Attributes returns the attributes the service was created with.
func (s *RequestResponseService[Req, Resp]) Attributes() []Attribute {
	return append([]Attribute(nil), s.rr.core.static.Attributes...)
}

// NumberOfClients returns how many clients the service has; may be stale
// under concurrency. It returns 0 once the service (or its node) is
// closed.
func (s *RequestResponseService[Req, Resp]) NumberOfClients() int {
	return s.rr.core.countActive(false)
}

// NumberOfServers returns how many servers the service has; may be stale
// under concurrency. It returns 0 once the service (or its node) is
// closed.
func (s *RequestResponseService[Req, Resp]) NumberOfServers() int { return s.rr.core.countActive(true) }

// Close closes the clients and servers created through this handle's node
// and leaves the service; the last node to leave removes it.
func (s *RequestResponseService[Req, Resp]) Close() error { return s.rr.core.close() }
