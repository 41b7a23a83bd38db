package ring

import (
	"fmt"
	"reflect"
	"sync/atomic"
	"unsafe"
)

// MaxCapacity is the largest capacity of a Queue, and the largest number of
// indices of a Pool or bits of a BitSet. A Pool's head word packs an index
// and a count in 24 bits each (see poolHead).
const MaxCapacity = 1<<24 - 1

// lineSize is the distance between words written by different parties: two
// 64-byte cache lines, because the adjacent-line prefetcher of x86 moves
// lines in pairs. It is a constant of the cross-process layout, unlike
// cpu.CacheLinePad whose size depends on GOARCH.
const lineSize = 128

// cellSize is the size of every cell, link and bit word: one atomic uint64.
const cellSize = 8

// Magic numbers in the header word, one per structure. The low byte is the
// layout version of that structure: bump it on any change of the layout.
const (
	magicQueue  = 0x69785102 // "ixQ" v2: a queue of capacity 1 is an exchanged slot
	magicPool   = 0x69785001 // "ixP" v1
	magicBitSet = 0x69784201 // "ixB" v1
)

// header is the first 128-byte line of every structure.
type header struct {
	// word is a headerWord. Written once by the creator, with its last
	// store; read once by each opener. Never read on a hot path.
	word atomic.Uint64
	_    [lineSize - 8]byte
}

// headerWord packs the magic of a structure (high 32 bits) and its capacity
// (low 32 bits).
type headerWord uint64

func makeHeaderWord(magic, capacity uint32) headerWord {
	return headerWord(uint64(magic)<<32 | uint64(capacity))
}

func (h headerWord) magic() uint32    { return uint32(h >> 32) }
func (h headerWord) capacity() uint32 { return uint32(h) }

// publish makes the structure visible to openers; it must be the creator's
// last store.
func (h *header) publish(magic, capacity uint32) {
	// SYNC POINT H1 publish: orders every initializing store of the
	// creator before it; paired with H2 in check.
	h.word.Store(uint64(makeHeaderWord(magic, capacity)))
}

// check validates the header for an opener that expects the given magic and
// capacity.
func (h *header) check(what string, magic, capacity uint32) error {
	// SYNC POINT H2 attach: after this load the opener sees the creator's
	// initialization; paired with H1 in publish.
	w := headerWord(h.word.Load())
	if w.magic() != magic {
		return fmt.Errorf("%w: attach %s: header magic %#x, want %#x", ErrNotInitialized, what, w.magic(), magic)
	}
	if w.capacity() != capacity {
		return fmt.Errorf("%w: attach %s: header says %d, opener expects %d", ErrCapacityMismatch, what, w.capacity(), capacity)
	}
	return nil
}

// roundUp rounds a memory size up to a multiple of lineSize, so that
// structures laid out one after the other in a segment keep the words of
// different parties on different lines.
func roundUp(size int) int { return (size + lineSize - 1) &^ (lineSize - 1) }

// checkMem validates a capacity (1..MaxCapacity) and the memory that must
// hold size bytes for it.
func checkMem(what string, mem []byte, capacity uint32, size int) error {
	if capacity == 0 || capacity > MaxCapacity {
		return fmt.Errorf("%w: %s of capacity %d (1..%d)", ErrCapacity, what, capacity, MaxCapacity)
	}
	if len(mem) < size {
		return fmt.Errorf("%w: %s of capacity %d needs %d bytes, have %d", ErrTooSmall, what, capacity, size, len(mem))
	}
	if p := uintptr(unsafe.Pointer(unsafe.SliceData(mem))); p%8 != 0 {
		return fmt.Errorf("%w: %s at %#x", ErrMisaligned, what, p)
	}
	return nil
}

// words returns n atomic words starting at byte offset off of mem, which
// checkMem has validated.
func words(mem []byte, off, n int) []atomic.Uint64 {
	return unsafe.Slice((*atomic.Uint64)(unsafe.Pointer(&mem[off])), n)
}

// NewHeapMemory returns size bytes of zeroed heap memory for structures used
// within one process. Its first byte is 128-byte aligned, like a mapping, so
// that the words of different parties are on different lines.
func NewHeapMemory(size int) []byte {
	if size <= 0 {
		return nil
	}
	w := make([]uint64, (size+lineSize-8+7)/8)
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(w))), len(w)*8)
	off := int(-uintptr(unsafe.Pointer(unsafe.SliceData(b))) & (lineSize - 1))
	return b[off : off+size : off+size]
}

// Compile-time checks of the cross-process layout: a compile error here means
// that a shared struct changed size; that changes the contract with other
// processes, so bump the magic's version byte as well.
var (
	_ = [1]struct{}{}[unsafe.Sizeof(header{})-lineSize]
	_ = [1]struct{}{}[unsafe.Sizeof(queueShared{})-2*lineSize-8]
	_ = [1]struct{}{}[unsafe.Sizeof(poolShared{})-2*lineSize]
	_ = [1]struct{}{}[unsafe.Sizeof(bitSetShared{})-lineSize]
	_ = [1]struct{}{}[unsafe.Offsetof(queueShared{}.write)-2*lineSize]
	_ = [1]struct{}{}[unsafe.Offsetof(queueShared{}.read)-lineSize]
	_ = [1]struct{}{}[unsafe.Offsetof(poolShared{}.head)-lineSize]
)

// SharedStruct is a structure that this package lays in shared memory, by
// the name under which other languages' definitions know it.
type SharedStruct struct {
	Name string
	Type reflect.Type
}

// SharedConst is a constant of the cross-process layout.
type SharedConst struct {
	Name  string
	Value uint64
}

// SharedLayout describes the shared-memory layout of this package for
// generators of other languages' definitions (the C layout header of
// runtime/internal/protocol): the structures laid at the start of a
// Queue's, Pool's and BitSet's memory, whose cells, links or words follow
// them, and the constants of their protocol.
func SharedLayout() ([]SharedStruct, []SharedConst) {
	structs := []SharedStruct{
		{"Header", reflect.TypeFor[header]()},
		{"Queue", reflect.TypeFor[queueShared]()},
		{"Pool", reflect.TypeFor[poolShared]()},
		{"BitSet", reflect.TypeFor[bitSetShared]()},
	}
	consts := []SharedConst{
		{"LineSize", lineSize},
		{"CellSize", cellSize},
		{"MaxCapacity", MaxCapacity},
		{"MagicQueue", magicQueue},
		{"MagicPool", magicPool},
		{"MagicBitSet", magicBitSet},
		{"PoolIndexBits", poolIndexBits},
		{"PoolCountBits", poolCountBits},
		{"PoolTagBits", poolTagBits},
		{"PoolNilIndex", nilIndex},
		{"SlotEmptyMark", slotEmptyMark},
	}
	return structs, consts
}
