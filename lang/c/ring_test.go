package c_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/iox2go/iox2go/runtime/ring"
)

// The C ring (src/ring.c) against the Go ring (runtime/ring) on the same
// bytes: one MAP_SHARED file, a Go endpoint in this process and the C
// program tests/ring_peer.c as the other endpoint in its own process.

func ringPeer(t *testing.T) string {
	t.Helper()
	return buildC(t, "ring_peer", "tests/ring_peer.c", "src/ring.c")
}

// TestRingUnit runs the C unit test of the ring (tests/ring_unit.c).
func TestRingUnit(t *testing.T) {
	bin := buildC(t, "ring_unit", "tests/ring_unit.c", "src/ring.c")
	out, err := exec.Command(bin).CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("ring_unit: %v", err)
	}
}

// TestRingSizes: the C memory sizes are the Go ones.
func TestRingSizes(t *testing.T) {
	out, err := exec.Command(ringPeer(t), "sizes").Output()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var kind string
		var c uint32
		var size int
		if _, err := fmt.Sscan(line, &kind, &c, &size); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		want := map[string]func(uint32) int{"queue": ring.QueueMemorySize, "pool": ring.PoolMemorySize, "bitset": ring.BitSetMemorySize}[kind](c)
		if size != want {
			t.Errorf("%s of %d: C says %d bytes, Go %d", kind, c, size, want)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no sizes")
	}
}

// sharedFile creates a file of size bytes in t's temporary directory and
// maps it.
func sharedFile(t *testing.T, size int) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ring")
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mem, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	return path, mem
}

func word(mem []byte, i int) *atomic.Uint64 { return (*atomic.Uint64)(unsafe.Pointer(&mem[8*i])) }

const lineSize = 128

// TestRingQueueInterop: Go produces 1..n into a2b, which C consumes; C
// produces 1..n into b2a, which Go consumes; both at once, with safe
// overflow (each consumer pauses now and then, so that the producers
// overflow) and without (the producers retry). Every value is popped or
// evicted exactly once, in order. Either side creates the queues.
func TestRingQueueInterop(t *testing.T) {
	peer := ringPeer(t)
	for _, tc := range []struct {
		capA, capB uint32
		overflow   bool
	}{
		{1, 1, true}, {4, 3, true}, {7, 64, true},
		{1, 1, false}, {4, 3, false}, {7, 64, false},
	} {
		for _, cCreates := range []bool{false, true} {
			name := fmt.Sprintf("cap%d-%d/overflow=%v/c-creates=%v", tc.capA, tc.capB, tc.overflow, cCreates)
			t.Run(name, func(t *testing.T) {
				queueInterop(t, peer, tc.capA, tc.capB, tc.overflow, cCreates)
			})
		}
	}
}

// idle is what a side of the exchange does after its tries-th attempt
// without progress: yield, and every 64 tries sleep, so that on a machine
// whose cores are busy the peer process gets the CPU (a yield alone can
// leave it waiting for a whole time slice of the busy work).
func idle(tries int) {
	if tries%64 == 0 {
		time.Sleep(20 * time.Microsecond)
		return
	}
	runtime.Gosched()
}

