package runtime

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
	"github.com/iox2go/iox2go/runtime/shm"
)

// Everything that decodes what another process wrote is fuzzed here: the
// static config, the dynamic config, a data segment's geometry and the
// offsets that travel through the queues.

func FuzzStaticConfig(f *testing.F) {
	f.Add([]byte(`{"version":"7","name":"a","pattern":"publish_subscribe","hash":"h","uid":"u","publish_subscribe":{"max_publishers":1}}`))
	f.Add([]byte(`{`))
	f.Add([]byte(`{"hash":"h","publish_subscribe":{"max_publishers":-5,"max_subscribers":100000000}}`))
	f.Add([]byte{0, 1, 2})
	for _, seed := range staticSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg := DefaultConfig()
		cfg.Root = t.TempDir()
		cfg.InProcess = true
		cfg.Prefix = "fuzz_"
		hash := serviceHash("fuzzed", PatternPublishSubscribe)
		os.MkdirAll(cfg.servicesDir(), 0o700)
		if err := os.WriteFile(cfg.staticPath(hash), b, 0o600); err != nil {
			t.Fatal(err)
		}
		node, err := NewNodeBuilder().Config(cfg).SignalHandling(false).Create()
		if err != nil {
			t.Fatal(err)
		}
		defer node.Close()
		svc, err := PublishSubscribe[msg](node, "fuzzed").Open()
		if err == nil {
			svc.Close()
			return
		}
		var se *ServiceError
		if !errors.As(err, &se) {
			t.Fatalf("Open of a garbage static config: %v is not a *ServiceError", err)
		}
	})
}

