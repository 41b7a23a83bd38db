//go:build linux

package ring_test

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iox2go/iox2go/runtime/ring"
)

// The cross-process tests re-execute the test binary as the peer process.
// The peer gets the shared file as descriptor 3 (the parent has already
// removed its name, so nothing is left behind) and the capacities of its two
// queues in peerEnv.
const peerEnv = "IOX2GO_RING_TEST_PEER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(peerEnv); spec != "" {
		if err := runPeer(spec); err != nil {
			fmt.Fprintln(os.Stderr, "peer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// twoQueues lays out the queues a2b and b2a one after the other in mem.
func twoQueues(mem []byte, capA, capB uint32, create bool) (a2b, b2a *ring.Queue, err error) {
	open := ring.AttachQueue
	if create {
		open = ring.NewQueue
	}
	sizeA := ring.QueueMemorySize(capA)
	if a2b, err = open(mem[:sizeA], capA); err != nil {
		return nil, nil, err
	}
	b2a, err = open(mem[sizeA:], capB)
	return a2b, b2a, err
}

// runPeer is the peer process: it pops every value from a2b and pushes it to
// b2a, until it has forwarded a 0. It gives up after a minute, or when its
// parent is gone, so that it can never spin forever.
func runPeer(spec string) error {
	var capA, capB uint64
	var err error
	a, b, _ := strings.Cut(spec, ",")
	if capA, err = strconv.ParseUint(a, 10, 32); err == nil {
		capB, err = strconv.ParseUint(b, 10, 32)
	}
	if err != nil {
		return fmt.Errorf("bad %s=%q", peerEnv, spec)
	}
	size := ring.QueueMemorySize(uint32(capA)) + ring.QueueMemorySize(uint32(capB))
	mem, err := unix.Mmap(3, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return err
	}
	a2b, b2a, err := twoQueues(mem, uint32(capA), uint32(capB), false)
	if err != nil {
		return err
	}
	ppid, deadline := os.Getppid(), time.Now().Add(time.Minute)
	for spins := 0; ; spins++ {
		v, ok := a2b.Pop()
		if !ok {
			if spins%(1<<16) == 0 && (time.Now().After(deadline) || os.Getppid() != ppid) {
				return fmt.Errorf("gave up waiting")
			}
			continue
		}
		for !b2a.Push(v) {
			if spins++; spins%(1<<16) == 0 && time.Now().After(deadline) {
				return fmt.Errorf("gave up pushing")
			}
		}
		if v == 0 {
			return nil
		}
	}
}

// startPeer maps a new shared file, creates the two queues in it, and starts
// the peer process on them.
func startPeer(t *testing.T, capA, capB uint32) (a2b, b2a *ring.Queue, wait func()) {
	t.Helper()
	f, err := os.CreateTemp("/dev/shm", "iox2go-ringtest-process-*")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	os.Remove(f.Name()) // the descriptor and the mappings keep it alive
	size := ring.QueueMemorySize(capA) + ring.QueueMemorySize(capB)
	if err := f.Truncate(int64(size)); err != nil {
		t.Fatal(err)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	if a2b, b2a, err = twoQueues(mem, capA, capB, true); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d,%d", peerEnv, capA, capB))
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	// Wait until the peer runs, so that the test measures the two processes
	// side by side.
	if !a2b.Push(hello) {
		t.Fatal("Push(hello) into an empty queue = false")
	}
	if v := popWithin(t, b2a, 10*time.Second); v != hello {
		t.Fatalf("peer answered hello with %d", v)
	}
	wait = func() {
		select {
		case err := <-exited:
			exited <- err
			if err != nil {
				t.Fatalf("peer: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("peer did not exit")
		}
	}
	return a2b, b2a, wait
}

// hello is the first value sent to the peer, and echoed by it. (Not
// 1<<64-1, which a queue of capacity 1 cannot hold.)
const hello = 1<<64 - 2

// popWithin pops from q, failing the test after a timeout.
func popWithin(t *testing.T, q *ring.Queue, d time.Duration) uint64 {
	deadline := time.Now().Add(d)
	for spins := 0; ; spins++ {
		if v, ok := q.Pop(); ok {
			return v
		}
		if spins%(1<<12) == 0 && time.Now().After(deadline) {
			t.Fatal("timed out waiting for the peer process")
		}
	}
}

func TestQueuePingPongAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	a2b, b2a, wait := startPeer(t, 4, 4)
	// Up to n round trips, for at most half a second.
	const n = 20000
	start := time.Now()
	v := uint64(1)
	for ; v <= n && (v%256 != 0 || time.Since(start) < time.Second/2); v++ {
		if !a2b.Push(v) {
			t.Fatalf("Push(%d) = false on an empty queue", v)
		}
		if got := popWithin(t, b2a, 10*time.Second); got != v {
			t.Fatalf("echo of %d = %d", v, got)
		}
	}
	rt := time.Since(start) / time.Duration(v-1)
	t.Logf("%d round trips across processes: %v each (one-way %v)", v-1, rt, rt/2)
	a2b.Push(0)
	popWithin(t, b2a, 10*time.Second)
	wait()
}

func TestQueueOverflowAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	// Capacity 1 is the exchanged slot, 3 the ring of positions.
	for _, c := range []uint32{3, 1} {
		t.Run(fmt.Sprintf("capacity %d", c), func(t *testing.T) { overflowAcrossProcesses(t, c) })
	}
}

func overflowAcrossProcesses(t *testing.T, capacity uint32) {
	// The parent pushes 1, 2, ... with overflow into a2b; the peer forwards
	// what it pops into b2a, which is large enough never to fill up. Every
	// value must come back exactly once, forwarded or evicted, in order. The
	// parent pushes at least n values, and goes on (up to 20n) until the peer
	// has forwarded n/4, so that the two processes really race.
	const n = 50000
	a2b, b2a, wait := startPeer(t, capacity, 1<<16)
	var forwarded, evicted []uint64
	total := uint64(0)
	for v := uint64(1); v <= n || (len(forwarded) < n/4 && v <= 20*n); v++ {
		if e, ok := a2b.PushOverflow(v); ok {
			evicted = append(evicted, e)
		}
		if v, ok := b2a.Pop(); ok {
			forwarded = append(forwarded, v)
		}
		total = v
	}
	for !a2b.Push(0) { // the end mark must not be evicted
		if v, ok := b2a.Pop(); ok {
			forwarded = append(forwarded, v)
		}
	}
	for {
		v := popWithin(t, b2a, 10*time.Second)
		if v == 0 {
			break
		}
		forwarded = append(forwarded, v)
	}
	wait()
	seen := make([]int, total+1)
	for name, s := range map[string][]uint64{"forwarded": forwarded, "evicted": evicted} {
		for k, v := range s {
			if v == 0 || v > total {
				t.Fatalf("%s[%d] = %d was never pushed", name, k, v)
			}
			if seen[v]++; seen[v] > 1 {
				t.Fatalf("%d returned twice", v)
			}
			if k > 0 && s[k-1] >= v {
				t.Fatalf("%s out of order: %d then %d", name, s[k-1], v)
			}
		}
	}
	for v := 1; v <= int(total); v++ {
		if seen[v] == 0 {
			t.Fatalf("%d lost", v)
		}
	}
	t.Logf("%d pushed, %d forwarded by the peer, %d evicted", total, len(forwarded), len(evicted))
}
