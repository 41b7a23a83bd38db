package runtime

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
	"github.com/iox2go/iox2go/runtime/ring"
)

// Resource limits of ports.
//
// Each value of a QoS has its range, but values in range can still
// combine into more than a port can have: a publisher of a service with
// 65536 subscribers, each with a buffer of 65536 and 65536 borrowed
// samples, needs a pool of 8.6e9 chunks. The QoS of an existing service
// was written by another process, so a combination is checked, with
// arithmetic that cannot overflow, everywhere it can come in: when a
// service is created (the builder's values), when it is opened (the static
// config, before anything is mapped or allocated) and when a port is
// created (its own settings, such as MaxLoanedSamples and MaxSliceLen).
// What exceeds a limit is refused with ErrResourceLimit; nothing that
// another process wrote can make this one run out of memory.
//
// The limits: a pool holds at most ring.MaxCapacity chunks (the width of a
// chunk index), a queue at most ring.MaxCapacity entries, and one port at
// most Config.PortMemoryLimit bytes, counted at the worst case that its
// QoS allows: the segments it creates (a sender's data segment and one
// connection per receiver the service allows, a listener's event segment)
// and the process memory that tracks them (per chunk, and per connection
// a bitset over the sender's chunks). What a port maps of the segments
// that its peers created counts for the peers, each of which checks its
// own.

const (
	// DefaultPortMemoryLimit is the default of Config.PortMemoryLimit:
	// 1 GiB. The default QoS (34 chunks per publisher) stays below it up
	// to payloads of about 30 MiB; a service that needs more, or a machine
	// that can give less, sets its own. A bound far above the memory of
	// the machine would not protect it: a peer could make every port of
	// this process ask for that much.
	DefaultPortMemoryLimit = 1 << 30
	// MinPortMemoryLimit is the smallest Config.PortMemoryLimit: 1 MiB.
	MinPortMemoryLimit = 1 << 20
)

// u turns a QoS value or port setting into a uint64 for the checked
// arithmetic; callers have refused negative values before.
func u(n int) uint64 { return uint64(max(n, 0)) }

// footprint is the worst case of what one port (or a service's dynamic
// config) needs. Its counts saturate; check compares them with the limits.
type footprint struct {
	what string // "a publisher", ...

	chunks     uint64 // of the pool of its data segment; 0 without one
	chunksFrom string // how chunks follows from the QoS, with the values

	segment  uint64 // the segment it creates: data, event or dynamic config
	segName  string // "a data segment of 34 chunks of 128 bytes"
	conns    uint64 // connections it creates, at most
	connSize uint64 // bytes of each
	local    uint64 // process memory of its bookkeeping
}

// total is every byte that f counts.
func (f *footprint) total() uint64 {
	return protocol.SatAdd(protocol.SatAdd(f.segment, protocol.SatMul(f.conns, f.connSize)), f.local)
}

// checkIndex compares f with the limit that does not depend on memory:
// the width of a chunk index. (Every queue of a port holds at most as
// many entries as some pool has chunks, so it bounds the queues too.)
func (f *footprint) checkIndex() error {
	if f.chunks > ring.MaxCapacity {
		return fmt.Errorf("%s needs %s = %s chunks; a chunk index addresses at most %d", f.what, f.chunksFrom, fmtCount(f.chunks), ring.MaxCapacity)
	}
	return nil
}

// check compares f with every limit; limit is Config.PortMemoryLimit.
func (f *footprint) check(limit int) error {
	if err := f.checkIndex(); err != nil {
		return err
	}
	if t := f.total(); t > u(limit) {
		var parts []string
		if f.segment > 0 {
			parts = append(parts, f.segName)
		}
		if f.conns > 0 {
			parts = append(parts, fmt.Sprintf("%d connections of %s", f.conns, fmtBytes(f.connSize)))
		}
		if f.local > 0 && len(parts) == 0 {
			parts = append(parts, "bookkeeping")
		} else if f.local > 0 {
			parts = append(parts, fmtBytes(f.local)+" of bookkeeping")
		}
		list := "its memory"
		if len(parts) > 0 {
			list = parts[len(parts)-1]
		}
		if len(parts) > 1 {
			list = strings.Join(parts[:len(parts)-1], ", ") + " and " + list
		}
		return fmt.Errorf("%s needs up to %s for %s, more than the port memory limit of %s (Config.PortMemoryLimit, global.port-memory-limit)",
			f.what, fmtBytes(t), list, fmtBytes(u(limit)))
	}
	return nil
}

