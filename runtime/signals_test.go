package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// The tests of signal handling send real signals to a child process (the
// test binary run as a helper). A child that does not handle a signal must
// die by it, as any Go program does; sleepLong is how long such a child
// would otherwise run on, and dieBound how long the test gives it to die:
// far below sleepLong, far above the microseconds it takes, so that a
// machine with both cores busy passes.
const (
	sleepLong = 30 * time.Second
	dieBound  = 10 * time.Second
)

func init() {
	helpers["sig-default"] = helperSigDefault
	helpers["sig-node-wait"] = helperSigNodeWait
	helpers["sig-waitset"] = helperSigWaitSet
	helpers["sig-refcount"] = helperSigRefcount
	helpers["sig-second"] = helperSigSecond
	helpers["sig-notify-context"] = helperSigNotifyContext
}

// expectKilledBy waits for cmd and fails unless it died by sig within
// dieBound.
func expectKilledBy(t *testing.T, cmd *exec.Cmd, sig syscall.Signal) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(dieBound):
		t.Fatalf("the child still runs %v after %v", dieBound, sig)
	}
	st, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !st.Signaled() || st.Signal() != sig {
		t.Fatalf("the child ended with %v, want killed by %v", cmd.ProcessState, sig)
	}
}

// expectExit0 waits for cmd and fails unless it exited with 0 within
// dieBound.
func expectExit0(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the child ended with %v, want exit 0", err)
		}
	case <-time.After(dieBound):
		t.Fatalf("the child still runs %v later", dieBound)
	}
}

// scanLine returns the child's next line of output ("" at its end).
func scanLine(out *bufio.Scanner) string {
	if !out.Scan() {
		return ""
	}
	return out.Text()
}

// helperSigDefault creates a node, a WaitSet and ports with the default
// builders, reports "ready" and sleeps: it must die by any SIGINT or
// SIGTERM.
func helperSigDefault() error {
	node, err := NewNodeBuilder().Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := PublishSubscribe[uint64](node, "sig/default").OpenOrCreate()
	if err != nil {
		return err
	}
	if _, err := svc.Publisher(); err != nil {
		return err
	}
	if _, err := svc.Subscriber(); err != nil {
		return err
	}
	ev, err := Event(node, "sig/default-event").OpenOrCreate()
	if err != nil {
		return err
	}
	if _, err := ev.Listener(); err != nil {
		return err
	}
	ws, err := NewWaitSet()
	if err != nil {
		return err
	}
	defer ws.Close()
	fmt.Println("ready")
	time.Sleep(sleepLong)
	fmt.Println("survived")
	return nil
}

// TestDefaultNodeDiesBySignal: a program with a node (and ports and a
// WaitSet) made by the default builders, that never calls node.Wait, dies
// by SIGINT and by SIGTERM as a Go program without handlers does; the next
// cleanup removes what its node left.
func TestDefaultNodeDiesBySignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cfg := testConfig(t)
			cmd, out := startHelper(t, cfg, "sig-default")
			expectLine(t, "child", out, "ready")
			cmd.Process.Signal(sig)
			expectKilledBy(t, cmd, sig)
			nodes, err := ListNodes(cfg)
			if err != nil || len(nodes) != 1 || nodes[0].State != NodeDead {
				t.Fatalf("nodes after the child died: %+v, %v; want one dead node", nodes, err)
			}
			if st := CleanupDeadNodes(cfg); st.Cleanups != 1 {
				t.Fatalf("CleanupDeadNodes: %+v, want 1 cleanup", st)
			}
			assertNoFiles(t, cfg)
		})
	}
}

