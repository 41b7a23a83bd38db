package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iox2go/iox2go/internal/testrun"
)

// pair sets up mechanism name in both roles in this process: A on the
// test's goroutine, B on its own locked thread, concurrently as the harness
// does. It returns A's side and B's; cleanup closes both and checks that
// nothing is left.
func pair(t *testing.T, name string, size int) (a, b Mechanism) {
	t.Helper()
	return pairMode(t, name, size, false)
}

// pairMode is pair, in the throughput mode if stream is set.
func pairMode(t *testing.T, name string, size int, stream bool) (a, b Mechanism) {
	t.Helper()
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("busy-waiting peers in one process need GOMAXPROCS >= 2")
	}
	dir := t.TempDir()
	// Short: the prefix names a Unix socket in dir too, and a socket path has at most 107 bytes.
	cfg := Config{Prefix: fmt.Sprintf("iox2gobt%s%d-%s-%d", testrun.Tag(), os.Getpid(), name, size), Dir: dir, Size: size, Timeout: 5 * time.Second, Stream: stream}
	a, b = registry[name].new(), registry[name].new()
	errB := make(chan error, 1)
	go func() {
		cfgB := cfg
		cfgB.Role = RoleB
		errB <- b.Setup(cfgB)
	}()
	cfgA := cfg
	cfgA.Role = RoleA
	err := a.Setup(cfgA)
	if e := <-errB; err == nil {
		err = e
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close B: %v", err)
		}
		if err := a.Close(); err != nil {
			t.Errorf("close A: %v", err)
		}
		// The NATS server, a process of A's (or inside A with
		// -nats-server in-a, which allocates in the background, as
		// TestNoAllocations would count), goes with the test.
		stopNATS()
		left, _ := filepath.Glob("/dev/shm/" + cfg.Prefix + "*")
		if ents, _ := os.ReadDir(dir); len(left)+len(ents) > 0 {
			t.Errorf("left behind: %v %v", left, ents)
		}
	})
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	return a, b
}

// echoing runs B's echo loop on its own locked thread until seq 0.
func echoing(b Mechanism) <-chan error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		done <- echo(b)
	}()
	return done
}

// TestMechanisms is the conformance test of every registered mechanism: a
// short ping-pong at sizes from the smallest to above a pipe's capacity and
// odd, with the payload checked at both ends.
func TestMechanisms(t *testing.T) {
	for _, name := range mechanismNames() {
		for _, size := range []int{9, 64, 64<<10 + 3, 1 << 20} {
			t.Run(fmt.Sprintf("%s/%d", name, size), func(t *testing.T) {
				a, b := pair(t, name, size)
				done := echoing(b)
				rtts := make([]int64, 50)
				n, err := pingPong(a, plan{warmIters: 5, warmBudget: time.Second, iters: len(rtts), budget: 10 * time.Second}, rtts)
				if err != nil {
					t.Fatal(err)
				}
				if n != len(rtts) {
					t.Errorf("%d round trips, want %d", n, len(rtts))
				}
				if err := <-done; err != nil {
					t.Errorf("B: %v", err)
				}
			})
		}
	}
}

// TestNoAllocations checks that the timed loop allocates nothing with the
// floor, the futex and the zerocopy-bare mechanism. (testing.AllocsPerRun does not fit: it sets
// GOMAXPROCS to 1, where two busy-waiting goroutines take turns at the
// scheduler's pace.)
func TestNoAllocations(t *testing.T) {
	const runs, iters = 5, 1000
	for _, name := range []string{floorName, "futex", zeroCopyName} {
		t.Run(name, func(t *testing.T) {
			a, b := pair(t, name, 64)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			// One B for all runs: echo returns at each end of run.
			var stop atomic.Bool
			done := make(chan error, 1)
			go func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				var err error
				for err == nil && !stop.Load() {
					err = echo(b)
				}
				done <- err
			}()
			rtts := make([]int64, iters)
			p := plan{warmIters: 10, warmBudget: time.Second, iters: iters, budget: 10 * time.Second}
			var before, after runtime.MemStats
			for i := 0; i <= runs; i++ {
				if i == 1 { // the first run warms up
					runtime.ReadMemStats(&before)
				}
				if _, err := pingPong(a, p, rtts); err != nil {
					t.Fatal(err)
				}
			}
			runtime.ReadMemStats(&after)
			stop.Store(true)
			a.Send(0)
			if err := <-done; err != nil {
				t.Fatalf("B: %v", err)
			}
			// The count is the whole process's: the Go runtime allocates
			// now and then for itself (a thread for a locked goroutine, a
			// timer heap), and so do goroutines that earlier tests left
			// winding down (a NATS client's, a node's dispatcher) — a
			// few dozen at most on a busy machine (15 seen once), whereas
			// one allocation in the loop counts runs*iters (5,000).
			if n := after.Mallocs - before.Mallocs; n >= runs*iters/50 {
				t.Errorf("%d allocations in %d runs of %d round trips", n, runs, iters)
			}
		})
	}
}

