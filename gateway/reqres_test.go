package gateway

import (
	"context"
	"errors"
	"testing"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
)

const rrName = "gw/reqres"
const rrPattern = "request_response"

type query struct {
	N    uint64
	From [8]byte
}

type answer struct {
	N, I uint64
	By   [8]byte
}

func rrService(t *testing.T, cfg *iox2.Config) *iox2.RequestResponseService[query, answer] {
	t.Helper()
	node := testNode(t, cfg, "app")
	svc := must[*iox2.RequestResponseService[query, answer]](t)(iox2.RequestResponse[query, answer](node, rrName).MaxResponseBufferSize(16).OpenOrCreate())
	t.Cleanup(func() { svc.Close() })
	return svc
}

// serve answers every request with k responses {N, i, by} and closes it.
func serve(t *testing.T, ctx context.Context, svc *iox2.RequestResponseService[query, answer], by string, k int) {
	t.Helper()
	serveWith(t, ctx, svc, func(ctx context.Context, ar *iox2.ActiveRequest[query, answer]) {
		var a answer
		copy(a.By[:], by)
		for i := range k {
			a.N, a.I = ar.Payload().N, uint64(i)
			if err := ar.SendCopy(a); err != nil {
				t.Errorf("respond: %v", err)
			}
		}
	})
}

// serveWith runs a server of svc that hands every request to handle (the
// request closes when handle returns) until the test ends.
func serveWith(t *testing.T, ctx context.Context, svc *iox2.RequestResponseService[query, answer], handle func(context.Context, *iox2.ActiveRequest[query, answer])) {
	t.Helper()
	srv := must[*iox2.Server[query, answer]](t)(svc.Server())
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	go func() {
		defer close(done)
		for ar, err := range srv.Requests(ctx) {
			if err != nil {
				return
			}
			handle(ctx, ar)
		}
	}()
}

// ask sends a request and returns the responses of its stream, which must
// end within 5 s.
func ask(t *testing.T, c *iox2.Client[query, answer], n uint64) []answer {
	t.Helper()
	p := must[*iox2.PendingResponse[query, answer]](t)(c.SendCopy(query{N: n}))
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got []answer
	for {
		r, err := p.BlockingReceive(ctx)
		if errors.Is(err, iox2.ErrStreamEnded) {
			return got
		}
		if err != nil {
			t.Fatalf("request %d: %v after %d responses", n, err, len(got))
		}
		got = append(got, *r.Payload())
		r.Release()
	}
}

func by(a answer) string { return string(a.By[:1]) }

// rrHosts is two hosts with a gateway each (mod configures both), the
// request-response service rrName on each, and a client on host a.
type rrHosts struct {
	ga, gb *testGW
	sa, sb *iox2.RequestResponseService[query, answer]
	ca     *iox2.Client[query, answer]
}

func newRRHosts(t *testing.T, mod func(*Config)) rrHosts {
	t.Helper()
	ns := startNATS(t, 0)
	a, b := domain(t, "a"), domain(t, "b")
	h := rrHosts{ga: runGateway(t, a, ns.ClientURL(), mod), gb: runGateway(t, b, ns.ClientURL(), mod)}
	h.sa, h.sb = rrService(t, a), rrService(t, b)
	h.ca = must[*iox2.Client[query, answer]](t)(h.sa.Client())
	t.Cleanup(func() { h.ca.Close() })
	return h
}

// awaitBridgedWithB waits until host a's gateway knows host b's servers.
func (h rrHosts) awaitBridgedWithB(t *testing.T) {
	t.Helper()
	eventually(t, "a bridged with b's servers", func() bool {
		return bridged(h.ga.Gateway, rrName, rrPattern, 1) && bridged(h.gb.Gateway, rrName, rrPattern, 1) && len(h.ga.Gateway.bridgeServers(rrName)) == 1
	})
}

