package runtime

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
)

// Tests of issue 11, point 1: what a sender (publisher, server, client)
// delivered before it was killed reaches its receivers, even those that
// had not yet mapped the connection when a cleanup removed the sender.

func init() {
	helpers["killed-publisher"] = helperKilledPublisher
	helpers["killed-subscriber"] = helperKilledSubscriber
	helpers["killed-server"] = helperKilledServer
	helpers["killed-client"] = helperKilledClient
}

const (
	killedPubService = "killed/pub"
	killedRRService  = "killed/rr"
	killedSamples    = 4 // per round
)

func killedPubBuilder(node *Node) *PublishSubscribeBuilder[msg] {
	return PublishSubscribe[msg](node, killedPubService).MaxPublishers(4).MaxSubscribers(2).MaxNodes(64).
		SubscriberMaxBufferSize(killedSamples)
}

func killedRRBuilder(node *Node) *RequestResponseBuilder[rqMsg, rsMsg] {
	return RequestResponse[rqMsg, rsMsg](node, killedRRService).MaxServers(4).MaxClients(4).MaxNodes(64).
		MaxResponseBufferSize(killedSamples)
}

// killedEnd ends a killed-* helper after its last send, as IOX2_TEST_KILL
// says: "parent" prints "sent" and waits for the parent's SIGKILL; a
// number n spins n iterations and then kills the process itself, so that
// it dies at a varying distance from its last send with no pipe between.
func killedEnd() error {
	mode := os.Getenv("IOX2_TEST_KILL")
	if mode == "parent" {
		fmt.Println("sent")
		select {}
	}
	n, err := strconv.Atoi(mode)
	if err != nil {
		return fmt.Errorf("IOX2_TEST_KILL=%q: want parent or a number", mode)
	}
	x := uint64(1)
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	if x == 0 {
		fmt.Println() // never: keeps the loop
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// helperKilledPublisher sends killedSamples samples, numbered from
// IOX2_TEST_N, to the one existing subscriber and dies (killedEnd).
func helperKilledPublisher() error {
	node, err := NewNodeBuilder().Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	svc, err := killedPubBuilder(node).Open()
	if err != nil {
		return err
	}
	pub, err := svc.Publisher()
	if err != nil {
		return err
	}
	fmt.Println("ready", pub.ID())
	base := uint64(envInt("IOX2_TEST_N"))
	for i := uint64(0); i < killedSamples; i++ {
		if n, err := pub.SendCopy(msg{Seq: base + i, Tail: 0xDEAD}); err != nil || n != 1 {
			return fmt.Errorf("send %d reached %d subscribers: %v", i, n, err)
		}
	}
	return killedEnd()
}

// helperKilledSubscriber has a subscriber of the killed-publisher service
// and receives nothing (its node's dispatcher maps what comes) until it
// is killed; the tests stop it to make a receiver that never looks.
func helperKilledSubscriber() error {
	node, err := NewNodeBuilder().Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	svc, err := killedPubBuilder(node).Open()
	if err != nil {
		return err
	}
	sub, err := svc.Subscriber()
	if err != nil {
		return err
	}
	fmt.Println("ready", sub.ID())
	select {}
}

// helperKilledServer answers the first request it receives with
// killedSamples responses, numbered from 0, and dies (killedEnd).
func helperKilledServer() error {
	node, err := NewNodeBuilder().Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	svc, err := killedRRBuilder(node).Open()
	if err != nil {
		return err
	}
	server, err := svc.Server()
	if err != nil {
		return err
	}
	fmt.Println("ready", server.ID())
	for deadline := time.Now().Add(time.Minute); ; {
		a, err := server.Receive()
		if err != nil {
			return err
		}
		if a == nil {
			if time.Now().After(deadline) {
				return fmt.Errorf("no request")
			}
			time.Sleep(50 * time.Microsecond)
			continue
		}
		for i := uint64(0); i < killedSamples; i++ {
			if err := a.SendCopy(rsMsg{N: a.Payload().N, I: i}); err != nil {
				return err
			}
		}
		return killedEnd()
	}
}

// helperKilledClient sends one request, numbered IOX2_TEST_N, to the one
// existing server and dies (killedEnd).
func helperKilledClient() error {
	node, err := NewNodeBuilder().Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	svc, err := killedRRBuilder(node).Open()
	if err != nil {
		return err
	}
	client, err := svc.Client()
	if err != nil {
		return err
	}
	fmt.Println("ready", client.ID())
	p, err := client.SendCopy(rqMsg{Client: 7, N: uint64(envInt("IOX2_TEST_N"))})
	if err != nil {
		return err
	}
	if n := p.NumberOfServerConnections(); n != 1 {
		return fmt.Errorf("request reached %d servers", n)
	}
	return killedEnd()
}

// waitKilled waits for a killed-* helper and fails unless SIGKILL ended it.
func waitKilled(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Wait()
	ps := cmd.ProcessState
	if ws, ok := ps.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("helper ended with %v, want SIGKILL after its sends", ps)
	}
}

// readyID reads the "ready <port id>" line of a killed-* helper.
func readyID(t *testing.T, out *bufio.Scanner) ID {
	t.Helper()
	if !out.Scan() {
		t.Fatal("helper died before it was ready")
	}
	rest, ok := strings.CutPrefix(out.Text(), "ready ")
	id, err := parseID(rest)
	if !ok || err != nil {
		t.Fatalf("helper: %q, want ready <port id>", out.Text())
	}
	return id
}

// cleanedUp runs cleanups until cfg's domain has want nodes left and the
// data segment of sender is gone. It allows 10 s, far more than a cleanup
// takes even on a loaded machine: another cleaner (our node's liveness
// sweep) may hold a dead node for a moment, and CleanupDeadNodes skips it.
func cleanedUp(t *testing.T, cfg *Config, sender ID, want int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		st := CleanupDeadNodes(cfg)
		nodes, _ := ListNodes(cfg)
		if len(nodes) == want && !dataFileExists(cfg, sender) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("10s of cleanups (last: %+v) left %d nodes (want %d), data segment of %v left: %v",
				st, len(nodes), want, sender, dataFileExists(cfg, sender))
		}
	}
}