// staticSeeds are static configs whose values are each in range: small
// ones of every pattern, and the combinations that exceed a limit (the
// 8.6e9-chunk publisher pool of the report, a server pool beyond a chunk
// index, a dynamic config and event segments beyond a small memory bound).
func staticSeeds() [][]byte {
	msgTI, _ := typeInfoOf[msg]()
	rqTI, _ := typeInfoOf[rqMsg]()
	rsTI, _ := typeInfoOf[rsMsg]()
	ps := func(pubs, subs, buf, borrowed, history int) StaticConfig {
		return StaticConfig{Name: "fuzzed", Pattern: PatternPublishSubscribe.String(), PublishSubscribe: &PubSubStatic{
			Payload: msgTI, PayloadVariant: variantFixed, MaxPublishers: pubs, MaxSubscribers: subs, MaxNodes: 4,
			HistorySize: history, SubscriberMaxBufferSize: buf, SubscriberMaxBorrowedSamples: borrowed, EnableSafeOverflow: true}}
	}
	rr := func(active, buf, borrowed, servers, clients int) StaticConfig {
		return StaticConfig{Name: "fuzzed", Pattern: PatternRequestResponse.String(), RequestResponse: &ReqResStatic{
			Request: rqTI, RequestVariant: variantFixed, Response: rsTI, ResponseVariant: variantDynamic,
			EnableSafeOverflowForRequests: true, EnableSafeOverflowForResponses: true, MaxActiveRequestsPerClient: active,
			MaxLoanedRequests: 2, MaxResponseBufferSize: buf, MaxBorrowedResponsesPerPendingResponse: borrowed,
			MaxServers: servers, MaxClients: clients, MaxNodes: 4}}
	}
	ev := func(notifiers, listeners, nodes, maxID int) StaticConfig {
		return StaticConfig{Name: "fuzzed", Pattern: PatternEvent.String(), Event: &EventStatic{
			MaxNotifiers: notifiers, MaxListeners: listeners, MaxNodes: nodes, EventIDMaxValue: maxID}}
	}
	var out [][]byte
	for _, sc := range []StaticConfig{
		ps(2, 2, 2, 2, 1), ps(2, 1<<16, 1<<16, 1<<16, 0), ps(1<<16, 2, 1<<16, 1<<16, 1<<16), ps(1, 1<<16, 1, 1, 0),
		rr(2, 2, 2, 1, 1), rr(1<<16, 1<<16, 1<<16, 1<<16, 1<<16), rr(1<<15, 1, 1, 1<<8, 1), rr(1<<10, 1<<10, 1, 1, 1),
		ev(2, 2, 4, 7), ev(1<<16, 1<<16, 1<<16, maxEventIDLimit),
	} {
		b, err := json.Marshal(&sc)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzStaticConfigPorts creates, as another process could, a service from
// a fuzzed static config (with a dynamic config that matches it), then
// opens it and creates every kind of port of its pattern. Nothing that the
// static config says may crash the process, or make a port allocate more
// than Config.PortMemoryLimit (a small one here: what the checks let
// through is allocated for real, in process memory).
func FuzzStaticConfigPorts(f *testing.F) {
	for _, seed := range staticSeeds() {
		f.Add(seed, uint8(3))
	}
	f.Fuzz(func(t *testing.T, b []byte, slice uint8) {
		var sc StaticConfig
		if json.Unmarshal(b, &sc) != nil {
			return
		}
		sc.Name, sc.Attributes = "fuzzed", nil
		// The types must be this process's for the typed builders; the
		// raw one takes any (checkRawStatic).
		if rs := sc.RequestResponse; rs != nil {
			rs.Request, _ = typeInfoOf[rqMsg]()
			rs.Response, _ = typeInfoOf[rsMsg]()
			if rs.RequestVariant == variantDynamic || rs.ResponseVariant == variantDynamic {
				rs.RequestVariant, rs.ResponseVariant = variantDynamic, variantDynamic
			}
		}
		cfg := DefaultConfig()
		cfg.Root = t.TempDir()
		cfg.InProcess = true
		cfg.Prefix = "fuzzp_"
		cfg.PortMemoryLimit = 8 << 20
		peer, err := NewNodeBuilder().Config(cfg).SignalHandling(false).Create()
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		if _, err := forgeService(peer, sc); err != nil {
			return // no valid capacities, or not one pattern
		}
		node, err := NewNodeBuilder().Config(cfg).SignalHandling(false).Create()
		if err != nil {
			t.Fatal(err)
		}
		defer node.Close()
		checkErr := func(what string, err error) {
			var se *ServiceError
			if err != nil && !errors.As(err, &se) {
				t.Fatalf("%s: %v is not a *ServiceError", what, err)
			}
		}
		switch sc.Pattern {
		case PatternPublishSubscribe.String():
			svc, err := PublishSubscribeRaw(node, "fuzzed").Open()
			checkErr("raw open", err)
			if err != nil {
				return
			}
			defer svc.Close()
			o := RawPublisherOptions{}
			if svc.IsSlice() {
				o.MaxSliceLen = int(slice)
			}
			if p, err := svc.PublisherWith(o); err == nil {
				defer p.Close()
			} else {
				checkErr("raw publisher", err)
			}
			if s, err := svc.Subscriber(); err == nil {
				defer s.Close()
			} else {
				checkErr("raw subscriber", err)
			}
		case PatternRequestResponse.String():
			var svc *RequestResponseService[rqMsg, rsMsg]
			if sc.RequestResponse.RequestVariant == variantDynamic {
				s, err := RequestResponseSlice[rqMsg, rsMsg](node, "fuzzed").Open()
				checkErr("open", err)
				svc = s
			} else {
				s, err := RequestResponse[rqMsg, rsMsg](node, "fuzzed").Open()
				checkErr("open", err)
				svc = s
			}
			if svc == nil {
				return
			}
			defer svc.Close()
			n := 1
			if sc.RequestResponse.RequestVariant == variantDynamic {
				n = max(int(slice), 1)
			}
			if c, err := svc.ClientBuilder().MaxSliceLen(n).Create(); err == nil {
				defer c.Close()
			} else {
				checkErr("client", err)
			}
			if s, err := svc.ServerBuilder().MaxSliceLen(n).Create(); err == nil {
				defer s.Close()
			} else {
				checkErr("server", err)
			}
		case PatternEvent.String():
			svc, err := Event(node, "fuzzed").Open()
			checkErr("open", err)
			if err != nil {
				return
			}
			defer svc.Close()
			if l, err := svc.Listener(); err == nil {
				defer l.Close()
			} else {
				checkErr("listener", err)
			}
			if n, err := svc.Notifier(); err == nil {
				defer n.Close()
			} else {
				checkErr("notifier", err)
			}
		}
	})
}

// FuzzPortFootprint checks the arithmetic of the limits over every QoS in
// range and any port settings: nothing overflows, and a publisher that
// passes the check has a data segment no larger than its footprint says
// and than the limit.
func FuzzPortFootprint(f *testing.F) {
	f.Add(uint32(8), uint32(2), uint32(2), uint32(0), int64(2), int64(1), uint32(24), uint32(8))
	f.Add(uint32(1<<16), uint32(1<<16), uint32(1<<16), uint32(1<<16), int64(2), int64(1), uint32(24), uint32(8))
	f.Add(uint32(1), uint32(1), uint32(1), uint32(0), int64(1), int64(math.MaxInt64), uint32(1<<31-1), uint32(4096))
	f.Fuzz(func(t *testing.T, subs, buf, borrowed, history uint32, loans, slice int64, size, align uint32) {
		q := DefaultPubSubQoS()
		q.MaxSubscribers, q.SubscriberMaxBufferSize = int(subs%(1<<16))+1, int(buf%(1<<16))+1
		q.SubscriberMaxBorrowedSamples, q.HistorySize = int(borrowed%(1<<16))+1, int(history%(1<<16+1))
		if loans < 1 || slice < 1 || size == 0 || align == 0 || align&(align-1) != 0 || align > 4096 {
			return
		}
		ti := TypeInfo{Size: uint64(size), Align: uint64(align)}
		fp := publisherFootprint(&q, ti, TypeInfo{}, int(loans), int(slice))
		if err := fp.check(DefaultPortMemoryLimit); err != nil {
			return
		}
		l := protocol.NewDataLayout(ti.Size, ti.Align, uint64(slice), fp.chunks, 0, 0, 0)
		if uint64(l.Size) != l.Bytes || l.Bytes > fp.total() || fp.total() > DefaultPortMemoryLimit {
			t.Fatalf("publisher %+v: layout of %d bytes (%d), footprint %d", q, l.Size, l.Bytes, fp.total())
		}
		if got := l.ChunksOff + l.Stride*l.NumChunks; got != l.Bytes {
			t.Fatalf("publisher %+v: chunks end at %d, size %d", q, got, l.Bytes)
		}
	})
}

func FuzzDataSegment(f *testing.F) {
	good := protocol.NewDataLayout(40, 8, 1, 12, 0, 0, 0)
	seed := make([]byte, good.Size)
	h := (*protocol.DataHeader)(unsafe.Pointer(&seed[shm.HeaderSize]))
	*h = protocol.DataHeader{ChunkStride: good.Stride, NumChunks: good.NumChunks, ChunksOffset: good.ChunksOff,
		PayloadOffset: good.PayloadOff, PayloadSize: good.PayloadSize, ElemSize: good.ElemSize, PoolOffset: good.PoolOff}
	f.Add(seed, uint64(good.Encode(3)))
	f.Add(seed[:200], uint64(1))
	f.Fuzz(func(t *testing.T, b []byte, v uint64) {
		mem := make([]uint64, (len(b)+7)/8+1)
		buf := unsafe.Slice((*byte)(unsafe.Pointer(&mem[0])), len(b))
		copy(buf, b)
		seg := fakeSegment{b: buf}
		l, err := readDataLayout(seg, 40, 0, 0)
		if err != nil {
			return
		}
		i, ok := l.Decode(v)
		if !ok {
			return
		}
		end := l.ChunksOff + uint64(i)*l.Stride + l.PayloadOff + l.ElemSize
		if end > uint64(len(buf)) {
			t.Fatalf("decode(%#x) = chunk %d, whose payload ends at %d, past the segment's %d bytes", v, i, end, len(buf))
		}
	})
}

func FuzzDynamicConfig(f *testing.F) {
	caps := protocol.DynCaps{Nodes: 3, Pubs: 2, Subs: 2}
	seed := make([]byte, protocol.DynamicSize(caps.Nodes, caps.Pubs, caps.Subs))
	f.Add(seed, uint32(3), uint32(2), uint32(2))
	f.Add(seed[:300], uint32(1<<30), uint32(0), uint32(7))
	f.Fuzz(func(t *testing.T, b []byte, nodes, pubs, subs uint32) {
		if len(b) < protocol.DynHeaderOffset+int(unsafe.Sizeof(protocol.DynHeader{})) {
			return
		}
		mem := make([]uint64, (len(b)+7)/8+1)
		buf := unsafe.Slice((*byte)(unsafe.Pointer(&mem[0])), len(b))
		copy(buf, b)
		h := (*protocol.DynHeader)(unsafe.Pointer(&buf[protocol.DynHeaderOffset]))
		h.MaxNodes, h.MaxPublishers, h.MaxSubscribers = nodes, pubs, subs
		c := protocol.DynCaps{Nodes: int(nodes), Pubs: int(pubs), Subs: int(subs)}
		if !c.Valid() {
			return
		}
		d, err := layDynamic(fakeSegment{b: buf}, c, nil)
		if err != nil {
			return
		}
		for i := range d.Pubs {
			protocol.Snapshot(&d.Pubs[i])
		}
		q := DefaultPubSubQoS()
		for i := range d.Subs {
			if pi, ok := protocol.Snapshot(&d.Subs[i]); ok {
				buf, hist := subscriberBuffer(&q, pi)
				if buf < 1 || buf > q.SubscriberMaxBufferSize || hist < 0 || hist > buf {
					t.Fatalf("subscriber slot %+v gives buffer %d, history %d", pi, buf, hist)
				}
			}
		}
		d.nodeIDs()
		d.join(ID(12345))
		d.leave(ID(12345), allAt)
	})
}

// fakeSegment is a Segment over plain memory, for the fuzz targets.
type fakeSegment struct{ b []byte }

func (s fakeSegment) Name() string   { return "fuzz" }
func (s fakeSegment) Bytes() []byte  { return s.b }
func (s fakeSegment) Writable() bool { return true }
func (s fakeSegment) Close() error   { return nil }

// TestHostileOffsetsAreDropped pushes garbage into a subscriber's queue, as
// a buggy or hostile publisher could: the subscriber drops it and keeps
// receiving the valid samples.
func TestHostileOffsetsAreDropped(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openMsg(t, node, "hostile", func(b *PublishSubscribeBuilder[msg]) { b.SubscriberMaxBufferSize(8) })
	sub := must[*Subscriber[msg]](t)(svc.Subscriber())
	pub := must[*Publisher[msg]](t)(svc.Publisher())
	send(t, pub, 1)
	pub.p.mu.Lock()
	var q interface{ Push(uint64) bool }
	for _, c := range pub.p.conns {
		if c != nil {
			q = c.conn.submission
		}
	}
	l := pub.p.layout
	for _, v := range []uint64{0, 1, ^uint64(0), l.Encode(uint32(l.NumChunks)), l.Encode(0) + 8<<8, l.Encode(0) | 1} {
		q.Push(v)
	}
	pub.p.mu.Unlock()
	send(t, pub, 2)
	if got := receiveAll(t, sub); !eq(got, []uint64{1, 2}) {
		t.Fatalf("received %v, want [1 2]", got)
	}
	if sub.s.dropped != 6 {
		t.Fatalf("subscriber dropped %d values, want 6", sub.s.dropped)
	}
}
