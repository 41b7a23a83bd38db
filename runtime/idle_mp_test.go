package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The cost of waiting, measured in a child process of its own (so that
// nothing of the test binary's other tests is counted), with GOMAXPROCS=2:
// OS threads (from /proc/self/status) and CPU time (getrusage) of many
// idle services, and of many goroutines blocked in BlockingReceive.

func init() {
	helpers["idle-services"] = helperIdleServices
	helpers["many-blocked"] = helperManyBlocked
}

// idleFigures is what the helpers print.
type idleFigures struct {
	Services   int
	Open       time.Duration // opening the services with their ports
	Idle       time.Duration // the idle period measured
	CPU        time.Duration // user + system CPU of the process during it
	Threads    int           // OS threads at its end
	Close      time.Duration // closing the node
	Woken      int           // many-blocked: receives a sample woke
	ClosedErrs int           // many-blocked: receives that Close ended with ErrClosed
	Error      string
}

// processThreads returns the number of OS threads of this process (-1
// when /proc cannot tell); helpers have no *testing.T for osThreads.
func processThreads() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return -1
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// helperIdleServices opens IOX2_TEST_N publish-subscribe services with a
// publisher and a subscriber each (one sample sent and received on each,
// so that every connection exists), then idles for IOX2_TEST_IDLE and
// prints what that cost.
func helperIdleServices() error {
	n, _ := strconv.Atoi(os.Getenv("IOX2_TEST_N"))
	idle, _ := time.ParseDuration(os.Getenv("IOX2_TEST_IDLE"))
	node, err := helperNode()
	if err != nil {
		return err
	}
	f := idleFigures{Services: n, Idle: idle}
	start := time.Now()
	for i := range n {
		svc, err := PublishSubscribe[uint64](node, fmt.Sprintf("idle/%d", i)).Create()
		if err != nil {
			return err
		}
		sub, err := svc.Subscriber()
		if err != nil {
			return err
		}
		pub, err := svc.Publisher()
		if err != nil {
			return err
		}
		pub.SendCopy(uint64(i))
		if s, err := sub.Receive(); err != nil || s == nil {
			return fmt.Errorf("service %d: Receive = %v, %v", i, s, err)
		} else {
			s.Release()
		}
	}
	f.Open = time.Since(start)
	time.Sleep(100 * time.Millisecond) // the rounds of the last changes
	cpu := processCPU()
	time.Sleep(idle)
	f.CPU = processCPU() - cpu
	f.Threads = processThreads()
	start = time.Now()
	if err := node.Close(); err != nil {
		return err
	}
	f.Close = time.Since(start)
	return json.NewEncoder(os.Stdout).Encode(f)
}

// helperManyBlocked makes IOX2_TEST_N subscribers (in services of 100)
// and blocks one goroutine in BlockingReceive on each; after 1 s it counts
// the OS threads, wakes the 100 of the first service with a sample, and
// then closes the node, which must end every other wait with ErrClosed.
func helperManyBlocked() error {
	n, _ := strconv.Atoi(os.Getenv("IOX2_TEST_N"))
	node, err := helperNode()
	if err != nil {
		return err
	}
	const per = 100
	var subs []*Subscriber[uint64]
	var first *Publisher[uint64]
	f := idleFigures{Services: (n + per - 1) / per}
	start := time.Now()
	for i := 0; i < n; i += per {
		svc, err := PublishSubscribe[uint64](node, fmt.Sprintf("many/%d", i/per)).MaxSubscribers(per).Create()
		if err != nil {
			return err
		}
		if i == 0 {
			if first, err = svc.Publisher(); err != nil {
				return err
			}
		}
		for range min(per, n-i) {
			s, err := svc.Subscriber()
			if err != nil {
				return err
			}
			subs = append(subs, s)
		}
	}
	f.Open = time.Since(start)
	var woken, closed sync.WaitGroup
	var mu sync.Mutex
	var wokenN, closedN int
	var firstErr error
	for i, s := range subs {
		if i < per {
			woken.Add(1)
		} else {
			closed.Add(1)
		}
		go func() {
			smp, err := s.BlockingReceive(context.Background())
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && i < per:
				wokenN++
				smp.Release()
				woken.Done()
			case errors.Is(err, ErrClosed) && i >= per:
				closedN++
				closed.Done()
			default:
				if firstErr == nil {
					firstErr = fmt.Errorf("subscriber %d: BlockingReceive = %v, %v", i, smp, err)
				}
				if i < per {
					woken.Done()
				} else {
					closed.Done()
				}
			}
		}()
	}
	cpu := processCPU()
	time.Sleep(time.Second)
	f.Idle = time.Second
	f.CPU = processCPU() - cpu
	f.Threads = processThreads()
	first.SendCopy(1)
	woken.Wait()
	start = time.Now()
	node.Close()
	closed.Wait()
	f.Close = time.Since(start)
	f.Woken, f.ClosedErrs = wokenN, closedN
	if firstErr != nil {
		f.Error = firstErr.Error()
	}
	return json.NewEncoder(os.Stdout).Encode(f)
}

