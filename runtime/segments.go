package runtime

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sync/atomic"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/ring"
	"github.com/iox2go/iox2go/runtime/shm"
)

// dataHeader follows the shm.Header of a publisher's data segment. The
// publisher writes it before publishing the segment and never changes it;
// subscribers copy and validate it once when they map the segment.
type dataHeader struct {
	chunkStride  uint64 // bytes from one chunk to the next
	numChunks    uint64
	chunksOffset uint64 // offset of chunk 0 from the start of the segment
	payloadOff   uint64 // offset of the payload within a chunk
	payloadSize  uint64 // payload capacity in bytes
	elemSize     uint64 // size of one payload element (the type's size)
	poolOffset   uint64 // offset of the free list from the start of the segment
	publisher    uint64 // the publisher's port ID
	headerOff    uint64 // offset of the user header within a chunk (0: none)
	headerSize   uint64 // size of the user header
	tableOffset  uint64 // offset of the request table from the start of the segment (clients only)
	tableLen     uint64 // entries of the request table; 0 unless the sender is a client
	_            [32]byte
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
	// response connections that serve this request.
	channel uint32
	_       uint32
	_       uint64
}

const chunkHeaderSize = uint64(unsafe.Sizeof(ChunkHeader{}))

// dataLayout is the geometry of a data segment.
type dataLayout struct {
	stride, numChunks, chunksOff, payloadOff, payloadSize, elemSize, poolOff uint64
	headerOff, headerSize                                                    uint64
	tableOff, tableLen                                                       uint64
	size                                                                     int
	// bytes is the size that newDataLayout computed, saturated at
	// 2^64-1: size is only valid once bytes is checked against the limits
	// (see footprint).
	bytes uint64

	// Derived, local: recip is ceil(2^64/stride) (0 when stride is a power
	// of two, with strideShift its log2), so that decode divides by a
	// multiplication; maxLen is payloadSize/elemSize, the most elements a
	// slice sample may claim. Set by derive.
	recip       uint64
	strideShift uint
	maxLen      uint64
}

// derive computes the derived fields of a layout whose stride is not 0.
func (l *dataLayout) derive() {
	l.recip, l.strideShift = 0, 0
	if l.stride&(l.stride-1) == 0 {
		l.strideShift = uint(bits.TrailingZeros64(l.stride))
	} else {
		l.recip = ^uint64(0)/l.stride + 1
	}
	l.maxLen = 0
	if l.elemSize > 0 {
		l.maxLen = l.payloadSize / l.elemSize
	}
}

// newDataLayout computes the geometry of a data segment: numChunks chunks,
// each a ChunkHeader, then the user header (if hdr.Size > 0) at its
// alignment, then room for maxLen payload elements at theirs. A client's
// segment also holds its request table of tableLen words, between the free
// list and the chunks.
//
// Every size saturates at 2^64-1 instead of wrapping, so that a geometry
// too large for any segment shows as such in bytes: the caller checks it
// (footprint.check) before it creates anything.
func newDataLayout(elemSize, elemAlign, maxLen, numChunks uint64, hdr TypeInfo, tableLen uint64) dataLayout {
	a := max(elemAlign, 8, hdr.Align)
	var l dataLayout
	l.elemSize = elemSize
	l.payloadSize = satMul(elemSize, maxLen)
	end := chunkHeaderSize
	if hdr.Size > 0 {
		l.headerOff = alignU(chunkHeaderSize, max(hdr.Align, 1))
		l.headerSize = hdr.Size
		end = satAdd(l.headerOff, hdr.Size)
	}
	l.payloadOff = alignU(end, max(elemAlign, 8))
	l.stride = alignU(satAdd(l.payloadOff, max(l.payloadSize, 1)), max(a, 64))
	l.numChunks = numChunks
	l.poolOff = uint64(shm.HeaderSize) + uint64(unsafe.Sizeof(dataHeader{}))
	// (PoolMemorySize is 0 beyond ring.MaxCapacity chunks, which the
	// caller refuses.)
	end = l.poolOff + uint64(ring.PoolMemorySize(uint32(min(numChunks, ring.MaxCapacity+1))))
	if tableLen > 0 {
		// Its own lines: written by the client on every send, read by
		// the servers.
		l.tableOff = alignU(end, 128)
		l.tableLen = tableLen
		end = satAdd(l.tableOff, satMul(8, tableLen))
	}
	l.chunksOff = alignU(end, max(a, 128))
	l.bytes = satAdd(l.chunksOff, satMul(l.stride, numChunks))
	l.size = int(min(l.bytes, math.MaxInt))
	l.derive()
	return l
}

