package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
)

func init() {
	Register("iox2go-reqres", "iox2go request-response: A is a client that sends a request of Size bytes (LoanSliceUninit, stamped in place) on service rr, B a server that receives it and answers with one response of Size bytes; A polls its PendingResponse, then closes it; B closes the ActiveRequest after responding", func() Mechanism { return new(iox2ReqRes) })
}

// iox2ReqRes measures the iox2go runtime's request-response path as a user
// would use it: one slice service of bytes in both directions, one client
// (in A) and one server (in B).
type iox2ReqRes struct {
	root    string
	node    *iox2.Node
	client  *iox2.Client[byte, byte]
	server  *iox2.Server[byte, byte]
	pending *iox2.PendingResponse[byte, byte]
	active  *iox2.ActiveRequest[byte, byte]
	size    int
	waiter  Waiter
}

func (m *iox2ReqRes) Setup(cfg Config) error {
	c := iox2.DefaultConfig()
	c.Root = filepath.Join(cfg.Dir, "iox2go-reqres")
	m.root = c.Root
	c.Prefix = cfg.Prefix + "_"
	node, err := iox2.NewNodeBuilder().Name("bench-" + cfg.Role.String()).Config(c).SignalHandling(false).Create()
	if err != nil {
		return err
	}
	m.node, m.size, m.waiter = node, cfg.Size, NewWaiter(cfg)
	svc, err := iox2.RequestResponseSlice[byte, byte](node, "rr").MaxClients(1).MaxServers(1).
		MaxActiveRequestsPerClient(1).MaxLoanedRequests(1).MaxResponseBufferSize(1).
		MaxBorrowedResponsesPerPendingResponse(1).OpenOrCreate()
	if err != nil {
		return err
	}
	peers := svc.NumberOfServers
	if cfg.Role == RoleA {
		if m.client, err = svc.ClientBuilder().MaxSliceLen(cfg.Size).Create(); err != nil {
			return err
		}
	} else {
		if m.server, err = svc.ServerBuilder().MaxSliceLen(cfg.Size).MaxLoanedResponsesPerRequest(1).Create(); err != nil {
			return err
		}
		peers = svc.NumberOfClients
	}
	// Both sides are ready when each sees the other: from then on every
	// request reaches the server and every response the client.
	for deadline := time.Now().Add(cfg.Timeout); peers() < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: no peer on rr", ErrStalled)
		}
	}
	return nil
}

func (m *iox2ReqRes) Send(seq uint64) error {
	if m.client != nil {
		r, err := m.client.LoanSliceUninit(m.size)
		if err != nil {
			return err
		}
		Stamp(r.PayloadSlice(), seq)
		m.pending, err = r.Send()
		return err
	}
	r, err := m.active.LoanSliceUninit(m.size)
	if err != nil {
		return err
	}
	Stamp(r.PayloadSlice(), seq)
	err = r.Send()
	m.active.Close()
	m.active = nil
	return err
}

func (m *iox2ReqRes) Receive() (uint64, error) {
	m.waiter.Reset()
	for i := 1; ; i++ {
		if m.client != nil {
			r, err := m.pending.Receive()
			if err != nil {
				return 0, err
			}
			if r != nil {
				seq, err := Check(r.PayloadSlice())
				r.Release()
				m.pending.Close()
				m.pending = nil
				return seq, err
			}
		} else {
			a, err := m.server.Receive()
			if err != nil {
				return 0, err
			}
			if a != nil {
				m.active = a
				return Check(a.PayloadSlice())
			}
		}
		if i%pollEvery == 0 {
			if err := m.waiter.Poll(); err != nil {
				return 0, err
			}
		}
	}
}

func (m *iox2ReqRes) Close() error {
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
