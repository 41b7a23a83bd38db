package runtime

import (
	"testing"
	"unsafe"
)

// BenchmarkPubSubLocal measures the publish-subscribe hot path as the bench
// program's iox2go-pubsub uses it (slice services of bytes, buffer 1, one
// loan), in one goroutine: loan, stamp, send, receive, check, release. It
// is the cost of the code of one one-way trip without any cache-line
// transfer. (A two-goroutine ping-pong in one process is too disturbed by
// the scheduler and the nodes' dispatcher goroutines on two vCPUs to be
// read; the cross-process figures come from go run ./bench.)

func benchPub(b *testing.B, node *Node, name string, size int) *Publisher[byte] {
	svc, err := PublishSubscribeSlice[byte](node, name).SubscriberMaxBufferSize(1).MaxPublishers(1).MaxSubscribers(1).OpenOrCreate()
	if err != nil {
		b.Fatal(err)
	}
	pub, err := svc.PublisherBuilder().MaxSliceLen(size).MaxLoanedSamples(1).Create()
	if err != nil {
		b.Fatal(err)
	}
	return pub
}

func benchSend(b *testing.B, p *Publisher[byte], size int, v uint64) {
	s, err := p.LoanSliceUninit(size)
	if err != nil {
		b.Fatal(err)
	}
	d := s.PayloadSlice()
	*(*uint64)(unsafe.Pointer(&d[0])) = v
	d[len(d)-1] = byte(v)
	if _, err := s.Send(); err != nil {
		b.Fatal(err)
	}
}

func benchRecv(b *testing.B, s *Subscriber[byte]) uint64 {
	for {
		smp, err := s.Receive()
		if err != nil {
			b.Error(err)
			return 0
		}
		if smp != nil {
			d := smp.PayloadSlice()
			v := *(*uint64)(unsafe.Pointer(&d[0]))
			if d[len(d)-1] != byte(v) {
				b.Error("bad stamp")
			}
			smp.Release()
			return v
		}
	}
}

func BenchmarkPubSubLocal(b *testing.B) {
	// In-process memory: with shared memory, the sender and the receiver
	// map each segment at two addresses, and the processor's stalls on the
	// aliases (which two processes do not have) would dominate.
	cfg := testConfig(b)
	cfg.InProcess = true
	node := testNode(b, cfg)
	pub := benchPub(b, node, "local", 64)
	sub := openSub(b, node, "local")
	v := uint64(1)
	for b.Loop() {
		benchSend(b, pub, 64, v)
		if benchRecv(b, sub) != v {
			b.Fatal("wrong value")
		}
		v++
	}
}

func openSub(b *testing.B, node *Node, name string) *Subscriber[byte] {
	svc, err := PublishSubscribeSlice[byte](node, name).SubscriberMaxBufferSize(1).MaxPublishers(1).MaxSubscribers(1).OpenOrCreate()
	if err != nil {
		b.Fatal(err)
	}
	sub, err := svc.Subscriber()
	if err != nil {
		b.Fatal(err)
	}
	return sub
}
