package ring

import (
	"sync/atomic"
	"unsafe"
)

// poolHead is the packed head word of a Pool: the index of the top free
// entry (nilIndex when the pool is empty), the number of free entries, and
// an ABA tag that every successful Get and Put increments.
//
//	bits  0..23  index (24 bits)
//	bits 24..47  count (24 bits)
//	bits 48..63  tag   (16 bits, wraps)
//
// The tag and the count together make a stale compare-and-swap fail: a Get
// that read the head, then the link of its index, can only succeed if no
// Get or Put happened in between, or 2^16 of them exactly restored the same
// index and count.
type poolHead uint64

const (
	poolIndexBits = 24
	poolCountBits = 24
	poolTagBits   = 16

	poolIndexMax = 1<<poolIndexBits - 1
	poolCountMax = 1<<poolCountBits - 1
	poolTagMax   = 1<<poolTagBits - 1

	poolCountShift = poolIndexBits
	poolTagShift   = poolIndexBits + poolCountBits

	// nilIndex marks the end of the free list; MaxCapacity keeps it out of
	// the range of valid indices.
	nilIndex = poolIndexMax
)

// Compile-time checks of the packing: the fields fill exactly 64 bits, and
// nilIndex is not a valid index.
var (
	_ = [1]struct{}{}[poolIndexBits+poolCountBits+poolTagBits-64]
	_ = [1]struct{}{}[nilIndex-MaxCapacity]
	_ = [1]struct{}{}[poolCountMax-MaxCapacity]
)

func packPoolHead(index, count uint32, tag uint16) poolHead {
	return poolHead(uint64(index&poolIndexMax) |
		uint64(count&poolCountMax)<<poolCountShift |
		uint64(tag)<<poolTagShift)
}

func (h poolHead) index() uint32 { return uint32(h & poolIndexMax) }
func (h poolHead) count() uint32 { return uint32(h>>poolCountShift) & poolCountMax }
func (h poolHead) tag() uint16   { return uint16(h >> poolTagShift) }

// poolShared is the fixed part of a Pool in shared memory; the links follow
// it: links[i] is the index of the entry below i in the free list (nilIndex
// at the bottom), meaningful only while i is free. links[i] is written by
// the Put of i (by whoever owns i), and read by the Get that takes i.
type poolShared struct {
	hdr header // offset 0: written once by the creator

	// head is a poolHead. Compare-and-swapped by every Get and Put.
	head atomic.Uint64 // offset 128
	_    [lineSize - 8]byte
}

// PoolMemorySize returns the number of bytes a Pool of n indices needs, a
// multiple of 128, or 0 when n is 0 or larger than MaxCapacity.
func PoolMemorySize(n uint32) int {
	if n == 0 || n > MaxCapacity {
		return 0
	}
	return roundUp(int(unsafe.Sizeof(poolShared{})) + int(n)*cellSize)
}

// Pool is a lock-free multi-producer multi-consumer free list of the indices
// 0..n-1 (a Treiber stack), in caller-provided memory.
//
// Get and Put may be called by any number of goroutines and processes at
// the same time. A Put(i) synchronizes before the Get that returns i. Each
// free index is returned by exactly one Get.
type Pool struct {
	shm   *poolShared
	links []atomic.Uint64
	n     uint32 // copied at New/Attach, never re-read from shm
}

// NewPool initializes mem as a Pool of the indices 0..n-1 and returns a
// handle to it. With full, every index starts free (and Get returns them in
// increasing order); otherwise the pool starts empty. It is called by the
// creator, before any opener attaches; it overwrites whatever mem held.
func NewPool(mem []byte, n uint32, full bool) (*Pool, error) {
	if err := checkMem("pool", mem, n, PoolMemorySize(n)); err != nil {
		return nil, err
	}
	p := newPoolHandle(mem, n)
	head := packPoolHead(nilIndex, 0, 0)
	if full {
		for i := range n {
			next := i + 1
			if next == n {
				next = nilIndex
			}
			p.links[i].Store(uint64(next)) // SYNC POINT P0 init: published by H1.
		}
		head = packPoolHead(0, n, 0)
	} else {
		for i := range p.links {
			p.links[i].Store(nilIndex) // SYNC POINT P0 init: published by H1.
		}
	}
	p.shm.head.Store(uint64(head)) // SYNC POINT P0 init: published by H1.
	p.shm.hdr.publish(magicPool, n)
	return p, nil
}

