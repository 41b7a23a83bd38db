package ring_test

import (
	"encoding/binary"
	"testing"

	"github.com/iox2go/iox2go/runtime/ring"
)

// headerSize is the documented size of the header line that starts every
// structure; fuzzing overwrites what follows it.
const headerSize = 128

// overwrite copies data over mem from offset off on, as a hostile peer would.
func overwrite(mem []byte, off int, data []byte) {
	if off < len(mem) {
		copy(mem[off:], data)
	}
}

// fuzzMemory yields the memories to try: data as the whole memory, then an
// initialized structure (init) with data written over everything after its
// header.
func fuzzMemory(size int, data []byte, init func([]byte)) (raw, hostile []byte) {
	raw = ring.NewHeapMemory(size)
	copy(raw, data)
	hostile = ring.NewHeapMemory(size)
	init(hostile)
	overwrite(hostile, headerSize, data)
	return raw, hostile
}

// poke lets an operation byte also write 8 bytes of data into mem, so that
// corruption can happen between operations.
func poke(mem, data []byte, op byte, k int) {
	if op&0x80 == 0 || len(data) < 8 {
		return
	}
	off := (k * 8) % len(mem) &^ 7
	binary.LittleEndian.PutUint64(mem[off:], binary.LittleEndian.Uint64(data[(k*8)%(len(data)-7):]))
}

func FuzzAttachQueue(f *testing.F) {
	f.Add(uint8(3), []byte{}, []byte{0, 0, 0, 1, 2, 2, 2, 2})
	f.Add(uint8(1), []byte{1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, []byte{1, 1, 2, 0x81, 2})
	f.Add(uint8(7), make([]byte, 300), []byte{0, 1, 2, 0x80, 0x82})
	f.Fuzz(func(t *testing.T, capacity uint8, data, ops []byte) {
		c := uint32(capacity%16) + 1
		raw, hostile := fuzzMemory(ring.QueueMemorySize(c), data, func(m []byte) {
			if _, err := ring.NewQueue(m, c); err != nil {
				t.Fatal(err)
			}
		})
		for _, m := range [][]byte{raw, hostile} {
			q, err := ring.AttachQueue(m, c)
			if err != nil {
				continue
			}
			for k, op := range ops {
				switch op % 3 {
				case 0:
					q.Push(uint64(k))
				case 1:
					q.PushOverflow(uint64(k))
				default:
					q.Pop()
				}
				if n := q.Len(); n < 0 || n > int(c) {
					t.Fatalf("Len() = %d out of 0..%d", n, c)
				}
				q.IsEmpty()
				poke(m, data, op, k)
			}
		}
	})
}

func FuzzAttachPool(f *testing.F) {
	f.Add(uint8(3), []byte{}, []byte{0, 0, 0, 1, 2, 2, 2, 2})
	f.Add(uint8(4), []byte{2, 0, 0, 0, 0, 0, 0, 0}, []byte{0, 0x81, 0, 3, 0})
	f.Fuzz(func(t *testing.T, n uint8, data, ops []byte) {
		size := uint32(n%32) + 1
		raw, hostile := fuzzMemory(ring.PoolMemorySize(size), data, func(m []byte) {
			if _, err := ring.NewPool(m, size, n&0x80 != 0); err != nil {
				t.Fatal(err)
			}
		})
		for _, m := range [][]byte{raw, hostile} {
			p, err := ring.AttachPool(m, size)
			if err != nil {
				continue
			}
			for k, op := range ops {
				if op%2 == 0 {
					if i, ok := p.Get(); ok && i >= size {
						t.Fatalf("Get() = %d from a pool of %d", i, size)
					}
				} else {
					p.Put(uint32(op>>1) % (size + 2))
				}
				if l := p.Len(); l < 0 || l > int(size) {
					t.Fatalf("Len() = %d out of 0..%d", l, size)
				}
				poke(m, data, op, k)
			}
		}
	})
}

func FuzzAttachBitSet(f *testing.F) {
	f.Add(uint8(3), []byte{}, []byte{0, 1, 2, 3, 4})
	f.Add(uint8(200), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, []byte{0x80, 4, 5})
	f.Fuzz(func(t *testing.T, n uint8, data, ops []byte) {
		size := uint32(n) + 1
		raw, hostile := fuzzMemory(ring.BitSetMemorySize(size), data, func(m []byte) {
			if _, err := ring.NewBitSet(m, size); err != nil {
				t.Fatal(err)
			}
		})
		for _, m := range [][]byte{raw, hostile} {
			b, err := ring.AttachBitSet(m, size)
			if err != nil {
				continue
			}
			for k, op := range ops {
				i := uint32(k*37) % (size + 3)
				switch op % 4 {
				case 0:
					b.Set(i)
				case 1:
					b.Clear(i)
				case 2:
					b.Test(i)
				default:
					b.Drain(func(i uint32) {
						if i >= size {
							t.Fatalf("Drain reported bit %d of %d", i, size)
						}
					})
				}
				poke(m, data, op, k)
			}
		}
	})
}
