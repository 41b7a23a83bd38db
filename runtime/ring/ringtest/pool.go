package ringtest

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/iox2go/iox2go/runtime/ring"
)

// newPool creates a pool in the creator view and attaches to it through the
// opener view.
func newPool(t *testing.T, mem MemoryFactory, n uint32, full bool) (creator, opener *ring.Pool, cm, om []byte) {
	t.Helper()
	cm, om = mem(t, ring.PoolMemorySize(n))
	creator, err := ring.NewPool(cm, n, full)
	if err != nil {
		t.Fatalf("NewPool(%d, %v): %v", n, full, err)
	}
	opener, err = ring.AttachPool(om, n)
	if err != nil {
		t.Fatalf("AttachPool(%d): %v", n, err)
	}
	return creator, opener, cm, om
}

// getAll takes every free index and checks that each is in range and
// returned once.
func getAll(t *testing.T, p *ring.Pool) []uint32 {
	t.Helper()
	var got []uint32
	seen := make([]bool, p.Cap())
	for {
		i, ok := p.Get()
		if !ok {
			return got
		}
		if int(i) >= p.Cap() || seen[i] {
			t.Fatalf("Get() = %d: out of range or returned twice (got %v)", i, got)
		}
		seen[i] = true
		got = append(got, i)
	}
}

func runPool(t *testing.T, mem MemoryFactory) {
	t.Run("a full pool gives each index exactly once in increasing order", func(t *testing.T) {
		for _, n := range []uint32{1, 2, 3, 64, 1000} {
			c, o, _, _ := newPool(t, mem, n, true)
			if c.Len() != int(n) || o.Cap() != int(n) {
				t.Fatalf("n %d: Len() = %d, Cap() = %d", n, c.Len(), o.Cap())
			}
			got := getAll(t, o)
			if len(got) != int(n) {
				t.Fatalf("n %d: got %d indices", n, len(got))
			}
			for k, i := range got {
				if i != uint32(k) {
					t.Fatalf("n %d: Get #%d = %d, want %d", n, k, i, k)
				}
			}
			if c.Len() != 0 {
				t.Fatalf("n %d: Len() = %d when empty", n, c.Len())
			}
		}
	})

	t.Run("an empty pool is empty until an index is put", func(t *testing.T) {
		c, o, _, _ := newPool(t, mem, 10, false)
		if i, ok := o.Get(); ok || c.Len() != 0 {
			t.Fatalf("Get() = %d, %v; Len() = %d; want empty", i, ok, c.Len())
		}
		for _, i := range []uint32{7, 3, 9} {
			if !c.Put(i) {
				t.Fatalf("Put(%d) = false", i)
			}
		}
		if c.Len() != 3 {
			t.Fatalf("Len() = %d, want 3", c.Len())
		}
		for _, want := range []uint32{9, 3, 7} { // a stack
			if i, ok := o.Get(); !ok || i != want {
				t.Fatalf("Get() = %d, %v; want %d", i, ok, want)
			}
		}
		if _, ok := o.Get(); ok {
			t.Fatal("Get() on an empty pool = true")
		}
	})

	t.Run("put rejects out-of-range indices and detected double frees", func(t *testing.T) {
		c, _, _, _ := newPool(t, mem, 4, true)
		for _, i := range []uint32{4, 5, 1 << 24, ^uint32(0)} {
			if c.Put(i) {
				t.Errorf("Put(%d) on a pool of 4 = true", i)
			}
		}
		if c.Put(0) || c.Put(3) {
			t.Error("Put on a full pool = true")
		}
		i, _ := c.Get()
		if !c.Put(i) || c.Put(i) {
			t.Error("Put of the top free index twice: want true then false")
		}
		if c.Len() != 4 {
			t.Errorf("Len() = %d, want 4", c.Len())
		}
		if got := getAll(t, c); len(got) != 4 {
			t.Errorf("got %v after rejected puts, want 4 indices", got)
		}
	})

	t.Run("get and put in any order keep every index exactly once", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		const n = 16
		c, o, _, _ := newPool(t, mem, n, true)
		var held []uint32
		for range scale(20000) {
			p := c
			if rng.IntN(2) == 0 {
				p = o
			}
			if len(held) > 0 && rng.IntN(2) == 0 {
				k := rng.IntN(len(held))
				if !p.Put(held[k]) {
					t.Fatalf("Put(%d) = false", held[k])
				}
				held[k] = held[len(held)-1]
				held = held[:len(held)-1]
			} else if i, ok := p.Get(); ok != (len(held) < n) {
				t.Fatalf("Get() = %d, %v while holding %d of %d", i, ok, len(held), n)
			} else if ok {
				held = append(held, i)
			}
			if p.Len() != n-len(held) {
				t.Fatalf("Len() = %d while holding %d of %d", p.Len(), len(held), n)
			}
		}
		for _, i := range held {
			c.Put(i)
		}
		if got := getAll(t, o); len(got) != n {
			t.Fatalf("got %d indices back, want %d", len(got), n)
		}
	})

	t.Run("attach fails when the expected size differs", func(t *testing.T) {
		_, _, _, om := newPool(t, mem, 8, true)
		_, err := ring.AttachPool(om, 7)
		checkErr(t, "AttachPool with another size", err, ring.ErrCapacityMismatch)
	})

	t.Run("attach fails on memory that holds no pool", func(t *testing.T) {
		_, om := mem(t, ring.PoolMemorySize(8))
		_, err := ring.AttachPool(om, 8)
		checkErr(t, "AttachPool on zeroed memory", err, ring.ErrNotInitialized)
		cm, om := mem(t, ring.PoolMemorySize(8)+ring.BitSetMemorySize(8))
		if _, err := ring.NewBitSet(cm, 8); err != nil {
			t.Fatal(err)
		}
		_, err = ring.AttachPool(om, 8)
		checkErr(t, "AttachPool on a bitset", err, ring.ErrNotInitialized)
	})

	t.Run("constructors reject bad sizes and bad memory", func(t *testing.T) {
		sizes(t, "Pool", ring.PoolMemorySize)
		m, _ := mem(t, ring.PoolMemorySize(badCap)+8)
		badMemory(t, m, ring.PoolMemorySize, func(m []byte, c uint32) error { _, err := ring.NewPool(m, c, true); return err })
		if _, err := ring.NewPool(m, badCap, true); err != nil {
			t.Fatal(err)
		}
		badMemory(t, m, ring.PoolMemorySize, func(m []byte, c uint32) error { _, err := ring.AttachPool(m, c); return err })
	})

	for _, tc := range []struct {
		name       string
		n          uint32
		goroutines int
	}{
		{"no index is held twice under concurrency with few indices", 4, 4},
		{"no index is held twice under concurrency with many indices", 64, 4},
	} {
		t.Run(tc.name, func(t *testing.T) { poolConcurrent(t, mem, tc.n, tc.goroutines, scale(20000)) })
	}

	t.Run("hostile memory never makes an operation panic or return an index out of range", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 10))
		for _, n := range []uint32{1, 2, 5, 64} {
			c, o, cm, om := newPool(t, mem, n, true)
			for range scale(3000) {
				scribble(rng, cm, 1+rng.IntN(3))
				for range 8 {
					if rng.IntN(2) == 0 {
						if i, ok := o.Get(); ok && i >= n {
							t.Fatalf("Get() = %d on a pool of %d", i, n)
						}
					} else {
						c.Put(uint32(rng.IntN(int(n) + 2)))
					}
					if l := c.Len(); l < 0 || l > int(n) {
						t.Fatalf("Len() = %d out of 0..%d", l, n)
					}
				}
				if a, err := ring.AttachPool(om, n); err == nil {
					if i, ok := a.Get(); ok && i >= n {
						t.Fatalf("Get() = %d on a pool of %d", i, n)
					}
				}
			}
		}
	})

	t.Run("hostile memory written concurrently never makes an operation panic", func(t *testing.T) {
		const n = 8
		c, o, cm, _ := newPool(t, mem, n, true)
		loop := func(p *ring.Pool) func(*atomic.Bool) {
			return func(stop *atomic.Bool) {
				for k := 0; !stop.Load(); k++ {
					if i, ok := p.Get(); ok {
						if i >= n {
							t.Errorf("Get() = %d on a pool of %d", i, n)
							return
						}
						p.Put(i)
					} else {
						p.Put(uint32(k % (n + 1)))
					}
				}
			}
		}
		hostileConcurrently(t, cm, loop(c), loop(o))
	})

	t.Run("get and put allocate nothing", func(t *testing.T) {
		c, o, _, _ := newPool(t, mem, 4, true)
		runAllocs(t, "Get+Put", func() {
			i, _ := o.Get()
			c.Put(i)
		})
		runAllocs(t, "Len", func() { _ = c.Len() + c.Cap() })
	})
}

