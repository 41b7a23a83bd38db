package runtime

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"
)

type rqMsg struct {
	Client uint64
	N      uint64
}

type rsMsg struct {
	N, I uint64
	Tag  [3]uint32
	_    uint32
}

func openRR(t *testing.T, node *Node, name string, f func(*RequestResponseBuilder[rqMsg, rsMsg])) *RequestResponseService[rqMsg, rsMsg] {
	t.Helper()
	b := RequestResponse[rqMsg, rsMsg](node, name)
	if f != nil {
		f(b)
	}
	svc, err := b.OpenOrCreate()
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// receiveResponses takes every response queued for p, checking nothing.
func receiveResponses(t *testing.T, p *PendingResponse[rqMsg, rsMsg]) []rsMsg {
	t.Helper()
	var got []rsMsg
	for {
		r, err := p.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if r == nil {
			return got
		}
		got = append(got, *r.Payload())
		r.Release()
	}
}

func receiveRequest(t *testing.T, s *Server[rqMsg, rsMsg]) *ActiveRequest[rqMsg, rsMsg] {
	t.Helper()
	a, err := s.Receive()
	if err != nil || a == nil {
		t.Fatalf("server Receive = %v, %v; want a request", a, err)
	}
	return a
}

func TestRequestResponseInProcess(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc := openRR(t, node, "rr/basic", nil)
	server := must[*Server[rqMsg, rsMsg]](t)(svc.Server())
	client := must[*Client[rqMsg, rsMsg]](t)(svc.Client())

	req := must[*RequestMut[rqMsg, rsMsg]](t)(client.Loan())
	req.Payload().N = 1234
	pending := must[*PendingResponse[rqMsg, rsMsg]](t)(req.Send())
	if n := pending.NumberOfServerConnections(); n != 1 {
		t.Fatalf("request reached %d servers, want 1", n)
	}
	if pending.Payload().N != 1234 {
		t.Fatalf("pending response's request payload = %d", pending.Payload().N)
	}
	if ok, err := server.HasRequests(); !ok || err != nil {
		t.Fatalf("HasRequests = %v, %v", ok, err)
	}
	active := receiveRequest(t, server)
	if active.Payload().N != 1234 {
		t.Fatalf("server received %d, want 1234", active.Payload().N)
	}
	h := active.Header()
	if h.ClientID != client.ID() || h.RequestID != pending.Header().RequestID || h.RequestID == 0 {
		t.Fatalf("request header %+v, pending header %+v, client %v", h, pending.Header(), client.ID())
	}
	if !active.IsConnected() || active.HasDisconnectHint() {
		t.Fatal("a fresh active request is not connected, or has a disconnect hint")
	}
	// A stream of responses, received in order.
	for i := uint64(0); i < 2; i++ {
		resp := must[*ResponseMut[rsMsg]](t)(active.Loan())
		resp.Payload().N, resp.Payload().I = 456, i
		if err := resp.Send(); err != nil {
			t.Fatal(err)
		}
	}
	for i := uint64(0); i < 2; i++ {
		r := must[*Response[rsMsg]](t)(pending.Receive())
		if r == nil || r.Payload().N != 456 || r.Payload().I != i {
			t.Fatalf("response %d = %+v", i, r)
		}
		rh := r.Header()
		if rh.ServerID != server.ID() || rh.RequestID != h.RequestID || rh.Sequence != i {
			t.Fatalf("response header %+v", rh)
		}
		r.Release()
	}
	if r, err := pending.Receive(); r != nil || err != nil {
		t.Fatalf("Receive on empty = %v, %v", r, err)
	}
	if !pending.IsConnected() {
		t.Fatal("pending response disconnected while the server holds the request")
	}
	if err := active.SendCopy(rsMsg{N: 789}); err != nil {
		t.Fatal(err)
	}
	active.Close()
	if pending.IsConnected() {
		t.Fatal("pending response still connected after the only server closed the request")
	}
	// What the server sent before closing is still there.
	if got := receiveResponses(t, pending); len(got) != 1 || got[0].N != 789 {
		t.Fatalf("after disconnect received %+v", got)
	}
	pending.Close()
	if _, err := pending.Receive(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Receive after Close = %v, want ErrClosed", err)
	}
	if err := node.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestResponsesReachOnlyTheirPendingResponse runs three clients with
// several requests each against two servers: every pending response gets
// exactly the responses to its own request, from both servers.
func TestResponsesReachOnlyTheirPendingResponse(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openRR(t, node, "rr/routing", func(b *RequestResponseBuilder[rqMsg, rsMsg]) {
		b.MaxResponseBufferSize(8).MaxBorrowedResponsesPerPendingResponse(8)
	})
	servers := []*Server[rqMsg, rsMsg]{must[*Server[rqMsg, rsMsg]](t)(svc.Server()), must[*Server[rqMsg, rsMsg]](t)(svc.Server())}
	type key struct{ client, n uint64 }
	pendings := map[key]*PendingResponse[rqMsg, rsMsg]{}
	for c := uint64(0); c < 3; c++ {
		client := must[*Client[rqMsg, rsMsg]](t)(svc.Client())
		for n := uint64(0); n < 4; n++ {
			p := must[*PendingResponse[rqMsg, rsMsg]](t)(client.SendCopy(rqMsg{Client: c, N: n}))
			if p.NumberOfServerConnections() != 2 {
				t.Fatalf("request reached %d servers", p.NumberOfServerConnections())
			}
			pendings[key{c, n}] = p
		}
	}
	for si, s := range servers {
		for {
			a, err := s.Receive()
			if err != nil {
				t.Fatal(err)
			}
			if a == nil {
				break
			}
			for i := uint64(0); i < 3; i++ {
				r := must[*ResponseMut[rsMsg]](t)(a.LoanUninit())
				*r.Payload() = rsMsg{N: a.Payload().Client*100 + a.Payload().N, I: i, Tag: [3]uint32{uint32(si)}}
				if err := r.Send(); err != nil {
					t.Fatal(err)
				}
			}
			a.Close()
		}
	}
	for k, p := range pendings {
		got := receiveResponses(t, p)
		if len(got) != 6 {
			t.Fatalf("request %+v got %d responses, want 3 from each of 2 servers: %+v", k, len(got), got)
		}
		next := [2]uint64{}
		for _, r := range got {
			if r.N != k.client*100+k.n {
				t.Fatalf("request %+v got a response to %d", k, r.N)
			}
			if r.I != next[r.Tag[0]] {
				t.Fatalf("request %+v: server %d's response %d arrived out of order", k, r.Tag[0], r.I)
			}
			next[r.Tag[0]]++
		}
		if p.IsConnected() {
			t.Fatalf("request %+v still connected after both servers closed it", k)
		}
		p.Close()
	}
}

func TestMaxActiveRequestsAndLimits(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openRR(t, node, "rr/limits", func(b *RequestResponseBuilder[rqMsg, rsMsg]) {
		b.MaxActiveRequestsPerClient(2).MaxLoanedRequests(1).MaxBorrowedResponsesPerPendingResponse(1).MaxClients(1).MaxServers(1)
	})
	if _, err := svc.ClientBuilder().MaxActiveRequests(3).Create(); !errors.Is(err, ErrActiveRequestsExceedMax) {
		t.Fatalf("client with 3 active requests on a service of 2 = %v", err)
	}
	client := must[*Client[rqMsg, rsMsg]](t)(svc.Client())
	if _, err := svc.Client(); !errors.Is(err, ErrExceedsMaxClients) {
		t.Fatalf("second client = %v, want ErrExceedsMaxClients", err)
	}
	server := must[*Server[rqMsg, rsMsg]](t)(svc.ServerBuilder().MaxLoanedResponsesPerRequest(1).Create())
	if _, err := svc.Server(); !errors.Is(err, ErrExceedsMaxServers) {
		t.Fatalf("second server = %v, want ErrExceedsMaxServers", err)
	}
	r := must[*RequestMut[rqMsg, rsMsg]](t)(client.Loan())
	if _, err := client.Loan(); !errors.Is(err, ErrExceedsMaxLoans) {
		t.Fatalf("second loan = %v, want ErrExceedsMaxLoans", err)
	}
	p1 := must[*PendingResponse[rqMsg, rsMsg]](t)(r.Send())
	if _, err := r.Send(); !errors.Is(err, ErrSampleNotOwned) {
		t.Fatalf("second Send = %v, want ErrSampleNotOwned", err)
	}
	// The server's queue holds MaxActiveRequestsPerClient requests of a
	// client, closed ones included (fire and forget): take p1's first.
	a := receiveRequest(t, server)
	p2 := must[*PendingResponse[rqMsg, rsMsg]](t)(client.SendCopy(rqMsg{N: 2}))
	if _, err := client.SendCopy(rqMsg{N: 3}); !errors.Is(err, ErrExceedsMaxActiveRequests) {
		t.Fatalf("third active request = %v, want ErrExceedsMaxActiveRequests", err)
	}
	// The failed request's loan went back.
	p2.Close()
	p3 := must[*PendingResponse[rqMsg, rsMsg]](t)(client.SendCopy(rqMsg{N: 3}))

	m := must[*ResponseMut[rsMsg]](t)(a.Loan())
	if _, err := a.Loan(); !errors.Is(err, ErrExceedsMaxLoans) {
		t.Fatalf("second response loan = %v, want ErrExceedsMaxLoans", err)
	}
	must[struct{}](t)(struct{}{}, m.Send())
	must[struct{}](t)(struct{}{}, a.SendCopy(rsMsg{I: 1}))
	held := must[*Response[rsMsg]](t)(p1.Receive())
	if held == nil {
		t.Fatal("no response")
	}
	if _, err := p1.Receive(); !errors.Is(err, ErrExceedsMaxBorrows) {
		t.Fatalf("second borrowed response = %v, want ErrExceedsMaxBorrows", err)
	}
	held.Release()
	if r := must[*Response[rsMsg]](t)(p1.Receive()); r == nil || r.Payload().I != 1 {
		t.Fatalf("response after release = %+v", r)
	} else {
		r.Release()
	}
	a.Close()
	p1.Close()
	p3.Close()
}

// TestClosedPendingResponseDisconnectsAndDropsLateResponses checks both
// directions of a give-up: the server sees it, its later responses go
// nowhere, and a new request in the same slot never sees them.
func TestClosedPendingResponseDisconnectsAndDropsLateResponses(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openRR(t, node, "rr/give-up", func(b *RequestResponseBuilder[rqMsg, rsMsg]) { b.MaxActiveRequestsPerClient(1) })
	server := must[*Server[rqMsg, rsMsg]](t)(svc.Server())
	client := must[*Client[rqMsg, rsMsg]](t)(svc.Client())
	total := server.s.snd.pool.Cap()

	p := must[*PendingResponse[rqMsg, rsMsg]](t)(client.SendCopy(rqMsg{N: 1}))
	a := receiveRequest(t, server)
	must[struct{}](t)(struct{}{}, a.SendCopy(rsMsg{N: 1}))
	p.SetDisconnectHint()
	if !a.HasDisconnectHint() || !a.IsConnected() {
		t.Fatal("the server does not see the disconnect hint")
	}
	firstID := p.Header().RequestID
	p.Close()
	if a.IsConnected() || a.HasDisconnectHint() {
		t.Fatal("the server still sees a closed pending response as connected")
	}
	// Sending to a closed pending response is not an error: it goes nowhere.
	must[struct{}](t)(struct{}{}, a.SendCopy(rsMsg{N: 2}))

	// The same slot, a new request: it sees none of the old responses,
	// even one that the server sends after the new request exists. (The
	// PendingResponse value of a slot is reused: p2 == p.)
	p2 := must[*PendingResponse[rqMsg, rsMsg]](t)(client.SendCopy(rqMsg{N: 3}))
	if p2.Header().RequestID == firstID {
		t.Fatal("request ids repeat")
	}
	must[struct{}](t)(struct{}{}, a.SendCopy(rsMsg{N: 4}))
	a.Close()
	a2 := receiveRequest(t, server)
	must[struct{}](t)(struct{}{}, a2.SendCopy(rsMsg{N: 5}))
	if got := receiveResponses(t, p2); len(got) != 1 || got[0].N != 5 {
		t.Fatalf("new request received %+v, want only its own response 5", got)
	}
	a2.Close()
	p2.Close()
	// Every response chunk is back.
	server.s.mu.Lock()
	server.s.snd.maintainLocked()
	free := server.s.snd.freeLocked()
	server.s.mu.Unlock()
	if free != total {
		t.Fatalf("server has %d of %d response chunks free", free, total)
	}
}

func TestFireAndForget(t *testing.T) {
	for _, on := range []bool{true, false} {
		node := testNode(t, testConfig(t))
		svc := openRR(t, node, "rr/fire-and-forget", func(b *RequestResponseBuilder[rqMsg, rsMsg]) {
			b.EnableFireAndForgetRequests(on)
		})
		server := must[*Server[rqMsg, rsMsg]](t)(svc.Server())
		client := must[*Client[rqMsg, rsMsg]](t)(svc.Client())
		p := must[*PendingResponse[rqMsg, rsMsg]](t)(client.SendCopy(rqMsg{N: 1}))
		p.Close()
		keep := must[*PendingResponse[rqMsg, rsMsg]](t)(client.SendCopy(rqMsg{N: 2}))
		a := receiveRequest(t, server)
		if on {
			if a.Payload().N != 1 || a.IsConnected() {
				t.Fatalf("fire-and-forget on: first request %d connected %v, want 1 disconnected", a.Payload().N, a.IsConnected())
			}
			a.Close()
			a = receiveRequest(t, server)
		} else if server.s.skipped != 1 {
			t.Fatalf("fire-and-forget off: %d requests skipped, want 1", server.s.skipped)
		}
		if a.Payload().N != 2 || !a.IsConnected() {
			t.Fatalf("request %d connected %v, want 2 connected", a.Payload().N, a.IsConnected())
		}
		a.Close()
		keep.Close()
		node.Close()
	}
}

func TestResponseOverflowAndBackpressure(t *testing.T) {
	node := testNode(t, testConfig(t))
	// Safe overflow: the newest responses stay.
	svc := openRR(t, node, "rr/overflow", func(b *RequestResponseBuilder[rqMsg, rsMsg]) { b.MaxResponseBufferSize(2) })
	server := must[*Server[rqMsg, rsMsg]](t)(svc.Server())
	client := must[*Client[rqMsg, rsMsg]](t)(svc.Client())
	p := must[*PendingResponse[rqMsg, rsMsg]](t)(client.SendCopy(rqMsg{}))
	a := receiveRequest(t, server)
	for i := uint64(0); i < 5; i++ {
		must[struct{}](t)(struct{}{}, a.SendCopy(rsMsg{I: i}))
	}
	if got := receiveResponses(t, p); len(got) != 2 || got[0].I != 3 || got[1].I != 4 {
		t.Fatalf("with safe overflow received %+v, want responses 3 and 4", got)
	}
	a.Close()
	p.Close()

	// Without: DiscardData keeps the oldest, RetryUntilDelivered waits.
	svc2 := openRR(t, node, "rr/backpressure", func(b *RequestResponseBuilder[rqMsg, rsMsg]) {
		b.MaxResponseBufferSize(2).EnableSafeOverflowForResponses(false)
	})
	discard := must[*Server[rqMsg, rsMsg]](t)(svc2.ServerBuilder().Backpressure(DiscardData).Create())
	client2 := must[*Client[rqMsg, rsMsg]](t)(svc2.Client())
	p = must[*PendingResponse[rqMsg, rsMsg]](t)(client2.SendCopy(rqMsg{}))
	a = receiveRequest(t, discard)
	for i := uint64(0); i < 5; i++ {
		must[struct{}](t)(struct{}{}, a.SendCopy(rsMsg{I: i}))
	}
	if got := receiveResponses(t, p); len(got) != 2 || got[0].I != 0 || got[1].I != 1 {
		t.Fatalf("with DiscardData received %+v, want responses 0 and 1", got)
	}
	a.Close()
	discard.Close()
	p.Close()

	retry := must[*Server[rqMsg, rsMsg]](t)(svc2.Server())
	p = must[*PendingResponse[rqMsg, rsMsg]](t)(client2.SendCopy(rqMsg{}))
	a = receiveRequest(t, retry)
	done := make(chan error, 1)
	go func() {
		for i := uint64(0); i < 50; i++ {
			if err := a.SendCopy(rsMsg{I: i}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	var got []uint64
	for deadline := time.Now().Add(10 * time.Second); len(got) < 50 && time.Now().Before(deadline); {
		for _, r := range receiveResponses(t, p) {
			got = append(got, r.I)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != uint64(i) {
			t.Fatalf("RetryUntilDelivered: response %d is %d", i, v)
		}
	}
	if len(got) != 50 {
		t.Fatalf("RetryUntilDelivered: received %d of 50", len(got))
	}
	// A server waiting for room gives up when the request is given up.
	go func() {
		for i := 0; i < 3; i++ {
			if err := a.SendCopy(rsMsg{}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	time.Sleep(20 * time.Millisecond)
	p.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a server blocked on a full response buffer did not notice the closed pending response")
	}
	a.Close()
}

func TestRequestOverflow(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openRR(t, node, "rr/request-overflow", func(b *RequestResponseBuilder[rqMsg, rsMsg]) { b.MaxActiveRequestsPerClient(2) })
	server := must[*Server[rqMsg, rsMsg]](t)(svc.Server())
	client := must[*Client[rqMsg, rsMsg]](t)(svc.Client())
	// Fire and forget: 5 requests, pending responses closed at once; the
	// server's queue holds the 2 newest.
	for n := uint64(0); n < 5; n++ {
		must[*PendingResponse[rqMsg, rsMsg]](t)(client.SendCopy(rqMsg{N: n})).Close()
	}
	var got []uint64
	for {
		a := must[*ActiveRequest[rqMsg, rsMsg]](t)(server.Receive())
		if a == nil {
			break
		}
		got = append(got, a.Payload().N)
		a.Close()
	}
	if !eq(got, []uint64{3, 4}) {
		t.Fatalf("server received %v, want [3 4]", got)
	}
	// An overflowed request is not connected to that server.
	p1 := must[*PendingResponse[rqMsg, rsMsg]](t)(client.SendCopy(rqMsg{N: 10}))
	p2 := must[*PendingResponse[rqMsg, rsMsg]](t)(client.SendCopy(rqMsg{N: 11}))
	p2.Close()
	must[*PendingResponse[rqMsg, rsMsg]](t)(client.SendCopy(rqMsg{N: 12})).Close()
	if p1.IsConnected() {
		t.Fatal("a request taken back on overflow is still connected")
	}
	p1.Close()
}

func TestClientAndServerCloseDisconnect(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openRR(t, node, "rr/close", nil)
	server := must[*Server[rqMsg, rsMsg]](t)(svc.Server())
	client := must[*Client[rqMsg, rsMsg]](t)(svc.Client())
	clientChunks := client.c.snd.pool.Cap()
	serverChunks := server.s.snd.pool.Cap()

	p := must[*PendingResponse[rqMsg, rsMsg]](t)(client.SendCopy(rqMsg{N: 1}))
	a := receiveRequest(t, server)
	must[struct{}](t)(struct{}{}, a.SendCopy(rsMsg{N: 1}))
	client.Close()
	if a.IsConnected() {
		t.Fatal("active request still connected after its client closed")
	}
	must[struct{}](t)(struct{}{}, a.SendCopy(rsMsg{N: 2}))
	if _, err := p.Receive(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Receive after the client closed = %v, want ErrClosed", err)
	}
	a.Close()

	client = must[*Client[rqMsg, rsMsg]](t)(svc.Client())
	p = must[*PendingResponse[rqMsg, rsMsg]](t)(client.SendCopy(rqMsg{N: 2}))
	a = receiveRequest(t, server)
	must[struct{}](t)(struct{}{}, a.SendCopy(rsMsg{N: 3}))
	server.Close()
	if p.IsConnected() {
		t.Fatal("pending response still connected after its server closed")
	}
	if got := receiveResponses(t, p); len(got) != 1 || got[0].N != 3 {
		t.Fatalf("responses of a closed server: %+v", got)
	}
	p.Close()
	client.c.mu.Lock()
	client.c.snd.maintainLocked()
	free := client.c.snd.freeLocked()
	client.c.mu.Unlock()
	if free != clientChunks {
		t.Fatalf("client has %d of %d request chunks free", free, clientChunks)
	}
	_ = serverChunks
	if svc.NumberOfServers() != 0 || svc.NumberOfClients() != 1 {
		t.Fatalf("%d servers, %d clients", svc.NumberOfServers(), svc.NumberOfClients())
	}
}

func TestRequestResponseOpenChecks(t *testing.T) {
	node := testNode(t, testConfig(t))
	openRR(t, node, "rr/compat", func(b *RequestResponseBuilder[rqMsg, rsMsg]) {
		b.MaxClients(4).MaxServers(1).Attribute("k", "v")
	})
	for _, tc := range []struct {
		name string
		open func() error
		want error
	}{
		{"request type", func() error { _, err := RequestResponse[rsMsg, rsMsg](node, "rr/compat").Open(); return err }, ErrIncompatibleTypes},
		{"response type", func() error { _, err := RequestResponse[rqMsg, rqMsg](node, "rr/compat").Open(); return err }, ErrIncompatibleTypes},
		{"slice", func() error { _, err := RequestResponseSlice[rqMsg, rsMsg](node, "rr/compat").Open(); return err }, ErrIncompatibleTypes},
		{"clients", func() error {
			_, err := RequestResponse[rqMsg, rsMsg](node, "rr/compat").MaxClients(5).Open()
			return err
		}, ErrIncompatibleQoS},
		{"fire and forget", func() error {
			_, err := RequestResponse[rqMsg, rsMsg](node, "rr/compat").EnableFireAndForgetRequests(false).Open()
			return err
		}, ErrIncompatibleQoS},
		{"request overflow", func() error {
			_, err := RequestResponse[rqMsg, rsMsg](node, "rr/compat").EnableSafeOverflowForRequests(false).Open()
			return err
		}, ErrIncompatibleQoS},
		{"attribute", func() error {
			_, err := RequestResponse[rqMsg, rsMsg](node, "rr/compat").RequireAttribute("k", "w").Open()
			return err
		}, ErrIncompatibleAttributes},
		{"pattern", func() error { _, err := PublishSubscribe[rqMsg](node, "rr/compat").Open(); return err }, ErrServiceNotExist},
		{"invalid qos", func() error {
			_, err := RequestResponse[rqMsg, rsMsg](node, "rr/bad").MaxActiveRequestsPerClient(0).Create()
			return err
		}, ErrInvalidQoS},
		{"too large", func() error {
			_, err := RequestResponse[rqMsg, rsMsg](node, "rr/bad").MaxActiveRequestsPerClient(1 << 16).MaxResponseBufferSize(1 << 16).Create()
			return err
		}, ErrInvalidQoS},
		{"invalid type", func() error { _, err := RequestResponse[string, rsMsg](node, "rr/bad").Create(); return err }, ErrInvalidType},
	} {
		if err := tc.open(); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// Lower requirements open, and the capacities are the service's.
	svc, err := RequestResponse[rqMsg, rsMsg](node, "rr/compat").MaxClients(2).RequireAttribute("k", "").Open()
	if err != nil {
		t.Fatal(err)
	}
	if q := svc.QoS(); q.MaxClients != 4 || q.MaxServers != 1 || q.MaxActiveRequestsPerClient != 4 {
		t.Fatalf("opened QoS %+v", q)
	}
	st := svc.StaticConfig().RequestResponse
	if st == nil || st.Request.Size != uint64(unsafe.Sizeof(rqMsg{})) || st.Response.Size != uint64(unsafe.Sizeof(rsMsg{})) {
		t.Fatalf("static config %+v", st)
	}
}

func TestRequestResponseSlices(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc, err := RequestResponseSlice[byte, uint32](node, "rr/slices").OpenOrCreate()
	if err != nil {
		t.Fatal(err)
	}
	server := must[*Server[byte, uint32]](t)(svc.ServerBuilder().MaxSliceLen(100).Create())
	client := must[*Client[byte, uint32]](t)(svc.ClientBuilder().MaxSliceLen(1000).Create())
	r := must[*RequestMut[byte, uint32]](t)(client.LoanSlice(777))
	for i := range r.PayloadSlice() {
		r.PayloadSlice()[i] = byte(i)
	}
	p := must[*PendingResponse[byte, uint32]](t)(r.Send())
	a := must[*ActiveRequest[byte, uint32]](t)(server.Receive())
	if len(a.PayloadSlice()) != 777 || a.PayloadSlice()[776] != byte(776%256) {
		t.Fatalf("request slice of %d elements", len(a.PayloadSlice()))
	}
	m := must[*ResponseMut[uint32]](t)(a.LoanSlice(100))
	for i := range m.PayloadSlice() {
		m.PayloadSlice()[i] = uint32(i * 3)
	}
	must[struct{}](t)(struct{}{}, m.Send())
	if _, err := a.LoanSlice(101); !errors.Is(err, ErrSliceLengthExceedsLimit) {
		t.Fatalf("LoanSlice(101) = %v", err)
	}
	resp := must[*Response[uint32]](t)(p.Receive())
	if got := resp.PayloadSlice(); len(got) != 100 || got[99] != 297 {
		t.Fatalf("response slice %v", got)
	}
	resp.Release()
	a.Close()
	p.Close()
	if _, err := RequestResponse[rqMsg, rsMsg](node, "rr/fixed").OpenOrCreate(); err != nil {
		t.Fatal(err)
	}
}

// TestRequestResponseZeroCopy checks that the server reads the memory the
// client wrote, and the client the memory the server wrote.
func TestRequestResponseZeroCopy(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openRR(t, node, "rr/zero-copy", nil)
	server := must[*Server[rqMsg, rsMsg]](t)(svc.Server())
	client := must[*Client[rqMsg, rsMsg]](t)(svc.Client())
	r := must[*RequestMut[rqMsg, rsMsg]](t)(client.Loan())
	written := r.Payload()
	p := must[*PendingResponse[rqMsg, rsMsg]](t)(r.Send())
	a := receiveRequest(t, server)
	if !inProcess && uintptr(unsafe.Pointer(a.Payload())) == uintptr(unsafe.Pointer(written)) {
		t.Log("client and server share one mapping") // different mappings of the same pages across processes
	}
	written.N = 99 // the client writes after sending (never do this): the server sees it
	if a.Payload().N != 99 {
		t.Fatal("the server's request is a copy of the client's")
	}
	m := must[*ResponseMut[rsMsg]](t)(a.Loan())
	out := m.Payload()
	must[struct{}](t)(struct{}{}, m.Send())
	resp := must[*Response[rsMsg]](t)(p.Receive())
	out.I = 42
	if resp.Payload().I != 42 {
		t.Fatal("the client's response is a copy of the server's")
	}
	resp.Release()
	a.Close()
	p.Close()
}

func TestRequestResponseHotPathAllocatesNothing(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openRR(t, node, "rr/allocs", nil)
	server := must[*Server[rqMsg, rsMsg]](t)(svc.Server())
	client := must[*Client[rqMsg, rsMsg]](t)(svc.Client())
	allocs := testing.AllocsPerRun(1000, func() {
		r, err := client.LoanUninit()
		if err != nil {
			t.Fatal(err)
		}
		r.Payload().N = 1
		p, err := r.Send()
		if err != nil {
			t.Fatal(err)
		}
		a, err := server.Receive()
		if err != nil || a == nil {
			t.Fatal("no request", err)
		}
		m, err := a.LoanUninit()
		if err != nil {
			t.Fatal(err)
		}
		m.Payload().N = a.Payload().N
		if err := m.Send(); err != nil {
			t.Fatal(err)
		}
		if !a.IsConnected() {
			t.Fatal("not connected")
		}
		a.Close()
		resp, err := p.Receive()
		if err != nil || resp == nil {
			t.Fatal("no response", err)
		}
		_ = resp.Payload().N
		resp.Release()
		if p.IsConnected() {
			t.Fatal("still connected")
		}
		p.Close()
	})
	if allocs != 0 {
		t.Fatalf("loan+send+receive+respond+release allocates %v times", allocs)
	}
	allocs = testing.AllocsPerRun(1000, func() {
		p, _ := client.SendCopy(rqMsg{N: 2})
		if a, _ := server.Receive(); a != nil {
			a.SendCopy(rsMsg{N: 3})
			a.Close()
		}
		if r, _ := p.Receive(); r != nil {
			r.Release()
		}
		p.Close()
	})
	if allocs != 0 {
		t.Fatalf("SendCopy round trip allocates %v times", allocs)
	}
}

func TestListServicesShowsClientsAndServers(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc := openRR(t, node, "rr/listed", nil)
	must[*Server[rqMsg, rsMsg]](t)(svc.Server())
	c := must[*Client[rqMsg, rsMsg]](t)(svc.ClientBuilder().MaxActiveRequests(3).Create())
	svcs, err := ListServices(cfg)
	if err != nil || len(svcs) != 1 {
		t.Fatalf("ListServices = %+v, %v", svcs, err)
	}
	si := svcs[0]
	if si.Static.Pattern != "request_response" || len(si.Servers) != 1 || len(si.Clients) != 1 ||
		si.Clients[0].ID != c.ID() || si.Clients[0].MaxActiveRequests != 3 || len(si.Publishers) != 0 {
		t.Fatalf("service info %+v", si)
	}
	svc.Close()
	if svcs, _ := ListServices(cfg); len(svcs) != 0 {
		t.Fatalf("services left: %+v", svcs)
	}
}

// TestConcurrentClientsAndServers runs two servers and three clients in
// goroutines: each client keeps two requests in flight and checks that
// every request gets its own five responses from each server.
func TestConcurrentClientsAndServers(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openRR(t, node, "rr/concurrent", func(b *RequestResponseBuilder[rqMsg, rsMsg]) {
		b.MaxActiveRequestsPerClient(2).MaxResponseBufferSize(8).MaxBorrowedResponsesPerPendingResponse(4)
	})
	const requests, perServer = 200, 5
	stop := make(chan struct{})
	errs := make(chan error, 8)
	var servers, clients sync.WaitGroup
	for si := 0; si < 2; si++ {
		server := must[*Server[rqMsg, rsMsg]](t)(svc.Server())
		servers.Add(1)
		go func(si int) {
			defer servers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				a, err := server.Receive()
				if err != nil {
					errs <- err
					return
				}
				if a == nil {
					runtime.Gosched()
					continue
				}
				for i := uint64(0); i < perServer; i++ {
					if err := a.SendCopy(rsMsg{N: a.Payload().Client*10000 + a.Payload().N, I: i, Tag: [3]uint32{uint32(si)}}); err != nil {
						errs <- err
						return
					}
				}
				a.Close()
			}
		}(si)
	}
	for c := uint64(0); c < 3; c++ {
		client := must[*Client[rqMsg, rsMsg]](t)(svc.Client())
		clients.Add(1)
		go func(c uint64) {
			defer clients.Done()
			type flight struct {
				p    *PendingResponse[rqMsg, rsMsg]
				n    uint64
				next [2]uint64
			}
			var inflight []*flight
			sent := uint64(0)
			deadline := time.Now().Add(time.Minute)
			for sent < requests || len(inflight) > 0 {
				if time.Now().After(deadline) {
					errs <- fmt.Errorf("client %d timed out with %d sent", c, sent)
					return
				}
				for sent < requests && len(inflight) < 2 {
					p, err := client.SendCopy(rqMsg{Client: c, N: sent})
					if err != nil {
						errs <- err
						return
					}
					inflight = append(inflight, &flight{p: p, n: sent})
					sent++
				}
				for k := 0; k < len(inflight); k++ {
					f := inflight[k]
					for {
						r, err := f.p.Receive()
						if err != nil {
							errs <- err
							return
						}
						if r == nil {
							break
						}
						got := *r.Payload()
						r.Release()
						s := got.Tag[0]
						if got.N != c*10000+f.n || s > 1 || got.I != f.next[s] {
							errs <- fmt.Errorf("client %d request %d: got %+v after %v", c, f.n, got, f.next)
							return
						}
						f.next[s]++
					}
					if f.next == [2]uint64{perServer, perServer} && !f.p.IsConnected() {
						f.p.Close()
						inflight = append(inflight[:k], inflight[k+1:]...)
						k--
					}
				}
				runtime.Gosched()
			}
		}(c)
	}
	clients.Wait()
	close(stop)
	servers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
