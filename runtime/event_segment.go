package runtime

import (
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/ring"
	"github.com/iox2go/iox2go/runtime/shm"
)

// eventHeader follows the shm.Header of a listener's event segment
// (<prefix><listener-id>.event in ShmDir). After it come a ring.BitSet of
// pending event ids and one counter per id:
//
//	shm.Header | eventHeader | BitSet(numIDs) | [numIDs]atomic.Uint64
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
type eventHeader struct {
	// wake is the listener's word W of the sleep handshake (see
	// waitpoint): the token of its waitpoint while a goroutine of its
	// process (a blocking wait, a WaitSet) sleeps or is about to, else 0.
	// Stored by the listener's process; taken (Swap) by a notify that set
	// a bit from clear, which then rings the listener's node.
	wake atomic.Uint64
	_    [120]byte // own line: read by every notify, written by the sleeper

	// Written by the listener before it publishes the segment, never changed;
	// openers compare them with what they expect.
	listener uint64 // the listener's port ID
	numIDs   uint64 // EventIDMaxValue + 1
	_        [112]byte
}

// A compile error here means eventHeader is no longer 256 bytes.
var (
	_ [256 - unsafe.Sizeof(eventHeader{})]byte
	_ [unsafe.Sizeof(eventHeader{}) - 256]byte
)

const eventHeaderOffset = shm.HeaderSize

type eventLayout struct {
	bitsOff, countersOff, size int
}

func newEventLayout(numIDs uint32) eventLayout {
	var l eventLayout
	l.bitsOff = eventHeaderOffset + int(unsafe.Sizeof(eventHeader{}))
	l.countersOff = l.bitsOff + ring.BitSetMemorySize(numIDs)
	l.size = l.countersOff + align(int(numIDs)*8, 128)
	return l
}

// eventName is the name of listener port's event segment.
func (c *Config) eventName(port ID) string { return c.Prefix + port.String() + ".event" }

// eventSeg is a mapped event segment, by its listener or by a notifier.
type eventSeg struct {
	seg      shm.Segment
	hdr      *eventHeader
	bits     *ring.BitSet
	counters []atomic.Uint64
}

func layEventSegment(seg shm.Segment, numIDs uint32) (*eventSeg, eventLayout, error) {
	l := newEventLayout(numIDs)
	b := seg.Bytes()
	if len(b) != l.size {
		return nil, l, fmt.Errorf("%w: event segment %s has %d bytes, expected %d", ErrConnectionCorrupted, seg.Name(), len(b), l.size)
	}
	s := &eventSeg{
		seg:      seg,
		hdr:      (*eventHeader)(unsafe.Pointer(&b[eventHeaderOffset])),
		counters: unsafe.Slice((*atomic.Uint64)(unsafe.Pointer(&b[l.countersOff])), numIDs),
	}
	return s, l, nil
}

// createEventSegment creates and publishes the event segment of listener id.
func createEventSegment(p shm.Provider, name string, id ID, numIDs uint32) (*eventSeg, error) {
	seg, err := p.Create(name, newEventLayout(numIDs).size)
	if err != nil {
		return nil, err
	}
	s, l, err := layEventSegment(seg, numIDs)
	if err == nil {
		s.bits, err = ring.NewBitSet(seg.Bytes()[l.bitsOff:l.countersOff], numIDs)
	}
	if err != nil {
		seg.Close()
		p.Remove(name)
		return nil, err
	}
	s.hdr.listener = uint64(id)
	s.hdr.numIDs = uint64(numIDs)
	// SYNC POINT publish: paired with openEventSegment's OpenReady.
	shm.Publish(seg, kindEvent, layoutVersion)
	return s, nil
}

// openEventSegment maps the event segment of listener id, whose size the
// caller knows from the static config.
func openEventSegment(p shm.Provider, name string, id ID, numIDs uint32, timeout time.Duration) (*eventSeg, error) {
	seg, err := shm.OpenReady(p, name, kindEvent, layoutVersion, true, timeout)
	if err != nil {
		return nil, err
	}
	s, err := attachEventSegment(seg, id, numIDs)
	if err != nil {
		seg.Close()
		return nil, err
	}
	return s, nil
}

// attachEventSegment validates a mapped event segment that another process
// wrote: its size, owner and capacity must be what the caller expects.
func attachEventSegment(seg shm.Segment, id ID, numIDs uint32) (*eventSeg, error) {
	s, l, err := layEventSegment(seg, numIDs)
	if err == nil && (s.hdr.listener != uint64(id) || s.hdr.numIDs != uint64(numIDs)) {
		err = fmt.Errorf("%w: event segment %s belongs to listener %x with %d ids", ErrConnectionCorrupted, seg.Name(), s.hdr.listener, s.hdr.numIDs)
	}
	if err == nil {
		s.bits, err = ring.AttachBitSet(seg.Bytes()[l.bitsOff:l.countersOff], numIDs)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *eventSeg) close() { s.seg.Close() }

// notify records one notification of id (< numIDs, checked by the caller)
// and wakes the listener if it may be asleep: cfg is the domain, node the
// node word of the listener's slot (read only when it is rung).
func (s *eventSeg) notify(id uint32, cfg *Config, node *atomic.Uint64) {
	// SYNC POINT count: before the bit; paired with drain's Swap of the
	// counter, which comes after its Swap of the bit.
	s.counters[id].Add(1)
	if s.bits.Set(id) {
		// The bit was pending: whoever set it (before us, and not yet
		// drained) made sure the listener sees it or is woken, and our count
		// is taken with it. Nothing to wake.
		return
	}
	// SYNC POINT W-check (Dekker with the sleeper's W-arm): the bit's Set
	// above comes before this load; the sleeper's store of its token comes
	// before its pending check. So the sleeper sees the bit, or we see its
	// token, claim it and ring.
	if s.hdr.wake.Load() != 0 {
		claimAndRing(cfg, &s.hdr.wake, node)
	}
}

// drain takes every pending event and calls fn with its id and count, in
// increasing order of ids. It returns the number of ids reported and the
// sum of their counts.
func (s *eventSeg) drain(fn func(EventActivation)) (ids, total int) {
	s.bits.Drain(func(i uint32) {
		// SYNC POINT count: paired with notify's Add.
		c := s.counters[i].Swap(0)
		if c == 0 {
			return // taken with an earlier bit
		}
		ids++
		total += int(c)
		fn(EventActivation{ID: EventID(i), Count: c})
	})
	return ids, total
}

// pending reports whether an event may be pending; may be stale under
// concurrency, and a pending bit whose count an earlier drain took reports
// true once more.
func (s *eventSeg) pending() bool { return s.bits.Any() }