// poolConcurrent runs goroutines that each get up to three indices, check
// that no one else holds them, and put them back; then it checks that every
// index is free again.
func poolConcurrent(t *testing.T, mem MemoryFactory, n uint32, goroutines, iterations int) {
	c, o, _, _ := newPool(t, mem, n, true)
	holder := make([]atomic.Int32, n)
	var failures atomic.Int32
	fail := func(format string, args ...any) {
		if failures.Add(1) <= 10 {
			t.Errorf(format, args...)
		}
	}
	var wg sync.WaitGroup
	start := startTogether(goroutines)
	for g := range goroutines {
		p := c
		if g%2 == 1 {
			p = o
		}
		wg.Go(func() {
			start()
			var held [3]uint32
			var bo backoff
			for it := range iterations {
				k := 0
				for range it%3 + 1 {
					i, ok := p.Get()
					if !ok {
						bo.wait()
						continue
					}
					bo.reset()
					if i >= n {
						fail("Get() = %d on a pool of %d", i, n)
						return
					}
					if !holder[i].CompareAndSwap(0, int32(g+1)) {
						fail("index %d handed to goroutine %d while goroutine %d holds it", i, g+1, holder[i].Load())
						return
					}
					held[k] = i
					k++
				}
				for _, i := range held[:k] {
					holder[i].Store(0)
					if !p.Put(i) {
						fail("Put(%d) = false", i)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if c.Len() != int(n) {
		t.Errorf("Len() = %d after every index was put back, want %d", c.Len(), n)
	}
	if got := getAll(t, o); len(got) != int(n) {
		t.Errorf("got %d indices back, want %d", len(got), n)
	}
}
