package ringtest

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iox2go/iox2go/runtime/ring"
)

// newQueue creates a queue in the creator view (the producer's handle) and
// attaches to it through the opener view (the consumer's handle).
func newQueue(t *testing.T, mem MemoryFactory, capacity uint32) (prod, cons *ring.Queue, cm, om []byte) {
	t.Helper()
	cm, om = mem(t, ring.QueueMemorySize(capacity))
	prod, err := ring.NewQueue(cm, capacity)
	if err != nil {
		t.Fatalf("NewQueue(capacity %d): %v", capacity, err)
	}
	cons, err = ring.AttachQueue(om, capacity)
	if err != nil {
		t.Fatalf("AttachQueue(capacity %d): %v", capacity, err)
	}
	return prod, cons, cm, om
}

func mustPop(t *testing.T, q *ring.Queue, want uint64) {
	t.Helper()
	if v, ok := q.Pop(); !ok || v != want {
		t.Fatalf("Pop() = %d, %v; want %d, true", v, ok, want)
	}
}

func mustBeEmpty(t *testing.T, q *ring.Queue) {
	t.Helper()
	if v, ok := q.Pop(); ok {
		t.Fatalf("Pop() = %d, true; want empty", v)
	}
	if !q.IsEmpty() || q.Len() != 0 {
		t.Fatalf("IsEmpty() = %v, Len() = %d; want true, 0", q.IsEmpty(), q.Len())
	}
}

