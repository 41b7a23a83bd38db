package ring

import (
	"math/bits"
	"sync/atomic"
	"unsafe"
)

// bitSetShared is the fixed part of a BitSet in shared memory; the words
// follow it: bit i is bit i%64 of word i/64, set by Set and taken by Clear
// and Drain, of any party; read by Test, Any and Drain. Bits at n and above
// in the last word are never set by this package and ignored when read.
type bitSetShared struct {
	hdr header // offset 0: written once by the creator
}

func bitSetWords(n uint32) int { return int((n + 63) / 64) }

// BitSetMemorySize returns the number of bytes a BitSet of n bits needs, a
// multiple of 128, or 0 when n is 0 or larger than MaxCapacity.
func BitSetMemorySize(n uint32) int {
	if n == 0 || n > MaxCapacity {
		return 0
	}
	return roundUp(int(unsafe.Sizeof(bitSetShared{})) + bitSetWords(n)*cellSize)
}

// BitSet is a lock-free multi-producer multi-consumer set of n bits (event
// ids), in caller-provided memory.
//
// Every method may be called by anyone, concurrently. A Set(i) that finds
// the bit clear synchronizes before the Clear or Drain that takes the bit;
// each set bit is taken by exactly one Clear or Drain.
type BitSet struct {
	words []atomic.Uint64
	n     uint32 // copied at New/Attach, never re-read from shm
}

// NewBitSet initializes mem as a BitSet of n clear bits and returns a handle
// to it. It is called by the creator, before any opener attaches; it
// overwrites whatever mem held.
func NewBitSet(mem []byte, n uint32) (*BitSet, error) {
	if err := checkMem("bitset", mem, n, BitSetMemorySize(n)); err != nil {
		return nil, err
	}
	b := newBitSetHandle(mem, n)
	for i := range b.words {
		b.words[i].Store(0) // SYNC POINT B0 init: published by H1.
	}
	(*bitSetShared)(unsafe.Pointer(unsafe.SliceData(mem))).hdr.publish(magicBitSet, n)
	return b, nil
}

// AttachBitSet returns a handle to the BitSet that a creator initialized in
// mem. It fails with ErrCapacityMismatch when the creator's n differs from
// n, and with ErrNotInitialized when mem does not hold a BitSet.
func AttachBitSet(mem []byte, n uint32) (*BitSet, error) {
	if err := checkMem("bitset", mem, n, BitSetMemorySize(n)); err != nil {
		return nil, err
	}
	if err := (*bitSetShared)(unsafe.Pointer(unsafe.SliceData(mem))).hdr.check("bitset", magicBitSet, n); err != nil {
		return nil, err
	}
	return newBitSetHandle(mem, n), nil
}

func newBitSetHandle(mem []byte, n uint32) *BitSet {
	return &BitSet{words: words(mem, int(unsafe.Sizeof(bitSetShared{})), bitSetWords(n)), n: n}
}

// Set sets bit i and reports whether it was set already. Out of range
// (i >= n), it reports false and has no effect.
func (b *BitSet) Set(i uint32) (wasSet bool) {
	if i >= b.n {
		return false
	}
	m := uint64(1) << (i % 64)
	// SYNC POINT B1 set: paired with the Swap of Drain and the And of Clear
	// (B2), which take the bit.
	return b.words[i/64].Or(m)&m != 0
}

// Clear clears bit i and reports whether it was set. Out of range, it
// reports false and has no effect.
func (b *BitSet) Clear(i uint32) (wasSet bool) {
	if i >= b.n {
		return false
	}
	m := uint64(1) << (i % 64)
	return b.words[i/64].And(^m)&m != 0 // SYNC POINT B2 take: paired with B1.
}

// Test reports whether bit i is set (false when out of range). The result
// may be stale under concurrency.
func (b *BitSet) Test(i uint32) bool {
	if i >= b.n {
		return false
	}
	// SYNC POINT B3 snapshot: paired with B1 and B2.
	return b.words[i/64].Load()&(uint64(1)<<(i%64)) != 0
}

// Drain atomically takes every set bit, word by word, and calls fn with the
// index of each one, in increasing order. A bit set concurrently is either
// taken by this Drain or left for the next. Bits at or above n, which only a
// corrupting peer can set, are cleared and ignored.
func (b *BitSet) Drain(fn func(i uint32)) {
	for w := range b.words {
		// SYNC POINT B3 snapshot: skips empty words without writing them,
		// so that polling does not steal the line from setters.
		if b.words[w].Load() == 0 {
			continue
		}
		v := b.words[w].Swap(0) // SYNC POINT B2 take: paired with B1.
		for v != 0 {
			i := uint32(w)*64 + uint32(bits.TrailingZeros64(v))
			v &= v - 1
			if i < b.n {
				fn(i)
			}
		}
	}
}

// Any reports whether at least one bit is set. The result may be stale under
// concurrency.
func (b *BitSet) Any() bool {
	for w := range b.words {
		if b.words[w].Load() != 0 { // SYNC POINT B3 snapshot (see Drain).
			return true
		}
	}
	return false
}

// Len returns n, the number of bits.
func (b *BitSet) Len() int { return int(b.n) }