// TestDatagramChunks sends payloads larger than the datagram size over a
// SOCK_SEQPACKET pair, as uds-seqpacket does where net.core.wmem_max is
// small, and checks that a record longer than expected is an error.
func TestDatagramChunks(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	const size = 10000
	tx, rx := newFdPair(size), newFdPair(size)
	tx.wfd, tx.chunk = fds[0], 3000 // 4 datagrams: 3000, 3000, 3000, 1000
	rx.rfd, rx.records = fds[1], true
	for seq := uint64(1); seq <= 3; seq++ {
		if err := tx.send(seq); err != nil {
			t.Fatal(err)
		}
		if got, err := rx.receive(); err != nil || got != seq {
			t.Fatalf("receive = %d, %v; want %d", got, err, seq)
		}
	}
	// A receiver that expects less than a record holds.
	small := newFdPair(2000)
	small.rfd, small.records = fds[1], true
	if err := tx.send(9); err != nil {
		t.Fatal(err)
	}
	if _, err := small.receive(); err == nil {
		t.Error("a 3000-byte record was taken for a 2000-byte payload")
	}
}

// TestStreamers runs every mechanism that can stream in the throughput
// mode, in one process: every sample arrives, in order.
func TestStreamers(t *testing.T) {
	n := 0
	for _, name := range mechanismNames() {
		if _, ok := registry[name].new().(Streamer); !ok {
			continue
		}
		n++
		for _, size := range []int{8, 64} {
			t.Run(fmt.Sprintf("%s/%d", name, size), func(t *testing.T) {
				a, b := pairMode(t, name, size, true)
				done := make(chan streamCount, 1)
				errB := make(chan error, 1)
				go func() {
					runtime.LockOSThread()
					c, err := consume(b)
					done <- c
					errB <- err
				}()
				const count = 20000
				sent, ns, err := streamSend(a, count, 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				c := <-done
				if err := <-errB; err != nil {
					t.Fatalf("B: %v", err)
				}
				// Across NATS a slow receiver drops (gaps, and losses at
				// the end, which no gap shows).
				lossy := isNATS(name)
				if sent != count || ns <= 0 || c.received == 0 || c.received+c.gaps > count || (c.received != count && !lossy) || c.ns <= 0 {
					t.Errorf("sent %d in %d ns; B received %d, gaps %d, in %d ns", sent, ns, c.received, c.gaps, c.ns)
				}
			})
		}
	}
	for _, name := range []string{"iox2go-pubsub", "pipe", "uds-stream"} {
		if _, ok := registry[name].new().(Streamer); !ok {
			t.Errorf("%s cannot stream", name)
		}
	}
	if _, ok := registry["futex"].new().(Streamer); ok {
		t.Error("futex streams: its a2b is one slot, not a queue")
	}
}

// TestConsumeCounts feeds consume a stream with a gap and one that steps
// back.
func TestConsumeCounts(t *testing.T) {
	c, err := consume(&script{seqs: []uint64{1, 2, 5, 6, 0}})
	if err != nil || c.received != 4 || c.gaps != 2 {
		t.Errorf("consume = %+v, %v; want 4 received, 2 gaps", c, err)
	}
	if _, err := consume(&script{seqs: []uint64{1, 3, 2, 0}}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a step back: %v", err)
	}
	if c, err := parseStreamCount(c.String()); err != nil || c.received != 4 || c.gaps != 2 {
		t.Errorf("parseStreamCount(String()) = %+v, %v", c, err)
	}
	if _, err := parseStreamCount("1 2"); err == nil {
		t.Error("a short count was accepted")
	}
}

// script is a Mechanism whose Receive returns seqs in turn.
type script struct{ seqs []uint64 }

func (s *script) Setup(Config) error { return nil }
func (s *script) Send(uint64) error  { return nil }
func (s *script) Close() error       { return nil }
func (s *script) Receive() (uint64, error) {
	v := s.seqs[0]
	s.seqs = s.seqs[1:]
	return v, nil
}

func TestFanoutNames(t *testing.T) {
	for name, want := range map[string]int{"iox2go-pubsub": 1, "iox2go-pubsub-2sub": 2, "iox2go-pubsub-8sub": 8, "iox2go-reqres": 0, "iox2go-pubsub-8subx": 0, "pipe": 0} {
		if got := fanout(name); got != want {
			t.Errorf("fanout(%q) = %d, want %d", name, got, want)
		}
	}
}

func TestParseStreams(t *testing.T) {
	if got, err := parseStreams("none"); err != nil || got != nil {
		t.Errorf("parseStreams(none) = %v, %v", got, err)
	}
	if got, err := parseStreams(defaultStreams); err != nil || strings.Join(got, ",") != defaultStreams {
		t.Errorf("parseStreams(%s) = %v, %v", defaultStreams, got, err)
	}
	all, err := parseStreams("all")
	if err != nil || !slices.Contains(all, "iox2go-pubsub") || slices.Contains(all, "futex") {
		t.Errorf("parseStreams(all) = %v, %v", all, err)
	}
	if _, err := parseStreams("pipe,futex"); err == nil {
		t.Error("futex was accepted for the throughput mode")
	}
}

func TestFmtRate(t *testing.T) {
	for x, want := range map[float64]string{12.34: "12.3/s", 1234: "1.234 k/s", 544500: "544.5 k/s", 8.4444e6: "8.444 M/s", 12.5e6: "12.50 M/s", 2e9: "2.000 G/s"} {
		if got := fmtRate(x); got != want {
			t.Errorf("fmtRate(%v) = %q, want %q", x, got, want)
		}
	}
}