// AttachPool returns a handle to the Pool that a creator initialized in mem.
// It fails with ErrCapacityMismatch when the creator's n differs from n, and
// with ErrNotInitialized when mem does not hold a Pool.
func AttachPool(mem []byte, n uint32) (*Pool, error) {
	if err := checkMem("pool", mem, n, PoolMemorySize(n)); err != nil {
		return nil, err
	}
	p := newPoolHandle(mem, n)
	if err := p.shm.hdr.check("pool", magicPool, n); err != nil {
		return nil, err
	}
	return p, nil
}

func newPoolHandle(mem []byte, n uint32) *Pool {
	return &Pool{
		shm:   (*poolShared)(unsafe.Pointer(unsafe.SliceData(mem))),
		links: words(mem, int(unsafe.Sizeof(poolShared{})), int(n)),
		n:     n,
	}
}

// Get takes a free index and reports true, or reports false when the pool
// is empty. It may be called by anyone, concurrently. It also reports false
// when the memory is corrupted (the head or a link holds an index out of
// range).
func (p *Pool) Get() (uint32, bool) {
	for {
		// SYNC POINT P1 take: paired with the compare-and-swap of Put (P3),
		// which published the link of the head index.
		h := poolHead(p.shm.head.Load())
		i := h.index()
		if i >= p.n { // nilIndex: empty; anything else: corrupted
			return 0, false
		}
		// SYNC POINT P2 link: written by the Put of i (P3a) before its
		// compare-and-swap. If i was taken and put back since the load of
		// the head, this may be another link; the tag then fails the CAS.
		next := p.links[i].Load()
		if next >= uint64(p.n) && next != nilIndex { // corrupted link
			return 0, false
		}
		count := h.count()
		if count > 0 {
			count--
		}
		// SYNC POINT P1 take: on success, index i passes to the caller.
		if p.shm.head.CompareAndSwap(uint64(h), uint64(packPoolHead(uint32(next), count, h.tag()+1))) {
			return i, true
		}
	}
}

// Put returns the index i to the pool and reports true. It may be called by
// anyone, concurrently; the caller guarantees that i is not free already.
// It reports false, with no effect, when i >= n, and also when it detects a
// double free cheaply (i is the top free index, or every index is already
// free).
func (p *Pool) Put(i uint32) bool {
	if i >= p.n {
		return false
	}
	for {
		h := poolHead(p.shm.head.Load()) // SYNC POINT P3 give (see below).
		if h.index() == i || h.count() >= p.n {
			return false
		}
		// The caller owns i, so no one else writes its link; a Get with a
		// stale head may read it (P2) but then fails its CAS.
		p.links[i].Store(uint64(h.index())) // SYNC POINT P3a link: published by P3.
		// SYNC POINT P3 give: publishes the link of i and passes i to the
		// pool; paired with the head load of Get (P1).
		if p.shm.head.CompareAndSwap(uint64(h), uint64(packPoolHead(i, h.count()+1, h.tag()+1))) {
			return true
		}
	}
}

// Len returns the number of free indices. It may be called by anyone. The
// result may be stale under concurrency.
func (p *Pool) Len() int {
	c := poolHead(p.shm.head.Load()).count() // SYNC POINT P4 snapshot: paired with P1 and P3.
	return int(min(c, p.n))
}

// Cap returns n, the number of indices of the pool.
func (p *Pool) Cap() int { return int(p.n) }
