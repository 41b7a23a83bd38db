//go:build unix

package ring_test

import (
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/ring"
)

// zcDir is one direction of BenchmarkZeroCopyPingPong: the sender's chunks,
// the queue of chunk indices to the receiver (capacity 1, safe overflow, as
// the latency benchmark's services) and the completion queue back.
type zcDir struct {
	// Read-only after newZCDir.
	chunks         []byte // zcChunks chunks of zcStride bytes
	subP, subC     *ring.Queue
	complP, complC *ring.Queue
	hint           bool // the sender names its next chunk, the receiver fetches it while it polls
	pollChunk      bool // with hint: the receiver waits on that chunk's sequence number, then pops
	_              [128]byte

	free []uint64 // the sender's: its local stack of free chunks
	_    [128]byte

	next uint64 // the receiver's: 1 + the chunk the sender announced as its next
	want uint64 // the receiver's: the sequence number it expects next
	_    [128]byte
}

const (
	zcChunks  = 8
	zcStride  = 128 // a 48-byte header and a 64-byte payload, as the runtime's at 64 B
	zcPayload = 48
)

func newZCDir(b *testing.B, capacity uint32, hint, pollChunk bool) *zcDir {
	d := &zcDir{chunks: ring.NewHeapMemory(zcChunks * zcStride), hint: hint || pollChunk, pollChunk: pollChunk}
	d.subP, d.subC = benchQueue(b, func(_ *testing.B, n int) []byte { return ring.NewHeapMemory(n) }, capacity)
	d.complP, d.complC = benchQueue(b, func(_ *testing.B, n int) []byte { return ring.NewHeapMemory(n) }, zcChunks)
	for i := zcChunks - 1; i >= 0; i-- {
		d.free = append(d.free, uint64(i))
	}
	return d
}

// send is the sender's side: take a chunk (reclaiming released ones when
// none is free), write the header and the payload in place, push the index.
func (d *zcDir) send(v uint64) {
	d.refill()
	i := d.free[len(d.free)-1]
	d.free = d.free[:len(d.free)-1]
	c := d.chunks[i*zcStride : (i+1)*zcStride]
	binary.LittleEndian.PutUint64(c[0:], v) // header: sequence
	binary.LittleEndian.PutUint64(c[8:], 1) // header: length
	if d.hint {
		d.refill()
		binary.LittleEndian.PutUint64(c[16:], d.free[len(d.free)-1]+1) // header: next chunk
	}
	p := c[zcPayload : zcPayload+64]
	binary.LittleEndian.PutUint64(p, v)
	p[63] = byte(v)
	if old, over := d.subP.PushOverflow(i); over {
		d.free = append(d.free, old)
	}
}

// refill takes back the released chunks when none is free.
func (d *zcDir) refill() {
	for len(d.free) == 0 {
		for {
			i, ok := d.complC.Pop()
			if !ok {
				break
			}
			d.free = append(d.free, i)
		}
	}
}

// recv is the receiver's side: wait for an index, read the chunk in place,
// give it back.
func (d *zcDir) recv() uint64 {
	if n := d.next; d.pollChunk && n != 0 {
		seq := (*atomic.Uint64)(unsafe.Pointer(&d.chunks[(n-1)*zcStride]))
		for seq.Load() != d.want {
		}
	}
	for {
		if n := d.next; n != 0 && !d.pollChunk {
			atomic.LoadUint64((*uint64)(unsafe.Pointer(&d.chunks[(n-1)*zcStride])))
			atomic.LoadUint64((*uint64)(unsafe.Pointer(&d.chunks[(n-1)*zcStride+64])))
		}
		i, ok := d.subC.Pop()
		if !ok {
			continue
		}
		c := d.chunks[i*zcStride : (i+1)*zcStride]
		p := c[zcPayload : zcPayload+64]
		v := binary.LittleEndian.Uint64(p)
		if p[63] != byte(v) || binary.LittleEndian.Uint64(c[8:]) != 1 {
			panic("corrupt payload")
		}
		if d.hint {
			d.next = binary.LittleEndian.Uint64(c[16:])
		}
		d.want = v + 1
		d.complP.Push(i)
		return v
	}
}

// BenchmarkZeroCopyPingPong is the runtime's publish-subscribe data path
// reduced to its shared-memory operations, between two busy-polling
// goroutines: the chunk written in place, its index through a queue of
// capacity 1 with safe overflow, read in place, given back through a
// completion queue. No ports, no locks, no bookkeeping. Compare with
// BenchmarkTwoLinePingPong: what this costs above it is what the data path's
// design costs; what the runtime costs above this is its code.
func BenchmarkZeroCopyPingPong(b *testing.B) {
	if runtime.GOMAXPROCS(0) < 2 {
		b.Skip("needs GOMAXPROCS >= 2 for busy-polling goroutines")
	}
	for _, v := range []struct {
		name            string
		capacity        uint32
		hint, pollChunk bool
	}{
		{"cap1", 1, false, false}, {"cap4", 4, false, false},
		{"cap1-hint", 1, true, false}, {"cap4-hint", 4, true, false},
		{"cap1-pollchunk", 1, false, true}, {"cap4-pollchunk", 4, false, true},
	} {
		b.Run(v.name, func(b *testing.B) {
			zeroCopyPingPong(b, newZCDir(b, v.capacity, v.hint, v.pollChunk), newZCDir(b, v.capacity, v.hint, v.pollChunk))
		})
	}
}

func zeroCopyPingPong(b *testing.B, a2b, b2a *zcDir) {
	// The peer echoes until told to stop; the last value is the next one
	// in sequence, so that a receiver waiting for it (pollchunk) gets it.
	var wg sync.WaitGroup
	var stop atomic.Bool
	wg.Go(func() {
		for {
			v := a2b.recv()
			b2a.send(v)
			if stop.Load() {
				return
			}
		}
	})
	v := uint64(1)
	for b.Loop() {
		a2b.send(v)
		if b2a.recv() != v {
			b.Fatal("wrong echo")
		}
		v++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/2, "one-way-ns")
	stop.Store(true)
	a2b.send(v)
	b2a.recv()
	wg.Wait()
}
