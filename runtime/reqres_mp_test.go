package runtime

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func init() {
	helpers["rr-stream-server"] = helperStreamServer
	helpers["rr-stream-client"] = helperStreamClient
	helpers["rr-crash-client"] = helperCrashClient
	helpers["rr-crash-server"] = helperCrashServer
}

const (
	streamService   = "mp/stream"
	streamResponses = 1000 // per request
	streamRequests  = 4    // per client
	streamClients   = 3
)

// streamBuilder is the service of the streaming test: no safe overflow
// for responses, so that every response of the stream arrives.
func streamBuilder(node *Node) *RequestResponseBuilder[rqMsg, rsMsg] {
	return RequestResponse[rqMsg, rsMsg](node, streamService).MaxClients(streamClients).MaxServers(1).
		MaxActiveRequestsPerClient(2).MaxResponseBufferSize(16).EnableSafeOverflowForResponses(false)
}

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}

// helperStreamServer answers IOX2_TEST_N requests, each with a stream of
// streamResponses responses that carry the request's client and number.
func helperStreamServer() error {
	node, err := NewNodeBuilder().Name("rr-server").Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := streamBuilder(node).Open()
	if err != nil {
		return err
	}
	server, err := svc.Server()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	deadline := time.Now().Add(2 * time.Minute)
	for handled, total := 0, envInt("IOX2_TEST_N"); handled < total; {
		a, err := server.Receive()
		if err != nil {
			return err
		}
		if a == nil {
			if time.Now().After(deadline) {
				return fmt.Errorf("timed out after %d requests", handled)
			}
			continue
		}
		req := *a.Payload()
		for i := uint64(0); i < streamResponses; i++ {
			m, err := a.LoanUninit()
			if err != nil {
				return err
			}
			*m.Payload() = rsMsg{N: req.Client*1000 + req.N, I: i, Tag: [3]uint32{uint32(req.Client), uint32(req.N)}}
			if err := m.Send(); err != nil {
				return err
			}
		}
		a.Close()
		handled++
	}
	return nil
}

type streamStats struct {
	Requests, Responses int
	Error               string
}

// helperStreamClient sends streamRequests requests, two at a time, and
// checks that each gets exactly its own streamResponses responses, in
// order.
func helperStreamClient() error {
	c := uint64(envInt("IOX2_TEST_CLIENT"))
	node, err := NewNodeBuilder().Name("rr-client").Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := streamBuilder(node).Open()
	if err != nil {
		return err
	}
	client, err := svc.Client()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	var st streamStats
	fail := func(format string, args ...any) error {
		st.Error = fmt.Sprintf(format, args...)
		return json.NewEncoder(os.Stdout).Encode(st)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for n := uint64(0); n < streamRequests; n += 2 {
		var ps [2]*PendingResponse[rqMsg, rsMsg]
		var next [2]uint64
		for k := range ps {
			if ps[k], err = client.SendCopy(rqMsg{Client: c, N: n + uint64(k)}); err != nil {
				return err
			}
			if ps[k].NumberOfServerConnections() != 1 {
				return fail("request %d reached %d servers", n+uint64(k), ps[k].NumberOfServerConnections())
			}
			st.Requests++
		}
		for next[0] < streamResponses || next[1] < streamResponses {
			if time.Now().After(deadline) {
				return fail("timed out at responses %v of requests %d, %d", next, n, n+1)
			}
			for k, p := range ps {
				r, err := p.Receive()
				if err != nil {
					return err
				}
				if r == nil {
					continue
				}
				got, want := *r.Payload(), rsMsg{N: c*1000 + n + uint64(k), I: next[k], Tag: [3]uint32{uint32(c), uint32(n) + uint32(k)}}
				if got != want {
					return fail("request %d: got %+v, want %+v", n+uint64(k), got, want)
				}
				if r.Header().RequestID != p.Header().RequestID {
					return fail("request %d: response to request id %d", n+uint64(k), r.Header().RequestID)
				}
				r.Release()
				next[k]++
				st.Responses++
			}
		}
		for k, p := range ps {
			// The server closes each request after its stream: nothing more.
			for end := time.Now().Add(10 * time.Second); p.IsConnected(); time.Sleep(time.Millisecond) {
				if time.Now().After(end) {
					return fail("request %d still connected after its stream", n+uint64(k))
				}
			}
			if r, _ := p.Receive(); r != nil {
				return fail("request %d: a response after the stream: %+v", n+uint64(k), *r.Payload())
			}
			p.Close()
		}
	}
	return json.NewEncoder(os.Stdout).Encode(st)
}

// TestMultiProcessResponseStreams runs a server process that streams 1,000
// responses per request to three client processes with two requests in
// flight each: every pending response gets exactly its own responses, in
// order, and nothing is left behind.
func TestMultiProcessResponseStreams(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc, err := streamBuilder(node).Create()
	if err != nil {
		t.Fatal(err)
	}
	server, out := startHelper(t, cfg, "rr-stream-server", "IOX2_TEST_N="+strconv.Itoa(streamClients*streamRequests))
	if !out.Scan() || out.Text() != "ready" {
		t.Fatalf("server process did not start: %q", out.Text())
	}
	type proc struct {
		cmd *exec.Cmd
		out interface {
			Scan() bool
			Bytes() []byte
			Text() string
		}
	}
	var clients []proc
	for c := 0; c < streamClients; c++ {
		cmd, out := startHelper(t, cfg, "rr-stream-client", "IOX2_TEST_CLIENT="+strconv.Itoa(c))
		if !out.Scan() || out.Text() != "ready" {
			t.Fatalf("client process %d did not start: %q", c, out.Text())
		}
		clients = append(clients, proc{cmd, out})
	}
	for c, p := range clients {
		if !p.out.Scan() {
			t.Fatalf("client %d printed no stats", c)
		}
		var st streamStats
		if err := json.Unmarshal(p.out.Bytes(), &st); err != nil {
			t.Fatalf("client %d stats %q: %v", c, p.out.Text(), err)
		}
		if st.Error != "" || st.Requests != streamRequests || st.Responses != streamRequests*streamResponses {
			t.Errorf("client %d: %+v, want %d requests and %d responses", c, st, streamRequests, streamRequests*streamResponses)
		}
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("client %d: %v", c, err)
		}
	}
	if err := server.Wait(); err != nil {
		t.Fatalf("server process: %v", err)
	}
	svc.Close()
	node.Close()
	assertNoFiles(t, cfg)
}

