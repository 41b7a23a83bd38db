package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	helpers["ev-storm-listener"] = helperStormListener
	helpers["ev-storm-notifier"] = helperStormNotifier
	helpers["ev-idle-listener"] = helperIdleListener
	helpers["ev-crash-notifier"] = helperCrashNotifier
	helpers["ev-crash-listener"] = helperCrashListener
	helpers["ev-ws-notifier"] = helperWaitSetNotifier
}

const (
	stormService   = "mp/event/storm"
	stormNotifiers = 8
	stormPerProc   = 10_000
	stormIDsPer    = 16 // each notifier process cycles through ids base..base+15
)

func helperNode() (*Node, error) {
	return NewNodeBuilder().Config(helperConfig()).Create()
}

type stormStats struct {
	Total  uint64
	Counts []uint64
	Waits  int // BlockingWait calls that returned events
	Error  string
}

// helperStormListener counts notifications with BlockingWait until it has
// IOX2_TEST_N of them, then prints its stats.
func helperStormListener() error {
	n, _ := strconv.ParseUint(os.Getenv("IOX2_TEST_N"), 10, 64)
	node, err := helperNode()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := Event(node, stormService).Open()
	if err != nil {
		return err
	}
	l, err := svc.Listener()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	st := stormStats{Counts: make([]uint64, svc.QoS().EventIDMaxValue+1)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for st.Total < n {
		_, err := l.BlockingWait(ctx, func(a EventActivation) {
			st.Counts[a.ID] += a.Count
			st.Total += a.Count
		})
		if err != nil {
			st.Error = err.Error()
			break
		}
		st.Waits++
	}
	return json.NewEncoder(os.Stdout).Encode(st)
}

// helperStormNotifier sends stormPerProc notifications with ids
// IOX2_TEST_BASE + i%16 as soon as it reads a line from stdin.
func helperStormNotifier() error {
	base, _ := strconv.Atoi(os.Getenv("IOX2_TEST_BASE"))
	node, err := helperNode()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := Event(node, stormService).Open()
	if err != nil {
		return err
	}
	nt, err := svc.Notifier()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
	for i := range stormPerProc {
		if i%50 == 49 {
			// Pause now and then, so that the listener runs dry and falls
			// asleep again and again: each of these wake-ups must not be lost.
			time.Sleep(50 * time.Microsecond)
		}
		if k, err := nt.NotifyWithCustomEventID(EventID(base + i%stormIDsPer)); err != nil || k != 1 {
			return fmt.Errorf("notification %d reached %d listeners: %v", i, k, err)
		}
	}
	fmt.Println("done")
	return nil
}

func expectLine(t *testing.T, who string, out *bufio.Scanner, want string) {
	t.Helper()
	if !out.Scan() || out.Text() != want {
		t.Fatalf("%s printed %q, want %q", who, out.Text(), want)
	}
}

// TestEventStormMultiProcess has 8 notifier processes send 10,000
// notifications each, at once, to a listener process that counts them with
// BlockingWait: every notification is counted, under its id.
func TestEventStormMultiProcess(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	if _, err := Event(node, stormService).MaxNotifiers(stormNotifiers).MaxNodes(stormNotifiers + 2).
		EventIDMaxValue(stormNotifiers*stormIDsPer - 1).Create(); err != nil {
		t.Fatal(err)
	}
	const total = stormNotifiers * stormPerProc
	lcmd, lout := startHelper(t, cfg, "ev-storm-listener", "IOX2_TEST_N="+strconv.Itoa(total))
	expectLine(t, "listener", lout, "ready")
	var gos []*os.File
	var outs []*bufio.Scanner
	var cmds []*exec.Cmd
	for k := range stormNotifiers {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd, out := startHelperWith(t, cfg, "ev-storm-notifier", r, "IOX2_TEST_BASE="+strconv.Itoa(k*stormIDsPer))
		r.Close()
		gos, outs, cmds = append(gos, w), append(outs, out), append(cmds, cmd)
	}
	for k, out := range outs {
		expectLine(t, fmt.Sprint("notifier ", k), out, "ready")
	}
	start := time.Now()
	for _, w := range gos {
		fmt.Fprintln(w, "go")
		w.Close()
	}
	for k, out := range outs {
		expectLine(t, fmt.Sprint("notifier ", k), out, "done")
		if err := cmds[k].Wait(); err != nil {
			t.Fatalf("notifier %d: %v", k, err)
		}
	}
	if !lout.Scan() {
		t.Fatal("listener printed no stats")
	}
	elapsed := time.Since(start)
	var st stormStats
	if err := json.Unmarshal(lout.Bytes(), &st); err != nil {
		t.Fatalf("stats %q: %v", lout.Text(), err)
	}
	if err := lcmd.Wait(); err != nil {
		t.Fatalf("listener: %v", err)
	}
	if st.Error != "" || st.Total != total {
		t.Fatalf("listener counted %d of %d notifications: %s", st.Total, total, st.Error)
	}
	for id, c := range st.Counts {
		if want := uint64(stormPerProc / stormIDsPer); c != want {
			t.Fatalf("id %d counted %d times, want %d", id, c, want)
		}
	}
	t.Logf("%d notifications from %d processes counted exactly in %d blocking waits, %v", st.Total, stormNotifiers, st.Waits, elapsed)
}

type idleStats struct {
	TimedWait     time.Duration // TimedWait(100ms)
	BlockingWall  time.Duration // BlockingWait with a 1s context
	BlockingCPU   time.Duration // user+system CPU of the process during it
	BlockingError string
	CancelLatency time.Duration // from cancel() to the return of BlockingWaitOne
	CancelError   string
}

func rusageCPU() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// helperIdleListener measures its own waits (see idleStats), prints them,
// then blocks until SIGTERM and prints "sigterm". Its node handles signals.
func helperIdleListener() error {
	node, err := NewNodeBuilder().Config(helperConfig()).SignalHandling(true).Create()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := Event(node, "mp/event/idle").OpenOrCreate()
	if err != nil {
		return err
	}
	l, err := svc.Listener()
	if err != nil {
		return err
	}
	var st idleStats
	start := time.Now()
	if _, err := l.TimedWait(func(EventActivation) {}, 100*time.Millisecond); err != nil {
		return err
	}
	st.TimedWait = time.Since(start)

	// start is read before the context's deadline is set, so that the wait
	// measured is never shorter than the deadline, however late this
	// goroutine runs again.
	cpu := rusageCPU()
	start = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = l.BlockingWait(ctx, func(EventActivation) {})
	st.BlockingWall, st.BlockingCPU = time.Since(start), rusageCPU()-cpu
	st.BlockingError = fmt.Sprint(err)

	ctx, cancel = context.WithCancel(context.Background())
	var cancelled time.Time
	go func() {
		time.Sleep(100 * time.Millisecond)
		cancelled = time.Now()
		cancel()
	}()
	_, err = l.BlockingWaitOne(ctx)
	st.CancelLatency = time.Since(cancelled)
	st.CancelError = fmt.Sprint(err)
	if err := json.NewEncoder(os.Stdout).Encode(st); err != nil {
		return err
	}
	fmt.Println("blocking")
	_, err = l.BlockingWait(context.Background(), func(EventActivation) {})
	if !errors.Is(err, ErrNodeTerminationRequest) {
		return fmt.Errorf("BlockingWait ended with %v, want ErrNodeTerminationRequest", err)
	}
	fmt.Println("sigterm")
	return nil
}

// TestIdleListenerUsesNoCPU checks, in a process of its own, that a
// listener blocked for 1s uses almost no CPU, that timeouts and context
// cancellation end waits promptly, and that SIGTERM ends a blocking wait.
func TestIdleListenerUsesNoCPU(t *testing.T) {
	cfg := testConfig(t)
	cmd, out := startHelper(t, cfg, "ev-idle-listener")
	if !out.Scan() {
		t.Fatal("listener printed no stats")
	}
	var st idleStats
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("stats %q: %v", out.Text(), err)
	}
	t.Logf("TimedWait(100ms) %v; BlockingWait(ctx 1s) %v using %v CPU; cancellation noticed after %v",
		st.TimedWait, st.BlockingWall, st.BlockingCPU, st.CancelLatency)
	within(t, "TimedWait(100ms)", st.TimedWait, 95*time.Millisecond, 3*time.Second)
	within(t, "BlockingWait(ctx 1s)", st.BlockingWall, time.Second, 4*time.Second)
	if st.BlockingError != context.DeadlineExceeded.Error() || st.CancelError != context.Canceled.Error() {
		t.Errorf("waits ended with %q and %q", st.BlockingError, st.CancelError)
	}
	if st.BlockingCPU > 50*time.Millisecond {
		t.Errorf("an idle listener used %v of CPU in 1s, want well under 50ms", st.BlockingCPU)
	}
	within(t, "cancellation", st.CancelLatency, 0, time.Second)
	expectLine(t, "listener", out, "blocking")
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	expectLine(t, "listener", out, "sigterm")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("listener: %v", err)
	}
	within(t, "SIGTERM", time.Since(start), 0, 3*time.Second)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	t.Logf("the whole listener process used %v user + %v system CPU",
		time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()))
	assertNoFiles(t, cfg)
}

