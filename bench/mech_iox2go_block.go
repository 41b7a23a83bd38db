package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

func init() {
	Register("iox2go-pubsub-block", "as iox2go-pubsub, but the receiver blocks in Subscriber.BlockingReceive (a parked goroutine, woken through its node's doorbell when the sender finds it asleep) instead of polling; read it against iox2go-event and futex", func() Mechanism { return new(iox2PubSubBlock) })
	Register("iox2go-reqres-block", "as iox2go-reqres, but the server blocks in Server.BlockingReceive and the client in PendingResponse.BlockingReceive instead of polling; read it against iox2go-event and futex", func() Mechanism { return new(iox2ReqResBlock) })
}

// blockCtx is the context of a mechanism's blocking receives: cancelled
// when the peer is gone (peerGoneCh) or when a receive waits longer than
// Config.Timeout (a watchdog timer, reset before each receive: no
// allocation per message).
type blockCtx struct {
	ctx     context.Context
	cancel  context.CancelFunc
	dog     *time.Timer
	timeout time.Duration
}

func newBlockCtx(cfg Config) *blockCtx {
	ctx, cancel := context.WithCancel(context.Background())
	b := &blockCtx{ctx: ctx, cancel: cancel, timeout: cfg.Timeout}
	b.dog = time.AfterFunc(time.Hour, cancel)
	b.dog.Stop()
	go func() {
		select {
		case <-peerGoneCh:
			cancel()
		case <-ctx.Done():
		}
	}()
	return b
}

// start arms the watchdog for one receive.
func (b *blockCtx) start() context.Context {
	b.dog.Reset(b.timeout)
	return b.ctx
}

// end disarms it and turns a cancelled receive into the bench's errors.
func (b *blockCtx) end(err error) error {
	b.dog.Stop()
	switch {
	case err == nil:
		return nil
	case peerGone.Load():
		return ErrPeerGone
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: nothing for %v", ErrStalled, b.timeout)
	}
	return err
}

func (b *blockCtx) close() {
	b.dog.Stop()
	b.cancel()
}

type iox2PubSubBlock struct {
	iox2PubSub
	bc *blockCtx
}

func (m *iox2PubSubBlock) Setup(cfg Config) error {
	m.bc = newBlockCtx(cfg)
	return m.iox2PubSub.Setup(cfg)
}

func (m *iox2PubSubBlock) Receive() (uint64, error) {
	s, err := m.sub.BlockingReceive(m.bc.start())
	if err = m.bc.end(err); err != nil {
		return 0, err
	}
	seq, err := Check(s.PayloadSlice())
	s.Release()
	return seq, err
}

func (m *iox2PubSubBlock) Close() error {
	m.bc.close()
	return m.iox2PubSub.Close()
}

type iox2ReqResBlock struct {
	iox2ReqRes
	bc *blockCtx
}

func (m *iox2ReqResBlock) Setup(cfg Config) error {
	m.bc = newBlockCtx(cfg)
	return m.iox2ReqRes.Setup(cfg)
}

func (m *iox2ReqResBlock) Receive() (uint64, error) {
	if m.client != nil {
		r, err := m.pending.BlockingReceive(m.bc.start())
		if err = m.bc.end(err); err != nil {
			return 0, err
		}
		seq, err := Check(r.PayloadSlice())
		r.Release()
		m.pending.Close()
		m.pending = nil
		return seq, err
	}
	a, err := m.server.BlockingReceive(m.bc.start())
	if err = m.bc.end(err); err != nil {
		return 0, err
	}
	m.active = a
	return Check(a.PayloadSlice())
}

func (m *iox2ReqResBlock) Close() error {
	m.bc.close()
	return m.iox2ReqRes.Close()
}
