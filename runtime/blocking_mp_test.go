package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cross-process tests of the blocking receives: every wake-up here crosses
// a process boundary through the receiving node's doorbell (a FIFO read
// by its dispatcher goroutine), and every discovery (a new port, a new
// connection, history) through the doorbells too.

func init() {
	helpers["bl-sub"] = helperBlockingSubscriber
	helpers["bl-pub"] = helperBlockingPublisher
	helpers["bl-server"] = helperBlockingServer
	helpers["bl-client"] = helperBlockingClient
	helpers["bl-listener"] = helperBlockingListener
}

const blService = "mp/blocking"

func blPubSub(node *Node) *PublishSubscribeBuilder[uint64] {
	return PublishSubscribe[uint64](node, blService).HistorySize(3).SubscriberMaxBufferSize(8)
}

// helperBlockingSubscriber creates a subscriber (the service too, if need
// be), prints "ready", then receives IOX2_TEST_N samples with
// BlockingReceive (a 20 s context) and prints their values, one per line,
// then "end" and the error that ended it early, if one did.
func helperBlockingSubscriber() error {
	n, _ := strconv.Atoi(os.Getenv("IOX2_TEST_N"))
	node, err := helperNode()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := blPubSub(node).OpenOrCreate()
	if err != nil {
		return err
	}
	sub, err := svc.Subscriber()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for range n {
		s, err := sub.BlockingReceive(ctx)
		if err != nil {
			fmt.Println("end", err)
			return nil
		}
		fmt.Println(*s.Payload())
		s.Release()
	}
	fmt.Println("end")
	return nil
}

// helperBlockingPublisher sends the values 1, 2, ... every
// IOX2_TEST_PERIOD until stdin closes.
func helperBlockingPublisher() error {
	period, _ := time.ParseDuration(os.Getenv("IOX2_TEST_PERIOD"))
	node, err := helperNode()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := blPubSub(node).OpenOrCreate()
	if err != nil {
		return err
	}
	pub, err := svc.Publisher()
	if err != nil {
		return err
	}
	stop := make(chan struct{})
	go func() {
		bufio.NewReader(os.Stdin).ReadString('\n')
		close(stop)
	}()
	fmt.Println("ready")
	for v := uint64(1); ; v++ {
		select {
		case <-stop:
			return nil
		case <-time.After(period):
		}
		if _, err := pub.SendCopy(v); err != nil {
			return err
		}
	}
}

// helperBlockingServer answers every request of Requests with two
// responses (N, 0) and (N, 1), the second after 10 ms, until it has served
// IOX2_TEST_N requests; the loop closes each request after its body.
func helperBlockingServer() error {
	n, _ := strconv.Atoi(os.Getenv("IOX2_TEST_N"))
	node, err := helperNode()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := RequestResponse[rqMsg, rsMsg](node, blService).OpenOrCreate()
	if err != nil {
		return err
	}
	srv, err := svc.Server()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	served := 0
	for req, err := range srv.Requests(ctx) {
		if err != nil {
			return err
		}
		req.SendCopy(rsMsg{N: req.Payload().N, I: 0})
		time.Sleep(10 * time.Millisecond)
		req.SendCopy(rsMsg{N: req.Payload().N, I: 1})
		if served++; served == n {
			break
		}
	}
	fmt.Println("served", served)
	return nil
}

// helperBlockingClient sends one request (N = 5) and prints every response
// it gets with BlockingReceive, then how the stream ended.
func helperBlockingClient() error {
	node, err := helperNode()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := RequestResponse[rqMsg, rsMsg](node, blService).OpenOrCreate()
	if err != nil {
		return err
	}
	cl, err := svc.Client()
	if err != nil {
		return err
	}
	// The server exists already (the parent made it): the request reaches it.
	pending, err := cl.SendCopy(rqMsg{N: 5})
	if err != nil {
		return err
	}
	fmt.Println("sent")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		r, err := pending.BlockingReceive(ctx)
		if err != nil {
			fmt.Println("end", err)
			return nil
		}
		fmt.Println(r.Payload().N, r.Payload().I)
		r.Release()
	}
}