// dataFileExists reports whether the data segment of port id is in ShmDir.
func dataFileExists(cfg *Config, id ID) bool {
	for _, f := range shmLeftovers(cfg) {
		if strings.HasSuffix(f, id.String()+".data") {
			return true
		}
	}
	return false
}

// TestKilledPublisherSamplesSurviveACleanupBeforeTheSubscriberLooked is
// the deterministic form of the race: a publisher process sends to a
// subscriber that exists but has not mapped the connection yet (its
// port's mutex is held, so neither its node's dispatcher nor Receive
// can), is SIGKILLed, and a cleanup runs (as `iox2 clean` or the
// subscriber's own liveness sweep would) before the subscriber looks.
// Every sample must then be received.
func TestKilledPublisherSamplesSurviveACleanupBeforeTheSubscriberLooked(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc, err := killedPubBuilder(node).Create()
	if err != nil {
		t.Fatal(err)
	}
	sub := must[*Subscriber[msg]](t)(svc.Subscriber())
	sub.s.mu.Lock()
	locked := true
	defer func() {
		if locked {
			sub.s.mu.Unlock()
		}
	}()
	cmd, out := startHelper(t, cfg, "killed-publisher", "IOX2_TEST_KILL=parent", "IOX2_TEST_N=100")
	pubID := readyID(t, out)
	if !out.Scan() || out.Text() != "sent" {
		t.Fatalf("publisher process: %q", out.Text())
	}
	cmd.Process.Signal(syscall.SIGKILL)
	waitKilled(t, cmd)
	// (Our node's liveness sweep may be the cleaner that gets the dead
	// node first; CleanupDeadNodes then skips it, so look until it is
	// done, for at most 10 s, far more than it takes on a loaded machine.)
	for deadline := time.Now().Add(10 * time.Second); svc.NumberOfPublishers() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d publishers counted 10s after the only one died", svc.NumberOfPublishers())
		}
		CleanupDeadNodes(cfg)
	}
	if !dataFileExists(cfg, pubID) {
		t.Fatal("the cleanup removed the data segment of the dead publisher before the subscriber mapped it")
	}
	sub.s.mu.Unlock()
	locked = false
	var got []uint64
	for {
		s := must[*Sample[msg]](t)(sub.Receive())
		if s == nil {
			break
		}
		got = append(got, s.Payload().Seq)
		s.Release()
	}
	if fmt.Sprint(got) != "[100 101 102 103]" {
		t.Fatalf("received %v from the killed publisher, want [100 101 102 103]", got)
	}
	// The subscriber has mapped what it needed: a cleanup now removes the
	// dead node and its files.
	cleanedUp(t, cfg, pubID, 1)
	node.Close()
	assertNoFiles(t, cfg)
}

