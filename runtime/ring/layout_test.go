package ring

import (
	"testing"
	"unsafe"
)

// The layout of the shared structs is a contract between processes (and
// with non-Go peers): these are the numbers to keep.
func TestSharedLayout(t *testing.T) {
	for _, c := range []struct {
		what      string
		got, want uintptr
	}{
		{"Sizeof(header)", unsafe.Sizeof(header{}), 128},
		{"Offsetof(header.word)", unsafe.Offsetof(header{}.word), 0},

		{"Sizeof(queueShared)", unsafe.Sizeof(queueShared{}), 264},
		{"Offsetof(queueShared.hdr)", unsafe.Offsetof(queueShared{}.hdr), 0},
		{"Offsetof(queueShared.read)", unsafe.Offsetof(queueShared{}.read), 128},
		{"Offsetof(queueShared.write)", unsafe.Offsetof(queueShared{}.write), 256},

		{"Sizeof(poolShared)", unsafe.Sizeof(poolShared{}), 256},
		{"Offsetof(poolShared.hdr)", unsafe.Offsetof(poolShared{}.hdr), 0},
		{"Offsetof(poolShared.head)", unsafe.Offsetof(poolShared{}.head), 128},

		{"Sizeof(bitSetShared)", unsafe.Sizeof(bitSetShared{}), 128},
		{"Offsetof(bitSetShared.hdr)", unsafe.Offsetof(bitSetShared{}.hdr), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
}

func TestMemorySizes(t *testing.T) {
	up := func(n int) int { return (n + 127) / 128 * 128 }
	for _, c := range []struct {
		capacity           uint32
		queue, pool, bits  int
		queueCellsExpected int
	}{
		{1, up(264 + 2*8), up(256 + 1*8), up(128 + 8), 2},
		{2, up(264 + 4*8), up(256 + 2*8), up(128 + 8), 4},
		{3, up(264 + 4*8), up(256 + 3*8), up(128 + 8), 4},
		{4, up(264 + 8*8), up(256 + 4*8), up(128 + 8), 8},
		{7, up(264 + 8*8), up(256 + 7*8), up(128 + 8), 8},
		{64, up(264 + 128*8), up(256 + 64*8), up(128 + 8), 128},
		{65, up(264 + 128*8), up(256 + 65*8), up(128 + 16), 128},
		{MaxCapacity, up(264 + (1<<24)*8), up(256 + MaxCapacity*8), up(128 + (1<<18)*8), 1 << 24},
	} {
		if s := QueueMemorySize(c.capacity); s%128 != 0 || PoolMemorySize(c.capacity)%128 != 0 || BitSetMemorySize(c.capacity)%128 != 0 {
			t.Errorf("capacity %d: a size is not a multiple of 128", c.capacity)
		}
		if got := QueueMemorySize(c.capacity); got != c.queue {
			t.Errorf("QueueMemorySize(%d) = %d, want %d", c.capacity, got, c.queue)
		}
		if got := queueCells(c.capacity); got != c.queueCellsExpected {
			t.Errorf("queueCells(%d) = %d, want %d", c.capacity, got, c.queueCellsExpected)
		}
		if got := PoolMemorySize(c.capacity); got != c.pool {
			t.Errorf("PoolMemorySize(%d) = %d, want %d", c.capacity, got, c.pool)
		}
		if got := BitSetMemorySize(c.capacity); got != c.bits {
			t.Errorf("BitSetMemorySize(%d) = %d, want %d", c.capacity, got, c.bits)
		}
	}
}

// The hot words of different parties in the local handle are at least one
// line apart too (producer and consumer goroutines may share a handle).
func TestHandleLayout(t *testing.T) {
	var q Queue
	if d := unsafe.Offsetof(q.readCache) - unsafe.Offsetof(q.capacity); d < lineSize {
		t.Errorf("readCache is %d bytes after the read-only fields", d)
	}
	if d := unsafe.Offsetof(q.writeCache) - unsafe.Offsetof(q.readCache); d < lineSize {
		t.Errorf("writeCache is %d bytes after readCache", d)
	}
}

// Each field of a poolHead holds its maximum without touching the others.
func TestPoolHeadFieldsDoNotOverlap(t *testing.T) {
	for _, c := range []struct {
		index, count uint32
		tag          uint16
	}{
		{poolIndexMax, 0, 0},
		{0, poolCountMax, 0},
		{0, 0, poolTagMax},
		{poolIndexMax, poolCountMax, poolTagMax},
		{nilIndex, MaxCapacity, 1},
		{1, 1, 1},
		{0, 0, 0},
	} {
		h := packPoolHead(c.index, c.count, c.tag)
		if h.index() != c.index || h.count() != c.count || h.tag() != c.tag {
			t.Errorf("packPoolHead(%#x, %#x, %#x) unpacks to %#x, %#x, %#x",
				c.index, c.count, c.tag, h.index(), h.count(), h.tag())
		}
	}
	if h := packPoolHead(poolIndexMax, poolCountMax, poolTagMax); uint64(h) != ^uint64(0) {
		t.Errorf("all fields at their maximum = %#x, want all 64 bits set", uint64(h))
	}
	// The tag wraps without carrying into the other fields.
	h := packPoolHead(5, 6, poolTagMax)
	h = packPoolHead(h.index(), h.count(), h.tag()+1)
	if h.index() != 5 || h.count() != 6 || h.tag() != 0 {
		t.Errorf("tag wrap gave %#x, %#x, %#x", h.index(), h.count(), h.tag())
	}
	// Values wider than a field are truncated to the field, never spill.
	if h := packPoolHead(1<<poolIndexBits|3, 1<<poolCountBits|4, 0); h.index() != 3 || h.count() != 4 || h.tag() != 0 {
		t.Errorf("wide values spilled: %#x, %#x, %#x", h.index(), h.count(), h.tag())
	}
}

func TestHeaderWordFieldsDoNotOverlap(t *testing.T) {
	for _, c := range [][2]uint32{{^uint32(0), 0}, {0, ^uint32(0)}, {magicQueue, MaxCapacity}, {^uint32(0), ^uint32(0)}} {
		w := makeHeaderWord(c[0], c[1])
		if w.magic() != c[0] || w.capacity() != c[1] {
			t.Errorf("makeHeaderWord(%#x, %#x) unpacks to %#x, %#x", c[0], c[1], w.magic(), w.capacity())
		}
	}
	if magicQueue == magicPool || magicPool == magicBitSet || magicQueue == magicBitSet {
		t.Error("two structures share a magic")
	}
}

func TestNewHeapMemoryIsAligned(t *testing.T) {
	for size := 1; size < 1000; size++ {
		m := NewHeapMemory(size)
		if len(m) != size || cap(m) != size || uintptr(unsafe.Pointer(&m[0]))%lineSize != 0 {
			t.Fatalf("NewHeapMemory(%d): len %d at %p", size, len(m), &m[0])
		}
	}
	if NewHeapMemory(0) != nil {
		t.Error("NewHeapMemory(0) != nil")
	}
}
