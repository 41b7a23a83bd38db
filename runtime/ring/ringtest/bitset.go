package ringtest

import (
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/iox2go/iox2go/runtime/ring"
)

// newBitSet creates a bitset in the creator view and attaches to it through
// the opener view.
func newBitSet(t *testing.T, mem MemoryFactory, n uint32) (creator, opener *ring.BitSet, cm, om []byte) {
	t.Helper()
	cm, om = mem(t, ring.BitSetMemorySize(n))
	creator, err := ring.NewBitSet(cm, n)
	if err != nil {
		t.Fatalf("NewBitSet(%d): %v", n, err)
	}
	opener, err = ring.AttachBitSet(om, n)
	if err != nil {
		t.Fatalf("AttachBitSet(%d): %v", n, err)
	}
	return creator, opener, cm, om
}

func drain(b *ring.BitSet) []uint32 {
	var got []uint32
	b.Drain(func(i uint32) { got = append(got, i) })
	return got
}

func runBitSet(t *testing.T, mem MemoryFactory) {
	t.Run("set, clear and test report the state of the bit", func(t *testing.T) {
		for _, n := range []uint32{1, 63, 64, 65, 200} {
			c, o, _, _ := newBitSet(t, mem, n)
			if c.Len() != int(n) || o.Any() {
				t.Fatalf("n %d: Len() = %d, Any() = %v", n, c.Len(), o.Any())
			}
			for i := range n {
				if o.Test(i) || c.Set(i) || !o.Test(i) || !c.Set(i) || !o.Any() {
					t.Fatalf("n %d: Set/Test of bit %d wrong", n, i)
				}
				if !o.Clear(i) || o.Test(i) || o.Clear(i) || o.Any() {
					t.Fatalf("n %d: Clear/Test of bit %d wrong", n, i)
				}
			}
		}
	})

	t.Run("bits out of range are ignored", func(t *testing.T) {
		c, _, _, _ := newBitSet(t, mem, 70)
		for _, i := range []uint32{70, 71, 127, 128, 1 << 30, ^uint32(0)} {
			if c.Set(i) || c.Set(i) || c.Test(i) || c.Clear(i) {
				t.Errorf("bit %d of 70 not ignored", i)
			}
		}
		if got := drain(c); len(got) != 0 || c.Any() {
			t.Errorf("Drain() = %v after out-of-range sets", got)
		}
	})

	t.Run("drain takes every set bit in increasing order", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, n := range []uint32{1, 64, 65, 300} {
			c, o, _, _ := newBitSet(t, mem, n)
			for range 50 {
				var want []uint32
				for i := range n {
					if rng.IntN(3) == 0 {
						c.Set(i)
						want = append(want, i)
					}
				}
				if got := drain(o); !slices.Equal(got, want) {
					t.Fatalf("n %d: Drain() = %v, want %v", n, got, want)
				}
				if got := drain(o); len(got) != 0 || c.Any() {
					t.Fatalf("n %d: second Drain() = %v, want nothing", n, got)
				}
			}
		}
	})

	t.Run("attach fails when the expected size differs", func(t *testing.T) {
		_, _, _, om := newBitSet(t, mem, 100)
		_, err := ring.AttachBitSet(om, 99)
		checkErr(t, "AttachBitSet with another size", err, ring.ErrCapacityMismatch)
	})

	t.Run("attach fails on memory that holds no bitset", func(t *testing.T) {
		_, om := mem(t, ring.BitSetMemorySize(8))
		_, err := ring.AttachBitSet(om, 8)
		checkErr(t, "AttachBitSet on zeroed memory", err, ring.ErrNotInitialized)
		cm, om := mem(t, ring.QueueMemorySize(8))
		if _, err := ring.NewQueue(cm, 8); err != nil {
			t.Fatal(err)
		}
		_, err = ring.AttachBitSet(om, 8)
		checkErr(t, "AttachBitSet on a queue", err, ring.ErrNotInitialized)
	})

	t.Run("constructors reject bad sizes and bad memory", func(t *testing.T) {
		sizes(t, "BitSet", ring.BitSetMemorySize)
		m, _ := mem(t, ring.BitSetMemorySize(badCap)+8)
		badMemory(t, m, ring.BitSetMemorySize, func(m []byte, c uint32) error { _, err := ring.NewBitSet(m, c); return err })
		if _, err := ring.NewBitSet(m, badCap); err != nil {
			t.Fatal(err)
		}
		badMemory(t, m, ring.BitSetMemorySize, func(m []byte, c uint32) error { _, err := ring.AttachBitSet(m, c); return err })
	})

	t.Run("every set bit is taken exactly once under concurrency", func(t *testing.T) {
		// Per bit, the sets that found it clear must equal the takes by
		// Drain and Clear.
		const n = 130
		c, o, _, _ := newBitSet(t, mem, n)
		const setters = 2
		iterations := scale(50000)
		var sets [setters][n]int
		var drained, cleared [n]int
		var done atomic.Bool
		var setWG, bgWG sync.WaitGroup
		start := startTogether(setters + 2)
		for s := range setters {
			setWG.Go(func() {
				start()
				rng := rand.New(rand.NewPCG(uint64(s), 13))
				for range iterations {
					i := uint32(rng.IntN(n))
					if !c.Set(i) {
						sets[s][i]++
					}
				}
			})
		}
		bgWG.Go(func() { // a clearer, competing with Drain
			start()
			rng := rand.New(rand.NewPCG(14, 15))
			var bo backoff
			for !done.Load() {
				if i := uint32(rng.IntN(n)); o.Clear(i) {
					cleared[i]++
				}
				bo.wait()
			}
		})
		bgWG.Go(func() {
			start()
			var bo backoff
			for !done.Load() {
				o.Drain(func(i uint32) { drained[i]++ })
				bo.wait()
			}
		})
		setWG.Wait()
		done.Store(true)
		bgWG.Wait()
		o.Drain(func(i uint32) { drained[i]++ })
		for i := range n {
			s := sets[0][i] + sets[1][i]
			if s != drained[i]+cleared[i] {
				t.Errorf("bit %d: set %d times, taken %d times (drained %d, cleared %d)", i, s, drained[i]+cleared[i], drained[i], cleared[i])
			}
		}
	})

	t.Run("hostile memory never makes an operation panic or report a bit out of range", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(16, 17))
		for _, n := range []uint32{1, 63, 64, 65, 130} {
			c, o, cm, om := newBitSet(t, mem, n)
			for range scale(2000) {
				scribble(rng, cm, 1+rng.IntN(3))
				c.Set(uint32(rng.IntN(int(n) + 2)))
				o.Clear(uint32(rng.IntN(int(n) + 2)))
				o.Test(uint32(rng.IntN(int(n) + 2)))
				o.Drain(func(i uint32) {
					if i >= n {
						t.Fatalf("Drain reported bit %d of %d", i, n)
					}
				})
				if o.Any() {
					t.Fatalf("Any() = true right after Drain")
				}
				if a, err := ring.AttachBitSet(om, n); err == nil {
					a.Drain(func(uint32) {})
				}
			}
		}
	})

	t.Run("set, clear, test and drain allocate nothing", func(t *testing.T) {
		c, o, _, _ := newBitSet(t, mem, 100)
		sum := uint32(0)
		runAllocs(t, "Set+Drain", func() {
			c.Set(3)
			c.Set(97)
			o.Drain(func(i uint32) { sum += i })
		})
		runAllocs(t, "Clear+Test+Any", func() {
			c.Set(5)
			o.Test(5)
			o.Clear(5)
			o.Any()
		})
	})
}