// helperSigNodeWait opts in, waits in one long node.Wait, reports how it
// ended, closes the node, reports "closed" and sleeps: a signal now must
// kill it (the process's behaviour is back).
func helperSigNodeWait() error {
	node, err := NewNodeBuilder().Config(helperConfig()).SignalHandling(true).Create()
	if err != nil {
		return err
	}
	defer node.Close()
	fmt.Println("ready")
	err = node.Wait(time.Hour)
	switch {
	case errors.Is(err, ErrNodeTerminationRequest):
		fmt.Println("SIGTERM")
	case errors.Is(err, ErrNodeInterrupted):
		fmt.Println("SIGINT")
	default:
		return fmt.Errorf("Wait returned %v", err)
	}
	// Every later wait says so too, until the node is closed.
	if err2 := node.Wait(time.Hour); err2 != err {
		return fmt.Errorf("the next Wait returned %v, want %v", err2, err)
	}
	if err := node.Close(); err != nil {
		return err
	}
	fmt.Println("closed")
	time.Sleep(sleepLong)
	fmt.Println("survived")
	return nil
}

// TestNodeWaitEndsOnSignals: a node that opted in ends a Wait in progress
// with ErrNodeInterrupted on SIGINT and ErrNodeTerminationRequest on
// SIGTERM; the program closes its node (its files are gone) and, with no
// node left asking, the same signal kills it again.
func TestNodeWaitEndsOnSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cfg := testConfig(t)
			cmd, out := startHelper(t, cfg, "sig-node-wait")
			expectLine(t, "child", out, "ready")
			start := time.Now()
			cmd.Process.Signal(sig)
			want := map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT"}[sig]
			expectLine(t, "child", out, want)
			within(t, "Wait ended by "+want, time.Since(start), 0, dieBound)
			expectLine(t, "child", out, "closed")
			if nodes, _ := ListNodes(cfg); len(nodes) != 0 {
				t.Fatalf("the closed node's files are left: %+v", nodes)
			}
			cmd.Process.Signal(sig)
			expectKilledBy(t, cmd, sig)
			assertNoFiles(t, cfg)
		})
	}
}

// helperSigWaitSet opts in with a WaitSet only (its node leaves signals
// alone), reports how WaitAndProcess ended, closes the WaitSet, reports
// "closed" and sleeps.
func helperSigWaitSet() error {
	node, err := NewNodeBuilder().Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	defer node.Close()
	ev, err := Event(node, "sig/waitset").OpenOrCreate()
	if err != nil {
		return err
	}
	l, err := ev.Listener()
	if err != nil {
		return err
	}
	ws, err := NewWaitSetBuilder().SignalHandling(true).Create()
	if err != nil {
		return err
	}
	if !ws.SignalHandling() {
		return errors.New("SignalHandling(true) did not stick")
	}
	if _, err := ws.AttachNotification(l); err != nil {
		return err
	}
	if _, err := ws.AttachInterval(time.Hour); err != nil {
		return err
	}
	fmt.Println("ready")
	r, err := ws.WaitAndProcess(context.Background(), func(AttachmentID) CallbackProgression { return Continue })
	if err != nil {
		return err
	}
	fmt.Println(r)
	ws.Close()
	if _, err := ws.WaitAndProcessOnceWithTimeout(nil, time.Hour); !errors.Is(err, ErrClosed) {
		return fmt.Errorf("a wait of a closed WaitSet returned %v, want ErrClosed", err)
	}
	fmt.Println("closed")
	time.Sleep(sleepLong)
	fmt.Println("survived")
	return nil
}

// TestWaitSetEndsOnSignals: a WaitSet that opted in returns Interrupt on
// SIGINT and TerminationRequest on SIGTERM; once it is closed, the signal
// kills the process again.
func TestWaitSetEndsOnSignals(t *testing.T) {
	for _, c := range []struct {
		sig  syscall.Signal
		want WaitSetRunResult
	}{{syscall.SIGINT, Interrupt}, {syscall.SIGTERM, TerminationRequest}} {
		t.Run(c.sig.String(), func(t *testing.T) {
			cfg := testConfig(t)
			cmd, out := startHelper(t, cfg, "sig-waitset")
			expectLine(t, "child", out, "ready")
			cmd.Process.Signal(c.sig)
			expectLine(t, "child", out, c.want.String())
			expectLine(t, "child", out, "closed")
			cmd.Process.Signal(c.sig)
			expectKilledBy(t, cmd, c.sig)
			CleanupDeadNodes(cfg)
			assertNoFiles(t, cfg)
		})
	}
}

