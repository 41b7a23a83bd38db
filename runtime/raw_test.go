package runtime

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"unsafe"
)

func bytesOf[T any](v *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
}

func openRaw(t *testing.T, node *Node, name string) *RawPubSubService {
	t.Helper()
	svc, err := PublishSubscribeRaw(node, name).Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

// TestRawFixedBothWays: a raw subscriber receives what a Publisher[T]
// sends and a Subscriber[T] what a raw publisher sends, user header
// included.
func TestRawFixedBothWays(t *testing.T) {
	node := testNode(t, testConfig(t))
	typed, err := WithUserHeader[stamp](PublishSubscribe[msg](node, "raw/fixed")).OpenOrCreate()
	if err != nil {
		t.Fatal(err)
	}
	raw := openRaw(t, node, "raw/fixed")
	if raw.IsSlice() || raw.PayloadType() != must[TypeInfo](t)(typeInfoOf[msg]()) {
		t.Fatalf("raw view: slice %v, payload %+v", raw.IsSlice(), raw.PayloadType())
	}
	if h, ok := raw.UserHeaderType(); !ok || h.Size != 16 {
		t.Fatalf("user header type %+v, %v", h, ok)
	}
	tsub := must[*Subscriber[msg]](t)(typed.Subscriber())
	tpub := must[*Publisher[msg]](t)(typed.Publisher())
	rsub := must[*RawSubscriber](t)(raw.Subscriber())
	rpub := must[*RawPublisher](t)(raw.Publisher(99)) // ignored: fixed
	if rpub.MaxSliceLen() != 1 || rpub.ElementSize() != int(unsafe.Sizeof(msg{})) {
		t.Fatalf("raw publisher: max slice %d, element size %d", rpub.MaxSliceLen(), rpub.ElementSize())
	}
	if n, m := raw.NumberOfPublishers(), raw.NumberOfSubscribers(); n != 2 || m != 2 {
		t.Fatalf("%d publishers, %d subscribers; want 2, 2", n, m)
	}

	// typed -> raw (and typed)
	want := msg{Seq: 7, Data: [6]int32{1, -2, 3, -4, 5, -6}, Tail: 0xbeef}
	s := must[*SampleMut[msg]](t)(tpub.Loan())
	*s.Payload() = want
	*UserHeader[stamp](s) = stamp{Nanos: 42, Origin: [4]byte{'i', 'm', 'u', '0'}}
	if n := must[int](t)(s.Send()); n != 2 {
		t.Fatalf("typed send reached %d subscribers, want 2", n)
	}
	r := must[*RawSample](t)(rsub.Receive())
	if r == nil {
		t.Fatal("raw subscriber received nothing")
	}
	if !bytes.Equal(r.Payload(), bytesOf(&want)) || r.Len() != 1 {
		t.Fatalf("raw payload %x (len %d), want %x", r.Payload(), r.Len(), bytesOf(&want))
	}
	if got := binary.NativeEndian.Uint64(r.UserHeader()); got != 42 || string(r.UserHeader()[8:12]) != "imu0" {
		t.Fatalf("raw user header %x", r.UserHeader())
	}
	if r.Sequence() != 0 || r.Publisher() != tpub.ID() {
		t.Fatalf("sequence %d publisher %v; want 0, %v", r.Sequence(), r.Publisher(), tpub.ID())
	}
	r.Release()
	r.Release() // twice is harmless
	if r.Payload() != nil || r.UserHeader() != nil {
		t.Fatal("a released sample still shows its bytes")
	}
	must[*Sample[msg]](t)(tsub.Receive()).Release()

	// raw -> typed (and raw)
	want2 := msg{Seq: 8, Tail: 3}
	m := must[*RawSampleMut](t)(rpub.Loan(1))
	if len(m.Payload()) != int(unsafe.Sizeof(msg{})) || len(m.UserHeader()) != 16 || m.Len() != 1 {
		t.Fatalf("raw loan: %d payload bytes, %d header bytes, len %d", len(m.Payload()), len(m.UserHeader()), m.Len())
	}
	copy(m.Payload(), bytesOf(&want2))
	binary.NativeEndian.PutUint64(m.UserHeader(), 99)
	if n := must[int](t)(m.Send()); n != 2 {
		t.Fatalf("raw send reached %d subscribers, want 2", n)
	}
	if _, err := m.Send(); !errors.Is(err, ErrSampleNotOwned) {
		t.Fatalf("second Send = %v, want ErrSampleNotOwned", err)
	}
	ts := must[*Sample[msg]](t)(tsub.Receive())
	if ts == nil || *ts.Payload() != want2 || UserHeader[stamp](ts).Nanos != 99 || ts.Header().Publisher != uint64(rpub.ID()) {
		t.Fatalf("typed subscriber got %+v", ts)
	}
	ts.Release()
	r = must[*RawSample](t)(rsub.Receive())
	if r == nil || !bytes.Equal(r.Payload(), bytesOf(&want2)) || r.Publisher() != rpub.ID() {
		t.Fatalf("raw subscriber got %+v", r)
	}
	r.Release()
	if r, err := rsub.Receive(); r != nil || err != nil {
		t.Fatalf("empty queue: Receive = %v, %v; want nil, nil", r, err)
	}

	// Loan zeroes what an earlier sample left; LoanUninit does not.
	m = must[*RawSampleMut](t)(rpub.LoanUninit(1))
	for i := range m.Payload() {
		m.Payload()[i] = 0xff
	}
	m.Release()
	m = must[*RawSampleMut](t)(rpub.Loan(1))
	if bytes.Count(m.Payload(), []byte{0}) != len(m.Payload()) || bytes.Count(m.UserHeader(), []byte{0}) != 16 {
		t.Fatalf("Loan is not zeroed: %x / %x", m.Payload(), m.UserHeader())
	}
	m.Release()
	m.Release()
	if _, err := rpub.Loan(2); !errors.Is(err, ErrSliceLengthExceedsLimit) {
		t.Fatalf("Loan(2) of a fixed payload = %v, want ErrSliceLengthExceedsLimit", err)
	}
	if _, err := raw.PublisherWith(RawPublisherOptions{MaxSliceLen: 4}); !errors.Is(err, ErrInvalidQoS) {
		t.Fatalf("MaxSliceLen 4 on a fixed service = %v, want ErrInvalidQoS", err)
	}
	for _, p := range []interface{ Close() error }{rsub, rpub, tsub, tpub} {
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rpub.Loan(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Loan after Close = %v, want ErrClosed", err)
	}
	if err := typed.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRawSliceBothWays does the same with a dynamic payload.
func TestRawSliceBothWays(t *testing.T) {
	node := testNode(t, testConfig(t))
	typed, err := PublishSubscribeSlice[point](node, "raw/slice").OpenOrCreate()
	if err != nil {
		t.Fatal(err)
	}
	defer typed.Close()
	raw := openRaw(t, node, "raw/slice")
	if !raw.IsSlice() {
		t.Fatal("raw view of a slice service is not a slice")
	}
	if _, ok := raw.UserHeaderType(); ok {
		t.Fatal("user header on a service without one")
	}
	tsub := must[*Subscriber[point]](t)(typed.Subscriber())
	tpub := must[*Publisher[point]](t)(typed.PublisherBuilder().MaxSliceLen(5).Create())
	rsub := must[*RawSubscriber](t)(raw.Subscriber())
	rpub := must[*RawPublisher](t)(raw.Publisher(4))

	pts := []point{{1, 2}, {3, 4}, {5, 6}}
	s := must[*SampleMut[point]](t)(tpub.LoanSlice(3))
	copy(s.PayloadSlice(), pts)
	must[int](t)(s.Send())
	r := must[*RawSample](t)(rsub.Receive())
	if r.Len() != 3 || !bytes.Equal(r.Payload(), unsafe.Slice((*byte)(unsafe.Pointer(&pts[0])), 24)) || r.UserHeader() != nil {
		t.Fatalf("raw slice sample: len %d payload %x header %x", r.Len(), r.Payload(), r.UserHeader())
	}
	r.Release()
	must[*Sample[point]](t)(tsub.Receive()).Release()

	m := must[*RawSampleMut](t)(rpub.Loan(4))
	if len(m.Payload()) != 32 || m.UserHeader() != nil {
		t.Fatalf("raw slice loan: %d bytes, header %x", len(m.Payload()), m.UserHeader())
	}
	copy(m.Payload(), unsafe.Slice((*byte)(unsafe.Pointer(&pts[0])), 24))
	must[int](t)(m.Send())
	ts := must[*Sample[point]](t)(tsub.Receive())
	if got := ts.PayloadSlice(); len(got) != 4 || got[0] != pts[0] || got[2] != pts[2] || got[3] != (point{}) {
		t.Fatalf("typed subscriber got %v", got)
	}
	ts.Release()
	must[*RawSample](t)(rsub.Receive()).Release()

	m = must[*RawSampleMut](t)(rpub.Loan(0))
	must[int](t)(m.Send())
	if r := must[*RawSample](t)(rsub.Receive()); r.Len() != 0 || len(r.Payload()) != 0 {
		t.Fatalf("empty slice: len %d, %d bytes", r.Len(), len(r.Payload()))
	} else {
		r.Release()
	}
	must[*Sample[point]](t)(tsub.Receive()).Release()
	for _, n := range []int{-1, 5} {
		if _, err := rpub.Loan(n); !errors.Is(err, ErrSliceLengthExceedsLimit) {
			t.Fatalf("Loan(%d) = %v, want ErrSliceLengthExceedsLimit", n, err)
		}
	}
}

// TestRawLengthFromHostilePublisherIsDropped: a slice sample that claims
// more elements than its chunk holds never reaches a raw subscriber.
func TestRawLengthFromHostilePublisherIsDropped(t *testing.T) {
	node := testNode(t, testConfig(t))
	typed, err := PublishSubscribeSlice[point](node, "raw/hostile").OpenOrCreate()
	if err != nil {
		t.Fatal(err)
	}
	defer typed.Close()
	raw := openRaw(t, node, "raw/hostile")
	rsub := must[*RawSubscriber](t)(raw.Subscriber())
	rpub := must[*RawPublisher](t)(raw.Publisher(8))
	for _, lie := range []uint64{9, 1 << 40, 1<<64 - 1} {
		m := must[*RawSampleMut](t)(rpub.Loan(8))
		m.length = lie
		must[int](t)(m.Send())
		if r, err := rsub.Receive(); r != nil || err != nil {
			t.Fatalf("sample claiming %d elements: Receive = %v, %v; want it dropped", lie, r, err)
		}
	}
	if rsub.s.dropped != 3 {
		t.Fatalf("dropped %d, want 3", rsub.s.dropped)
	}
	m := must[*RawSampleMut](t)(rpub.Loan(8))
	must[int](t)(m.Send())
	if r := must[*RawSample](t)(rsub.Receive()); r == nil || len(r.Payload()) != 64 {
		t.Fatalf("honest sample after lies: %v", r)
	} else {
		r.Release()
	}
}

func rawStatic(t *testing.T) PubSubStatic {
	ti := must[TypeInfo](t)(typeInfoOf[msg]())
	h := must[TypeInfo](t)(typeInfoOf[stamp]())
	q := DefaultPubSubQoS()
	return PubSubStatic{
		Payload: ti, PayloadVariant: variantFixed, UserHeader: &h,
		MaxPublishers: 3, MaxSubscribers: 5, MaxNodes: 4, HistorySize: 2,
		SubscriberMaxBufferSize: 6, SubscriberMaxBorrowedSamples: q.SubscriberMaxBorrowedSamples,
		EnableSafeOverflow: true,
	}
}

// TestRawCreate creates a service from a PubSubStatic (what replay does)
// and checks that typed openers see the same service.
func TestRawCreate(t *testing.T) {
	node := testNode(t, testConfig(t))
	st := rawStatic(t)
	raw, err := PublishSubscribeRaw(node, "raw/create").Attribute("k", "v").Create(st)
	if err != nil {
		t.Fatal(err)
	}
	got := raw.StaticConfig().PublishSubscribe
	if got.Payload != st.Payload || *got.UserHeader != *st.UserHeader || got.MaxPublishers != 3 ||
		got.SubscriberMaxBufferSize != 6 || got.HistorySize != 2 || got.PayloadVariant != "fixed" {
		t.Fatalf("stored %+v", got)
	}
	if a := raw.Attributes(); len(a) != 1 || a[0] != (Attribute{Key: "k", Value: "v"}) || raw.Name() != "raw/create" || raw.QoS().MaxNodes != 4 {
		t.Fatalf("attributes %v, name %q, qos %+v", a, raw.Name(), raw.QoS())
	}
	typed, err := WithUserHeader[stamp](PublishSubscribe[msg](node, "raw/create")).HistorySize(2).Open()
	if err != nil {
		t.Fatal(err)
	}
	typed.Close()
	if _, err := PublishSubscribe[msg](node, "raw/create").Open(); !errors.Is(err, ErrIncompatibleTypes) {
		t.Fatalf("typed open without the header = %v, want ErrIncompatibleTypes", err)
	}
	if _, err := PublishSubscribeRaw(node, "raw/create").Create(st); !errors.Is(err, ErrServiceExists) {
		t.Fatalf("second Create = %v, want ErrServiceExists", err)
	}
	again, err := PublishSubscribeRaw(node, "raw/create").OpenOrCreate(st)
	if err != nil {
		t.Fatal(err)
	}
	again.Close()
	other := st
	other.UserHeader = nil
	if _, err := PublishSubscribeRaw(node, "raw/create").OpenOrCreate(other); !errors.Is(err, ErrIncompatibleTypes) {
		t.Fatalf("OpenOrCreate without the header = %v, want ErrIncompatibleTypes", err)
	}
	other = st
	other.PayloadVariant = variantDynamic
	if _, err := PublishSubscribeRaw(node, "raw/create").OpenOrCreate(other); !errors.Is(err, ErrIncompatibleTypes) {
		t.Fatalf("OpenOrCreate of a dynamic payload = %v, want ErrIncompatibleTypes", err)
	}
	other = st
	other.Payload.LayoutHash = "00"
	if _, err := PublishSubscribeRaw(node, "raw/create").OpenOrCreate(other); !errors.Is(err, ErrIncompatibleTypes) {
		t.Fatalf("OpenOrCreate of another layout = %v, want ErrIncompatibleTypes", err)
	}
	if _, err := PublishSubscribeRaw(node, "raw/create").RequireAttribute("k", "w").Open(); !errors.Is(err, ErrIncompatibleAttributes) {
		t.Fatalf("Open requiring k=w = %v, want ErrIncompatibleAttributes", err)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := PublishSubscribeRaw(node, "raw/create").Open(); !errors.Is(err, ErrServiceNotExist) {
		t.Fatalf("Open after the last Close = %v, want ErrServiceNotExist", err)
	}
	// OpenOrCreate of a new service creates it.
	s2, err := PublishSubscribeRaw(node, "raw/create2").OpenOrCreate(st)
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
}

func TestRawCreateRejectsBadStatic(t *testing.T) {
	node := testNode(t, testConfig(t))
	for _, c := range []struct {
		edit func(*PubSubStatic)
		err  error
		msg  string
	}{
		{func(s *PubSubStatic) { s.Payload.Size = 0 }, ErrInvalidType, `payload type "github.com/iox2go/iox2go/runtime.msg" has size 0, must be in [1, 2147483647]`},
		{func(s *PubSubStatic) { s.Payload.Size = 1 << 31 }, ErrInvalidType, `payload type "github.com/iox2go/iox2go/runtime.msg" has size 2147483648, must be in [1, 2147483647]`},
		{func(s *PubSubStatic) { s.Payload.Align = 3 }, ErrInvalidType, `payload type "github.com/iox2go/iox2go/runtime.msg" has alignment 3, must be a power of two up to 4096`},
		{func(s *PubSubStatic) { s.Payload.Size = 44 }, ErrInvalidType, `payload type "github.com/iox2go/iox2go/runtime.msg" has size 44, not a multiple of its alignment 8`},
		{func(s *PubSubStatic) { s.UserHeader.Align = 0 }, ErrInvalidType, `user header type "github.com/iox2go/iox2go/runtime.stamp" has alignment 0, must be a power of two up to 4096`},
		{func(s *PubSubStatic) { s.PayloadVariant = "" }, ErrInvalidType, `payload variant "" is neither "fixed" nor "dynamic"`},
		{func(s *PubSubStatic) { s.MaxPublishers = 0 }, ErrInvalidQoS, `max publishers is 0, must be in [1, 65536]`},
	} {
		st := rawStatic(t)
		c.edit(&st)
		_, err := PublishSubscribeRaw(node, "raw/bad").Create(st)
		if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Create = %v, want %v with %q", err, c.err, c.msg)
		}
	}
}

func TestRawOpenRejectsBadStoredTypes(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	raw, err := PublishSubscribeRaw(node, "raw/corrupt").Create(rawStatic(t))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// What a broken or hostile creator could have stored.
	path := cfg.staticPath(serviceHash("raw/corrupt", PatternPublishSubscribe))
	sc := raw.StaticConfig()
	ps := *sc.PublishSubscribe
	ps.Payload.Align = 6
	sc.PublishSubscribe = &ps
	b, err := json.Marshal(&sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = PublishSubscribeRaw(node, "raw/corrupt").Open()
	if !errors.Is(err, ErrServiceCorrupted) || !strings.Contains(err.Error(), `payload type "github.com/iox2go/iox2go/runtime.msg" has alignment 6, must be a power of two up to 4096`) {
		t.Fatalf("Open of a service with a corrupt payload type = %v", err)
	}
	if _, err := PublishSubscribeRaw(node, "raw/missing").Open(); !errors.Is(err, ErrServiceNotExist) {
		t.Fatalf("Open of a missing service = %v, want ErrServiceNotExist", err)
	}
	if _, err := PublishSubscribeRaw(nil, "raw/x").Open(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Open on a nil node = %v, want ErrClosed", err)
	}
}

func TestRawHotPathAllocatesNothing(t *testing.T) {
	node := testNode(t, testConfig(t))
	typed, err := WithUserHeader[stamp](PublishSubscribeSlice[point](node, "raw/allocs")).OpenOrCreate()
	if err != nil {
		t.Fatal(err)
	}
	defer typed.Close()
	raw := openRaw(t, node, "raw/allocs")
	rsub := must[*RawSubscriber](t)(raw.Subscriber())
	rpub := must[*RawPublisher](t)(raw.Publisher(16))
	allocs := testing.AllocsPerRun(1000, func() {
		m, err := rpub.Loan(16)
		if err != nil {
			t.Fatal(err)
		}
		m.Payload()[0] = 1
		m.UserHeader()[0] = 2
		if _, err := m.Send(); err != nil {
			t.Fatal(err)
		}
		r, err := rsub.Receive()
		if err != nil || r == nil {
			t.Fatal("no sample", err)
		}
		_ = r.Payload()[0] + r.UserHeader()[0]
		_, _ = r.Sequence(), r.Publisher()
		r.Release()
		m, _ = rpub.LoanUninit(1)
		m.Release()
	})
	if allocs != 0 {
		t.Fatalf("raw loan+send+receive+release allocates %v times", allocs)
	}
}

// TestRawPublisherExcludeAndUndelivered: a raw publisher never delivers to
// the subscriber it excludes, also one that subscribes later; Undelivered
// counts what full queues did not take, discarded or overwritten.
func TestRawPublisherExcludeAndUndelivered(t *testing.T) {
	node := testNode(t, testConfig(t))
	for _, overflow := range []bool{false, true} {
		name := "raw/exclude"
		if overflow {
			name += "-overflow"
		}
		typed, err := PublishSubscribe[msg](node, name).SubscriberMaxBufferSize(2).EnableSafeOverflow(overflow).OpenOrCreate()
		if err != nil {
			t.Fatal(err)
		}
		defer typed.Close()
		raw := openRaw(t, node, name)
		mine := must[*RawSubscriber](t)(raw.Subscriber())
		pub := must[*RawPublisher](t)(raw.PublisherWith(RawPublisherOptions{Backpressure: DiscardData, Exclude: mine.ID()}))
		other := must[*Subscriber[msg]](t)(typed.Subscriber()) // after the publisher: connected at its next send
		for i := range 5 {
			s := must[*RawSampleMut](t)(pub.Loan(1))
			binary.NativeEndian.PutUint64(s.Payload(), uint64(i))
			if n := must[int](t)(s.Send()); n != 1 && !(n == 0 && !overflow && i >= 2) {
				t.Fatalf("overflow %v: sample %d delivered to %d subscribers", overflow, i, n)
			}
		}
		if s := must[*RawSample](t)(mine.Receive()); s != nil {
			t.Fatalf("overflow %v: the excluded subscriber received %x", overflow, s.Payload())
		}
		d, o := pub.Undelivered()
		want := []uint64{0, 1} // the queue holds 2 of the 5
		if overflow {
			if d != 0 || o != 3 {
				t.Errorf("safe overflow: undelivered %d discarded, %d overwritten; want 0, 3", d, o)
			}
			want = []uint64{3, 4}
		} else if d != 3 || o != 0 {
			t.Errorf("discard: undelivered %d discarded, %d overwritten; want 3, 0", d, o)
		}
		for _, w := range want {
			s := must[*Sample[msg]](t)(other.Receive())
			if s == nil || s.Payload().Seq != w {
				t.Fatalf("overflow %v: got %v, want seq %d", overflow, s, w)
			}
			s.Release()
		}
	}
}

// TestRawPublisherDiscardIfFull: while every subscriber's queue is full, a
// DiscardData publisher accounts for a sample without sending it: one
// discarded delivery per subscriber and a sequence number, so that the
// subscribers see the gap; it says no whenever a send could deliver or
// would not discard (room in a queue, no subscriber, safe overflow,
// history, another backpressure), and allocates nothing.
func TestRawPublisherDiscardIfFull(t *testing.T) {
	node := testNode(t, testConfig(t))
	open := func(name string, overflow bool, history int) (*RawPubSubService, *Subscriber[msg], *Subscriber[msg]) {
		typed, err := PublishSubscribe[msg](node, name).SubscriberMaxBufferSize(2).EnableSafeOverflow(overflow).HistorySize(history).MaxSubscribers(2).OpenOrCreate()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { typed.Close() })
		return openRaw(t, node, name), must[*Subscriber[msg]](t)(typed.Subscriber()), must[*Subscriber[msg]](t)(typed.Subscriber())
	}
	send := func(pub *RawPublisher, seq uint64) int {
		t.Helper()
		s := must[*RawSampleMut](t)(pub.Loan(1))
		binary.NativeEndian.PutUint64(s.Payload(), seq)
		return must[int](t)(s.Send())
	}

	raw, a, _ := open("raw/full", false, 0)
	pub := must[*RawPublisher](t)(raw.PublisherWith(RawPublisherOptions{Backpressure: DiscardData}))
	if pub.DiscardIfFull() {
		t.Fatal("DiscardIfFull before any sample: the queues have room")
	}
	send(pub, 0)
	if pub.DiscardIfFull() {
		t.Fatal("DiscardIfFull with one slot of each queue free")
	}
	send(pub, 1)
	if n := testing.AllocsPerRun(100, func() {
		if !pub.DiscardIfFull() {
			t.Fatal("DiscardIfFull = false with both queues full")
		}
	}); n != 0 {
		t.Errorf("DiscardIfFull allocates %v times", n)
	}
	if d, o := pub.Undelivered(); d != 2*101 || o != 0 { // AllocsPerRun runs it once more
		t.Errorf("undelivered %d discarded, %d overwritten; want %d, 0", d, o, 2*101)
	}
	// a takes its two samples: a has room again, b not.
	for _, want := range []uint64{0, 1} {
		s := must[*Sample[msg]](t)(a.Receive())
		if s == nil || s.Payload().Seq != want {
			t.Fatalf("a: got %v, want seq %d", s, want)
		}
		s.Release()
	}
	if pub.DiscardIfFull() {
		t.Fatal("DiscardIfFull with room in a's queue")
	}
	if n := send(pub, 2); n != 1 {
		t.Fatalf("sample 2 delivered to %d subscribers, want a only", n)
	}
	// The skipped samples took their sequence numbers: a sees the gap.
	s := must[*Sample[msg]](t)(a.Receive())
	if s == nil || s.Payload().Seq != 2 || s.Header().Sequence != 2+101 {
		t.Fatalf("a: got %v, want seq 2 with publisher sequence %d", s, 2+101)
	}
	s.Release()

	// No subscriber, safe overflow, history, another backpressure: no.
	raw2, c, d := open("raw/full-none", false, 0)
	c.Close()
	d.Close()
	lone := must[*RawPublisher](t)(raw2.PublisherWith(RawPublisherOptions{Backpressure: DiscardData}))
	if send(lone, 0); lone.DiscardIfFull() {
		t.Error("DiscardIfFull with no subscriber")
	}
	for _, c := range []struct {
		name     string
		overflow bool
		history  int
		bp       Backpressure
	}{
		{"raw/full-overflow", true, 0, DiscardData},
		{"raw/full-history", false, 1, DiscardData},
		{"raw/full-retry", false, 0, RetryUntilDelivered},
	} {
		raw, _, _ := open(c.name, c.overflow, c.history)
		p := must[*RawPublisher](t)(raw.PublisherWith(RawPublisherOptions{Backpressure: c.bp}))
		if c.bp == DiscardData || c.overflow {
			for i := range 3 {
				send(p, uint64(i))
			}
		}
		if p.DiscardIfFull() {
			t.Errorf("%s: DiscardIfFull = true", c.name)
		}
	}
}