// alignU rounds n up to a multiple of a, a power of two; near 2^64 it
// saturates at the largest multiple of a.
func alignU(n, a uint64) uint64 {
	if n > math.MaxUint64-(a-1) {
		return math.MaxUint64 &^ (a - 1)
	}
	return (n + a - 1) &^ (a - 1)
}

func dataHeaderOf(b []byte) *dataHeader {
	return (*dataHeader)(unsafe.Pointer(&b[shm.HeaderSize]))
}

// readDataLayout copies and validates the geometry of a mapped data
// segment: nothing in it may point outside the mapping. wantElem,
// wantHeader and wantTable are what the reader expects from the static
// config: the element and user header sizes and the request table length.
func readDataLayout(seg shm.Segment, wantElem, wantHeader, wantTable uint64) (dataLayout, error) {
	b := seg.Bytes()
	if len(b) < shm.HeaderSize+int(unsafe.Sizeof(dataHeader{})) {
		return dataLayout{}, fmt.Errorf("%w: data segment %s is too small", ErrConnectionCorrupted, seg.Name())
	}
	h := dataHeaderOf(b)
	l := dataLayout{stride: h.chunkStride, numChunks: h.numChunks, chunksOff: h.chunksOffset,
		payloadOff: h.payloadOff, payloadSize: h.payloadSize, elemSize: h.elemSize, poolOff: h.poolOffset,
		headerOff: h.headerOff, headerSize: h.headerSize, tableOff: h.tableOffset, tableLen: h.tableLen, size: len(b)}
	ok := l.elemSize == wantElem && l.headerSize == wantHeader && l.tableLen == wantTable &&
		(l.tableLen == 0 || l.tableOff%8 == 0 && l.tableOff <= l.chunksOff &&
			(l.chunksOff-l.tableOff)/8 >= l.tableLen) &&
		(l.headerSize == 0 || l.headerOff >= chunkHeaderSize && l.headerOff+l.headerSize <= l.payloadOff) &&
		l.stride%8 == 0 && l.stride > 0 && l.numChunks > 0 && l.numChunks <= 1<<24 &&
		l.payloadOff >= chunkHeaderSize && l.payloadOff%8 == 0 &&
		l.payloadOff+l.payloadSize <= l.stride && l.payloadSize >= l.elemSize &&
		l.chunksOff%8 == 0 && l.chunksOff <= uint64(len(b)) &&
		(uint64(len(b))-l.chunksOff)/l.stride >= l.numChunks
	if !ok {
		return dataLayout{}, fmt.Errorf("%w: data segment %s has an invalid geometry", ErrConnectionCorrupted, seg.Name())
	}
	if l.tableLen == 0 {
		l.tableOff = 0 // no table: whatever the header says is never used
	}
	l.derive()
	return l, nil
}

// encode turns chunk index i into the value that travels through the
// queues: its offset in the data segment, shifted to leave room for a
// segment number (always 0 for now), as iceoryx2's PointerOffset.
func (l *dataLayout) encode(i uint32) uint64 {
	return (l.chunksOff + uint64(i)*l.stride) << 8
}

// decode validates a value read from a queue that another process wrote
// and returns its chunk index.
func (l *dataLayout) decode(v uint64) (uint32, bool) {
	if v&0xff != 0 {
		return 0, false
	}
	off := v >> 8
	if off < l.chunksOff {
		return 0, false
	}
	rel := off - l.chunksOff
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
	if q*l.stride != rel {
		if rel%l.stride != 0 {
			return 0, false
		}
		q = rel / l.stride
	}
	if q >= l.numChunks {
		return 0, false
	}
	return uint32(q), true
}

// connHeader follows the shm.Header of a connection segment. A connection
// joins one sender to one receiver: the sender creates it, the receiver
// maps it. Written by the sender before publishing, never changed.
type connHeader struct {
	sender        uint64
	receiver      uint64
	submissionCap uint32
	completionCap uint32
	channels      uint32
	_             uint32
	// attached is set by the receiver once it has mapped the connection
	// and the sender's data segment: from then on, the sender may remove
	// both files without the receiver losing what is queued. Written by
	// the receiver, read by the sender when it closes and by the cleaner
	// of a dead sender (connectionNeeded), which keeps the files until it
	// is set. A receiver that cannot map a dead sender's data segment sets
	// it all the same: it has nothing to wait for.
	attached atomic.Uint64
	_        [88]byte
}

