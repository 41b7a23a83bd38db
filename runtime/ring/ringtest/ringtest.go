// Package ringtest is the conformance suite of package ring: every
// behavioural test of Queue, Pool and BitSet, run against one kind of memory.
//
// Each kind of memory (heap, shared mappings, ...) has a _test.go file that
// calls Run once with a MemoryFactory. The tests should not produce false
// positives, but may produce false negatives: concurrency bugs show up only
// in some interleavings, so run the suite with -race and -count=N (N > 1) to
// make the most of it.
package ringtest

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/ring"
)

// MemoryFactory returns two views, creator and opener, of the same size
// bytes of zeroed memory, each starting at an 8-byte-aligned address: the
// same slice for heap memory, two mappings of one object for shared memory.
// It releases the memory in t.Cleanup and fails the test when it cannot
// provide it.
type MemoryFactory func(t *testing.T, size int) (creator, opener []byte)

// Run runs the whole suite as subtests of t, each with its own memory from
// mem.
func Run(t *testing.T, mem MemoryFactory) {
	t.Run("Queue", func(t *testing.T) { runQueue(t, mem) })
	t.Run("Pool", func(t *testing.T) { runPool(t, mem) })
	t.Run("BitSet", func(t *testing.T) { runBitSet(t, mem) })
}

// scale returns n, n/4 under the race detector, a tenth of that in -short
// mode.
func scale(n int) int {
	if raceEnabled {
		n /= 4
	}
	if testing.Short() {
		n /= 10
	}
	return max(n, 1)
}

// words returns mem as atomic words, so that tests can play a hostile peer
// without data races.
func words(mem []byte) []atomic.Uint64 {
	return unsafe.Slice((*atomic.Uint64)(unsafe.Pointer(unsafe.SliceData(mem))), len(mem)/8)
}

// interesting returns a value that a hostile peer could write over the word
// w: random bits, a small number, a neighbour of the current value, or an
// extreme.
func interesting(rng *rand.Rand, w *atomic.Uint64) uint64 {
	switch rng.IntN(6) {
	case 0:
		return rng.Uint64()
	case 1:
		return rng.Uint64N(64)
	case 2:
		return w.Load() + rng.Uint64N(8)
	case 3:
		return w.Load() - rng.Uint64N(8)
	case 4:
		return ^uint64(0) - rng.Uint64N(4)
	default:
		return 1<<63 + rng.Uint64N(4) - 2
	}
}

// scribble overwrites k random words of mem, header included.
func scribble(rng *rand.Rand, mem []byte, k int) {
	ws := words(mem)
	for range k {
		w := &ws[rng.IntN(len(ws))]
		w.Store(interesting(rng, w))
	}
}

// checkErr reports an error unless err matches want.
func checkErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

// exactlyOnce checks that the values 1..n appear exactly once in the union of
// the streams, and in increasing order within each stream.
func exactlyOnce(t *testing.T, n int, streams map[string][]uint64) {
	t.Helper()
	seen := make([]uint8, n+1)
	bad := 0
	report := func(format string, args ...any) {
		if bad++; bad <= 10 {
			t.Errorf(format, args...)
		}
	}
	for name, s := range streams {
		for k, v := range s {
			if v == 0 || v > uint64(n) {
				report("%s[%d] = %d: never pushed", name, k, v)
				continue
			}
			if seen[v]++; seen[v] > 1 {
				report("%d returned twice (second time in %s[%d])", v, name, k)
			}
			if k > 0 && s[k-1] >= v {
				report("%s out of order: %d then %d", name, s[k-1], v)
			}
		}
	}
	for v := 1; v <= n; v++ {
		if seen[v] == 0 {
			report("%d lost: neither delivered nor evicted", v)
		}
	}
	if bad > 10 {
		t.Errorf("... and %d more errors", bad-10)
	}
}

func sizes(t *testing.T, what string, size func(uint32) int) {
	t.Helper()
	if s := size(0); s != 0 {
		t.Errorf("%sMemorySize(0) = %d, want 0", what, s)
	}
	if s := size(ring.MaxCapacity + 1); s != 0 {
		t.Errorf("%sMemorySize(MaxCapacity+1) = %d, want 0", what, s)
	}
	prev := 0
	for _, c := range []uint32{1, 2, 3, 63, 64, 65, 1000, ring.MaxCapacity} {
		s := size(c)
		if s < prev || s%8 != 0 || s < int(c)/8 {
			t.Errorf("%sMemorySize(%d) = %d (previous %d): want a multiple of 8 that grows with the capacity", what, c, s, prev)
		}
		prev = s
	}
}

// badMemory checks that a constructor or opener rejects bad capacities and
// bad memory; m holds size(badCap)+8 bytes. open is called with the memory
// and the capacity.
func badMemory(t *testing.T, m []byte, size func(uint32) int, open func([]byte, uint32) error) {
	t.Helper()
	const c = badCap
	checkErr(t, "capacity 0", open(m, 0), ring.ErrCapacity)
	checkErr(t, "capacity MaxCapacity+1", open(m, ring.MaxCapacity+1), ring.ErrCapacity)
	checkErr(t, "one byte short", open(m[:size(c)-1], c), ring.ErrTooSmall)
	checkErr(t, "nil memory", open(nil, c), ring.ErrTooSmall)
	checkErr(t, "misaligned memory", open(m[1:], c), ring.ErrMisaligned)
	checkErr(t, "misaligned memory", open(m[4:], c), ring.ErrMisaligned)
}

const badCap = 5

func runAllocs(t *testing.T, what string, f func()) {
	t.Helper()
	if n := testing.AllocsPerRun(1000, f); n != 0 {
		t.Errorf("%s allocates %v times per run, want 0", what, n)
	}
}

// startTogether returns a function that each of n goroutines calls first;
// it returns once all n have called it, so that their loops overlap.
func startTogether(n int) func() {
	var c atomic.Int64
	return func() {
		c.Add(1)
		for c.Load() < int64(n) {
			runtime.Gosched()
		}
	}
}

// backoff counts the consecutive failed attempts of a busy loop. It yields
// every so often, so that the other goroutine of a test progresses even on
// one CPU, and sleeps a little once the loop has spun for long, so that a
// loaded machine can run the other goroutine's thread.
type backoff int

// wait is called after each failed attempt.
func (b *backoff) wait() {
	*b++
	switch {
	case *b >= 1<<12 && *b%256 == 0:
		time.Sleep(20 * time.Microsecond)
	case *b%16 == 0:
		runtime.Gosched()
	}
}

// reset is called after each successful attempt.
func (b *backoff) reset() { *b = 0 }