// TestReqResAcrossHosts: a client on host A gets the whole response
// stream of a server on host B, which ends when B's server closes the
// request; then with servers on both hosts, a client on B gets the streams
// of both, and each server sees each request once.
func TestReqResAcrossHosts(t *testing.T) {
	h := newRRHosts(t, nil)
	gb, sa, sb, ca := h.gb, h.sa, h.sb, h.ca
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	serve(t, ctx, sb, "B", 3)
	h.awaitBridgedWithB(t)
	for n := uint64(1); n <= 3; n++ {
		got := ask(t, ca, n)
		if len(got) != 3 {
			t.Fatalf("request %d: %d responses %+v, want 3", n, len(got), got)
		}
		for i, r := range got {
			if r.N != n || r.I != uint64(i) || by(r) != "B" {
				t.Errorf("request %d response %d: %+v", n, i, r)
			}
		}
	}
	// Servers on both hosts, a client on B.
	serve(t, ctx, sa, "A", 2)
	cb := must[*iox2.Client[query, answer]](t)(sb.Client())
	defer cb.Close()
	eventually(t, "b bridged with a's servers", func() bool { return len(gb.Gateway.bridgeServers(rrName)) == 1 })
	got := ask(t, cb, 42)
	var fromA, fromB int
	for _, r := range got {
		if r.N != 42 {
			t.Errorf("response %+v", r)
		}
		switch by(r) {
		case "A":
			fromA++
		case "B":
			fromB++
		}
	}
	if fromA != 2 || fromB != 3 || len(got) != 5 {
		t.Errorf("b's client got %d from A, %d from B, %d in all; want 2, 3, 5: %+v", fromA, fromB, len(got), got)
	}
	// And A's client now gets both too.
	got = ask(t, ca, 7)
	if len(got) != 5 {
		t.Errorf("a's client got %+v, want 5 responses", got)
	}
}

// TestReqResDisconnectAcrossHosts: a client's disconnect hint and its
// giving up reach a server on another host (within a heartbeat interval
// or at the next response).
func TestReqResDisconnectAcrossHosts(t *testing.T) {
	h := newRRHosts(t, func(c *Config) { c.HeartbeatInterval = 100 * time.Millisecond })
	sb, ca := h.sb, h.ca
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// B's server streams a response every 10 ms until the client hints
	// or goes, and says which it saw.
	saw := make(chan string, 4)
	serveWith(t, ctx, sb, func(ctx context.Context, ar *iox2.ActiveRequest[query, answer]) {
		for i := uint64(0); ctx.Err() == nil; i++ {
			if ar.HasDisconnectHint() {
				saw <- "hint"
				return
			}
			if !ar.IsConnected() {
				saw <- "gone"
				return
			}
			if i < 10000 {
				ar.SendCopy(answer{N: ar.Payload().N, I: i})
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	h.awaitBridgedWithB(t)
	// The hint: the server ends the stream, and the client sees the end.
	p := must[*iox2.PendingResponse[query, answer]](t)(ca.SendCopy(query{N: 1}))
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	receive := func(p *iox2.PendingResponse[query, answer]) error {
		r, err := p.BlockingReceive(rctx)
		if err == nil {
			r.Release()
		}
		return err
	}
	for range 2 {
		if err := receive(p); err != nil {
			t.Fatalf("before the hint: %v", err)
		}
	}
	p.SetDisconnectHint()
	if s := awaitSaw(t, saw); s != "hint" {
		t.Errorf("the server saw %q, want the hint", s)
	}
	for {
		err := receive(p)
		if errors.Is(err, iox2.ErrStreamEnded) {
			break
		}
		if err != nil {
			t.Fatalf("after the hint: %v, want the stream's end", err)
		}
	}
	p.Close()
	// Giving up: the server sees the client gone.
	p = must[*iox2.PendingResponse[query, answer]](t)(ca.SendCopy(query{N: 2}))
	if err := receive(p); err != nil {
		t.Fatalf("second request: %v", err)
	}
	p.Close()
	if s := awaitSaw(t, saw); s != "gone" {
		t.Errorf("the server saw %q, want the client gone", s)
	}
}

func awaitSaw(t *testing.T, saw <-chan string) string {
	t.Helper()
	select {
	case s := <-saw:
		return s
	case <-time.After(10 * time.Second): // heartbeats of 100 ms; a loaded machine adds milliseconds
		t.Fatal("the server saw nothing in 10 s")
		return ""
	}
}