// crashBuilderRR is the service of the crash tests.
func crashBuilderRR(node *Node) *RequestResponseBuilder[rqMsg, rsMsg] {
	return RequestResponse[rqMsg, rsMsg](node, "crash/rr").MaxResponseBufferSize(4).MaxBorrowedResponsesPerPendingResponse(2)
}

// helperCrashClient sends a request, holds the two first responses and
// waits to be killed.
func helperCrashClient() error {
	node, err := NewNodeBuilder().Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	svc, err := crashBuilderRR(node).Open()
	if err != nil {
		return err
	}
	client, err := svc.Client()
	if err != nil {
		return err
	}
	p, err := client.SendCopy(rqMsg{N: 7})
	if err != nil {
		return err
	}
	var held []*Response[rsMsg]
	for deadline := time.Now().Add(time.Minute); len(held) < 2; {
		r, err := p.Receive()
		if err != nil {
			return err
		}
		if r != nil {
			held = append(held, r)
		} else if time.Now().After(deadline) {
			return fmt.Errorf("no responses")
		}
	}
	fmt.Println("holding")
	select {}
}

// TestKilledClientDisconnectsAndReturnsChunks kills a client process that
// holds responses: the server's active request turns disconnected, and
// every response chunk returns to the server's pool, with no call from
// anyone.
func TestKilledClientDisconnectsAndReturnsChunks(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc, err := crashBuilderRR(node).Create()
	if err != nil {
		t.Fatal(err)
	}
	server := must[*Server[rqMsg, rsMsg]](t)(svc.Server())
	total := server.s.snd.pool.Cap()
	cmd, out := startHelper(t, cfg, "rr-crash-client")
	var a *ActiveRequest[rqMsg, rsMsg]
	for deadline := time.Now().Add(30 * time.Second); a == nil; time.Sleep(time.Millisecond) {
		a = must[*ActiveRequest[rqMsg, rsMsg]](t)(server.Receive())
		if time.Now().After(deadline) {
			t.Fatal("no request from the client process")
		}
	}
	for i := uint64(0); i < 4; i++ {
		must[struct{}](t)(struct{}{}, a.SendCopy(rsMsg{N: a.Payload().N, I: i}))
	}
	if !out.Scan() || out.Text() != "holding" {
		t.Fatalf("client process: %q", out.Text())
	}
	if !a.IsConnected() {
		t.Fatal("active request disconnected while its client lives")
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	for deadline := time.Now().Add(10 * time.Second); a.IsConnected(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("active request still connected 10s after its client was killed")
		}
	}
	// Responses to a dead client go nowhere, without error.
	must[struct{}](t)(struct{}{}, a.SendCopy(rsMsg{}))
	a.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		server.s.mu.Lock()
		server.s.snd.maintainLocked()
		free := server.s.snd.freeLocked()
		server.s.mu.Unlock()
		if free == total && svc.NumberOfClients() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d response chunks free, %d clients, 10s after the client died", free, total, svc.NumberOfClients())
		}
	}
	node.Close()
	assertNoFiles(t, cfg)
}

