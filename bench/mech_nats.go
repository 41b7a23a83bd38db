package main

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

func init() {
	Register(natsName, "plain NATS publish-subscribe, the yardstick of gateway-pubsub: A and B are each a nats.go connection to a NATS server on loopback TCP, a process of its own that A starts (this program executed again; with -nats-server in-a, inside process A); A publishes the payload on subject a2b and subscribes to b2a, B the reverse; the receiver blocks on a ChanSubscribe channel; the bytes are copied (into the client's buffer, through the server, into a new message)", func() Mechanism { return new(natsPubSub) })
}

// natsChanLen is the receiver's channel: a message that finds it full is
// dropped by nats.go (a slow consumer), which only the throughput mode can
// provoke.
const natsChanLen = 1 << 16

// natsPubSub is NATS core publish-subscribe between two client connections.
type natsPubSub struct {
	cfg     Config
	nc      *nats.Conn
	sub     *nats.Subscription
	ch      chan *nats.Msg
	out     string // subject of Send
	payload []byte
	timer   *time.Timer
	drain   drainTicker // B's, in the throughput mode
}

func (m *natsPubSub) Setup(cfg Config) error {
	m.cfg = cfg
	url, err := natsURL(cfg)
	if err != nil {
		return err
	}
	m.nc, err = nats.Connect(url, nats.Name("iox2go-bench-"+cfg.Role.String()), nats.Timeout(cfg.Timeout), nats.NoReconnect(),
		// A slow consumer's drops are counted by B (gaps), not printed.
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", url, err)
	}
	out, in := cfg.Prefix+".a2b", cfg.Prefix+".b2a"
	if cfg.Role == RoleB {
		out, in = in, out
	}
	m.out, m.payload = out, make([]byte, cfg.Size)
	m.ch = make(chan *nats.Msg, natsChanLen)
	if m.sub, err = m.nc.ChanSubscribe(in, m.ch); err != nil {
		return err
	}
	if err := m.nc.FlushTimeout(cfg.Timeout); err != nil {
		return err
	}
	m.timer = time.NewTimer(time.Hour)
	m.timer.Stop()
	return handshake(cfg, m.sendCtl, m.recvCtl)
}

// Streams implements Streamer.
func (m *natsPubSub) Streams() string {
	return fmt.Sprintf("NATS core: no flow control; the receiver's channel holds %d messages, a message that finds it full is dropped (counted as lost)", natsChanLen)
}

func (m *natsPubSub) Send(seq uint64) error {
	Stamp(m.payload, seq)
	if err := m.nc.Publish(m.out, m.payload); err != nil {
		return err
	}
	if seq == 0 && m.cfg.Stream && m.cfg.Role == RoleA {
		return endStream(m.cfg, m.sendCtl, m.recvCtl)
	}
	return nil
}

func (m *natsPubSub) sendCtl(seq uint64) error {
	Stamp(m.payload, seq)
	return m.nc.Publish(m.out, m.payload)
}

// recvCtl waits at most d for a message and returns its seq, 0 for none.
func (m *natsPubSub) recvCtl(d time.Duration) (uint64, error) {
	if d == 0 {
		select {
		case msg := <-m.ch:
			return m.check(msg)
		default:
			return 0, nil
		}
	}
	m.timer.Reset(d)
	defer m.timer.Stop()
	select {
	case msg := <-m.ch:
		return m.check(msg)
	case <-m.timer.C:
		return 0, nil
	}
}

func (m *natsPubSub) check(msg *nats.Msg) (uint64, error) {
	if len(msg.Data) != m.cfg.Size {
		return 0, fmt.Errorf("%w: %d bytes, want %d", ErrCorrupt, len(msg.Data), m.cfg.Size)
	}
	return Check(msg.Data)
}

func (m *natsPubSub) Receive() (uint64, error) {
	m.timer.Reset(m.cfg.Timeout)
	defer m.timer.Stop()
	for {
		select {
		case msg := <-m.ch:
			seq, err := m.check(msg)
			if err != nil {
				return 0, err
			}
			if seq&ctlBit != 0 {
				continue // late handshake
			}
			if seq == 0 && m.cfg.Stream && m.cfg.Role == RoleB {
				return 0, m.sendCtl(ctlEnd)
			}
			if m.cfg.Stream && m.cfg.Role == RoleB {
				if err := m.drain.tick(m.sendCtl); err != nil {
					return 0, err
				}
			}
			return seq, nil
		case <-peerGoneCh:
			return 0, ErrPeerGone
		case <-m.timer.C:
			return 0, fmt.Errorf("%w: nothing for %v", ErrStalled, m.cfg.Timeout)
		}
	}
}

func (m *natsPubSub) Close() error {
	if m.nc != nil {
		m.nc.Close()
	}
	removeFromA(m.cfg, "nats-url")
	return nil
}

// endStream is A's end of a stream over a lossy route: seq 0 (already
// sent) may be dropped, so A waits for B's ctlEnd and sends seq 0 again
// every 100 ms until it comes. send and recv are the mechanism's control
// path (recv returns 0 when nothing came in time).
func endStream(cfg Config, send func(uint64) error, recv func(time.Duration) (uint64, error)) error {
	start := time.Now()
	deadline := start.Add(cfg.Timeout)
	for {
		for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); {
			got, err := recv(time.Until(end))
			if err != nil {
				return err
			}
			switch got {
			case ctlEnd:
				return nil
			case ctlProgress: // B still drains what is queued on the way
				deadline = time.Now().Add(cfg.Timeout)
			}
		}
		if peerGone.Load() {
			return ErrPeerGone
		}
		if now := time.Now(); now.After(deadline) || now.Sub(start) > 10*cfg.Timeout {
			return fmt.Errorf("%w: B did not confirm the end of the stream in %v (%v after the last sign of progress)", ErrStalled, now.Sub(start).Round(time.Millisecond), cfg.Timeout)
		}
		if err := send(0); err != nil {
			return err
		}
	}
}