// runIdleHelper runs helper name with GOMAXPROCS=2 and returns its figures.
func runIdleHelper(t testing.TB, name string, env ...string) idleFigures {
	t.Helper()
	cfg := testConfig(t)
	cmd, out := startHelper(t, cfg, name, append(env, "GOMAXPROCS=2")...)
	if !out.Scan() {
		t.Fatalf("%s printed nothing", name)
	}
	var f idleFigures
	if err := json.Unmarshal(out.Bytes(), &f); err != nil {
		t.Fatalf("%s printed %q: %v", name, out.Text(), err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if f.Error != "" {
		t.Fatalf("%s: %s", name, f.Error)
	}
	assertNoFiles(t, cfg)
	return f
}

// TestIdleServicesCostNothing: 1,000 services, each with a publisher and a
// subscriber, in one idle process: no goroutine wakes while nothing
// changes (the discovery goroutines and their 50 ms timers are gone), so
// the process uses almost no CPU and few OS threads. The bound is
// generous (5% of a core over 2 s, where the figure is well under 0.5%;
// the benchmark BenchmarkIdleServices prints it), because a loaded
// machine can bill a process for its neighbours' interference.
func TestIdleServicesCostNothing(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	f := runIdleHelper(t, "idle-services", "IOX2_TEST_N="+strconv.Itoa(n), "IOX2_TEST_IDLE=2s")
	t.Logf("%d idle services: opened in %v, %v of CPU in %v (%.2f%% of a core), %d OS threads, closed in %v",
		f.Services, f.Open, f.CPU, f.Idle, 100*float64(f.CPU)/float64(f.Idle), f.Threads, f.Close)
	if f.CPU > f.Idle/20 {
		t.Errorf("%d idle services used %v of CPU in %v", f.Services, f.CPU, f.Idle)
	}
	if f.Threads > 16 {
		t.Errorf("%d idle services: %d OS threads, want at most 16", f.Services, f.Threads)
	}
}

// TestManyBlockedReceivesUseFewThreads: 10,000 goroutines blocked in
// BlockingReceive on 10,000 subscribers hold no OS thread each: the
// process has at most 16 (GOMAXPROCS=2). A sample wakes the 100 of one
// service; closing the node ends the other 9,900 waits with ErrClosed.
func TestManyBlockedReceivesUseFewThreads(t *testing.T) {
	n := 10_000
	if testing.Short() {
		n = 2000
	}
	f := runIdleHelper(t, "many-blocked", "IOX2_TEST_N="+strconv.Itoa(n))
	t.Logf("%d blocked receives: made in %v, %v of CPU in %v, %d OS threads, node closed in %v",
		n, f.Open, f.CPU, f.Idle, f.Threads, f.Close)
	if f.Threads > 16 {
		t.Errorf("%d blocked receives: %d OS threads, want at most 16", n, f.Threads)
	}
	if f.Woken != 100 || f.ClosedErrs != n-100 {
		t.Errorf("%d woken by a sample (want 100), %d ended by Close (want %d)", f.Woken, f.ClosedErrs, n-100)
	}
	if f.CPU > f.Idle/20 {
		t.Errorf("%d blocked receives used %v of CPU in %v", n, f.CPU, f.Idle)
	}
}

// BenchmarkIdleServices prints the cost of N idle publish-subscribe
// services (a publisher and a subscriber each) in one process with
// GOMAXPROCS=2, over 10 s: CPU in percent of a core, OS threads, and the
// time to open them (with their ports) and to close the node. Run it once:
//
//	go test -run '^$' -bench IdleServices -benchtime 1x ./runtime/
func BenchmarkIdleServices(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var f idleFigures
			for b.Loop() {
				f = runIdleHelper(b, "idle-services", "IOX2_TEST_N="+strconv.Itoa(n), "IOX2_TEST_IDLE=10s")
			}
			b.ReportMetric(100*float64(f.CPU)/float64(f.Idle), "%cpu-idle")
			b.ReportMetric(float64(f.Threads), "threads")
			b.ReportMetric(float64(f.Open.Milliseconds()), "ms-open")
			b.ReportMetric(float64(f.Close.Milliseconds()), "ms-close")
		})
	}
}

// BenchmarkManyBlockedReceives prints the OS threads and the CPU of
// 10,000 goroutines blocked in BlockingReceive (GOMAXPROCS=2). Run it
// once:
//
//	go test -run '^$' -bench ManyBlocked -benchtime 1x ./runtime/
func BenchmarkManyBlockedReceives(b *testing.B) {
	var f idleFigures
	for b.Loop() {
		f = runIdleHelper(b, "many-blocked", "IOX2_TEST_N=10000")
	}
	b.ReportMetric(float64(f.Threads), "threads")
	b.ReportMetric(100*float64(f.CPU)/float64(f.Idle), "%cpu-idle")
	b.ReportMetric(float64(f.Close.Milliseconds()), "ms-close")
}
