package idl

import (
	"fmt"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/iox2go/iox2go/idl/internal/ast"
)

// iceoryx2's request-response defaults (the runtime's DefaultReqResQoS),
// which the consistency checks use for what the IDL leaves unset.
var reqResDefaults = map[string]int{
	"max_active_requests_per_client":              4,
	"max_loaned_requests":                         2,
	"max_response_buffer_size":                    2,
	"max_borrowed_responses_per_pending_response": 2,
	"max_servers":                                 2,
	"max_clients":                                 8,
	"max_nodes":                                   20,
	"server_max_loaned_responses_per_request":     2,
}

// maxChunks is the largest number of chunks of a data segment, or of
// messages in flight on one connection: the capacity limit of the
// runtime's queues and free lists (ring.MaxCapacity).
const maxChunks = 1<<24 - 1

// reqResPayloads resolves the request and response of a request_response
// service: structs, or slices on both sides.
func (c *checker) reqResPayloads(svc *Service, p *ast.RequestResponse, sc *scope) bool {
	req, reqT, reqSlice, ok1 := c.message(p.Request, sc, "the request of a request_response service")
	resp, respT, respSlice, ok2 := c.message(p.Response, sc, "the response of a request_response service")
	svc.Payload, svc.PayloadType, svc.Response, svc.ResponseType = req, reqT, resp, respT
	svc.Slice = reqSlice && respSlice
	if reqSlice != respSlice {
		pos, side, other := typeSpecPos(p.Response), "response", "request"
		if respSlice {
			pos, side, other = typeSpecPos(p.Request), "request", "response"
		}
		c.errorf(pos, "expected sequence<T> as the %s, as the %s is one: requests and responses are both slices or neither", side, other)
		return false
	}
	return ok1 && ok2
}

