package main

import (
	"fmt"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
)

func init() {
	Register("iox2go-event", "iox2go event-based communication: the payload goes through a publish-subscribe service as in iox2go-pubsub, and a notifier wakes the receiver, which sleeps in Listener.TimedWait (a parked goroutine, woken through its node's doorbell) instead of polling; read it against futex", func() Mechanism { return new(iox2Event) })
}

// iox2Event is iceoryx2's event_based_communication: data in a
// publish-subscribe service, a wake-up through an event service, and a
// receiver that blocks while there is nothing to read.
type iox2Event struct {
	iox2PubSub
	notifier *iox2.Notifier
	listener *iox2.Listener
	drain    func(iox2.EventActivation)
	timeout  time.Duration
}

func (m *iox2Event) Setup(cfg Config) error {
	if err := m.iox2PubSub.Setup(cfg); err != nil {
		return err
	}
	out, in := "a2b-event", "b2a-event"
	if cfg.Role == RoleB {
		out, in = in, out
	}
	outSvc, err := iox2.Event(m.node, out).OpenOrCreate()
	if err != nil {
		return err
	}
	inSvc, err := iox2.Event(m.node, in).OpenOrCreate()
	if err != nil {
		return err
	}
	if m.listener, err = inSvc.Listener(); err != nil {
		return err
	}
	if m.notifier, err = outSvc.Notifier(); err != nil {
		return err
	}
	for deadline := time.Now().Add(cfg.Timeout); outSvc.NumberOfListeners() < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: no listener on %s", ErrStalled, out)
		}
	}
	m.drain = func(iox2.EventActivation) {}
	m.timeout = cfg.Timeout
	return nil
}

func (m *iox2Event) Send(seq uint64) error {
	if err := m.iox2PubSub.Send(seq); err != nil {
		return err
	}
	_, err := m.notifier.Notify()
	return err
}

func (m *iox2Event) Receive() (uint64, error) {
	for {
		// Take the wake-up first, then look: a sample that arrives after
		// the look has its wake-up still pending for the next wait.
		if _, err := m.listener.TryWait(m.drain); err != nil {
			return 0, err
		}
		s, err := m.sub.Receive()
		if err != nil {
			return 0, err
		}
		if s != nil {
			seq, err := Check(s.PayloadSlice())
			s.Release()
			return seq, err
		}
		n, err := m.listener.TimedWait(m.drain, m.timeout)
		if err != nil {
			return 0, err
		}
		if n == 0 {
			if peerGone.Load() {
				return 0, ErrPeerGone
			}
			return 0, fmt.Errorf("%w: no event for %v", ErrStalled, m.timeout)
		}
	}
}

func (m *iox2Event) Close() error { return m.iox2PubSub.Close() }