// sendLocked is RequestMut.Send for a caller that holds the client's
// mutex: the client's receiver part cannot look at anything meanwhile.
func sendLocked(t *testing.T, cl *Client[rqMsg, rsMsg], v rqMsg) (*PendingResponse[rqMsg, rsMsg], int) {
	t.Helper()
	c := cl.c
	i, err := c.snd.loan()
	if err != nil {
		t.Fatal(err)
	}
	req := (*rqMsg)(c.snd.payload(i))
	*req = v
	k, err := c.send(i, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := &cl.pendings[k]
	p.gen, p.req, p.length = c.pending[k].gen, req, 1
	return p, c.pending[k].servers
}

// TestKilledServerResponsesSurviveACleanupBeforeTheClientLooked: a
// server process answers a request with 4 responses while the client's
// receiving part cannot map the server's response connection (the
// client's mutex is held), is SIGKILLed, and a cleanup runs before the
// client looks. Every response must then be received.
func TestKilledServerResponsesSurviveACleanupBeforeTheClientLooked(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc, err := killedRRBuilder(node).Create()
	if err != nil {
		t.Fatal(err)
	}
	client := must[*Client[rqMsg, rsMsg]](t)(svc.Client())
	client.c.mu.Lock()
	locked := true
	defer func() {
		if locked {
			client.c.mu.Unlock()
		}
	}()
	cmd, out := startHelper(t, cfg, "killed-server", "IOX2_TEST_KILL=parent")
	serverID := readyID(t, out)
	p, servers := sendLocked(t, client, rqMsg{N: 9})
	if servers != 1 {
		t.Fatalf("request reached %d servers", servers)
	}
	if !out.Scan() || out.Text() != "sent" {
		t.Fatalf("server process: %q", out.Text())
	}
	cmd.Process.Signal(syscall.SIGKILL)
	waitKilled(t, cmd)
	CleanupDeadNodes(cfg)
	client.c.mu.Unlock()
	locked = false
	got := receiveResponses(t, p)
	if fmt.Sprint(got) != fmt.Sprint([]rsMsg{{N: 9, I: 0}, {N: 9, I: 1}, {N: 9, I: 2}, {N: 9, I: 3}}) {
		t.Fatalf("received %+v from the killed server, want its 4 responses", got)
	}
	if p.IsConnected() {
		t.Fatal("pending response connected to a dead server")
	}
	p.Close()
	cleanedUp(t, cfg, serverID, 1)
	node.Close()
	assertNoFiles(t, cfg)
}

// TestKilledClientRequestSurvivesACleanupBeforeTheServerLooked is the
// other direction, for consistency with a client that closes (whose
// requests reach the servers, disconnected): a client process sends a
// request while the server cannot map the connection, is SIGKILLed, and
// a cleanup runs first. The server still receives the request, as one
// whose client is gone (fire and forget is the default).
func TestKilledClientRequestSurvivesACleanupBeforeTheServerLooked(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc, err := killedRRBuilder(node).Create()
	if err != nil {
		t.Fatal(err)
	}
	server := must[*Server[rqMsg, rsMsg]](t)(svc.Server())
	server.s.mu.Lock()
	locked := true
	defer func() {
		if locked {
			server.s.mu.Unlock()
		}
	}()
	cmd, out := startHelper(t, cfg, "killed-client", "IOX2_TEST_KILL=parent", "IOX2_TEST_N=77")
	clientID := readyID(t, out)
	if !out.Scan() || out.Text() != "sent" {
		t.Fatalf("client process: %q", out.Text())
	}
	cmd.Process.Signal(syscall.SIGKILL)
	waitKilled(t, cmd)
	CleanupDeadNodes(cfg)
	server.s.mu.Unlock()
	locked = false
	a := must[*ActiveRequest[rqMsg, rsMsg]](t)(server.Receive())
	if a == nil || a.Payload().N != 77 {
		t.Fatalf("server received %v from the killed client, want its request", a)
	}
	if a.IsConnected() {
		t.Fatal("request of a dead client is connected")
	}
	a.Close()
	cleanedUp(t, cfg, clientID, 1)
	node.Close()
	assertNoFiles(t, cfg)
}

// stressing reports whether the long forms of the stress tests run
// (IOX2GO_STRESS=1, as `make stress` sets it).
func stressing() bool { return os.Getenv("IOX2GO_STRESS") == "1" }

// stressRounds is the number of rounds of a stress test: short in the
// normal suite, 2,000 (or IOX2GO_STRESS_ROUNDS) under IOX2GO_STRESS=1.
func stressRounds(short int) int {
	if !stressing() {
		return short
	}
	if n := envInt("IOX2GO_STRESS_ROUNDS"); n > 0 {
		return n
	}
	return 2000
}

func init() { helpers["busy"] = helperBusy }

// helperBusy spins until it is killed: load for the stress tests.
func helperBusy() error {
	fmt.Println("ready")
	for x := uint64(1); ; x = x*6364136223846793005 + 1 {
		if x == 0 {
			fmt.Println()
		}
	}
}

// loadCores keeps every core busy for the rest of the test under
// IOX2GO_STRESS=1, with one spinning process per CPU (IOX2GO_STRESS_BUSY
// sets how many; 0 for none, when the caller loads the machine itself).
func loadCores(t *testing.T, cfg *Config) {
	if !stressing() {
		return
	}
	n := runtime.NumCPU()
	if s, ok := os.LookupEnv("IOX2GO_STRESS_BUSY"); ok {
		n, _ = strconv.Atoi(s)
	}
	for range n {
		_, out := startHelper(t, cfg, "busy")
		if !out.Scan() {
			t.Fatal("busy helper did not start")
		}
	}
}

// killMode picks how round r's helper dies after its last send: mostly
// by its own SIGKILL after 0 to ~100µs of spinning (often none), every
// fourth round by the parent's SIGKILL when it reads "sent", after 0 to
// 200µs.
func killMode(r int, rng *rand.Rand) (mode string, parentDelay time.Duration) {
	switch {
	case r%4 == 3:
		return "parent", time.Duration(rng.IntN(200)) * time.Microsecond
	case r%4 == 0:
		return "0", 0
	}
	return strconv.Itoa(rng.IntN(100_000)), 0
}

// roundCleanup runs, in every other round, a cleanup of the domain right
// after the helper died, as `iox2 clean` in another process would. In
// every third round the receiver then looks only after 0 to 3ms, as one
// that does not poll all the time: meanwhile its own process's liveness
// sweep (its node's dispatcher's) cleans up after the dead sender,
// which is how the loss was seen first.
func roundCleanup(r int, cfg *Config, rng *rand.Rand) {
	if r%2 == 0 {
		CleanupDeadNodes(cfg)
	}
	if r%3 == 1 {
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
	}
}

// collect calls next until it has want values, or until the dead
// sender's data segment is gone and a further pass finds nothing: then
// whatever was not received is lost for good (a receiver that had mapped
// the connection would have found it). late reports values that a first
// pass did not find.
func collect(t *testing.T, cfg *Config, sender ID, want int, next func() (uint64, bool)) (got []uint64, late bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second) // far beyond any scheduling delay
	for pass := 0; ; pass++ {
		gone := !dataFileExists(cfg, sender)
		n := len(got)
		for len(got) < want {
			v, ok := next()
			if !ok {
				break
			}
			got = append(got, v)
		}
		if pass > 0 && len(got) > n {
			late = true
		}
		if len(got) >= want || gone {
			return got, late
		}
		if time.Now().After(deadline) {
			t.Fatalf("sender %v: %d of %d values after 20s, its data segment still there", sender, len(got), want)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// TestStressKilledPublisherLosesNoSamples runs rounds of: a publisher
// process sends 4 samples to the existing subscriber of this process
// (each Send reaching it) and is SIGKILLed right after its last Send, at
// varying delays; the subscriber must receive all 4. 150 rounds in the
// normal suite; 2,000 with both cores busy under IOX2GO_STRESS=1.
func TestStressKilledPublisherLosesNoSamples(t *testing.T) {
	rounds := stressRounds(150)
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc, err := killedPubBuilder(node).Create()
	if err != nil {
		t.Fatal(err)
	}
	sub := must[*Subscriber[msg]](t)(svc.Subscriber())
	loadCores(t, cfg)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	next := func() (uint64, bool) {
		s, err := sub.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if s == nil {
			return 0, false
		}
		defer s.Release()
		return s.Payload().Seq, true
	}
	start := time.Now()
	lostRounds, lost, lateRounds := 0, 0, 0
	for r := range rounds {
		base := uint64(r) * killedSamples
		mode, delay := killMode(r, rng)
		cmd, out := startHelper(t, cfg, "killed-publisher", "IOX2_TEST_KILL="+mode, "IOX2_TEST_N="+strconv.FormatUint(base, 10))
		id := readyID(t, out)
		if mode == "parent" {
			if !out.Scan() || out.Text() != "sent" {
				t.Fatalf("round %d: publisher process: %q", r, out.Text())
			}
			time.Sleep(delay)
			cmd.Process.Signal(syscall.SIGKILL)
		}
		waitKilled(t, cmd)
		roundCleanup(r, cfg, rng)
		got, late := collect(t, cfg, id, killedSamples, next)
		for i, v := range got {
			if v != base+uint64(i) {
				t.Fatalf("round %d: received %v, want %d.. in order", r, got, base)
			}
		}
		if len(got) < killedSamples {
			lostRounds++
			lost += killedSamples - len(got)
		}
		if late {
			lateRounds++
		}
	}
	t.Logf("%d rounds in %v: %d samples lost in %d rounds; %d rounds had samples that a first look did not find",
		rounds, time.Since(start).Round(time.Millisecond), lost, lostRounds, lateRounds)
	if lostRounds > 0 {
		t.Fatalf("%d of %d rounds lost samples of the killed publisher (%d samples)", lostRounds, rounds, lost)
	}
	node.Close()
	assertNoFiles(t, cfg)
}

// TestStressKilledServerLosesNoResponses is the same for a server
// process that answers the request of this process's client with 4
// responses and is SIGKILLed right after the last one.
func TestStressKilledServerLosesNoResponses(t *testing.T) {
	rounds := stressRounds(150)
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc, err := killedRRBuilder(node).Create()
	if err != nil {
		t.Fatal(err)
	}
	client := must[*Client[rqMsg, rsMsg]](t)(svc.Client())
	loadCores(t, cfg)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 12))
	start := time.Now()
	lostRounds, lost, lateRounds := 0, 0, 0
	for r := range rounds {
		mode, delay := killMode(r, rng)
		cmd, out := startHelper(t, cfg, "killed-server", "IOX2_TEST_KILL="+mode)
		id := readyID(t, out)
		// The previous round's dead server may still be being cleaned up
		// by this process's watch over its peers, which saw it die (and
		// then the new server's own cleanup at its creation skips it):
		// until then a request would reach it too. 10 s is far more than
		// a cleanup takes on a loaded machine.
		for deadline := time.Now().Add(10 * time.Second); svc.NumberOfServers() != 1; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %d servers after 10 s", r, svc.NumberOfServers())
			}
		}
		p := must[*PendingResponse[rqMsg, rsMsg]](t)(client.SendCopy(rqMsg{N: uint64(r)}))
		if n := p.NumberOfServerConnections(); n != 1 {
			t.Fatalf("round %d: request reached %d servers", r, n)
		}
		if mode == "parent" {
			if !out.Scan() || out.Text() != "sent" {
				t.Fatalf("round %d: server process: %q", r, out.Text())
			}
			time.Sleep(delay)
			cmd.Process.Signal(syscall.SIGKILL)
		}
		waitKilled(t, cmd)
		roundCleanup(r, cfg, rng)
		got, late := collect(t, cfg, id, killedSamples, func() (uint64, bool) {
			resp, err := p.Receive()
			if err != nil {
				t.Fatal(err)
			}
			if resp == nil {
				return 0, false
			}
			defer resp.Release()
			if resp.Payload().N != uint64(r) {
				t.Fatalf("round %d: response to request %d", r, resp.Payload().N)
			}
			return resp.Payload().I, true
		})
		p.Close()
		for i, v := range got {
			if v != uint64(i) {
				t.Fatalf("round %d: received responses %v, want 0.. in order", r, got)
			}
		}
		if len(got) < killedSamples {
			lostRounds++
			lost += killedSamples - len(got)
		}
		if late {
			lateRounds++
		}
	}
	t.Logf("%d rounds in %v: %d responses lost in %d rounds; %d rounds had responses that a first look did not find",
		rounds, time.Since(start).Round(time.Millisecond), lost, lostRounds, lateRounds)
	if lostRounds > 0 {
		t.Fatalf("%d of %d rounds lost responses of the killed server (%d responses)", lostRounds, rounds, lost)
	}
	node.Close()
	assertNoFiles(t, cfg)
}

