package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
)

func init() {
	Register("iox2go-pubsub", "iox2go publish-subscribe: A publishes on service a2b and subscribes to b2a, B the reverse; a payload of Size bytes loaned in shared memory (LoanSliceUninit), stamped in place and sent as an offset; the receiver polls Receive", func() Mechanism { return new(iox2PubSub) })
}

// iox2PubSub measures the iox2go runtime's publish-subscribe path exactly as
// a user would use it: slice services of bytes, one publisher and one
// subscriber per process.
type iox2PubSub struct {
	root   string
	node   *iox2.Node
	pub    *iox2.Publisher[byte]
	sub    *iox2.Subscriber[byte]
	size   int
	waiter Waiter
}

func (m *iox2PubSub) Setup(cfg Config) error {
	c := iox2.DefaultConfig()
	c.Root = filepath.Join(cfg.Dir, "iox2go")
	m.root = c.Root
	c.Prefix = cfg.Prefix + "_"
	node, err := iox2.NewNodeBuilder().Name("bench-" + cfg.Role.String()).Config(c).SignalHandling(false).Create()
	if err != nil {
		return err
	}
	m.node, m.size, m.waiter = node, cfg.Size, NewWaiter(cfg)
	out, in := "a2b", "b2a"
	if cfg.Role == RoleB {
		out, in = in, out
	}
	service := func(name string) (*iox2.PublishSubscribeService[byte], error) {
		return iox2.PublishSubscribeSlice[byte](node, name).SubscriberMaxBufferSize(1).MaxPublishers(1).MaxSubscribers(1).OpenOrCreate()
	}
	outSvc, err := service(out)
	if err != nil {
		return err
	}
	inSvc, err := service(in)
	if err != nil {
		return err
	}
	if m.pub, err = outSvc.PublisherBuilder().MaxSliceLen(cfg.Size).MaxLoanedSamples(1).Create(); err != nil {
		return err
	}
	if m.sub, err = inSvc.Subscriber(); err != nil {
		return err
	}
	// Both sides are ready when each publisher has its subscriber: from
	// then on every Send reaches it.
	for deadline := time.Now().Add(cfg.Timeout); outSvc.NumberOfSubscribers() < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: no subscriber on %s", ErrStalled, out)
		}
	}
	return nil
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