// fmtCount writes a count; one that may have saturated (2^63 or more)
// only as what is certain of it.
func fmtCount(n uint64) string {
	if n >= 1<<63 {
		return "more than 9223372036854775807"
	}
	return fmt.Sprint(n)
}

// fmtBytes writes n in the largest binary unit that keeps it at least 1,
// with the exact count of bytes beyond 1 KiB; a size that may have
// saturated (2^63 or more) only as what is certain of it.
func fmtBytes(n uint64) string {
	if n >= 1<<63 {
		return "more than 8 EiB"
	}
	if n < 1<<10 {
		return fmt.Sprintf("%d bytes", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i, v := 0, float64(n)/1024
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s (%d bytes)", v, units[i], n)
}

// The process memory that a port keeps for its chunks and connections,
// from the sizes of the structures that hold it.
const (
	// per chunk of a sender: its reference count, its state and its place
	// in the local free stack
	senderChunkBytes = 4 + 1 + 4
	// per connection of a sender, besides the bitset over its chunks (and
	// the queue handles of a response connection's further channels)
	sendConnBytes = uint64(unsafe.Sizeof(sendConn{})+unsafe.Sizeof(connection{})+unsafe.Sizeof((*sendConn)(nil))) + 3*ringQueueBytes
	// per connection of a receiver, besides the bitset over the sender's
	// chunks
	recvConnBytes  = uint64(unsafe.Sizeof(recvConn{})+unsafe.Sizeof(connection{})+unsafe.Sizeof((*recvConn)(nil))) + 3*ringQueueBytes
	ringQueueBytes = uint64(unsafe.Sizeof(ring.Queue{}))
)

// bitsetBytes is the size of a bitset over n chunks.
func bitsetBytes(n uint64) uint64 { return 8 * ((min(n, ring.MaxCapacity) + 63) / 64) }

// senderLocal is the process memory of a sender with a pool of chunks,
// peers connections, a history of history chunks and handles for loans
// loans of handle bytes each.
func senderLocal(chunks, peers, history, loans, handle uint64) uint64 {
	perConn := protocol.SatAdd(sendConnBytes, bitsetBytes(chunks))
	return protocol.SatAdd(protocol.SatAdd(protocol.SatMul(chunks, senderChunkBytes), protocol.SatMul(history, 4)),
		protocol.SatAdd(protocol.SatMul(peers, perConn), protocol.SatMul(loans, handle)))
}

// publisherFootprint is what a publisher of the service with QoS q (whose
// values are in range) needs, with the publisher's own loans and slice
// length.
func publisherFootprint(q *PubSubQoS, payload, header TypeInfo, loans, slice int) footprint {
	s, b, r, h := u(q.MaxSubscribers), u(q.SubscriberMaxBufferSize), u(q.SubscriberMaxBorrowedSamples), u(q.HistorySize)
	chunks := protocol.SatAdd(protocol.SatAdd(protocol.SatMul(s, protocol.SatAdd(b, r)), h), u(loans))
	f := footprint{what: "a publisher", chunks: chunks,
		chunksFrom: fmt.Sprintf("max subscribers %d × (subscriber max buffer size %d + subscriber max borrowed samples %d) + history size %d + max loaned samples %d",
			s, b, r, h, loans)}
	if f.checkIndex() != nil {
		return f
	}
	l := protocol.NewDataLayout(payload.Size, payload.Align, u(slice), chunks, header.Size, header.Align, 0)
	f.segment, f.segName = l.Bytes, dataSegName(chunks, l.Stride)
	f.conns = s
	f.connSize = u(protocol.NewConnLayout(1, uint32(b), completionCap(int(b+r))).Size)
	f.local = senderLocal(chunks, s, h, u(loans), uint64(unsafe.Sizeof(SampleMut[byte]{})))
	return f
}

func dataSegName(chunks, stride uint64) string {
	return fmt.Sprintf("a data segment of %d chunks of %s", chunks, fmtBytes(stride))
}

// subscriberFootprint is what a subscriber of the service with QoS q
// needs: a connection from each publisher, with a bitset over the pool of
// the smallest publisher the service allows, and its sample handles.
func subscriberFootprint(q *PubSubQoS) footprint {
	p, s, b, r, h := u(q.MaxPublishers), u(q.MaxSubscribers), u(q.SubscriberMaxBufferSize), u(q.SubscriberMaxBorrowedSamples), u(q.HistorySize)
	pool := protocol.SatAdd(protocol.SatAdd(protocol.SatMul(s, protocol.SatAdd(b, r)), h), 1)
	perConn := protocol.SatAdd(recvConnBytes, bitsetBytes(pool))
	return footprint{what: "a subscriber",
		local: protocol.SatAdd(protocol.SatMul(p, perConn), protocol.SatMul(r, uint64(unsafe.Sizeof(Sample[byte]{}))))}
}

// dynamicFootprint is the dynamic config of a service with room for nodes
// nodes and pubs + subs ports (values in range).
func dynamicFootprint(nodes, pubs, subs int) footprint {
	n := u(protocol.DynamicSize(nodes, pubs, subs))
	return footprint{what: "the service's dynamic config", segment: n,
		segName: fmt.Sprintf("the slots of max nodes %d and %d + %d ports", nodes, pubs, subs)}
}

// checkPubSub checks the dynamic config, a publisher with the default
// settings (q.PublisherMaxLoanedSamples, slice length 1) and a subscriber
// with the largest buffer of the service with QoS q (values in range).
func checkPubSub(q *PubSubQoS, payload, header TypeInfo, limit int) error {
	for _, f := range []footprint{
		dynamicFootprint(q.MaxNodes, q.MaxPublishers, q.MaxSubscribers),
		publisherFootprint(q, payload, header, q.PublisherMaxLoanedSamples, 1),
		subscriberFootprint(q),
	} {
		if err := f.check(limit); err != nil {
			return err
		}
	}
	return nil
}

// clientFootprint is what a client of the request-response service with
// QoS q needs, with its own slice length: its pool and request table, a
// request connection to each server, and a bitset over the pool of each
// server's smallest possible pool for the responses.
func clientFootprint(q *ReqResQoS, req TypeInfo, slice int) footprint {
	sv, c, a, lq := u(q.MaxServers), u(q.MaxClients), u(q.MaxActiveRequestsPerClient), u(q.MaxLoanedRequests)
	r, b := u(q.MaxResponseBufferSize), u(q.MaxBorrowedResponsesPerPendingResponse)
	chunks := protocol.SatAdd(protocol.SatAdd(protocol.SatMul(sv, protocol.SatMul(2, a)), a), lq)
	f := footprint{what: "a client", chunks: chunks,
		chunksFrom: fmt.Sprintf("max servers %d × 2 × max active requests per client %d + max active requests per client %d + max loaned requests %d",
			sv, a, a, lq)}
	if f.checkIndex() != nil {
		return f
	}
	l := protocol.NewDataLayout(req.Size, req.Align, u(slice), chunks, 0, 0, a)
	f.segment, f.segName = l.Bytes, dataSegName(chunks, l.Stride)
	f.conns = sv
	f.connSize = u(protocol.NewConnLayout(1, uint32(a), uint32(2*a)).Size)
	serverPool := protocol.SatMul(protocol.SatMul(c, a), protocol.SatAdd(protocol.SatAdd(r, b), 1))
	// Each response connection has a queue per request slot.
	responses := protocol.SatMul(sv, protocol.SatAdd(protocol.SatAdd(recvConnBytes, bitsetBytes(serverPool)), protocol.SatMul(a, ringQueueBytes+8)))
	slots := protocol.SatMul(a, protocol.SatAdd(uint64(unsafe.Sizeof(pendingReq{})+unsafe.Sizeof(PendingResponse[byte, byte]{})),
		protocol.SatMul(b, uint64(unsafe.Sizeof(heldChunk{})))))
	f.local = protocol.SatAdd(protocol.SatAdd(senderLocal(chunks, sv, 0, lq, uint64(unsafe.Sizeof(RequestMut[byte, byte]{}))), responses), slots)
	return f
}

// serverFootprint is what a server of the request-response service with
// QoS q needs, with its own loans per request and slice length: its pool,
// a response connection to each client (one queue per request slot of the
// client), and a bitset over each client's pool for the requests.
func serverFootprint(q *ReqResQoS, resp TypeInfo, loansPerRequest, slice int) footprint {
	sv, c, a := u(q.MaxServers), u(q.MaxClients), u(q.MaxActiveRequestsPerClient)
	r, b, lr := u(q.MaxResponseBufferSize), u(q.MaxBorrowedResponsesPerPendingResponse), u(loansPerRequest)
	chunks := protocol.SatMul(protocol.SatMul(c, a), protocol.SatAdd(protocol.SatAdd(r, b), lr))
	f := footprint{what: "a server", chunks: chunks,
		chunksFrom: fmt.Sprintf("max clients %d × max active requests per client %d × (max response buffer size %d + max borrowed responses per pending response %d + max loaned responses per request %d)",
			c, a, r, b, lr)}
	if f.checkIndex() != nil {
		return f
	}
	l := protocol.NewDataLayout(resp.Size, resp.Align, u(slice), chunks, 0, 0, 0)
	f.segment, f.segName = l.Bytes, dataSegName(chunks, l.Stride)
	f.conns = c
	// The completion queue holds a(r+b) < chunks entries.
	f.connSize = u(protocol.NewConnLayout(uint32(a), uint32(r), uint32(a*(r+b))).Size)
	clientPool := protocol.SatAdd(protocol.SatAdd(protocol.SatMul(sv, protocol.SatMul(2, a)), a), 1)
	requests := protocol.SatMul(c, protocol.SatAdd(recvConnBytes, bitsetBytes(clientPool)))
	active := protocol.SatMul(protocol.SatMul(c, a), protocol.SatAdd(uint64(unsafe.Sizeof(ActiveRequest[byte, byte]{})), protocol.SatMul(lr, 4)))
	loans := protocol.SatMul(protocol.SatMul(c, a), lr)
	channels := protocol.SatMul(protocol.SatMul(c, a), ringQueueBytes+8) // of the response connections
	f.local = protocol.SatAdd(protocol.SatAdd(senderLocal(chunks, c, 0, loans, uint64(unsafe.Sizeof(ResponseMut[byte]{}))), requests),
		protocol.SatAdd(active, channels))
	return f
}

// checkReqRes checks the dynamic config, a client and a server with the
// default settings (q.ServerMaxLoanedResponsesPerRequest, slice length 1)
// of the request-response service with QoS q (values in range).
func checkReqRes(q *ReqResQoS, req, resp TypeInfo, limit int) error {
	for _, f := range []footprint{
		dynamicFootprint(q.MaxNodes, q.MaxClients, q.MaxServers),
		clientFootprint(q, req, 1),
		serverFootprint(q, resp, q.ServerMaxLoanedResponsesPerRequest, 1),
	} {
		if err := f.check(limit); err != nil {
			return err
		}
	}
	return nil
}

// checkEvent checks the dynamic config, a listener (its event segment of
// EventIDMaxValue + 1 counters, and the activations it keeps) and a
// notifier (a mapping of each listener's segment) of the event service
// with QoS q (values in range).
func checkEvent(q *EventQoS, limit int) error {
	ids := u(q.EventIDMaxValue) + 1
	listener := footprint{what: "a listener", segment: u(protocol.NewEventLayout(uint32(ids)).Size),
		segName: fmt.Sprintf("an event segment of %d event ids (event id max value %d)", ids, q.EventIDMaxValue),
		local:   protocol.SatMul(ids, uint64(unsafe.Sizeof(EventActivation{})))}
	notifier := footprint{what: "a notifier",
		local: protocol.SatMul(u(q.MaxListeners), uint64(unsafe.Sizeof(notifierConn{})+unsafe.Sizeof((*notifierConn)(nil))))}
	for _, f := range []footprint{dynamicFootprint(q.MaxNodes, q.MaxNotifiers, q.MaxListeners), listener, notifier} {
		if err := f.check(limit); err != nil {
			return err
		}
	}
	return nil
}

// minType is the smallest payload type: with it, the checks of a
// configuration's default QoS depend on nothing but the QoS.
var minType = TypeInfo{Size: 1, Align: 1}

// checkDefaultIndexes checks that the default QoS of c leave room for a
// chunk index and a queue index, whatever the payload: a configuration
// whose defaults no port could use is refused. (Memory depends on the
// payload, and is checked when a service is created.)
func checkDefaultIndexes(c *Config) error {
	ps, rr := &c.Defaults.PublishSubscribe, &c.Defaults.RequestResponse
	for _, f := range []footprint{
		publisherFootprint(ps, minType, TypeInfo{}, ps.PublisherMaxLoanedSamples, 1),
		clientFootprint(rr, minType, 1),
		serverFootprint(rr, minType, rr.ServerMaxLoanedResponsesPerRequest, 1),
	} {
		if err := f.checkIndex(); err != nil {
			return err
		}
	}
	return nil
}