// killWithUnmappedSamples starts a killed-publisher process that sends to
// the receivers of cfg's killed/pub service, kills it after its sends and
// returns its port ID.
func killWithUnmappedSamples(t *testing.T, cfg *Config) ID {
	t.Helper()
	cmd, out := startHelper(t, cfg, "killed-publisher", "IOX2_TEST_KILL=parent", "IOX2_TEST_N=0")
	id := readyID(t, out)
	if !out.Scan() || out.Text() != "sent" {
		t.Fatalf("publisher process: %q", out.Text())
	}
	cmd.Process.Signal(syscall.SIGKILL)
	waitKilled(t, cmd)
	return id
}

// TestDeadPublisherFilesGoWhenTheSubscriberClosesWithoutLooking: the
// files kept for a subscriber that has not mapped them go once it
// closes, never having looked.
func TestDeadPublisherFilesGoWhenTheSubscriberClosesWithoutLooking(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc, err := killedPubBuilder(node).Create()
	if err != nil {
		t.Fatal(err)
	}
	sub := must[*Subscriber[msg]](t)(svc.Subscriber())
	r := sub.s
	r.mu.Lock()
	locked := true
	defer func() {
		if locked {
			r.mu.Unlock()
		}
	}()
	id := killWithUnmappedSamples(t, cfg)
	CleanupDeadNodes(cfg)
	if !dataFileExists(cfg, id) {
		t.Fatal("the dead publisher's data segment went while the subscriber had not mapped it")
	}
	// Subscriber.Close, with the mutex we hold: no look at the
	// connections first.
	protocol.Release(&r.own[r.slot], node.ID())
	r.core.dyn.bump()
	r.closeLocked()
	r.mu.Unlock()
	locked = false
	r.core.removePort(r)
	cleanedUp(t, cfg, id, 1)
	node.Close()
	assertNoFiles(t, cfg)
}