// helperSigRefcount: two nodes and a WaitSet opt in; closing all but one
// node keeps the signals caught (the last node's Wait returns the error);
// a later opt-in starts afresh (no old signal), and once it is closed
// without any signal the process's behaviour is back.
func helperSigRefcount() error {
	cfg := helperConfig()
	opt := func() (*Node, error) { return NewNodeBuilder().Config(cfg).SignalHandling(true).Create() }
	a, err := opt()
	if err != nil {
		return err
	}
	b, err := opt()
	if err != nil {
		return err
	}
	ws, err := NewWaitSetBuilder().SignalHandling(true).Create()
	if err != nil {
		return err
	}
	ws.Close()
	a.Close()
	fmt.Println("one left")
	if err := b.Wait(time.Hour); !errors.Is(err, ErrNodeInterrupted) {
		return fmt.Errorf("the last node's Wait returned %v, want ErrNodeInterrupted", err)
	}
	fmt.Println("SIGINT")
	b.Close()

	c, err := opt()
	if err != nil {
		return err
	}
	if err := c.Wait(time.Millisecond); err != nil {
		return fmt.Errorf("a node that opted in after the others closed: Wait returned %v, want nil", err)
	}
	ws, err = NewWaitSetBuilder().SignalHandling(true).Create()
	if err != nil {
		return err
	}
	ws.Close()
	c.Close()
	fmt.Println("released")
	time.Sleep(sleepLong)
	fmt.Println("survived")
	return nil
}

// TestSignalHandlingIsCounted: the process catches signals while any node
// or WaitSet that asked for it is open, and not once the last is closed,
// signal or no signal.
func TestSignalHandlingIsCounted(t *testing.T) {
	cfg := testConfig(t)
	cmd, out := startHelper(t, cfg, "sig-refcount")
	expectLine(t, "child", out, "one left")
	cmd.Process.Signal(syscall.SIGINT)
	expectLine(t, "child", out, "SIGINT")
	expectLine(t, "child", out, "released")
	cmd.Process.Signal(syscall.SIGTERM)
	expectKilledBy(t, cmd, syscall.SIGTERM)
	assertNoFiles(t, cfg)
}

// helperSigSecond opts in, reports the first signal and then hangs without
// closing its node, as a shutdown that hangs.
func helperSigSecond() error {
	node, err := NewNodeBuilder().Config(helperConfig()).SignalHandling(true).Create()
	if err != nil {
		return err
	}
	defer node.Close()
	fmt.Println("ready")
	if err := node.Wait(time.Hour); !errors.Is(err, ErrNodeInterrupted) {
		return fmt.Errorf("Wait returned %v, want ErrNodeInterrupted", err)
	}
	fmt.Println("SIGINT")
	time.Sleep(sleepLong)
	fmt.Println("survived")
	return nil
}

// TestSecondSignalKills: catching is one-shot; a second Ctrl-C kills a
// program whose shutdown hangs with its node still open, and the next
// cleanup removes the node.
func TestSecondSignalKills(t *testing.T) {
	cfg := testConfig(t)
	cmd, out := startHelper(t, cfg, "sig-second")
	expectLine(t, "child", out, "ready")
	cmd.Process.Signal(syscall.SIGINT)
	expectLine(t, "child", out, "SIGINT")
	cmd.Process.Signal(syscall.SIGINT)
	expectKilledBy(t, cmd, syscall.SIGINT)
	if st := CleanupDeadNodes(cfg); st.Cleanups != 1 {
		t.Fatalf("CleanupDeadNodes: %+v, want 1 cleanup", st)
	}
	assertNoFiles(t, cfg)
}