func runQueue(t *testing.T, mem MemoryFactory) {
	t.Run("a new queue is empty and has the requested capacity", func(t *testing.T) {
		for _, c := range []uint32{1, 2, 3, 4, 7, 8, 9, 100} {
			p, q, _, _ := newQueue(t, mem, c)
			if p.Cap() != int(c) || q.Cap() != int(c) {
				t.Errorf("capacity %d: Cap() = %d (creator), %d (opener)", c, p.Cap(), q.Cap())
			}
			mustBeEmpty(t, q)
			mustBeEmpty(t, p)
		}
	})

	t.Run("pop returns the values in push order across many wrap-arounds", func(t *testing.T) {
		const c = 5
		p, q, _, _ := newQueue(t, mem, c)
		next, want := uint64(1), uint64(1)
		for round := range 100 {
			k := round%c + 1
			for range k {
				if !p.Push(next) {
					t.Fatalf("round %d: Push(%d) = false with %d of %d elements", round, next, q.Len(), c)
				}
				next++
			}
			if q.Len() != k || q.IsEmpty() {
				t.Fatalf("round %d: Len() = %d, IsEmpty() = %v after %d pushes", round, q.Len(), q.IsEmpty(), k)
			}
			for range k {
				mustPop(t, q, want)
				want++
			}
			mustBeEmpty(t, q)
		}
	})

	t.Run("push reports false at capacity and has no effect", func(t *testing.T) {
		for _, c := range []uint32{1, 2, 3, 4, 8} {
			p, q, _, _ := newQueue(t, mem, c)
			for v := range uint64(c) {
				if !p.Push(v + 10) {
					t.Fatalf("capacity %d: Push #%d = false", c, v)
				}
			}
			if p.Push(99) {
				t.Fatalf("capacity %d: Push on a full queue = true", c)
			}
			if q.Len() != int(c) {
				t.Fatalf("capacity %d: Len() = %d when full", c, q.Len())
			}
			for v := range uint64(c) {
				mustPop(t, q, v+10)
			}
			mustBeEmpty(t, q)
			if !p.Push(7) {
				t.Fatalf("capacity %d: Push after draining = false", c)
			}
			mustPop(t, q, 7)
		}
	})

	t.Run("push overflow evicts exactly the oldest element", func(t *testing.T) {
		for _, c := range []uint32{1, 2, 3, 4, 7, 8} {
			p, q, _, _ := newQueue(t, mem, c)
			next := uint64(1)
			for range c {
				if e, ok := p.PushOverflow(next); ok {
					t.Fatalf("capacity %d: PushOverflow(%d) evicted %d from a queue that was not full", c, next, e)
				}
				next++
			}
			oldest := uint64(1)
			for range 3*c + 1 {
				e, ok := p.PushOverflow(next)
				if !ok || e != oldest {
					t.Fatalf("capacity %d: PushOverflow(%d) = %d, %v; want %d, true", c, next, e, ok, oldest)
				}
				if q.Len() != int(c) {
					t.Fatalf("capacity %d: Len() = %d after an overflow", c, q.Len())
				}
				next++
				oldest++
			}
			for v := oldest; v < next; v++ {
				mustPop(t, q, v)
			}
			mustBeEmpty(t, q)
		}
	})

	t.Run("push overflow evicts nothing when the queue is not full", func(t *testing.T) {
		p, q, _, _ := newQueue(t, mem, 4)
		for v := range uint64(50) {
			if e, ok := p.PushOverflow(v); ok {
				t.Fatalf("PushOverflow(%d) evicted %d", v, e)
			}
			if v%3 == 2 {
				for w := v - 2; w <= v; w++ {
					mustPop(t, q, w)
				}
			}
		}
	})

	t.Run("a queue of capacity one holds one element", func(t *testing.T) {
		p, q, _, _ := newQueue(t, mem, 1)
		for v := range uint64(20) {
			if !p.Push(v) || p.Push(100) {
				t.Fatalf("Push into capacity 1 accepted the wrong number of elements")
			}
			if e, ok := p.PushOverflow(v + 1000); !ok || e != v {
				t.Fatalf("PushOverflow = %d, %v; want %d, true", e, ok, v)
			}
			mustPop(t, q, v+1000)
			mustBeEmpty(t, q)
		}
	})

	t.Run("a queue of capacity one cannot hold the largest value and says so", func(t *testing.T) {
		const top = 1<<64 - 1
		p, q, _, _ := newQueue(t, mem, 1)
		if p.Push(top) {
			t.Fatal("Push(1<<64-1) into capacity 1 = true")
		}
		mustBeEmpty(t, q)
		if e, ok := p.PushOverflow(top); !ok || e != top {
			t.Fatalf("PushOverflow(1<<64-1) into an empty capacity 1 = %d, %v; want it back", e, ok)
		}
		mustBeEmpty(t, q)
		if !p.Push(top - 1) {
			t.Fatal("Push(1<<64-2) into capacity 1 = false")
		}
		if e, ok := p.PushOverflow(top); !ok || e != top {
			t.Fatalf("PushOverflow(1<<64-1) into a full capacity 1 = %d, %v; want it back", e, ok)
		}
		mustPop(t, q, top-1) // the element it held is untouched
		mustBeEmpty(t, q)
		// Larger queues hold every value.
		p, q, _, _ = newQueue(t, mem, 2)
		if !p.Push(top) {
			t.Fatal("Push(1<<64-1) into capacity 2 = false")
		}
		mustPop(t, q, top)
	})

	t.Run("random operations agree with a reference queue", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, c := range []uint32{1, 2, 3, 5, 8, 13} {
			p, q, _, _ := newQueue(t, mem, c)
			var model []uint64
			next := uint64(1)
			for op := range scale(20000) {
				switch rng.IntN(3) {
				case 0:
					ok := p.Push(next)
					if ok != (len(model) < int(c)) {
						t.Fatalf("capacity %d op %d: Push = %v with %d elements", c, op, ok, len(model))
					}
					if ok {
						model = append(model, next)
					}
				case 1:
					e, ok := p.PushOverflow(next)
					if full := len(model) == int(c); ok != full || (full && e != model[0]) {
						t.Fatalf("capacity %d op %d: PushOverflow = %d, %v with %v", c, op, e, ok, model)
					}
					if ok {
						model = model[1:]
					}
					model = append(model, next)
				default:
					v, ok := q.Pop()
					if ok != (len(model) > 0) || (ok && v != model[0]) {
						t.Fatalf("capacity %d op %d: Pop = %d, %v with %v", c, op, v, ok, model)
					}
					if ok {
						model = model[1:]
					}
				}
				next++
				if q.Len() != len(model) || p.Len() != len(model) || q.IsEmpty() != (len(model) == 0) {
					t.Fatalf("capacity %d op %d: Len = %d, IsEmpty = %v; want %d", c, op, q.Len(), q.IsEmpty(), len(model))
				}
			}
		}
	})

	t.Run("attach fails when the expected capacity differs", func(t *testing.T) {
		_, _, _, om := newQueue(t, mem, 8)
		for _, c := range []uint32{1, 4, 7} {
			_, err := ring.AttachQueue(om, c)
			checkErr(t, "AttachQueue with another capacity", err, ring.ErrCapacityMismatch)
		}
	})

	t.Run("attach fails on memory that holds no queue", func(t *testing.T) {
		_, om := mem(t, max(ring.QueueMemorySize(8), ring.PoolMemorySize(8), ring.BitSetMemorySize(8)))
		_, err := ring.AttachQueue(om, 8)
		checkErr(t, "AttachQueue on zeroed memory", err, ring.ErrNotInitialized)
		cm, om := mem(t, ring.PoolMemorySize(8)+ring.QueueMemorySize(8))
		if _, err := ring.NewPool(cm, 8, true); err != nil {
			t.Fatal(err)
		}
		_, err = ring.AttachQueue(om, 8)
		checkErr(t, "AttachQueue on a pool", err, ring.ErrNotInitialized)
	})

	t.Run("constructors reject bad capacities and bad memory", func(t *testing.T) {
		sizes(t, "Queue", ring.QueueMemorySize)
		m, _ := mem(t, ring.QueueMemorySize(badCap)+8)
		badMemory(t, m, ring.QueueMemorySize, func(m []byte, c uint32) error { _, err := ring.NewQueue(m, c); return err })
		if _, err := ring.NewQueue(m, badCap); err != nil {
			t.Fatal(err)
		}
		badMemory(t, m, ring.QueueMemorySize, func(m []byte, c uint32) error { _, err := ring.AttachQueue(m, c); return err })
	})

	t.Run("handles of the same role can take turns", func(t *testing.T) {
		p1, c1, cm, om := newQueue(t, mem, 3)
		p2, err := ring.AttachQueue(om, 3)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ring.AttachQueue(cm, 3)
		if err != nil {
			t.Fatal(err)
		}
		prods, conss := []*ring.Queue{p1, p2}, []*ring.Queue{c1, c2}
		var model []uint64
		for v := range uint64(200) {
			p := prods[v/3%2]
			if e, ok := p.PushOverflow(v); ok != (len(model) == 3) || (ok && e != model[0]) {
				t.Fatalf("PushOverflow(%d) = %d, %v with %v", v, e, ok, model)
			} else if ok {
				model = model[1:]
			}
			model = append(model, v)
			if v%5 == 0 {
				q := conss[v/7%2]
				x, ok := q.Pop()
				if !ok || x != model[0] {
					t.Fatalf("Pop() = %d, %v with %v", x, ok, model)
				}
				model = model[1:]
			}
		}
	})

	for _, tc := range []struct {
		name     string
		capacity uint32
		mode     pushMode
	}{
		{"every pushed element is popped exactly once and in order under concurrency", 8, pushOnly},
		{"every element is popped or evicted exactly once under concurrency", 4, overflowOnly},
		{"mixed push and push overflow lose and duplicate nothing under concurrency", 3, mixed},
		{"a queue of capacity one pops or evicts every element exactly once under concurrency", 1, overflowOnly},
		{"a queue of capacity one pops every pushed element exactly once and in order under concurrency", 1, pushOnly},
		{"a queue of capacity one loses and duplicates nothing with mixed pushes under concurrency", 1, mixed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			queueConcurrent(t, mem, tc.capacity, scale(100000), tc.mode)
		})
	}

	t.Run("hostile memory never makes an operation panic", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, c := range []uint32{1, 2, 3, 4, 6} {
			p, q, cm, om := newQueue(t, mem, c)
			for range scale(3000) {
				scribble(rng, cm, 1+rng.IntN(3))
				for range 8 {
					switch rng.IntN(3) {
					case 0:
						p.Push(rng.Uint64())
					case 1:
						p.PushOverflow(rng.Uint64())
					default:
						q.Pop()
					}
					if n := q.Len(); n < 0 || n > int(c) {
						t.Fatalf("Len() = %d out of 0..%d", n, c)
					}
					q.IsEmpty()
					if q.Cap() != int(c) {
						t.Fatalf("Cap() = %d, want %d", q.Cap(), c)
					}
				}
				if a, err := ring.AttachQueue(om, c); err == nil {
					a.Pop()
					a.PushOverflow(1)
				}
			}
		}
	})

	t.Run("hostile memory written concurrently never makes an operation panic", func(t *testing.T) {
		p, q, cm, _ := newQueue(t, mem, 4)
		hostileConcurrently(t, cm, func(stop *atomic.Bool) {
			for i := 0; !stop.Load(); i++ {
				if i%2 == 0 {
					p.Push(uint64(i))
				} else {
					p.PushOverflow(uint64(i))
				}
			}
		}, func(stop *atomic.Bool) {
			for !stop.Load() {
				q.Pop()
				q.Len()
			}
		})
	})

	t.Run("push, push overflow and pop allocate nothing", func(t *testing.T) {
		p, q, _, _ := newQueue(t, mem, 4)
		runAllocs(t, "Push+Pop", func() { p.Push(1); q.Pop() })
		runAllocs(t, "PushOverflow", func() { p.PushOverflow(2) })
		runAllocs(t, "Pop", func() { q.Pop() })
		runAllocs(t, "Len+IsEmpty", func() { _ = q.Len() + q.Cap(); q.IsEmpty() })
	})
}

