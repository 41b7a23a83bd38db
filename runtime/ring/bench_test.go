//go:build unix

package ring_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/iox2go/iox2go/runtime/ring"
)

// benchMemory is the memory of a benchmark: heap, or an anonymous MAP_SHARED
// mapping (what a shared segment is, minus the file).
var benchMemory = []struct {
	name  string
	alloc func(b *testing.B, size int) []byte
}{
	{"heap", func(b *testing.B, size int) []byte { return ring.NewHeapMemory(size) }},
	{"shared", func(b *testing.B, size int) []byte {
		m, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANON)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { unix.Munmap(m) })
		return m
	}},
}

func benchQueue(b *testing.B, alloc func(*testing.B, int) []byte, capacity uint32) (prod, cons *ring.Queue) {
	m := alloc(b, ring.QueueMemorySize(capacity))
	prod, err := ring.NewQueue(m, capacity)
	if err != nil {
		b.Fatal(err)
	}
	if cons, err = ring.AttachQueue(m, capacity); err != nil {
		b.Fatal(err)
	}
	return prod, cons
}

// BenchmarkQueuePushPop measures one Push and one Pop in one goroutine: the
// cost of the operations without any cache-line transfer.
func BenchmarkQueuePushPop(b *testing.B) {
	for _, mem := range benchMemory {
		b.Run(mem.name, func(b *testing.B) {
			p, q := benchQueue(b, mem.alloc, 16)
			for b.Loop() {
				p.Push(1)
				q.Pop()
			}
		})
	}
}

// BenchmarkQueuePushOverflow measures PushOverflow on a full queue: one
// eviction per call.
func BenchmarkQueuePushOverflow(b *testing.B) {
	p, _ := benchQueue(b, benchMemory[0].alloc, 2)
	for b.Loop() {
		p.PushOverflow(1)
	}
}

func spinPop(q *ring.Queue) uint64 {
	for {
		if v, ok := q.Pop(); ok {
			return v
		}
	}
}

// BenchmarkQueuePingPong sends a value through one queue and back through
// another, between two busy-polling goroutines, as iceoryx2's latency
// benchmark does between two processes. ns/op is a round trip; one-way-ns
// is half of it. Compare it with BenchmarkCacheLinePingPong run alongside:
// on a shared virtual machine the cost of moving a cache line between cores
// varies between runs, so only the ratio is meaningful.
func BenchmarkQueuePingPong(b *testing.B) {
	if runtime.GOMAXPROCS(0) < 2 {
		b.Skip("needs GOMAXPROCS >= 2 for busy-polling goroutines")
	}
	for _, mem := range benchMemory {
		b.Run(mem.name, func(b *testing.B) {
			queuePingPong(b, mem.alloc, func(q *ring.Queue, v uint64) { q.Push(v) })
		})
		// With safe overflow, as the runtime's default: PushOverflow
		// publishes before it looks at the read position.
		b.Run(mem.name+"-overflow", func(b *testing.B) {
			queuePingPong(b, mem.alloc, func(q *ring.Queue, v uint64) { q.PushOverflow(v) })
		})
	}
}

func queuePingPong(b *testing.B, alloc func(*testing.B, int) []byte, push func(*ring.Queue, uint64)) {
	a2bP, a2bC := benchQueue(b, alloc, 4)
	b2aP, b2aC := benchQueue(b, alloc, 4)
	var wg sync.WaitGroup
	wg.Go(func() { // the peer: echo until it receives 0
		for {
			v := spinPop(a2bC)
			push(b2aP, v)
			if v == 0 {
				return
			}
		}
	})
	v := uint64(1)
	for b.Loop() {
		push(a2bP, v)
		if spinPop(b2aC) != v {
			b.Fatal("wrong echo")
		}
		v++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/2, "one-way-ns")
	push(a2bP, 0)
	spinPop(b2aC)
	wg.Wait()
}

// BenchmarkTwoLinePingPong is the floor of a ping-pong over two queues: each
// side stores into one cache line and polls another, as the two queues'
// producers and consumers do, with nothing else.
func BenchmarkTwoLinePingPong(b *testing.B) {
	if runtime.GOMAXPROCS(0) < 2 {
		b.Skip("needs GOMAXPROCS >= 2 for busy-polling goroutines")
	}
	for _, mem := range benchMemory {
		b.Run(mem.name, func(b *testing.B) {
			m := mem.alloc(b, 256)
			x := (*atomic.Uint64)(unsafe.Pointer(&m[0]))
			y := (*atomic.Uint64)(unsafe.Pointer(&m[128]))
			var wg sync.WaitGroup
			wg.Go(func() { // echo x into y until ^0
				var last uint64
				for {
					if v := x.Load(); v != last {
						last = v
						y.Store(v)
						if v == ^uint64(0) {
							return
						}
					}
				}
			})
			v := uint64(1)
			for b.Loop() {
				x.Store(v)
				for y.Load() != v {
				}
				v++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/2, "one-way-ns")
			x.Store(^uint64(0))
			wg.Wait()
		})
	}
}

// BenchmarkCacheLinePingPong is the floor of BenchmarkQueuePingPong: two
// goroutines hand one word back and forth.
func BenchmarkCacheLinePingPong(b *testing.B) {
	if runtime.GOMAXPROCS(0) < 2 {
		b.Skip("needs GOMAXPROCS >= 2 for busy-polling goroutines")
	}
	for _, mem := range benchMemory {
		b.Run(mem.name, func(b *testing.B) {
			w := (*atomic.Uint64)(unsafe.Pointer(unsafe.SliceData(mem.alloc(b, 128))))
			var wg sync.WaitGroup
			wg.Go(func() { // odd -> even, until ^0
				for {
					x := w.Load()
					if x == ^uint64(0) {
						return
					}
					if x%2 == 1 {
						w.Store(x + 1)
					}
				}
			})
			x := uint64(0)
			for b.Loop() {
				w.Store(x + 1)
				for w.Load() != x+2 {
				}
				x += 2
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/2, "one-way-ns")
			w.Store(^uint64(0))
			wg.Wait()
		})
	}
}

func BenchmarkPoolGetPut(b *testing.B) {
	m := ring.NewHeapMemory(ring.PoolMemorySize(64))
	p, err := ring.NewPool(m, 64, true)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		i, _ := p.Get()
		p.Put(i)
	}
}

func BenchmarkBitSetSetDrain(b *testing.B) {
	m := ring.NewHeapMemory(ring.BitSetMemorySize(256))
	s, err := ring.NewBitSet(m, 256)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for b.Loop() {
		s.Set(7)
		s.Set(200)
		s.Drain(func(uint32) { n++ })
	}
}