// reqResSettings checks the QoS and the client and server defaults of a
// request-response service: each in its range, and consistent with each
// other and with the runtime's limits, so that the generated builders
// create what the IDL states.
func (c *checker) reqResSettings(svc *Service, found map[string]*ast.Annotation, sc *scope) bool {
	ok := true
	collect := func(names []string) []QoS {
		out, good := c.collectSettings(found, names, func(name string, a *ast.Annotation, q *QoS) bool {
			switch name {
			case "enable_safe_overflow_for_requests", "enable_safe_overflow_for_responses", "enable_fire_and_forget_requests":
				v, good := c.boolArg(a)
				q.Bool, q.IsBool = v, true
				return good
			case "client_backpressure", "server_backpressure":
				v, good := c.backpressureArg(a)
				q.Enum = v
				return good
			case "client_max_slice_len", "server_max_slice_len":
				v, good := c.countArg(a, sc, 1, MaxSize)
				q.Value = v
				return good
			}
			v, good := c.countArg(a, sc, 1, MaxQoS)
			q.Value = v
			return good
		})
		ok = ok && good
		return out
	}
	svc.QoS = collect(ReqResQoSNames)
	svc.Client = collect(ClientSettingNames)
	svc.Server = collect(ServerSettingNames)

	// value returns a count: stated, else iceoryx2's default.
	value := func(name string) int {
		for _, list := range [][]QoS{svc.QoS, svc.Client, svc.Server} {
			if q := qos(list, name); q != nil {
				return q.Value
			}
		}
		return reqResDefaults[name]
	}
	what := func(name string) string {
		for _, list := range [][]QoS{svc.QoS, svc.Client, svc.Server} {
			if q := qos(list, name); q != nil {
				return fmt.Sprintf("@%s (%d)", name, q.Value)
			}
		}
		return fmt.Sprintf("the default @%s (%d)", name, reqResDefaults[name])
	}

	if q := qos(svc.Client, "client_max_active_requests"); q != nil && q.Value > value("max_active_requests_per_client") {
		c.errorf(q.Pos, "@client_max_active_requests (%d) must be at most %s", q.Value, what("max_active_requests_per_client"))
		ok = false
	}
	for _, bp := range []struct{ port, overflow string }{
		{"client_backpressure", "enable_safe_overflow_for_requests"},
		{"server_backpressure", "enable_safe_overflow_for_responses"},
	} {
		q := qos(append(append([]QoS(nil), svc.Client...), svc.Server...), bp.port)
		if q == nil {
			continue
		}
		if overflow := qos(svc.QoS, bp.overflow); overflow == nil || overflow.Bool {
			state := "with safe overflow on (the default)"
			if overflow != nil {
				state = fmt.Sprintf("with @%s(TRUE)", bp.overflow)
			}
			queue := "a client replaces the oldest request of a full server queue"
			if bp.port == "server_backpressure" {
				queue = "a server replaces the oldest response of a full response buffer"
			}
			c.errorf(q.Pos, "@%s has no effect %s: %s; add @%s(FALSE)", bp.port, state, queue, bp.overflow)
			ok = false
		}
	}
	for _, sl := range []struct {
		name string
		t    *Type
	}{{"client_max_slice_len", svc.PayloadType}, {"server_max_slice_len", svc.ResponseType}} {
		q := qos(append(append([]QoS(nil), svc.Client...), svc.Server...), sl.name)
		switch {
		case q == nil:
		case !svc.Slice:
			c.errorf(q.Pos, "@%s applies only to slices (request_response sequence<T> -> sequence<U>)", sl.name)
			ok = false
		case sl.t != nil && uint64(q.Value) > MaxSize/sl.t.Size:
			c.errorf(found[sl.name].Args.Values[0].Pos, "@%s(%d) makes slices of more than %d bytes (%s is %d bytes)", sl.name, q.Value, MaxSize, typeString(sl.t), sl.t.Size)
			ok = false
		}
	}

	// The runtime sizes every data segment and connection for the worst
	// case; each must fit its queues (see ReqResQoS.checkSizes).
	if ok {
		a := value("max_active_requests_per_client")
		perConn := a * (value("max_response_buffer_size") + value("max_borrowed_responses_per_pending_response"))
		for _, lim := range []struct {
			desc    string
			n       int
			factors []string
		}{
			{"a client's chunks (max servers × 2 × max active requests per client + max active requests per client + max loaned requests)",
				value("max_servers")*2*a + a + value("max_loaned_requests"),
				[]string{"max_servers", "max_active_requests_per_client", "max_loaned_requests"}},
			{"the responses in flight on one connection (max active requests per client × (max response buffer size + max borrowed responses per pending response))",
				perConn,
				[]string{"max_active_requests_per_client", "max_response_buffer_size", "max_borrowed_responses_per_pending_response"}},
			{"a server's chunks (max clients × max active requests per client × (max response buffer size + max borrowed responses per pending response + server max loaned responses per request))",
				value("max_clients") * (perConn + a*value("server_max_loaned_responses_per_request")),
				[]string{"max_clients", "max_active_requests_per_client", "max_response_buffer_size", "max_borrowed_responses_per_pending_response", "server_max_loaned_responses_per_request"}},
		} {
			if lim.n <= maxChunks {
				continue
			}
			c.errorf(c.largestFactor(svc, found, lim.factors), "these settings make %s %d, more than the runtime's limit of %d", lim.desc, lim.n, maxChunks)
			ok = false
			break
		}
	}
	return ok
}

// largestFactor returns the position of the stated setting of names with
// the largest value (the first on a tie), or of the service name when the
// IDL states none of them.
func (c *checker) largestFactor(svc *Service, found map[string]*ast.Annotation, names []string) lexer.Position {
	pos, best := svc.Pos, 0
	for _, name := range names {
		a := found[name]
		if a == nil {
			continue
		}
		for _, list := range [][]QoS{svc.QoS, svc.Client, svc.Server} {
			if q := qos(list, name); q != nil && q.Value > best {
				pos, best = a.Pos, q.Value
			}
		}
	}
	return pos
}
