package protocol

import (
	"fmt"
	"math"
	"math/bits"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/ring"
	"github.com/iox2go/iox2go/runtime/shm"
)

// DataHeader follows the shm.Header of a sender's (publisher's, client's or
// server's) data segment:
//
//	shm.Header | DataHeader | ring.Pool (free list) | request table (clients) | chunks
//
// The sender writes it before publishing the segment and never changes it;
// receivers copy and validate it once when they map the segment
// (ReadDataLayout).
type DataHeader struct {
	ChunkStride   uint64 // bytes from one chunk to the next
	NumChunks     uint64
	ChunksOffset  uint64 // offset of chunk 0 from the start of the segment
	PayloadOffset uint64 // offset of the payload within a chunk
	PayloadSize   uint64 // payload capacity in bytes
	ElemSize      uint64 // size of one payload element (the type's size)
	PoolOffset    uint64 // offset of the free list from the start of the segment
	Publisher     uint64 // the sender's port ID
	HeaderOffset  uint64 // offset of the user header within a chunk (0: none)
	HeaderSize    uint64 // size of the user header
	TableOffset   uint64 // offset of the request table from the start of the segment (clients only)
	TableLen      uint64 // entries of the request table; 0 unless the sender is a client
	_             [32]byte
}

// ChunkHeader precedes every payload in a data segment. The sender (a
// publisher, client or server) writes it before it sends the chunk;
// receivers only read it.
type ChunkHeader struct {
	Sequence  uint64 // per sender, starting at 0; gaps mean the receiver missed samples
	Publisher uint64 // the sender's port ID: publisher, client or server
	Length    uint64 // number of payload elements (1 unless the payload is a slice)
	// RequestID is, in a request-response service, the client's ID for
	// the request, carried by the request and by each of its responses;
	// 0 in other patterns.
	RequestID uint64
	// channel is, in a request-response service, the client's slot for
	// the request: the entry of its request table and the queue of its
	// response connections that serve this request (see ChunkChannel).
	channel uint32
	_       uint32
	_       uint64
}

// ChunkChannel returns the request slot of a request-response chunk.
func ChunkChannel(h *ChunkHeader) uint32 { return h.channel }

// SetChunkChannel sets the request slot of a request-response chunk.
func SetChunkChannel(h *ChunkHeader, ch uint32) { h.channel = ch }

// ChunkHeaderSize is the size of a ChunkHeader.
const ChunkHeaderSize = uint64(unsafe.Sizeof(ChunkHeader{}))

// Alignments and bounds of a data segment's layout.
const (
	// MinChunkAlign is the least alignment of the chunk stride.
	MinChunkAlign = 64
	// ChunksAlign is the least alignment of chunk 0 and of the request table.
	ChunksAlign = 128
	// MaxChunks bounds a data segment's chunks (a reader refuses more):
	// the most a pool can index (ring.MaxCapacity).
	MaxChunks = ring.MaxCapacity
	// OffsetSegmentBits are the low bits of an encoded chunk offset (the
	// value that travels through the queues: offset << OffsetSegmentBits),
	// reserved for a segment number, always 0.
	OffsetSegmentBits = 8
)

// DataLayout is the geometry of a data segment.
type DataLayout struct {
	Stride, NumChunks, ChunksOff, PayloadOff, PayloadSize, ElemSize, PoolOff uint64
	HeaderOff, HeaderSize                                                    uint64
	TableOff, TableLen                                                       uint64
	Size                                                                     int
	// Bytes is the size that NewDataLayout computed, saturated at
	// 2^64-1: Size is only valid once Bytes is checked against the limits.
	Bytes uint64

	// Derived, local: recip is ceil(2^64/Stride) (0 when Stride is a power
	// of two, with strideShift its log2), so that Decode divides by a
	// multiplication; MaxLen is PayloadSize/ElemSize, the most elements a
	// slice sample may claim. Set by derive.
	recip       uint64
	strideShift uint
	MaxLen      uint64
}

// derive computes the derived fields of a layout whose stride is not 0.
func (l *DataLayout) derive() {
	l.recip, l.strideShift = 0, 0
	if l.Stride&(l.Stride-1) == 0 {
		l.strideShift = uint(bits.TrailingZeros64(l.Stride))
	} else {
		l.recip = ^uint64(0)/l.Stride + 1
	}
	l.MaxLen = 0
	if l.ElemSize > 0 {
		l.MaxLen = l.PayloadSize / l.ElemSize
	}
}

