package runtime

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
)

// The raw request-response API works with request and response bytes
// instead of Go types, as the raw publish-subscribe API does (raw.go): it
// is for tools and bridges (package gateway) that handle services whose
// types they were not compiled with. Raw clients and servers are ordinary
// ports: a raw client talks to a Server[Req, Resp] and the other way round.
// The types come from the service's static config
// (StaticConfig().RequestResponse).

// RawReqResBuilder opens or creates a request-response service without Go
// types. Obtain one with RequestResponseRaw.
type RawReqResBuilder struct {
	node  *Node
	name  string
	attrs []Attribute
	reqs  []Attribute
}

// RequestResponseRaw starts building the raw view of request-response
// service name on node.
func RequestResponseRaw(node *Node, name string) *RawReqResBuilder {
	return &RawReqResBuilder{node: node, name: name}
}

// Attribute adds a key=value attribute that OpenOrCreate stores when it
// creates the service.
func (b *RawReqResBuilder) Attribute(key, value string) *RawReqResBuilder {
	b.attrs = append(b.attrs, Attribute{Key: key, Value: value})
	return b
}

// Open opens the existing service whatever its types: it adopts the
// request and response types and variants stored in its static config. It
// fails with ErrServiceNotExist if there is none and with
// ErrServiceCorrupted if the stored types are unusable.
func (b *RawReqResBuilder) Open() (*RawReqResService, error) { return b.open(nil, modeOpen) }

// OpenOrCreate opens the service, or creates it with the types and QoS of
// static. An existing service must have the request and response types
// and variants of static (ErrIncompatibleTypes otherwise); its QoS is not
// compared.
func (b *RawReqResBuilder) OpenOrCreate(static ReqResStatic) (*RawReqResService, error) {
	return b.open(&static, modeOpenOrCreate)
}

func checkRawReqRes(rs *ReqResStatic) string {
	if d := checkRawType(&rs.Request); d != "" {
		return "request " + d
	}
	if d := checkRawType(&rs.Response); d != "" {
		return "response " + d
	}
	for _, v := range []string{rs.RequestVariant, rs.ResponseVariant} {
		if v != variantFixed && v != variantDynamic {
			return fmt.Sprintf("variant %q is neither %q nor %q", v, variantFixed, variantDynamic)
		}
	}
	return ""
}