// connLayout is the geometry of a connection segment: channels submission
// queues of subCap elements each (one for publish-subscribe and requests;
// one per request slot of the client for responses), then one completion
// queue of compCap elements, each queue on its own 128-byte lines.
type connLayout struct {
	channels        uint32
	subCap, compCap uint32
	subOff, subSize int // first submission queue; the next one starts subSize later
	compOff         int
	size            int
}

func newConnLayout(channels, subCap, compCap uint32) connLayout {
	l := connLayout{channels: channels, subCap: subCap, compCap: compCap}
	l.subOff = align(shm.HeaderSize+int(unsafe.Sizeof(connHeader{})), 128)
	l.subSize = align(ring.QueueMemorySize(subCap), 128)
	l.compOff = l.subOff + int(channels)*l.subSize
	l.size = align(l.compOff+ring.QueueMemorySize(compCap), 128)
	return l
}

func (l *connLayout) valid() bool {
	return l.channels >= 1 && l.channels <= 1<<16 && l.subSize > 0 && ring.QueueMemorySize(l.compCap) > 0
}

func (l *connLayout) sub(b []byte, ch int) []byte {
	off := l.subOff + ch*l.subSize
	return b[off : off+l.subSize]
}

func connHeaderOf(b []byte) *connHeader {
	return (*connHeader)(unsafe.Pointer(&b[shm.HeaderSize]))
}

// connection is a mapped connection segment.
type connection struct {
	seg        shm.Segment
	hdr        *connHeader
	submission *ring.Queue   // sender -> receiver: chunks; channels[0]
	channels   []*ring.Queue // every submission queue
	completion *ring.Queue   // receiver -> sender: chunks given back
}

func createConnection(p shm.Provider, name string, sender, receiver ID, l connLayout) (*connection, error) {
	if !l.valid() {
		return nil, fmt.Errorf("iox2: connection %s: invalid geometry %+v", name, l)
	}
	seg, err := p.Create(name, l.size)
	if err != nil {
		return nil, err
	}
	b := seg.Bytes()
	h := connHeaderOf(b)
	h.sender, h.receiver = uint64(sender), uint64(receiver)
	h.submissionCap, h.completionCap, h.channels = l.subCap, l.compCap, l.channels
	c := &connection{seg: seg, channels: make([]*ring.Queue, l.channels)}
	var errs []error
	for ch := range c.channels {
		q, err := ring.NewQueue(l.sub(b, ch), l.subCap)
		c.channels[ch] = q
		errs = append(errs, err)
	}
	cq, err := ring.NewQueue(b[l.compOff:], l.compCap)
	if err := errors.Join(append(errs, err)...); err != nil {
		seg.Close()
		p.Remove(name)
		return nil, fmt.Errorf("iox2: connection %s: %v", name, err)
	}
	c.submission, c.completion, c.hdr = c.channels[0], cq, h
	// SYNC POINT publish: paired with openConnection's OpenReady.
	shm.Publish(seg, kindConnection, layoutVersion)
	return c, nil
}

func openConnection(p shm.Provider, name string, sender, receiver ID, l connLayout) (*connection, error) {
	if !l.valid() {
		return nil, fmt.Errorf("iox2: connection %s: invalid geometry %+v", name, l)
	}
	seg, err := shm.OpenReady(p, name, kindConnection, layoutVersion, true, 0)
	if err != nil {
		return nil, err
	}
	b := seg.Bytes()
	if len(b) != l.size {
		seg.Close()
		return nil, fmt.Errorf("%w: connection %s has %d bytes, expected %d", ErrConnectionCorrupted, name, len(b), l.size)
	}
	h := connHeaderOf(b)
	if h.sender != uint64(sender) || h.receiver != uint64(receiver) || h.channels != l.channels {
		seg.Close()
		return nil, fmt.Errorf("%w: connection %s joins other ports", ErrConnectionCorrupted, name)
	}
	c := &connection{seg: seg, channels: make([]*ring.Queue, l.channels)}
	var errs []error
	for ch := range c.channels {
		q, err := ring.AttachQueue(l.sub(b, ch), l.subCap)
		c.channels[ch] = q
		errs = append(errs, err)
	}
	cq, err := ring.AttachQueue(b[l.compOff:], l.compCap)
	if err := errors.Join(append(errs, err)...); err != nil {
		seg.Close()
		return nil, fmt.Errorf("%w: connection %s: %v", ErrConnectionCorrupted, name, err)
	}
	c.submission, c.completion, c.hdr = c.channels[0], cq, h
	return c, nil
}