// helperCrashServer answers each request with two responses, keeps the
// request open and reports it, until it is killed.
func helperCrashServer() error {
	node, err := NewNodeBuilder().Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	svc, err := crashBuilderRR(node).Open()
	if err != nil {
		return err
	}
	server, err := svc.Server()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	var open []*ActiveRequest[rqMsg, rsMsg]
	for {
		a, err := server.Receive()
		if err != nil {
			return err
		}
		if a == nil {
			time.Sleep(time.Millisecond)
			continue
		}
		for i := uint64(0); i < 2; i++ {
			if err := a.SendCopy(rsMsg{N: a.Payload().N, I: i}); err != nil {
				return err
			}
		}
		open = append(open, a)
		fmt.Println("sent")
	}
}

// TestKilledServerDisconnectsAndLeavesResponsesReadable kills a server
// process that holds a request: the client's pending response turns
// disconnected, the responses already delivered stay readable, and the
// request chunk returns to the client's pool.
func TestKilledServerDisconnectsAndLeavesResponsesReadable(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc, err := crashBuilderRR(node).Create()
	if err != nil {
		t.Fatal(err)
	}
	client := must[*Client[rqMsg, rsMsg]](t)(svc.Client())
	total := client.c.snd.pool.Cap()
	cmd, out := startHelper(t, cfg, "rr-crash-server")
	if !out.Scan() || out.Text() != "ready" {
		t.Fatalf("server process: %q", out.Text())
	}
	p := must[*PendingResponse[rqMsg, rsMsg]](t)(client.SendCopy(rqMsg{N: 9}))
	if p.NumberOfServerConnections() != 1 {
		t.Fatalf("request reached %d servers", p.NumberOfServerConnections())
	}
	if !out.Scan() || out.Text() != "sent" {
		t.Fatalf("server process: %q", out.Text())
	}
	// Delivered: queued in a connection the client has mapped.
	for deadline := time.Now().Add(10 * time.Second); !must[bool](t)(p.HasResponse()); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no response queued")
		}
	}
	if !p.IsConnected() {
		t.Fatal("pending response disconnected while its server holds the request")
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	for deadline := time.Now().Add(10 * time.Second); p.IsConnected(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("pending response still connected 10s after its server was killed")
		}
	}
	if got := receiveResponses(t, p); len(got) != 2 || got[0] != (rsMsg{N: 9, I: 0}) || got[1] != (rsMsg{N: 9, I: 1}) {
		t.Fatalf("responses of the dead server: %+v", got)
	}
	p.Close()
	client.c.mu.Lock()
	client.c.snd.maintainLocked()
	free := client.c.snd.freeLocked()
	client.c.mu.Unlock()
	if free != total || svc.NumberOfServers() != 0 {
		t.Fatalf("%d of %d request chunks free, %d servers", free, total, svc.NumberOfServers())
	}
	node.Close()
	assertNoFiles(t, cfg)
}

func init() {
	helpers["rr-busy-client"] = helperBusyClient
	helpers["rr-busy-server"] = helperBusyServer
}

// helperBusyClient keeps two requests in flight and takes their responses,
// holding one of them, as fast as it can until it is killed.
func helperBusyClient() error {
	node, err := NewNodeBuilder().Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	svc, err := crashBuilderRR(node).Open()
	if err != nil {
		return err
	}
	client, err := svc.ClientBuilder().MaxActiveRequests(2).Create()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	var ps []*PendingResponse[rqMsg, rsMsg]
	var held *Response[rsMsg]
	for n := uint64(0); ; n++ {
		if len(ps) == 2 {
			if held != nil {
				held.Release()
				held = nil
			}
			ps[0].Close()
			ps = ps[1:]
		}
		p, err := client.SendCopy(rqMsg{Client: 99, N: n})
		if err != nil {
			return err
		}
		ps = append(ps, p)
		for _, p := range ps {
			if r, err := p.Receive(); err != nil {
				return err
			} else if r != nil && held == nil {
				held = r
			} else if r != nil {
				r.Release()
			}
		}
	}
}

// helperBusyServer answers every request with three responses, keeping the
// latest request open, until it is killed.
func helperBusyServer() error {
	node, err := NewNodeBuilder().Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	svc, err := crashBuilderRR(node).Open()
	if err != nil {
		return err
	}
	server, err := svc.Server()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	var open *ActiveRequest[rqMsg, rsMsg]
	for {
		a, err := server.Receive()
		if err != nil {
			return err
		}
		if a == nil {
			continue
		}
		for i := uint64(0); i < 3; i++ {
			if err := a.SendCopy(rsMsg{N: a.Payload().N, I: i}); err != nil {
				return err
			}
		}
		if open != nil {
			open.Close()
		}
		open = a
	}
}

