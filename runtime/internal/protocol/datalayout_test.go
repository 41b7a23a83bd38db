package protocol

import (
	"math"
	"testing"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/shm"
)

// validSegment returns the bytes of a data segment whose header holds l,
// as a sender writes it.
func validSegment(l DataLayout) []byte {
	b := make([]byte, l.Size)
	l.WriteHeader(DataHeaderOf(b), 1)
	return b
}

// inside reports whether every chunk's header, user header and payload, as
// l places them, lies within a mapping of size bytes: what ReadDataLayout
// promises for any layout it accepts.
func inside(l DataLayout, size uint64) bool {
	last := l.ChunksOff + (l.NumChunks-1)*l.Stride
	end := func(off, n uint64) bool { return off <= size && n <= size-off }
	return end(last, ChunkHeaderSize) && end(last+l.PayloadOff, l.PayloadSize) &&
		(l.HeaderSize == 0 || end(last+l.HeaderOff, l.HeaderSize))
}

// A hostile sender's data header must not make a receiver read outside its
// mapping: offsets and sizes whose sums wrap around 2^64 are refused.
func TestReadDataLayoutRefusesWrapAround(t *testing.T) {
	l := NewDataLayout(8, 8, 4, 16, 16, 8, 0)
	l.Size = int(l.Bytes)
	for _, tc := range []struct {
		name string
		edit func(h *DataHeader)
	}{
		{"payload offset near 2^64", func(h *DataHeader) {
			h.PayloadOffset = math.MaxUint64 - 7
			h.PayloadSize = 16
		}},
		{"payload size near 2^64", func(h *DataHeader) { h.PayloadSize = math.MaxUint64 - 7 }},
		{"user header size near 2^64", func(h *DataHeader) { h.HeaderSize = math.MaxUint64 - 7 }},
		{"user header offset near 2^64", func(h *DataHeader) { h.HeaderOffset = math.MaxUint64 - 15 }},
		{"more chunks than a pool indexes", func(h *DataHeader) { h.NumChunks = MaxChunks + 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := validSegment(l)
			tc.edit(DataHeaderOf(b))
			h := DataHeaderOf(b)
			got, err := ReadDataLayout(b, "seg", 8, h.HeaderSize, 0)
			if err == nil && !inside(got, uint64(len(b))) {
				t.Fatalf("accepted a layout that reaches outside the %d-byte mapping: %+v", len(b), got)
			}
			if err == nil {
				t.Fatalf("accepted %+v", got)
			}
		})
	}
	if _, err := ReadDataLayout(validSegment(l), "seg", 8, 16, 0); err != nil {
		t.Fatalf("a valid layout: %v", err)
	}
}

// FuzzReadDataLayout: whatever a data header says, a layout that
// ReadDataLayout accepts keeps every chunk inside the mapping.
func FuzzReadDataLayout(f *testing.F) {
	l := NewDataLayout(24, 8, 3, 5, 16, 8, 4)
	l.Size = int(l.Bytes)
	f.Add(validSegment(l)[shm.HeaderSize : shm.HeaderSize+int(unsafe.Sizeof(DataHeader{}))], uint32(l.Size))
	f.Fuzz(func(t *testing.T, hdr []byte, size uint32) {
		size = max(size%(1<<20), uint32(shm.HeaderSize+unsafe.Sizeof(DataHeader{})))
		b := make([]byte, size)
		copy(b[shm.HeaderSize:], hdr)
		h := DataHeaderOf(b)
		got, err := ReadDataLayout(b, "seg", h.ElemSize, h.HeaderSize, h.TableLen)
		if err != nil {
			return
		}
		if !inside(got, uint64(len(b))) {
			t.Fatalf("accepted a layout that reaches outside the %d-byte mapping: %+v", len(b), got)
		}
		if got.TableLen > 0 && (got.TableOff > uint64(len(b)) || got.TableLen > (uint64(len(b))-got.TableOff)/8) {
			t.Fatalf("accepted a request table outside the mapping: %+v", got)
		}
	})
}