type pushMode int

const (
	pushOnly pushMode = iota
	overflowOnly
	mixed
)

// queueConcurrent pushes 1, 2, ... from a producer goroutine while a consumer
// goroutine pops, and checks that every value is popped or evicted exactly
// once, in order within each stream. The producer pushes at least n values,
// and goes on (up to 20n) until the consumer has popped n/4 of them, so that
// the two really overlap even when the scheduler runs them one after the
// other at first.
func queueConcurrent(t *testing.T, mem MemoryFactory, capacity uint32, n int, mode pushMode) {
	p, q, _, _ := newQueue(t, mem, capacity)
	popped := make([]uint64, 0, n)
	evicted := make([]uint64, 0, n)
	var done atomic.Bool
	var consumed atomic.Int64
	start := startTogether(2)
	total := 0
	var wg sync.WaitGroup
	wg.Go(func() { // the producer
		start()
		var bo backoff
		state := uint64(0)
		v := uint64(1)
		for ; v <= uint64(n) || (consumed.Load() < int64(n/4) && v <= 20*uint64(n)); v++ {
			jitter(&state, v)
			if mode == overflowOnly || (mode == mixed && v%2 == 0) {
				if e, ok := p.PushOverflow(v); ok {
					evicted = append(evicted, e)
				}
				continue
			}
			for !p.Push(v) {
				bo.wait()
			}
			bo.reset()
		}
		total = int(v - 1)
		sink.Add(state)
		done.Store(true)
	})
	wg.Go(func() { // the consumer
		start()
		var bo backoff
		state := uint64(0)
		for {
			if v, ok := q.Pop(); ok {
				popped = append(popped, v)
				consumed.Store(int64(len(popped)))
				bo.reset()
				jitter(&state, v*3)
				continue
			}
			if done.Load() { // every push happened before: drain and stop
				sink.Add(state)
				for v, ok := q.Pop(); ok; v, ok = q.Pop() {
					popped = append(popped, v)
				}
				return
			}
			bo.wait()
		}
	})
	wg.Wait()
	exactlyOnce(t, total, map[string][]uint64{"popped": popped, "evicted": evicted})
	t.Logf("capacity %d: %d pushed, %d popped, %d evicted", capacity, total, len(popped), len(evicted))
}

// jitter delays a goroutine now and then by a varying amount, so that the
// producer and the consumer of a test take turns being the faster one and
// the eviction race of PushOverflow and Pop happens often. It works on the
// goroutine's own state, so that it adds no contention of its own.
func jitter(state *uint64, x uint64) {
	x *= 0x9e3779b97f4a7c15
	if x>>60 != 0 { // 1 in 16
		return
	}
	for i := range x >> 54 & 63 {
		*state = *state*31 + i
	}
}

// sink keeps the work of jitter from being optimized away.
var sink atomic.Uint64

// hostileConcurrently runs the given loops while another goroutine scribbles
// over mem, for a short while. The loops must return once stop is set.
func hostileConcurrently(t *testing.T, mem []byte, loops ...func(stop *atomic.Bool)) {
	var stop atomic.Bool
	var wg sync.WaitGroup
	for _, f := range loops {
		wg.Go(func() { f(&stop) })
	}
	rng := rand.New(rand.NewPCG(5, 6))
	deadline := time.Now().Add(100 * time.Millisecond)
	for i := 0; time.Now().Before(deadline); i++ {
		scribble(rng, mem, 1)
		if i%16 == 0 {
			runtime.Gosched()
		}
	}
	stop.Store(true)
	wg.Wait()
}