// TestRequestResponseCrashRounds kills busy client and server processes at
// random moments, round after round, while a client and a server of the
// test process keep working: after every round's cleanup the survivors
// work and every chunk of theirs is accounted for; at the end no file is
// left.
func TestRequestResponseCrashRounds(t *testing.T) {
	rounds := 10
	if testing.Short() {
		rounds = 3
	}
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc, err := crashBuilderRR(node).Create()
	if err != nil {
		t.Fatal(err)
	}
	server := must[*Server[rqMsg, rsMsg]](t)(svc.Server())
	client := must[*Client[rqMsg, rsMsg]](t)(svc.Client())
	serverChunks, clientChunks := server.s.snd.pool.Cap(), client.c.snd.pool.Cap()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	for r := 0; r < rounds; r++ {
		cs, cout := startHelper(t, cfg, "rr-busy-client")
		ss, sout := startHelper(t, cfg, "rr-busy-server")
		if !cout.Scan() || cout.Text() != "ready" || !sout.Scan() || sout.Text() != "ready" {
			t.Fatalf("round %d: children did not start", r)
		}
		// Serve the busy client and use the busy server for a while, then
		// kill both children.
		var pending *PendingResponse[rqMsg, rsMsg]
		var held *Response[rsMsg]
		until := time.Now().Add(time.Duration(5+rng.IntN(30)) * time.Millisecond)
		for time.Now().Before(until) {
			a := must[*ActiveRequest[rqMsg, rsMsg]](t)(server.Receive())
			if a != nil {
				a.SendCopy(rsMsg{N: a.Payload().N})
				a.Close()
			}
			if pending == nil {
				pending = must[*PendingResponse[rqMsg, rsMsg]](t)(client.SendCopy(rqMsg{N: 1000 + uint64(r)}))
			}
			for {
				resp := must[*Response[rsMsg]](t)(pending.Receive())
				if resp == nil {
					break
				}
				if resp.Payload().N != 1000+uint64(r) {
					t.Fatalf("round %d: response %+v to request %d", r, *resp.Payload(), 1000+r)
				}
				if held == nil && resp.Header().ServerID != server.ID() {
					held = resp // a response of the busy server, held while it dies
				} else {
					resp.Release()
				}
			}
			if held == nil && !pending.IsConnected() {
				pending.Close()
				pending = nil
			}
		}
		first, second := cs, ss
		if rng.IntN(2) == 0 {
			first, second = ss, cs
		}
		first.Process.Signal(syscall.SIGKILL)
		first.Wait()
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		second.Process.Signal(syscall.SIGKILL)
		second.Wait()
		node.CleanupDeadNodes()
		if ids := listNodeIDs(cfg); len(ids) != 1 || ids[0] != node.ID() {
			t.Fatalf("round %d: nodes %v left, want only %v", r, ids, node.ID())
		}
		if held != nil {
			t.Logf("round %d: holding a response of the dead server", r)
		}
		// A response of the dead server is still readable.
		if held != nil {
			if held.Payload().N != 1000+uint64(r) {
				t.Fatalf("round %d: a dead server's response changed: %+v", r, *held.Payload())
			}
			held.Release()
		}
		if pending != nil {
			pending.Close()
		}
		// Requests of the dead client still queued are received, not connected.
		for {
			a := must[*ActiveRequest[rqMsg, rsMsg]](t)(server.Receive())
			if a == nil {
				break
			}
			if a.IsConnected() {
				t.Fatalf("round %d: a request of the dead client is connected", r)
			}
			a.Close()
		}
		// The survivors still work.
		p := must[*PendingResponse[rqMsg, rsMsg]](t)(client.SendCopy(rqMsg{N: uint64(r)}))
		if n := p.NumberOfServerConnections(); n != 1 {
			t.Fatalf("round %d: request reached %d servers", r, n)
		}
		a := receiveRequest(t, server)
		must[struct{}](t)(struct{}{}, a.SendCopy(rsMsg{N: uint64(r), I: 1}))
		a.Close()
		if got := receiveResponses(t, p); len(got) != 1 || got[0].N != uint64(r) {
			t.Fatalf("round %d: survivor received %+v", r, got)
		}
		p.Close()
		server.s.mu.Lock()
		server.s.snd.maintainLocked()
		sf := server.s.snd.freeLocked()
		server.s.mu.Unlock()
		client.c.mu.Lock()
		client.c.snd.maintainLocked()
		cf := client.c.snd.freeLocked()
		client.c.mu.Unlock()
		if sf != serverChunks || cf != clientChunks {
			t.Fatalf("round %d: %d of %d server chunks and %d of %d client chunks free", r, sf, serverChunks, cf, clientChunks)
		}
		if svc.NumberOfClients() != 1 || svc.NumberOfServers() != 1 {
			t.Fatalf("round %d: %d clients, %d servers", r, svc.NumberOfClients(), svc.NumberOfServers())
		}
	}
	node.Close()
	assertNoFiles(t, cfg)
}