// TestDeadPublisherFilesGoWhenTheStoppedSubscriberDies: a subscriber
// process that is stopped (SIGSTOP) keeps the dead publisher's files
// while it lives, and they go with it when it is killed.
func TestDeadPublisherFilesGoWhenTheStoppedSubscriberDies(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	if _, err := killedPubBuilder(node).Create(); err != nil {
		t.Fatal(err)
	}
	sub, out := startHelper(t, cfg, "killed-subscriber")
	readyID(t, out)
	sub.Process.Signal(syscall.SIGSTOP)
	id := killWithUnmappedSamples(t, cfg)
	CleanupDeadNodes(cfg)
	if !dataFileExists(cfg, id) {
		t.Fatal("the dead publisher's data segment went while a live subscriber had not mapped it")
	}
	sub.Process.Signal(syscall.SIGKILL)
	sub.Wait()
	cleanedUp(t, cfg, id, 1)
	node.Close()
	assertNoFiles(t, cfg)
}

// TestDeadPublisherFilesGoAfterTheDrainTimeout: a subscriber that stays
// stopped does not keep the files for longer than drainTimeout (four
// creation timeouts).
func TestDeadPublisherFilesGoAfterTheDrainTimeout(t *testing.T) {
	cfg := testConfig(t)
	cfg.CreationTimeout = 50 * time.Millisecond
	node := testNode(t, cfg)
	svc, err := killedPubBuilder(node).Create()
	if err != nil {
		t.Fatal(err)
	}
	sub, out := startHelper(t, cfg, "killed-subscriber")
	readyID(t, out)
	sub.Process.Signal(syscall.SIGSTOP)
	defer sub.Process.Signal(syscall.SIGCONT)
	start := time.Now() // before the death, so before the drain deadline is set
	id := killWithUnmappedSamples(t, cfg)
	st := CleanupDeadNodes(cfg)
	// (A machine so loaded that the drain timeout passed meanwhile
	// proves nothing here.)
	if !dataFileExists(cfg, id) && time.Since(start) < drainTimeout(cfg) {
		// It failed once in four loaded runs of make test (issue 12's
		// merge) and not in 15 runs since: say enough to find out why.
		slots := ""
		for i := range svc.ps.core.dyn.Pubs {
			s := &svc.ps.core.dyn.Pubs[i]
			slots += fmt.Sprintf(" [state %d id %v node %v]", s.State.Load(), ID(s.ID.Load()), ID(s.Node.Load()))
		}
		t.Fatalf("the dead publisher's data segment went %v after it started dying, while a live subscriber had not mapped it; cleanup %+v; publisher slots%s; files %v",
			time.Since(start), st, slots, shmLeftovers(cfg))
	}
	time.Sleep(drainTimeout(cfg) + 10*time.Millisecond)
	cleanedUp(t, cfg, id, 2) // ours and the stopped subscriber's
	if n := svc.NumberOfPublishers(); n != 0 {
		t.Fatalf("%d publishers", n)
	}
	t.Logf("dead publisher's files gone %v after it started dying, drain timeout %v", time.Since(start), drainTimeout(cfg))
	sub.Process.Signal(syscall.SIGKILL)
	sub.Wait()
	node.Close()
	assertNoFiles(t, cfg)
}
