package runtime

import (
	"errors"
	"testing"
)

type point struct{ X, Y float32 }

type stamp struct {
	Nanos  uint64
	Origin [4]byte
	_      [4]byte
}

func TestSlicePayloads(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc, err := PublishSubscribeSlice[point](node, "slices").SubscriberMaxBufferSize(4).OpenOrCreate()
	if err != nil {
		t.Fatal(err)
	}
	sub := must[*Subscriber[point]](t)(svc.Subscriber())
	pub := must[*Publisher[point]](t)(svc.PublisherBuilder().MaxSliceLen(100).Create())
	for _, n := range []int{0, 1, 37, 100} {
		s := must[*SampleMut[point]](t)(pub.LoanSlice(n))
		ps := s.PayloadSlice()
		if len(ps) != n {
			t.Fatalf("LoanSlice(%d) gave %d elements", n, len(ps))
		}
		for i := range ps {
			ps[i] = point{float32(n), float32(i)}
		}
		must[int](t)(s.Send())
		r := must[*Sample[point]](t)(sub.Receive())
		got := r.PayloadSlice()
		if len(got) != n {
			t.Fatalf("received %d elements, sent %d", len(got), n)
		}
		for i := range got {
			if got[i] != (point{float32(n), float32(i)}) {
				t.Fatalf("element %d of %d: %v", i, n, got[i])
			}
		}
		r.Release()
	}
	if _, err := pub.LoanSlice(101); !errors.Is(err, ErrSliceLengthExceedsLimit) {
		t.Fatalf("LoanSlice beyond the maximum = %v, want ErrSliceLengthExceedsLimit", err)
	}
	// A fixed-size opener does not match a slice service, and vice versa.
	if _, err := PublishSubscribe[point](node, "slices").Open(); !errors.Is(err, ErrIncompatibleTypes) {
		t.Fatalf("fixed open of a slice service = %v, want ErrIncompatibleTypes", err)
	}
	fixed := openMsg(t, node, "fixed", nil)
	if _, err := fixed.PublisherBuilder().MaxSliceLen(4).Create(); !errors.Is(err, ErrInvalidQoS) {
		t.Fatalf("MaxSliceLen on a fixed service = %v, want ErrInvalidQoS", err)
	}
}

func TestSliceLengthFromHostilePublisherIsDropped(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc, err := PublishSubscribeSlice[point](node, "hostile-slices").OpenOrCreate()
	if err != nil {
		t.Fatal(err)
	}
	sub := must[*Subscriber[point]](t)(svc.Subscriber())
	pub := must[*Publisher[point]](t)(svc.PublisherBuilder().MaxSliceLen(8).Create())
	s := must[*SampleMut[point]](t)(pub.LoanSlice(8))
	s.length = 1 << 40 // what a hostile publisher would write in the header
	must[int](t)(s.Send())
	if r, err := sub.Receive(); r != nil || err != nil {
		t.Fatalf("Receive of a sample claiming 2^40 elements = %v, %v; want it dropped", r, err)
	}
	if sub.s.dropped != 1 {
		t.Fatalf("dropped %d, want 1", sub.s.dropped)
	}
}

func TestUserHeader(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc, err := WithUserHeader[stamp](PublishSubscribe[msg](node, "headers")).OpenOrCreate()
	if err != nil {
		t.Fatal(err)
	}
	sub := must[*Subscriber[msg]](t)(svc.Subscriber())
	pub := must[*Publisher[msg]](t)(svc.Publisher())
	s := must[*SampleMut[msg]](t)(pub.Loan())
	h := UserHeader[stamp](s)
	if h == nil {
		t.Fatal("no user header on the loaned sample")
	}
	h.Nanos, h.Origin = 12345, [4]byte{'c', 'a', 'm', '1'}
	s.Payload().Seq = 9
	must[int](t)(s.Send())
	r := must[*Sample[msg]](t)(sub.Receive())
	if got := UserHeader[stamp](r); got == nil || got.Nanos != 12345 || got.Origin != [4]byte{'c', 'a', 'm', '1'} || r.Payload().Seq != 9 {
		t.Fatalf("received header %+v, payload %+v", got, r.Payload())
	}
	if UserHeader[uint32](r) != nil {
		t.Fatal("UserHeader of the wrong size is not nil")
	}
	r.Release()
	if _, err := PublishSubscribe[msg](node, "headers").Open(); !errors.Is(err, ErrIncompatibleTypes) {
		t.Fatalf("open without the header = %v, want ErrIncompatibleTypes", err)
	}
	if _, err := WithUserHeader[point](PublishSubscribe[msg](node, "headers")).Open(); !errors.Is(err, ErrIncompatibleTypes) {
		t.Fatalf("open with another header = %v, want ErrIncompatibleTypes", err)
	}
	plain := openMsg(t, node, "no-header", nil)
	p2 := must[*Publisher[msg]](t)(plain.Publisher())
	s2 := must[*SampleMut[msg]](t)(p2.Loan())
	if UserHeader[stamp](s2) != nil {
		t.Fatal("a service without user header gave one")
	}
	s2.Release()
}