// NewDataLayout computes the geometry of a data segment: numChunks chunks,
// each a ChunkHeader, then the user header (if hdrSize > 0) at its
// alignment hdrAlign, then room for maxLen payload elements at theirs. A
// client's segment also holds its request table of tableLen words, between
// the free list and the chunks.
//
// Every size saturates at 2^64-1 instead of wrapping, so that a geometry
// too large for any segment shows as such in Bytes: the caller checks it
// before it creates anything.
func NewDataLayout(elemSize, elemAlign, maxLen, numChunks, hdrSize, hdrAlign, tableLen uint64) DataLayout {
	a := max(elemAlign, 8, hdrAlign)
	var l DataLayout
	l.ElemSize = elemSize
	l.PayloadSize = SatMul(elemSize, maxLen)
	end := ChunkHeaderSize
	if hdrSize > 0 {
		l.HeaderOff = AlignU(ChunkHeaderSize, max(hdrAlign, 1))
		l.HeaderSize = hdrSize
		end = SatAdd(l.HeaderOff, hdrSize)
	}
	l.PayloadOff = AlignU(end, max(elemAlign, 8))
	l.Stride = AlignU(SatAdd(l.PayloadOff, max(l.PayloadSize, 1)), max(a, MinChunkAlign))
	l.NumChunks = numChunks
	l.PoolOff = uint64(shm.HeaderSize) + uint64(unsafe.Sizeof(DataHeader{}))
	// (PoolMemorySize is 0 beyond ring.MaxCapacity chunks, which the
	// caller refuses.)
	end = l.PoolOff + uint64(ring.PoolMemorySize(uint32(min(numChunks, ring.MaxCapacity+1))))
	if tableLen > 0 {
		// Its own lines: written by the client on every send, read by
		// the servers.
		l.TableOff = AlignU(end, ChunksAlign)
		l.TableLen = tableLen
		end = SatAdd(l.TableOff, SatMul(8, tableLen))
	}
	l.ChunksOff = AlignU(end, max(a, ChunksAlign))
	l.Bytes = SatAdd(l.ChunksOff, SatMul(l.Stride, numChunks))
	l.Size = int(min(l.Bytes, math.MaxInt))
	l.derive()
	return l
}

// AlignU rounds n up to a multiple of a, a power of two; near 2^64 it
// saturates at the largest multiple of a.
func AlignU(n, a uint64) uint64 {
	if n > math.MaxUint64-(a-1) {
		return math.MaxUint64 &^ (a - 1)
	}
	return (n + a - 1) &^ (a - 1)
}

// SatAdd and SatMul add and multiply without wrapping: a result beyond
// 2^64-1 is 2^64-1, which exceeds every limit (and every mapping).
func SatAdd(a, b uint64) uint64 {
	s, c := bits.Add64(a, b, 0)
	if c != 0 {
		return math.MaxUint64
	}
	return s
}

func SatMul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}

// DataHeaderOf returns the DataHeader of a mapped data segment of at least
// shm.HeaderSize + sizeof(DataHeader) bytes.
func DataHeaderOf(b []byte) *DataHeader {
	return (*DataHeader)(unsafe.Pointer(&b[shm.HeaderSize]))
}

// WriteHeader fills h from l for the sender's port id; before the segment
// is published.
func (l *DataLayout) WriteHeader(h *DataHeader, sender ID) {
	*h = DataHeader{ChunkStride: l.Stride, NumChunks: l.NumChunks, ChunksOffset: l.ChunksOff, PayloadOffset: l.PayloadOff,
		PayloadSize: l.PayloadSize, ElemSize: l.ElemSize, PoolOffset: l.PoolOff, Publisher: uint64(sender),
		HeaderOffset: l.HeaderOff, HeaderSize: l.HeaderSize, TableOffset: l.TableOff, TableLen: l.TableLen}
}

