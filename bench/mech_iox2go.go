package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
)

func init() {
	Register("iox2go-pubsub", "iox2go publish-subscribe: A publishes on service a2b and subscribes to b2a, B the reverse; a payload of Size bytes loaned in shared memory (LoanSliceUninit), stamped in place and sent as an offset; the receiver polls Receive", func() Mechanism { return new(iox2PubSub) })
	for _, n := range []int{2, 8} {
		Register(fmt.Sprintf("iox2go-pubsub-%dsub", n), fmt.Sprintf("as iox2go-pubsub, but B hosts %d subscribers (%d ports of one node) on a2b, polls them in turn and echoes on b2a only when the last of the %d has received the sample: the latency to the last subscriber; read it against iox2go-pubsub (1 subscriber)", n, n, n), func() Mechanism { return &iox2PubSub{fanout: n} })
	}
}

// streamBufferSize is the subscriber buffer of iox2go-pubsub in the
// throughput mode, where the publisher runs ahead of the subscriber.
const streamBufferSize = 4096

// iox2PubSub measures the iox2go runtime's publish-subscribe path exactly as
// a user would use it: slice services of bytes, one publisher and one
// subscriber per process.
type iox2PubSub struct {
	// fanout is the number of subscribers B hosts on a2b (0 means 1);
	// A always has one subscriber on b2a.
	fanout int
	root   string
	node   *iox2.Node
	pub    *iox2.Publisher[byte]
	sub    *iox2.Subscriber[byte]
	subs   []*iox2.Subscriber[byte] // B's subscribers on a2b when fanout > 1
	size   int
	waiter Waiter
}

func (m *iox2PubSub) Setup(cfg Config) error {
	c := iox2.DefaultConfig()
	c.Root = filepath.Join(cfg.Dir, "iox2go")
	m.root = c.Root
	c.Prefix = cfg.Prefix + "_"
	// The services are the benchmark's own, sized by its flags: in the
	// throughput mode a publisher has streamBufferSize+3 chunks of
	// -stream-size bytes (4 GiB at 1 MiB), of which the run touches only
	// as many as it runs ahead. No limit of the default's order applies.
	c.PortMemoryLimit = math.MaxInt
	node, err := iox2.NewNodeBuilder().Name("bench-" + cfg.Role.String()).Config(c).SignalHandling(false).Create()
	if err != nil {
		return err
	}
	m.node, m.size, m.waiter = node, cfg.Size, NewWaiter(cfg)
	out, in := "a2b", "b2a"
	if cfg.Role == RoleB {
		out, in = in, out
	}
	fanout := max(m.fanout, 1)
	// Both sides ask for the same QoS of a service: a2b has fanout
	// subscribers, b2a one. In the throughput mode a2b is lossless: safe
	// overflow off, a large buffer, and a publisher that waits for room.
	service := func(name string, subs int) (*iox2.PublishSubscribeService[byte], error) {
		b := iox2.PublishSubscribeSlice[byte](node, name).SubscriberMaxBufferSize(1).MaxPublishers(1).MaxSubscribers(subs)
		if cfg.Stream && name == "a2b" {
			b = b.SubscriberMaxBufferSize(streamBufferSize).EnableSafeOverflow(false)
		}
		return b.OpenOrCreate()
	}
	subsOf := map[string]int{"a2b": fanout, "b2a": 1}
	outSvc, err := service(out, subsOf[out])
	if err != nil {
		return err
	}
	inSvc, err := service(in, subsOf[in])
	if err != nil {
		return err
	}
	if m.pub, err = outSvc.PublisherBuilder().MaxSliceLen(cfg.Size).MaxLoanedSamples(1).Backpressure(iox2.RetryUntilDelivered).Create(); err != nil {
		return err
	}
	for range subsOf[in] {
		sub, err := inSvc.Subscriber()
		if err != nil {
			return err
		}
		m.subs = append(m.subs, sub)
	}
	m.sub = m.subs[0]
	if len(m.subs) == 1 {
		m.subs = nil
	}
	// Both sides are ready when each publisher has its subscribers: from
	// then on every Send reaches them.
	for deadline := time.Now().Add(cfg.Timeout); outSvc.NumberOfSubscribers() < subsOf[out]; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %d of %d subscribers on %s", ErrStalled, outSvc.NumberOfSubscribers(), subsOf[out], out)
		}
	}
	return nil
}

// Streams implements Streamer.
func (m *iox2PubSub) Streams() string {
	return fmt.Sprintf("lossless: safe overflow off, subscriber buffer %d, publisher RetryUntilDelivered", streamBufferSize)
}

func (m *iox2PubSub) Send(seq uint64) error {
	s, err := m.pub.LoanSliceUninit(m.size)
	if err != nil {
		return err
	}
	Stamp(s.PayloadSlice(), seq)
	_, err = s.Send()
	return err
}

func (m *iox2PubSub) Receive() (uint64, error) {
	if m.subs != nil {
		return m.receiveAll()
	}
	m.waiter.Reset()
	for i := 1; ; i++ {
		s, err := m.sub.Receive()
		if err != nil {
			return 0, err
		}
		if s != nil {
			seq, err := Check(s.PayloadSlice())
			s.Release()
			return seq, err
		}
		if i%pollEvery == 0 {
			if err := m.waiter.Poll(); err != nil {
				return 0, err
			}
		}
	}
}

// receiveAll waits until every subscriber of m.subs has received the next
// sample, polling them in turn, and returns its seq: the time it takes is
// the latency to the last subscriber.
func (m *iox2PubSub) receiveAll() (uint64, error) {
	m.waiter.Reset()
	var seq uint64
	var got uint64 // bit j: m.subs[j] has its sample
	all := uint64(1)<<len(m.subs) - 1
	for i := 1; ; i++ {
		for j, sub := range m.subs {
			if got&(1<<j) != 0 {
				continue
			}
			s, err := sub.Receive()
			if err != nil {
				return 0, err
			}
			if s == nil {
				continue
			}
			v, err := Check(s.PayloadSlice())
			s.Release()
			if err != nil {
				return 0, err
			}
			if got == 0 {
				seq = v
			} else if v != seq {
				return 0, fmt.Errorf("%w: subscriber %d received %d, the first one %d", ErrCorrupt, j, v, seq)
			}
			if got |= 1 << j; got == all {
				return seq, nil
			}
		}
		if i%pollEvery == 0 {
			if err := m.waiter.Poll(); err != nil {
				return 0, err
			}
		}
	}
}

func (m *iox2PubSub) Close() error {
	var err error
	if m.node != nil {
		err = m.node.Close()
	}
	// The domain's directories, once both sides have left them empty.
	for _, d := range []string{"nodes", "services", ""} {
		os.Remove(filepath.Join(m.root, d))
	}
	return err
}