// helperBlockingListener prints the events that Events yields until it has
// IOX2_TEST_N notifications.
func helperBlockingListener() error {
	n, _ := strconv.ParseUint(os.Getenv("IOX2_TEST_N"), 10, 64)
	node, err := helperNode()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := Event(node, blService).OpenOrCreate()
	if err != nil {
		return err
	}
	l, err := svc.Listener()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	total := uint64(0)
	for a, err := range l.Events(ctx) {
		if err != nil {
			return err
		}
		fmt.Println(a.ID, a.Count)
		if total += a.Count; total >= n {
			break
		}
	}
	fmt.Println("end")
	return nil
}

// lines reads lines from out until one equals (or starts with) stop.
func lines(t *testing.T, who string, out *bufio.Scanner, stop string) []string {
	t.Helper()
	var got []string
	for out.Scan() {
		l := out.Text()
		got = append(got, l)
		if strings.HasPrefix(l, stop) {
			return got
		}
	}
	t.Fatalf("%s stopped after %q", who, got)
	return nil
}

// TestBlockingSubscriberAcrossProcesses: a subscriber process blocks
// before any publisher exists; a publisher created later in this process
// wakes it with its first sample (the new connection is discovered
// through the doorbells, and so is the wake-up), then with later ones.
func TestBlockingSubscriberAcrossProcesses(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	cmd, out := startHelper(t, cfg, "bl-sub", "IOX2_TEST_N=3")
	expectLine(t, "subscriber", out, "ready")
	time.Sleep(30 * time.Millisecond) // into its wait
	svc := must[*PublishSubscribeService[uint64]](t)(blPubSub(node).Open())
	pub := must[*Publisher[uint64]](t)(svc.Publisher())
	for v := range uint64(3) {
		if k, err := pub.SendCopy(10 + v); err != nil || k != 1 {
			t.Fatalf("send %d reached %d: %v", v, k, err)
		}
		time.Sleep(20 * time.Millisecond) // it sleeps again in between
	}
	if got := lines(t, "subscriber", out, "end"); strings.Join(got, ",") != "10,11,12,end" {
		t.Fatalf("subscriber printed %q", got)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestLateSubscriberGetsHistoryFromAnIdlePublisherAcrossProcesses: a
// publisher sends and then does nothing; a subscriber process created
// afterwards gets the history with BlockingReceive, at once: the
// subscriber's creation rings the publisher's node, whose dispatcher
// connects and delivers (no timer is involved any more).
func TestLateSubscriberGetsHistoryFromAnIdlePublisherAcrossProcesses(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc := must[*PublishSubscribeService[uint64]](t)(blPubSub(node).Create())
	pub := must[*Publisher[uint64]](t)(svc.Publisher())
	for v := range uint64(5) {
		pub.SendCopy(v)
	}
	// From here on, no call on the publisher.
	start := time.Now()
	cmd, out := startHelper(t, cfg, "bl-sub", "IOX2_TEST_N=3")
	expectLine(t, "subscriber", out, "ready")
	if got := lines(t, "subscriber", out, "end"); strings.Join(got, ",") != "2,3,4,end" {
		t.Fatalf("late subscriber printed %q, want the history 2, 3, 4", got)
	}
	t.Logf("history reached the late subscriber process %v after its start", time.Since(start))
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestBlockingRequestResponseAcrossProcesses: a server process loops over
// Requests; this process's client gets each stream with Responses, which
// ends when the server's loop body returns. Then a client process blocks
// in PendingResponse.BlockingReceive on this process's server, and sees
// its stream end when the server closes the request.
func TestBlockingRequestResponseAcrossProcesses(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc := must[*RequestResponseService[rqMsg, rsMsg]](t)(RequestResponse[rqMsg, rsMsg](node, blService).Create())
	cl := must[*Client[rqMsg, rsMsg]](t)(svc.Client())
	cmd, out := startHelper(t, cfg, "bl-server", "IOX2_TEST_N=2")
	expectLine(t, "server", out, "ready")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for n := range uint64(2) {
		var pending *PendingResponse[rqMsg, rsMsg]
		// The server's slot is there once it printed ready: the request
		// reaches it (a client connects before it sends).
		pending = must[*PendingResponse[rqMsg, rsMsg]](t)(cl.SendCopy(rqMsg{N: n}))
		var is []uint64
		for r, err := range pending.Responses(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			if r.Payload().N != n {
				t.Fatalf("response for %d to request %d", r.Payload().N, n)
			}
			is = append(is, r.Payload().I)
		}
		if !eq(is, []uint64{0, 1}) {
			t.Fatalf("request %d: responses %v", n, is)
		}
		pending.Close()
	}
	expectLine(t, "server", out, "served 2")
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}

	srv := must[*Server[rqMsg, rsMsg]](t)(svc.Server())
	cmd, out = startHelper(t, cfg, "bl-client")
	expectLine(t, "client", out, "sent")
	req := must[*ActiveRequest[rqMsg, rsMsg]](t)(srv.BlockingReceive(ctx))
	time.Sleep(20 * time.Millisecond) // the client sleeps
	req.SendCopy(rsMsg{N: 5, I: 7})
	time.Sleep(20 * time.Millisecond)
	req.Close()
	if got := lines(t, "client", out, "end"); strings.Join(got, ",") != "5 7,end "+ErrStreamEnded.Error() {
		t.Fatalf("client printed %q", got)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestListenerEventsAcrossProcesses: a listener process ranges over Events
// while this process notifies, with pauses in which it sleeps.
func TestListenerEventsAcrossProcesses(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc := must[*EventService](t)(Event(node, blService).Create())
	nt := must[*Notifier](t)(svc.Notifier())
	cmd, out := startHelper(t, cfg, "bl-listener", "IOX2_TEST_N=3")
	expectLine(t, "listener", out, "ready")
	for _, id := range []EventID{4, 9, 4} {
		time.Sleep(20 * time.Millisecond)
		if k, err := nt.NotifyWithCustomEventID(id); err != nil || k != 1 {
			t.Fatalf("notify %d reached %d: %v", id, k, err)
		}
	}
	if got := lines(t, "listener", out, "end"); strings.Join(got, ",") != "4 1,9 1,4 1,end" {
		t.Fatalf("listener printed %q", got)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestBlockingReceiveAcrossProcessesAllocatesNothing: a publisher process
// sends every 300 µs; this process's blocking receives sleep in between
// and are woken through its doorbell (the dispatcher's read of the FIFO):
// none of it allocates.
func TestBlockingReceiveAcrossProcessesAllocatesNothing(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc := must[*PublishSubscribeService[uint64]](t)(blPubSub(node).Create())
	sub := must[*Subscriber[uint64]](t)(svc.Subscriber())
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_, out := startHelperWith(t, cfg, "bl-pub", r, "IOX2_TEST_PERIOD=300us")
	r.Close()
	expectLine(t, "publisher", out, "ready")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	recv := func() {
		s, err := sub.BlockingReceive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s.Release()
	}
	for range 20 {
		recv() // warm up: the connection, the dispatcher's first reads
	}
	if a := testing.AllocsPerRun(300, recv); a != 0 {
		t.Errorf("a blocking receive woken from another process allocates %v times", a)
	}
	w.Write([]byte("stop\n"))
}

// TestBlockingReceiveEndsWhilePeersLive: closing the port ends a wait
// whose peer (a publisher) lives in another process, and so does a
// cancelled context.
func TestBlockingReceiveEndsWhilePeersLive(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc := must[*PublishSubscribeService[uint64]](t)(blPubSub(node).Create())
	sub := must[*Subscriber[uint64]](t)(svc.Subscriber())
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_, out := startHelperWith(t, cfg, "bl-pub", r, "IOX2_TEST_PERIOD=1h")
	r.Close()
	expectLine(t, "publisher", out, "ready")
	ctx, cancel := context.WithCancel(context.Background())
	c := goBlock(func() (*Sample[uint64], error) { return sub.BlockingReceive(ctx) })
	stillBlocked(t, "BlockingReceive", c)
	cancel()
	if r := await(t, "BlockingReceive", c); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled: %v, %v", r.v, r.err)
	}
	c = goBlock(func() (*Sample[uint64], error) { return sub.BlockingReceive(context.Background()) })
	stillBlocked(t, "BlockingReceive", c)
	sub.Close()
	if r := await(t, "BlockingReceive", c); !errors.Is(r.err, ErrClosed) {
		t.Fatalf("closed: %v, %v", r.v, r.err)
	}
	w.Write([]byte("stop\n"))
}

func init() { helpers["bl-echo"] = helperBlockingEcho }

// helperBlockingEcho sends back every value it receives on mp/ping, on
// mp/pong, until it receives 0; then it answers IOX2_TEST_N requests of
// mp/rr with one response each.
func helperBlockingEcho() error {
	n, _ := strconv.Atoi(os.Getenv("IOX2_TEST_N"))
	node, err := helperNode()
	if err != nil {
		return err
	}
	defer node.Close()
	ping, err := PublishSubscribe[uint64](node, "mp/ping").OpenOrCreate()
	if err != nil {
		return err
	}
	pong, err := PublishSubscribe[uint64](node, "mp/pong").OpenOrCreate()
	if err != nil {
		return err
	}
	rr, err := RequestResponse[rqMsg, rsMsg](node, "mp/rr").OpenOrCreate()
	if err != nil {
		return err
	}
	sub, err := ping.Subscriber()
	if err != nil {
		return err
	}
	pub, err := pong.Publisher()
	if err != nil {
		return err
	}
	srv, err := rr.Server()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for s, err := range sub.Samples(ctx) {
		if err != nil {
			return err
		}
		v := *s.Payload()
		if _, err := pub.SendCopy(v); err != nil {
			return err
		}
		if v == 0 {
			break
		}
	}
	served := 0
	for req, err := range srv.Requests(ctx) {
		if err != nil {
			return err
		}
		req.SendCopy(rsMsg{N: req.Payload().N})
		if served++; served == n {
			break
		}
	}
	return nil
}

// TestBlockingPingPongAcrossProcesses: thousands of round trips between
// two processes in which both sides block between messages (each message
// finds its receiver asleep, or about to be): a lost wake-up would hang
// the test. Then the same with request-response (the server blocks in
// Requests, the client in Responses).
func TestBlockingPingPongAcrossProcesses(t *testing.T) {
	n := 20_000
	if testing.Short() {
		n = 2000
	}
	cfg := testConfig(t)
	node := testNode(t, cfg)
	ping := must[*PublishSubscribeService[uint64]](t)(PublishSubscribe[uint64](node, "mp/ping").Create())
	pong := must[*PublishSubscribeService[uint64]](t)(PublishSubscribe[uint64](node, "mp/pong").Create())
	rr := must[*RequestResponseService[rqMsg, rsMsg]](t)(RequestResponse[rqMsg, rsMsg](node, "mp/rr").Create())
	pub := must[*Publisher[uint64]](t)(ping.Publisher())
	sub := must[*Subscriber[uint64]](t)(pong.Subscriber())
	cl := must[*Client[rqMsg, rsMsg]](t)(rr.Client())
	cmd, out := startHelper(t, cfg, "bl-echo", "IOX2_TEST_N="+strconv.Itoa(n))
	expectLine(t, "echo", out, "ready")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	for i := range n {
		v := uint64(i + 1)
		if i == n-1 {
			v = 0
		}
		if k, err := pub.SendCopy(v); err != nil || k != 1 {
			t.Fatalf("ping %d reached %d: %v", i, k, err)
		}
		s, err := sub.BlockingReceive(ctx)
		if err != nil {
			t.Fatalf("pong %d: %v", i, err)
		}
		if *s.Payload() != v {
			t.Fatalf("pong %d carries %d, want %d", i, *s.Payload(), v)
		}
		s.Release()
	}
	ps := time.Since(start)
	start = time.Now()
	for i := range n {
		pending, err := cl.SendCopy(rqMsg{N: uint64(i)})
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		got := 0
		for r, err := range pending.Responses(ctx) {
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			if r.Payload().N != uint64(i) {
				t.Fatalf("response %d to request %d", r.Payload().N, i)
			}
			got++
		}
		if got != 1 {
			t.Fatalf("request %d: %d responses", i, got)
		}
		pending.Close()
	}
	t.Logf("%d blocking round trips: pub-sub %v each, request-response %v each (including the end of each stream)",
		n, ps/time.Duration(n), time.Since(start)/time.Duration(n))
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}
