package robot

import (
	"errors"
	"fmt"
	"testing"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/iox2test"
)

// These tests check that the options declared in robot.idl reach the
// runtime through the generated API: attributes, the publisher and
// subscriber presets (ImuPublisher, ImuSubscriber), and the slice service
// "robot/points" with its Stamp user header and backpressure.

// receive polls sub until it returns a sample or 5 seconds pass.
func receive[T any](t *testing.T, sub *iox2.Subscriber[T]) *iox2.Sample[T] {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		s, err := sub.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if s != nil {
			return s
		}
	}
	t.Fatal("no sample within 5s")
	return nil
}

func TestGeneratedPresets(t *testing.T) {
	node := iox2test.Node(t, iox2test.Config(t))
	svc, err := OpenOrCreateImu(node)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(svc.Attributes()); got != "[{rate_hz 200} {frame base_link}]" {
		t.Errorf("attributes %s, want those of robot.idl", got)
	}
	pub, err := ImuPublisher(svc).Create()
	if err != nil {
		t.Fatal(err)
	}
	// @publisher_max_loaned_samples(4).
	var loans []*iox2.SampleMut[Imu]
	for range 4 {
		s, err := pub.Loan()
		if err != nil {
			t.Fatalf("loan %d of 4: %v", len(loans)+1, err)
		}
		loans = append(loans, s)
	}
	if _, err := pub.Loan(); !errors.Is(err, iox2.ErrExceedsMaxLoans) {
		t.Fatalf("fifth loan = %v, want ErrExceedsMaxLoans", err)
	}
	for _, s := range loans {
		s.Release()
	}
	for i := range uint64(6) {
		if _, err := pub.SendCopy(Imu{StampNs: i}); err != nil {
			t.Fatal(err)
		}
	}
	// @subscriber_buffer_size(8) @subscriber_history_request(2): a late
	// subscriber gets the last 2 samples; without the preset, all 4 of
	// the history.
	for _, tc := range []struct {
		name   string
		b      *iox2.SubscriberBuilder[Imu]
		buffer int
		want   []uint64
	}{
		{"ImuSubscriber", ImuSubscriber(svc), 8, []uint64{4, 5}},
		{"SubscriberBuilder", svc.SubscriberBuilder(), 16, []uint64{2, 3, 4, 5}},
	} {
		sub, err := tc.b.Create()
		if err != nil {
			t.Fatal(err)
		}
		if sub.BufferSize() != tc.buffer {
			t.Errorf("%s: buffer size %d, want %d", tc.name, sub.BufferSize(), tc.buffer)
		}
		var got []uint64
		for len(got) < len(tc.want) {
			s := receive(t, sub)
			got = append(got, s.Payload().StampNs)
			s.Release()
		}
		if s, err := sub.Receive(); s != nil || err != nil {
			t.Errorf("%s: a sample beyond the history: %v, %v", tc.name, s, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: history %v, want %v", tc.name, got, tc.want)
		}
		sub.Close()
	}
}

func TestGeneratedSliceService(t *testing.T) {
	node := iox2test.Node(t, iox2test.Config(t))
	svc, err := CreatePoints(node)
	if err != nil {
		t.Fatal(err)
	}
	ps := svc.StaticConfig().PublishSubscribe
	if ps.Payload.Name != "robot::Vec3" || ps.PayloadVariant != "dynamic" || ps.UserHeader == nil ||
		ps.UserHeader.Name != "robot::Stamp" || ps.UserHeader.LayoutHash != StampTypeInfo.LayoutHash ||
		ps.EnableSafeOverflow || ps.SubscriberMaxBufferSize != 4 {
		t.Fatalf("static config %+v, want a slice of robot::Vec3 with a robot::Stamp header, no safe overflow", ps)
	}
	if got := fmt.Sprint(svc.Attributes()); got != "[{frame lidar}]" {
		t.Errorf("attributes %s", got)
	}
	sub, err := PointsSubscriber(svc).Create()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := PointsPublisher(svc).Create()
	if err != nil {
		t.Fatal(err)
	}
	for seq, n := range []int{0, 1, 37, 1024} {
		s, err := pub.LoanSlice(n)
		if err != nil {
			t.Fatalf("LoanSlice(%d): %v", n, err)
		}
		h := iox2.UserHeader[Stamp](s)
		if h == nil {
			t.Fatal("loaned sample has no Stamp header")
		}
		*h = Stamp{StampNs: uint64(n), Seq: uint32(seq), SensorId: 7}
		for i := range s.PayloadSlice() {
			s.PayloadSlice()[i] = Vec3{X: float64(n), Y: float64(i)}
		}
		if k, err := s.Send(); err != nil || k != 1 {
			t.Fatalf("send reached %d subscribers: %v", k, err)
		}
		r := receive(t, sub)
		if h := iox2.UserHeader[Stamp](r); h == nil || *h != (Stamp{StampNs: uint64(n), Seq: uint32(seq), SensorId: 7}) {
			t.Fatalf("received header %v", h)
		}
		pts := r.PayloadSlice()
		if len(pts) != n {
			t.Fatalf("received %d points, sent %d", len(pts), n)
		}
		for i, p := range pts {
			if p != (Vec3{X: float64(n), Y: float64(i)}) {
				t.Fatalf("point %d of %d: %v", i, n, p)
			}
		}
		r.Release()
	}
	// @max_slice_len(1024).
	if _, err := pub.LoanSlice(1025); !errors.Is(err, iox2.ErrSliceLengthExceedsLimit) {
		t.Fatalf("LoanSlice(1025) = %v, want ErrSliceLengthExceedsLimit", err)
	}
	// @enable_safe_overflow(FALSE) @backpressure(DISCARD_DATA): once the
	// subscriber's 4 slots are full, a sample skips it, and Send returns.
	var reached []int
	for range 6 {
		s, err := pub.LoanSlice(1)
		if err != nil {
			t.Fatal(err)
		}
		k, err := s.Send()
		if err != nil {
			t.Fatal(err)
		}
		reached = append(reached, k)
	}
	if fmt.Sprint(reached) != "[1 1 1 1 0 0]" {
		t.Errorf("subscribers reached by 6 sends into a 4-slot queue: %v, want [1 1 1 1 0 0]", reached)
	}
	// Openers must declare the same payload variant and header: the
	// generated OpenPoints does.
	if _, err := OpenPoints(node); err != nil {
		t.Errorf("OpenPoints: %v", err)
	}
	if _, err := iox2.PublishSubscribeSlice[Vec3](node, PointsServiceName).Open(); !errors.Is(err, iox2.ErrIncompatibleTypes) {
		t.Errorf("open without the user header = %v, want ErrIncompatibleTypes", err)
	}
	if _, err := iox2.WithUserHeader[Stamp](iox2.PublishSubscribe[Vec3](node, PointsServiceName)).Open(); !errors.Is(err, iox2.ErrIncompatibleTypes) {
		t.Errorf("open as a fixed-size payload = %v, want ErrIncompatibleTypes", err)
	}
}