func queueInterop(t *testing.T, peer string, capA, capB uint32, overflow, cCreates bool) {
	// Without overflow every value waits for the consumer: on two busy
	// cores a hand-over can cost a time slice of the busy work, so that
	// case moves fewer values (still thousands of hand-overs each way).
	n := uint64(20000)
	if !overflow {
		n = 2000
	}
	sizeA, sizeB := ring.QueueMemorySize(capA), ring.QueueMemorySize(capB)
	path, mem := sharedFile(t, lineSize+sizeA+sizeB)
	memA, memB := mem[lineSize:lineSize+sizeA], mem[lineSize+sizeA:]
	var a2b, b2a *ring.Queue
	var err error
	if !cCreates {
		if a2b, err = ring.NewQueue(memA, capA); err == nil {
			b2a, err = ring.NewQueue(memB, capB)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(peer, "queues", path, fmt.Sprint(capA), fmt.Sprint(capB), fmt.Sprint(n), b2i(overflow), b2i(cCreates))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if cCreates {
		deadline := time.Now().Add(10 * time.Second)
		for word(mem, 2).Load() == 0 { // SYNC POINT test-done: the peer's store after its inits
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("the C peer did not create the queues: %s", stderr.String())
			}
			time.Sleep(time.Millisecond)
		}
		if a2b, err = ring.AttachQueue(memA, capA); err == nil {
			b2a, err = ring.AttachQueue(memB, capB)
		}
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal(err)
		}
	}

	var wg sync.WaitGroup
	var goEvicted, goEvSum uint64
	var stop atomic.Bool // set when the test gives up: the producer must not spin on
	wg.Add(1)
	go func() { // the producer of a2b
		defer wg.Done()
		for v := uint64(1); v <= n && !stop.Load(); v++ {
			if overflow {
				if v%64 == 0 {
					runtime.Gosched() // let the consumer race the evictions
				}
				if old, over := a2b.PushOverflow(v); over {
					goEvicted++
					goEvSum += old
				}
			} else {
				for tries := 1; !a2b.Push(v); tries++ {
					if stop.Load() {
						return
					}
					idle(tries)
				}
			}
		}
		word(mem, 0).Store(1) // SYNC POINT test-done: after the last push
	}()
	var goPopped, goPopSum, last uint64
	orderErrs := 0
	// A generous bound: on two cores busy with other work, the exchange
	// of n values with yields takes seconds; it only stops a hung peer.
	deadline := time.Now().Add(120 * time.Second)
	timedOut := false
	for spins := 0; ; spins++ {
		done := word(mem, 1).Load() != 0 // SYNC POINT test-done: the peer's store after its last push
		v, ok := b2a.Pop()
		if ok {
			if v <= last {
				orderErrs++
			}
			last = v
			goPopped++
			goPopSum += v
			if goPopped%1000 == 0 {
				time.Sleep(50 * time.Microsecond) // let the C producer overflow
			}
			continue
		}
		if done {
			break
		}
		if spins%4096 == 0 && time.Now().After(deadline) {
			timedOut = true
			stop.Store(true)
			cmd.Process.Kill()
			break
		}
		idle(spins + 1)
	}
	wg.Wait()
	if timedOut {
		cmd.Wait()
		t.Fatalf("no progress within the deadline: Go popped %d of %d, last %d; peer: %s", goPopped, n, last, stderr.String())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ring_peer: %v\n%s", err, stderr.String())
	}
	var cPopped, cPopSum, cEvicted, cEvSum uint64
	var cOrderErrs int
	if _, err := fmt.Sscanf(stdout.String(), "popped %d %d evicted %d %d order_errors %d",
		&cPopped, &cPopSum, &cEvicted, &cEvSum, &cOrderErrs); err != nil {
		t.Fatalf("peer said %q: %v", stdout.String(), err)
	}
	sum := n * (n + 1) / 2
	t.Logf("Go->C: C popped %d, Go evicted %d; C->Go: Go popped %d, C evicted %d", cPopped, goEvicted, goPopped, cEvicted)
	if cPopped+goEvicted != n || cPopSum+goEvSum != sum {
		t.Errorf("Go->C: C popped %d (sum %d) + Go evicted %d (sum %d), want %d values (sum %d)", cPopped, cPopSum, goEvicted, goEvSum, n, sum)
	}
	if goPopped+cEvicted != n || goPopSum+cEvSum != sum {
		t.Errorf("C->Go: Go popped %d (sum %d) + C evicted %d (sum %d), want %d values (sum %d)", goPopped, goPopSum, cEvicted, cEvSum, n, sum)
	}
	if orderErrs != 0 || cOrderErrs != 0 {
		t.Errorf("out of order: %d pops in Go, %d in C", orderErrs, cOrderErrs)
	}
	if overflow && (goEvicted == 0 || cEvicted == 0) {
		t.Errorf("no overflow happened (Go evicted %d, C evicted %d): the test did not test it", goEvicted, cEvicted)
	}
	if !overflow && (goEvicted != 0 || cEvicted != 0) {
		t.Errorf("evictions without overflow")
	}
}

func b2i(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// TestRingPoolInterop: Go and C take indices from and give them back to one
// pool at the same time; at the end every index is free or held by exactly
// one side.
func TestRingPoolInterop(t *testing.T) {
	peer := ringPeer(t)
	const n = 64
	path, mem := sharedFile(t, lineSize+ring.PoolMemorySize(n))
	p, err := ring.NewPool(mem[lineSize:], n, true)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(peer, "pool", path, fmt.Sprint(n), "200000")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var held []uint32
	for r := 0; r < 200000; r++ {
		for k := 0; k < 3; k++ {
			if i, ok := p.Get(); ok {
				held = append(held, i)
			}
		}
		for len(held) > 1 {
			if !p.Put(held[len(held)-1]) {
				t.Fatalf("put of %d refused", held[len(held)-1])
			}
			held = held[:len(held)-1]
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ring_peer: %v\n%s", err, stderr.String())
	}
	sc := bufio.NewScanner(&stdout)
	sc.Split(bufio.ScanWords)
	sc.Scan() // "held"
	for sc.Scan() {
		i, err := strconv.ParseUint(sc.Text(), 10, 32)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, uint32(i))
	}
	for {
		i, ok := p.Get()
		if !ok {
			break
		}
		held = append(held, i)
	}
	sort.Slice(held, func(a, b int) bool { return held[a] < held[b] })
	if len(held) != n {
		t.Fatalf("%d indices accounted for, want %d: %v", len(held), n, held)
	}
	for k, i := range held {
		if i != uint32(k) {
			t.Fatalf("index %d missing or twice: %v", k, held)
		}
	}
}

// TestRingBitSetInterop: C sets bits of a bitset that Go created; Go
// drains them.
func TestRingBitSetInterop(t *testing.T) {
	peer := ringPeer(t)
	const n = 200
	path, mem := sharedFile(t, lineSize+ring.BitSetMemorySize(n))
	b, err := ring.NewBitSet(mem[lineSize:], n)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(peer, "bitset", path, fmt.Sprint(n), "0", "63", "64", "199", "200", "5000").CombinedOutput(); err != nil {
		t.Fatalf("ring_peer: %v\n%s", err, out)
	}
	var got []uint32
	b.Drain(func(i uint32) { got = append(got, i) })
	if fmt.Sprint(got) != "[0 63 64 199]" {
		t.Fatalf("drained %v, want [0 63 64 199]", got)
	}
}
