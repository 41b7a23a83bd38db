package protocol

import (
	"sync/atomic"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/ring"
	"github.com/iox2go/iox2go/runtime/shm"
)

// ConnHeader follows the shm.Header of a connection segment. A connection
// joins one sender to one receiver: the sender creates it, the receiver
// maps it. Written by the sender before publishing, never changed (but
// Attached).
//
//	shm.Header | ConnHeader | Channels submission ring.Queues | completion ring.Queue
type ConnHeader struct {
	Sender        uint64
	Receiver      uint64
	SubmissionCap uint32
	CompletionCap uint32
	Channels      uint32
	_             uint32
	// Attached is set by the receiver once it has mapped the connection
	// and the sender's data segment: from then on, the sender may remove
	// both files without the receiver losing what is queued. Written by
	// the receiver, read by the sender when it closes and by the cleaner
	// of a dead sender, which keeps the files until it is set. A receiver
	// that cannot map a dead sender's data segment sets it all the same:
	// it has nothing to wait for.
	Attached atomic.Uint64
	_        [88]byte
}

// QueueAlign is the alignment of every queue of a connection (and of the
// end of the segment).
const QueueAlign = 128

// MaxChannels bounds the submission queues of a connection.
const MaxChannels = 1 << 16

// ConnLayout is the geometry of a connection segment: Channels submission
// queues of SubCap elements each (one for publish-subscribe and requests;
// one per request slot of the client for responses), then one completion
// queue of CompCap elements, each queue on its own 128-byte lines.
type ConnLayout struct {
	Channels        uint32
	SubCap, CompCap uint32
	SubOff, SubSize int // first submission queue; the next one starts SubSize later
	CompOff         int
	Size            int
}

// NewConnLayout computes the geometry of a connection segment.
func NewConnLayout(channels, subCap, compCap uint32) ConnLayout {
	l := ConnLayout{Channels: channels, SubCap: subCap, CompCap: compCap}
	l.SubOff = Align(shm.HeaderSize+int(unsafe.Sizeof(ConnHeader{})), QueueAlign)
	l.SubSize = Align(ring.QueueMemorySize(subCap), QueueAlign)
	l.CompOff = l.SubOff + int(channels)*l.SubSize
	l.Size = Align(l.CompOff+ring.QueueMemorySize(compCap), QueueAlign)
	return l
}

// Valid reports whether the geometry's capacities are in range.
func (l *ConnLayout) Valid() bool {
	return l.Channels >= 1 && l.Channels <= MaxChannels && l.SubSize > 0 && ring.QueueMemorySize(l.CompCap) > 0
}

// Sub returns the memory of submission queue ch in segment b.
func (l *ConnLayout) Sub(b []byte, ch int) []byte {
	off := l.SubOff + ch*l.SubSize
	return b[off : off+l.SubSize]
}

// ConnHeaderOf returns the ConnHeader of a mapped connection segment.
func ConnHeaderOf(b []byte) *ConnHeader {
	return (*ConnHeader)(unsafe.Pointer(&b[shm.HeaderSize]))
}
