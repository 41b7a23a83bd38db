package runtime

import (
	"errors"
	"testing"
)

type msg struct {
	Seq  uint64
	Data [6]int32
	Tail uint16
	_    [6]byte
}

func TestPublishSubscribeInProcess(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc, err := PublishSubscribe[msg](node, "test/basic").SubscriberMaxBufferSize(8).OpenOrCreate()
	if err != nil {
		t.Fatal(err)
	}
	sub, err := svc.Subscriber()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := svc.Publisher()
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(0); i < 5; i++ {
		s, err := pub.Loan()
		if err != nil {
			t.Fatal(err)
		}
		s.Payload().Seq = i
		s.Payload().Tail = uint16(i * 3)
		n, err := s.Send()
		if err != nil || n != 1 {
			t.Fatalf("Send = %d, %v; want 1, nil", n, err)
		}
	}
	for i := uint64(0); i < 5; i++ {
		s, err := sub.Receive()
		if err != nil || s == nil {
			t.Fatalf("Receive %d = %v, %v", i, s, err)
		}
		if got := s.Payload().Seq; got != i || s.Payload().Tail != uint16(i*3) || s.Header().Sequence != i {
			t.Fatalf("sample %d has seq %d (header %d)", i, got, s.Header().Sequence)
		}
		s.Release()
	}
	if s, err := sub.Receive(); s != nil || err != nil {
		t.Fatalf("Receive on empty = %v, %v", s, err)
	}
	if err := node.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenNonExisting(t *testing.T) {
	node := testNode(t, testConfig(t))
	_, err := PublishSubscribe[msg](node, "nope").Open()
	if !errors.Is(err, ErrServiceNotExist) {
		t.Fatalf("Open = %v, want ErrServiceNotExist", err)
	}
}