// helperSigNotifyContext is the other way: the node leaves signals alone,
// the program catches them with signal.NotifyContext and passes ctx to its
// waits.
func helperSigNotifyContext() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	node, err := NewNodeBuilder().Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	defer node.Close()
	ev, err := Event(node, "sig/notify-context").OpenOrCreate()
	if err != nil {
		return err
	}
	l, err := ev.Listener()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	_, err = l.BlockingWait(ctx, func(EventActivation) {})
	fmt.Println("BlockingWait:", err)
	fmt.Println("WaitContext:", node.WaitContext(ctx, time.Hour))
	return nil
}

// TestNotifyContextEndsWaits: with signal.NotifyContext, SIGINT ends a
// listener's BlockingWait and node.WaitContext with context.Canceled, and
// the program closes its node and exits 0.
func TestNotifyContextEndsWaits(t *testing.T) {
	cfg := testConfig(t)
	cmd, out := startHelper(t, cfg, "sig-notify-context")
	expectLine(t, "child", out, "ready")
	cmd.Process.Signal(syscall.SIGINT)
	expectLine(t, "child", out, "BlockingWait: "+context.Canceled.Error())
	expectLine(t, "child", out, "WaitContext: "+context.Canceled.Error())
	if line := scanLine(out); line != "" {
		t.Fatalf("the child printed %q", line)
	}
	expectExit0(t, cmd)
	assertNoFiles(t, cfg)
}

// TestSignalHandlingIsOptIn: the default builders subscribe to nothing;
// opting in subscribes while the node or WaitSet is open; Close releases it
// once (also when called twice).
func TestSignalHandlingIsOptIn(t *testing.T) {
	users := func() int {
		signals.mu.Lock()
		defer signals.mu.Unlock()
		return signals.users
	}
	base := users() // 0 unless a test running in parallel opted in
	cfg := testConfig(t)
	node := testNode(t, cfg)
	ws, err := NewWaitSet()
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if users() != base || ws.SignalHandling() || node.sig != nil {
		t.Fatalf("the default builders subscribed: %d users", users()-base)
	}
	n2, err := NewNodeBuilder().Config(cfg).SignalHandling(true).Create()
	if err != nil {
		t.Fatal(err)
	}
	ws2, err := NewWaitSetBuilder().SignalHandling(true).Create()
	if err != nil {
		t.Fatal(err)
	}
	if users() != base+2 || signals.cur.Load() == nil || n2.sig.w != ws2.sig.w {
		t.Fatalf("two opt-ins: %d users", users()-base)
	}
	n2.Close()
	n2.Close()
	ws2.Close()
	ws2.Close()
	if users() != base {
		t.Fatalf("after Close: %d users", users()-base)
	}
}

// TestWaitContextEnds: node.WaitContext ends at once when ctx is done, with
// ctx's error, and sleeps its full duration otherwise.
func TestWaitContextEnds(t *testing.T) {
	node := testNode(t, testConfig(t))
	if err := node.WaitContext(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- node.WaitContext(ctx, time.Hour) }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("WaitContext after cancel: %v", err)
		}
	case <-time.After(dieBound):
		t.Fatal("cancelling ctx did not end WaitContext")
	}
	if err := node.WaitContext(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitContext with a done ctx: %v", err)
	}
}

// TestClosedWaitSetFails: Close ends a wait in progress and every later
// one with ErrClosed.
func TestClosedWaitSetFails(t *testing.T) {
	ws := newWaitSet(t)
	if _, err := ws.AttachInterval(time.Hour); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := ws.WaitAndProcess(context.Background(), func(AttachmentID) CallbackProgression { return Continue })
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	ws.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("a wait that Close ended: %v", err)
		}
	case <-time.After(dieBound):
		t.Fatal("Close did not end a wait in progress")
	}
	if _, err := ws.WaitAndProcessOnce(context.Background(), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("a wait after Close: %v", err)
	}
}
