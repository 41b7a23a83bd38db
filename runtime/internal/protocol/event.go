package protocol

import (
	"sync/atomic"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/ring"
	"github.com/iox2go/iox2go/runtime/shm"
)

// EventHeader follows the shm.Header of a listener's event segment. After
// it come a ring.BitSet of pending event ids and one counter per id:
//
//	shm.Header | EventHeader | BitSet(numIDs) | [numIDs]atomic.Uint64 (padded to 128)
//
// The listener creates the segment before it activates its port slot;
// notifiers map it when they see the slot (and the process cleaning up a
// dead node maps it to send the notifier dead event).
//
// The protocol, for an event id i:
//
//	notify:  counters[i].Add(1); if !bits.Set(i) && wake != 0 { t := wake.Swap(0); ring(listener's node, t) }
//	drain:   for each i taken by bits.Drain: c := counters[i].Swap(0); report (i, c) if c != 0
//	sleep:   wake = token; if nothing pending { park on the waitpoint }; (last sleeper) wake = 0
//
// Counter before bit on notify, bit before counter on drain: a count is
// always taken no later than the drain that takes its bit, and a count
// taken early leaves a bit with a zero count behind, which the drain skips.
// Pending events live in the segment, so a wake-up is never the only record
// of an event.
type EventHeader struct {
	// Wake is the listener's word W of the sleep handshake: the token of
	// its waitpoint while a goroutine of its process (a blocking wait, a
	// WaitSet) sleeps or is about to, else 0. Stored by the listener's
	// process; taken (Swap) by a notify that set a bit from clear, which
	// then rings the listener's node.
	Wake atomic.Uint64
	_    [120]byte // own line: read by every notify, written by the sleeper

	// Written by the listener before it publishes the segment, never changed;
	// openers compare them with what they expect.
	Listener uint64 // the listener's port ID
	NumIDs   uint64 // EventIDMaxValue + 1
	_        [112]byte
}

// EventHeaderOffset is the offset of the EventHeader in the segment.
const EventHeaderOffset = shm.HeaderSize

// CountersAlign is the alignment of the end of the counters.
const CountersAlign = 128

// EventLayout is the geometry of an event segment.
type EventLayout struct {
	BitsOff, CountersOff, Size int
}

// NewEventLayout computes the geometry of an event segment of numIDs ids.
func NewEventLayout(numIDs uint32) EventLayout {
	var l EventLayout
	l.BitsOff = EventHeaderOffset + int(unsafe.Sizeof(EventHeader{}))
	l.CountersOff = l.BitsOff + ring.BitSetMemorySize(numIDs)
	l.Size = l.CountersOff + Align(int(numIDs)*8, CountersAlign)
	return l
}
