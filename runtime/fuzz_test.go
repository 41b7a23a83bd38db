package runtime

import (
	"errors"
	"os"
	"testing"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/shm"
)

// Everything that decodes what another process wrote is fuzzed here: the
// static config, the dynamic config, a data segment's geometry and the
// offsets that travel through the queues.

func FuzzStaticConfig(f *testing.F) {
	f.Add([]byte(`{"version":"0.1.0","name":"a","pattern":"publish_subscribe","hash":"h","uid":"u","publish_subscribe":{"max_publishers":1}}`))
	f.Add([]byte(`{`))
	f.Add([]byte(`{"hash":"h","publish_subscribe":{"max_publishers":-5,"max_subscribers":100000000}}`))
	f.Add([]byte{0, 1, 2})
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

func FuzzDataSegment(f *testing.F) {
	good := newDataLayout(40, 8, 1, 12, TypeInfo{}, 0)
	seed := make([]byte, good.size)
	h := (*dataHeader)(unsafe.Pointer(&seed[shm.HeaderSize]))
	*h = dataHeader{chunkStride: good.stride, numChunks: good.numChunks, chunksOffset: good.chunksOff,
		payloadOff: good.payloadOff, payloadSize: good.payloadSize, elemSize: good.elemSize, poolOffset: good.poolOff}
	f.Add(seed, uint64(good.encode(3)))
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
		i, ok := l.decode(v)
		if !ok {
			return
		}
		end := l.chunksOff + uint64(i)*l.stride + l.payloadOff + l.elemSize
		if end > uint64(len(buf)) {
			t.Fatalf("decode(%#x) = chunk %d, whose payload ends at %d, past the segment's %d bytes", v, i, end, len(buf))
		}
	})
}

func FuzzDynamicConfig(f *testing.F) {
	caps := dynCaps{nodes: 3, pubs: 2, subs: 2}
	seed := make([]byte, dynamicSize(caps.nodes, caps.pubs, caps.subs))
	f.Add(seed, uint32(3), uint32(2), uint32(2))
	f.Add(seed[:300], uint32(1<<30), uint32(0), uint32(7))
	f.Fuzz(func(t *testing.T, b []byte, nodes, pubs, subs uint32) {
		if len(b) < dynHeaderOffset+int(unsafe.Sizeof(dynHeader{})) {
			return
		}
		mem := make([]uint64, (len(b)+7)/8+1)
		buf := unsafe.Slice((*byte)(unsafe.Pointer(&mem[0])), len(b))
		copy(buf, b)
		h := (*dynHeader)(unsafe.Pointer(&buf[dynHeaderOffset]))
		h.maxNodes, h.maxPublishers, h.maxSubscribers = nodes, pubs, subs
		c := dynCaps{int(nodes), int(pubs), int(subs)}
		if !c.valid() {
			return
		}
		d, err := layDynamic(fakeSegment{b: buf}, c)
		if err != nil {
			return
		}
		for i := range d.pubs {
			snapshot(&d.pubs[i])
		}
		q := DefaultPubSubQoS()
		for i := range d.subs {
			if pi, ok := snapshot(&d.subs[i]); ok {
				buf, hist := subscriberBuffer(&q, pi)
				if buf < 1 || buf > q.SubscriberMaxBufferSize || hist < 0 || hist > buf {
					t.Fatalf("subscriber slot %+v gives buffer %d, history %d", pi, buf, hist)
				}
			}
		}
		d.nodeIDs()
		d.join(ID(12345))
		d.leave(ID(12345), true)
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
	for _, v := range []uint64{0, 1, ^uint64(0), l.encode(uint32(l.numChunks)), l.encode(0) + 8<<8, l.encode(0) | 1} {
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