const crashEventService = "mp/event/crash"

func crashEventBuilder(node *Node) *EventBuilder {
	return Event(node, crashEventService).NotifierDeadEvent(99)
}

// helperCrashNotifier notifies id 1 and then waits to be killed.
func helperCrashNotifier() error {
	node, err := helperNode()
	if err != nil {
		return err
	}
	svc, err := crashEventBuilder(node).Open()
	if err != nil {
		return err
	}
	nt, err := svc.Notifier()
	if err != nil {
		return err
	}
	if _, err := nt.NotifyWithCustomEventID(1); err != nil {
		return err
	}
	fmt.Println("ready")
	select {}
}

// helperCrashListener makes a listener and waits to be killed.
func helperCrashListener() error {
	node, err := helperNode()
	if err != nil {
		return err
	}
	svc, err := crashEventBuilder(node).Open()
	if err != nil {
		return err
	}
	if _, err := svc.Listener(); err != nil {
		return err
	}
	fmt.Println("ready")
	select {}
}

// TestDeadNotifierEvent kills a notifier process with SIGKILL: with nobody
// calling anything, the cleanup of its dead node sends the service's
// notifier dead event to the listener. A killed listener's event segment is
// removed and notifiers stop counting it.
func TestDeadNotifierEvent(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc, err := crashEventBuilder(node).Create()
	if err != nil {
		t.Fatal(err)
	}
	l := must[*Listener](t)(svc.Listener())
	cmd, out := startHelper(t, cfg, "ev-crash-notifier")
	expectLine(t, "notifier", out, "ready")
	if id, ok, err := l.TimedWaitOne(5 * time.Second); !ok || err != nil || id != 1 {
		t.Fatalf("event from the notifier process: %d, %v, %v", id, ok, err)
	}
	if n := svc.NumberOfNotifiers(); n != 1 {
		t.Fatalf("%d notifiers", n)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, err := l.BlockingWaitOne(ctx)
	if err != nil || id != 99 {
		t.Fatalf("after the notifier died: %d, %v; want the dead event 99", id, err)
	}
	t.Logf("notifier dead event %v after SIGKILL", time.Since(start))
	if n := svc.NumberOfNotifiers(); n != 0 {
		t.Fatalf("%d notifiers after the cleanup", n)
	}

	nt := must[*Notifier](t)(svc.Notifier())
	cmd, out = startHelper(t, cfg, "ev-crash-listener")
	expectLine(t, "listener", out, "ready")
	if n, err := nt.Notify(); n != 2 || err != nil {
		t.Fatalf("Notify reached %d listeners: %v", n, err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	// The liveness sweep of svc may clean the dead node first: then
	// CleanupDeadNodes waits for it, or finds nothing left.
	if st := node.CleanupDeadNodes(); !st.Complete() {
		t.Fatalf("cleanup: %+v", st)
	}
	if ids := listNodeIDs(cfg); len(ids) != 1 || ids[0] != node.ID() {
		t.Fatalf("nodes %v left after the cleanup, want only %v", ids, node.ID())
	}
	if n, err := nt.Notify(); n != 1 || err != nil {
		t.Fatalf("Notify after the listener died reached %d listeners: %v", n, err)
	}
	for _, f := range shmLeftovers(cfg) {
		if strings.HasSuffix(f, ".event") && !strings.Contains(f, l.ID().String()) {
			t.Fatalf("dead listener's event segment left: %s", f)
		}
	}
	node.Close()
	assertNoFiles(t, cfg)
}

// helperWaitSetNotifier notifies id IOX2_TEST_BASE on service
// mp/event/ws/<id> and exits.
func helperWaitSetNotifier() error {
	k := os.Getenv("IOX2_TEST_BASE")
	id, _ := strconv.Atoi(k)
	node, err := helperNode()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := Event(node, "mp/event/ws/"+k).Open()
	if err != nil {
		return err
	}
	nt, err := svc.Notifier()
	if err != nil {
		return err
	}
	if n, err := nt.NotifyWithCustomEventID(EventID(id)); err != nil || n != 1 {
		return fmt.Errorf("notify reached %d listeners: %v", n, err)
	}
	return nil
}

// TestWaitSetMultiProcess attaches 64 listeners, of 64 services, to one
// WaitSet; 64 processes, started at once, each notify one of them. The
// WaitSet reports every one, with the right id.
func TestWaitSetMultiProcess(t *testing.T) {
	procs := 64
	if testing.Short() {
		procs = 16
	}
	cfg := testConfig(t)
	node := testNode(t, cfg)
	ws, err := NewWaitSet()
	if err != nil {
		t.Fatal(err)
	}
	var ls []*Listener
	guards := map[*WaitSetGuard]int{}
	for k := range procs {
		svc, err := Event(node, fmt.Sprint("mp/event/ws/", k)).Create()
		if err != nil {
			t.Fatal(err)
		}
		l := must[*Listener](t)(svc.Listener())
		ls = append(ls, l)
		guards[must[*WaitSetGuard](t)(ws.AttachNotification(l))] = k
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, procs)
	for k := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "IOX2_TEST_HELPER=ev-ws-notifier", "IOX2_TEST_ROOT="+cfg.Root,
			"IOX2_TEST_PREFIX="+cfg.Prefix, "IOX2_TEST_BASE="+strconv.Itoa(k))
		cmd.Stderr = os.Stderr
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = cmd.Run()
		}()
	}
	got := map[int]EventID{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := ws.WaitAndProcess(ctx, func(id AttachmentID) CallbackProgression {
		for g, k := range guards {
			if id.HasEventFrom(g) {
				ls[k].TryWaitAll(func(e EventID) { got[k] = e })
			}
		}
		if len(got) == procs {
			return Stop
		}
		return Continue
	})
	wg.Wait()
	for k, err := range errs {
		if err != nil {
			t.Errorf("notifier process %d: %v", k, err)
		}
	}
	if r != StopRequest || err != nil {
		t.Fatalf("WaitAndProcess = %v, %v with %d of %d listeners notified", r, err, len(got), procs)
	}
	for k, id := range got {
		if id != EventID(k) {
			t.Errorf("listener %d got id %d", k, id)
		}
	}
	t.Logf("%d processes notified %d listeners of one WaitSet in %v (%d sleeps)", procs, len(got), time.Since(start), ws.wakeups.Load())
	node.Close()
	assertNoFiles(t, cfg)
}