func (b *RawReqResBuilder) open(static *ReqResStatic, mode openMode) (*RawReqResService, error) {
	op := mode.String()
	ports := DefaultReqResQoS()
	if b.node != nil {
		ports = b.node.config.Defaults.RequestResponse
	}
	q := ports
	if static != nil {
		if d := checkRawReqRes(static); d != "" {
			return nil, &ServiceError{Op: op, Service: b.name, Err: ErrInvalidType, Detail: d}
		}
		q = reqResStaticQoS(static, ports)
		if err := q.validate(); err != nil {
			return nil, &ServiceError{Op: op, Service: b.name, Err: ErrInvalidQoS, Detail: err.Error()}
		}
		s := *static
		static = &s
	}
	spec := &serviceSpec{
		name:    b.name,
		pattern: PatternRequestResponse,
		caps:    protocol.DynCaps{Nodes: q.MaxNodes, Pubs: q.MaxClients, Subs: q.MaxServers},
		attrs:   b.attrs,
		reqs:    b.reqs,
		newStatic: func(sc *StaticConfig) {
			s := *static
			sc.RequestResponse = &s
		},
		verify: func(sc *StaticConfig) (error, string) {
			rs := sc.RequestResponse
			if rs == nil {
				return ErrServiceCorrupted, "static config has no request-response section"
			}
			if d := checkRawReqRes(rs); d != "" {
				return ErrServiceCorrupted, d
			}
			if static == nil {
				return nil, ""
			}
			if d := typeMismatch(&static.Request, &rs.Request); d != "" {
				return ErrIncompatibleTypes, "request: " + d
			}
			if d := typeMismatch(&static.Response, &rs.Response); d != "" {
				return ErrIncompatibleTypes, "response: " + d
			}
			if static.RequestVariant != rs.RequestVariant || static.ResponseVariant != rs.ResponseVariant {
				return ErrIncompatibleTypes, fmt.Sprintf("requested %s requests and %s responses, service has %s and %s",
					static.RequestVariant, static.ResponseVariant, rs.RequestVariant, rs.ResponseVariant)
			}
			return nil, ""
		},
		capsOf: func(sc *StaticConfig) protocol.DynCaps {
			rs := sc.RequestResponse
			return protocol.DynCaps{Nodes: rs.MaxNodes, Pubs: rs.MaxClients, Subs: rs.MaxServers}
		},
		limits: func(sc *StaticConfig, cfg *Config) (error, string) {
			rs := sc.RequestResponse
			have := reqResStaticQoS(rs, ports)
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
	rs := core.static.RequestResponse
	rr := &reqResCore{core: core, qos: reqResStaticQoS(rs, ports), req: rs.Request, resp: rs.Response,
		reqSlice: rs.RequestVariant == variantDynamic, respSlice: rs.ResponseVariant == variantDynamic}
	return &RawReqResService{s: &RequestResponseService[byte, byte]{rr: rr}}, nil
}

// RawReqResService is an open request-response service seen as bytes: the
// factory of raw clients and servers. It is safe for concurrent use.
type RawReqResService struct {
	s *RequestResponseService[byte, byte]
}

// Name returns the service name.
func (s *RawReqResService) Name() string { return s.s.Name() }

// StaticConfig returns the service's static config.
func (s *RawReqResService) StaticConfig() StaticConfig { return s.s.StaticConfig() }

// QoS returns the service's QoS.
func (s *RawReqResService) QoS() ReqResQoS { return s.s.QoS() }

// Close closes the service handle (its ports stay usable until closed).
func (s *RawReqResService) Close() error { return s.s.Close() }

func (s *RawReqResService) reqSize() uint64  { return s.s.rr.req.Size }
func (s *RawReqResService) respSize() uint64 { return s.s.rr.resp.Size }

// RawClientOptions configures a raw client; zero values take the defaults.
type RawClientOptions struct {
	MaxSliceLen       int // most elements of a request of a dynamic service (default 1)
	MaxActiveRequests int // default: the service's MaxActiveRequestsPerClient
	Backpressure      Backpressure
}

// Client creates a raw client.
func (s *RawReqResService) Client(o RawClientOptions) (*RawClient, error) {
	b := s.s.ClientBuilder().Backpressure(o.Backpressure)
	if o.MaxSliceLen != 0 {
		b.MaxSliceLen(o.MaxSliceLen)
	}
	if o.MaxActiveRequests != 0 {
		b.MaxActiveRequests(o.MaxActiveRequests)
	}
	c, err := b.Create()
	if err != nil {
		return nil, err
	}
	return &RawClient{c: c, reqSize: s.reqSize(), respSize: s.respSize()}, nil
}

// RawClient sends requests given as bytes. It is safe for concurrent use.
type RawClient struct {
	c                 *Client[byte, byte]
	reqSize, respSize uint64
}

// ID returns the client's port ID, the ClientID of its requests.
func (c *RawClient) ID() ID { return c.c.ID() }

// Close closes the client.
func (c *RawClient) Close() error { return c.c.Close() }

// LoanUninit loans a request of n elements (1 for a fixed request) whose
// bytes hold whatever an earlier request left: write every byte.
func (c *RawClient) LoanUninit(n int) (*RawRequestMut, error) {
	if !c.c.c.rr.reqSlice && n != 1 {
		return nil, fmt.Errorf("%w: requested %d elements of a fixed request, which has exactly 1", ErrSliceLengthExceedsLimit, n)
	}
	r, err := c.c.LoanSliceUninit(n)
	if err != nil {
		return nil, err
	}
	return &RawRequestMut{r: r, c: c}, nil
}

// RawRequestMut is a loaned raw request.
type RawRequestMut struct {
	r *RequestMut[byte, byte]
	c *RawClient
}

// Payload returns the request's bytes, in shared memory (nil once sent).
func (r *RawRequestMut) Payload() []byte {
	if r.r.data == nil {
		return nil
	}
	return unsafe.Slice(r.r.data, r.r.length*r.c.reqSize)
}

// Send sends the request to every server and returns its pending response.
func (r *RawRequestMut) Send() (*RawPendingResponse, error) {
	p, err := r.r.Send()
	if err != nil {
		return nil, err
	}
	return &RawPendingResponse{p: p, c: r.c}, nil
}

// Release gives the loan back without sending.
func (r *RawRequestMut) Release() { r.r.Release() }

// RawPendingResponse is a sent raw request's response stream.
type RawPendingResponse struct {
	p *PendingResponse[byte, byte]
	c *RawClient
}

// BlockingReceive waits for the next response, as
// PendingResponse.BlockingReceive: ErrStreamEnded once no server will
// respond any more.
func (p *RawPendingResponse) BlockingReceive(ctx context.Context) (*RawResponse, error) {
	r, err := p.p.BlockingReceive(ctx)
	if err != nil {
		return nil, err
	}
	return &RawResponse{r: r, size: p.c.respSize}, nil
}

// IsConnected reports whether a server may still respond.
func (p *RawPendingResponse) IsConnected() bool { return p.p.IsConnected() }

// SetDisconnectHint asks the servers to finish the response stream, as
// PendingResponse.SetDisconnectHint.
func (p *RawPendingResponse) SetDisconnectHint() { p.p.SetDisconnectHint() }

// Header returns the request's header.
func (p *RawPendingResponse) Header() RequestHeader { return p.p.Header() }

// Close gives up the request: the servers see it disconnected.
func (p *RawPendingResponse) Close() { p.p.Close() }

// RawResponse is a received raw response, held until Release.
type RawResponse struct {
	r    *Response[byte]
	size uint64
}

// Payload returns the response's bytes, read-only shared memory.
func (r *RawResponse) Payload() []byte {
	if r.r.data == nil {
		return nil
	}
	return unsafe.Slice(r.r.data, r.r.length*r.size)
}

// Len returns the number of response elements.
func (r *RawResponse) Len() int { return int(r.r.length) }

// Header returns the response's header.
func (r *RawResponse) Header() ResponseHeader { return r.r.Header() }

// Release gives the response back to its server.
func (r *RawResponse) Release() { r.r.Release() }

// RawServerOptions configures a raw server; zero values take the defaults.
type RawServerOptions struct {
	MaxSliceLen                  int // most elements of a response of a dynamic service (default 1)
	MaxLoanedResponsesPerRequest int
	Backpressure                 Backpressure
}

// Server creates a raw server.
func (s *RawReqResService) Server(o RawServerOptions) (*RawServer, error) {
	b := s.s.ServerBuilder().Backpressure(o.Backpressure)
	if o.MaxSliceLen != 0 {
		b.MaxSliceLen(o.MaxSliceLen)
	}
	if o.MaxLoanedResponsesPerRequest != 0 {
		b.MaxLoanedResponsesPerRequest(o.MaxLoanedResponsesPerRequest)
	}
	sv, err := b.Create()
	if err != nil {
		return nil, err
	}
	return &RawServer{s: sv, reqSize: s.reqSize(), respSize: s.respSize()}, nil
}

// RawServer receives requests as bytes and answers them with bytes. It is
// safe for concurrent use.
type RawServer struct {
	s                 *Server[byte, byte]
	reqSize, respSize uint64
}

// ID returns the server's port ID.
func (s *RawServer) ID() ID { return s.s.ID() }

// Close closes the server: its active requests are closed.
func (s *RawServer) Close() error { return s.s.Close() }

// BlockingReceive waits for the next request, as Server.BlockingReceive.
func (s *RawServer) BlockingReceive(ctx context.Context) (*RawActiveRequest, error) {
	a, err := s.s.BlockingReceive(ctx)
	if err != nil {
		return nil, err
	}
	return &RawActiveRequest{a: a, s: s}, nil
}

// RawActiveRequest is a received raw request; Close ends its response
// stream.
type RawActiveRequest struct {
	a *ActiveRequest[byte, byte]
	s *RawServer
}

// Payload returns the request's bytes, read-only shared memory.
func (r *RawActiveRequest) Payload() []byte {
	if r.a.data == nil {
		return nil
	}
	return unsafe.Slice(r.a.data, r.a.a.length*r.s.reqSize)
}

// Len returns the number of request elements.
func (r *RawActiveRequest) Len() int { return int(r.a.a.length) }

// Header returns the request's header.
func (r *RawActiveRequest) Header() RequestHeader { return r.a.Header() }

// IsConnected reports whether the client still wants responses.
func (r *RawActiveRequest) IsConnected() bool { return r.a.IsConnected() }

// HasDisconnectHint reports whether the client asked the servers to end
// the response stream (PendingResponse.SetDisconnectHint).
func (r *RawActiveRequest) HasDisconnectHint() bool { return r.a.HasDisconnectHint() }

// LoanUninit loans a response of n elements (1 for a fixed response):
// write every byte.
func (r *RawActiveRequest) LoanUninit(n int) (*RawResponseMut, error) {
	if !r.s.s.s.rr.respSlice && n != 1 {
		return nil, fmt.Errorf("%w: requested %d elements of a fixed response, which has exactly 1", ErrSliceLengthExceedsLimit, n)
	}
	m, err := r.a.LoanSliceUninit(n)
	if err != nil {
		return nil, err
	}
	return &RawResponseMut{m: m, size: r.s.respSize}, nil
}

// Close ends the response stream.
func (r *RawActiveRequest) Close() { r.a.Close() }

// RawResponseMut is a loaned raw response.
type RawResponseMut struct {
	m    *ResponseMut[byte]
	size uint64
}

// Payload returns the response's bytes, in shared memory.
func (m *RawResponseMut) Payload() []byte {
	if m.m.data == nil {
		return nil
	}
	return unsafe.Slice(m.m.data, m.m.length*m.size)
}

// Send sends the response on its request's stream.
func (m *RawResponseMut) Send() error { return m.m.Send() }

// Release gives the loan back without sending.
func (m *RawResponseMut) Release() { m.m.Release() }