// ReadDataLayout copies and validates the geometry of a mapped data
// segment b named name: nothing in it may point outside the mapping.
// wantElem, wantHeader and wantTable are what the reader expects from the
// static config: the element and user header sizes and the request table
// length.
func ReadDataLayout(b []byte, name string, wantElem, wantHeader, wantTable uint64) (DataLayout, error) {
	if len(b) < shm.HeaderSize+int(unsafe.Sizeof(DataHeader{})) {
		return DataLayout{}, fmt.Errorf("data segment %s is too small", name)
	}
	h := DataHeaderOf(b)
	l := DataLayout{Stride: h.ChunkStride, NumChunks: h.NumChunks, ChunksOff: h.ChunksOffset,
		PayloadOff: h.PayloadOffset, PayloadSize: h.PayloadSize, ElemSize: h.ElemSize, PoolOff: h.PoolOffset,
		HeaderOff: h.HeaderOffset, HeaderSize: h.HeaderSize, TableOff: h.TableOffset, TableLen: h.TableLen, Size: len(b)}
	// Every bound is checked by subtraction, never by a sum that a
	// hostile header could make wrap around 2^64.
	ok := l.ElemSize == wantElem && l.HeaderSize == wantHeader && l.TableLen == wantTable &&
		(l.TableLen == 0 || l.TableOff%8 == 0 && l.TableOff <= l.ChunksOff &&
			(l.ChunksOff-l.TableOff)/8 >= l.TableLen) &&
		(l.HeaderSize == 0 || l.HeaderOff >= ChunkHeaderSize && l.HeaderOff <= l.PayloadOff &&
			l.HeaderSize <= l.PayloadOff-l.HeaderOff) &&
		l.Stride%8 == 0 && l.Stride > 0 && l.NumChunks > 0 && l.NumChunks <= MaxChunks &&
		l.PayloadOff >= ChunkHeaderSize && l.PayloadOff%8 == 0 &&
		l.PayloadOff <= l.Stride && l.PayloadSize <= l.Stride-l.PayloadOff && l.PayloadSize >= l.ElemSize &&
		l.ChunksOff%8 == 0 && l.ChunksOff <= uint64(len(b)) &&
		(uint64(len(b))-l.ChunksOff)/l.Stride >= l.NumChunks
	if !ok {
		return DataLayout{}, fmt.Errorf("data segment %s has an invalid geometry", name)
	}
	if l.TableLen == 0 {
		l.TableOff = 0 // no table: whatever the header says is never used
	}
	l.derive()
	return l, nil
}

// Encode turns chunk index i into the value that travels through the
// queues: its offset in the data segment, shifted to leave room for a
// segment number (always 0 for now), as iceoryx2's PointerOffset.
func (l *DataLayout) Encode(i uint32) uint64 {
	return (l.ChunksOff + uint64(i)*l.Stride) << OffsetSegmentBits
}

// Decode validates a value read from a queue that another process wrote
// and returns its chunk index.
func (l *DataLayout) Decode(v uint64) (uint32, bool) {
	if v&(1<<OffsetSegmentBits-1) != 0 {
		return 0, false
	}
	off := v >> OffsetSegmentBits
	if off < l.ChunksOff {
		return 0, false
	}
	rel := off - l.ChunksOff
	// The index without a division (the hot path of every receive and
	// every chunk given back): a shift, or a multiplication by the
	// rounded-up reciprocal, whose quotient is exact for every valid
	// value; the check q*stride == rel accepts exactly the multiples of
	// stride whatever the quotient, and anything it refuses is decided by
	// a division.
	var q uint64
	if l.recip == 0 {
		q = rel >> l.strideShift
	} else {
		q, _ = bits.Mul64(rel, l.recip)
	}
	if q*l.Stride != rel {
		if rel%l.Stride != 0 {
			return 0, false
		}
		q = rel / l.Stride
	}
	if q >= l.NumChunks {
		return 0, false
	}
	return uint32(q), true
}

// The request table of a client has one word per request slot, in the
// client's data segment, which every server maps: the id of the slot's
// latest request, shifted left by ReqIDShift, with ReqActive while its
// pending response is open and ReqHint once the client asked for a
// disconnect. Written by the client only; read by the servers, which
// compare it with the id of the request they hold.
const (
	ReqActive  = 1
	ReqHint    = 2
	ReqIDShift = 2
)

// ReqWord is the request table word of request id.
func ReqWord(id uint64, active, hint bool) uint64 {
	w := id << ReqIDShift
	if active {
		w |= ReqActive
	}
	if hint {
		w |= ReqHint
	}
	return w
}

// ReqConnected reports whether table word w says that request id is still
// active (its pending response open).
func ReqConnected(w, id uint64) bool { return w&^ReqHint == id<<ReqIDShift|ReqActive }

// ReqHinted reports whether table word w carries the disconnect hint.
func ReqHinted(w uint64) bool { return w&ReqHint != 0 }
