package runtime

import (
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
	"github.com/iox2go/iox2go/runtime/ring"
	"github.com/iox2go/iox2go/runtime/shm"
)

// The event segment of a listener (<prefix><listener-id>.event in ShmDir):
// its layout and protocol are protocol.EventHeader's.

// eventName is the name of listener port's event segment.

// eventSeg is a mapped event segment, by its listener or by a notifier.
type eventSeg struct {
	seg      shm.Segment
	hdr      *protocol.EventHeader
	bits     *ring.BitSet
	counters []atomic.Uint64
}

func layEventSegment(seg shm.Segment, numIDs uint32) (*eventSeg, protocol.EventLayout, error) {
	l := protocol.NewEventLayout(numIDs)
	b := seg.Bytes()
	if len(b) != l.Size {
		return nil, l, fmt.Errorf("%w: event segment %s has %d bytes, expected %d", ErrConnectionCorrupted, seg.Name(), len(b), l.Size)
	}
	s := &eventSeg{
		seg:      seg,
		hdr:      (*protocol.EventHeader)(unsafe.Pointer(&b[protocol.EventHeaderOffset])),
		counters: unsafe.Slice((*atomic.Uint64)(unsafe.Pointer(&b[l.CountersOff])), numIDs),
	}
	return s, l, nil
}

// createEventSegment creates and publishes the event segment of listener id.
func createEventSegment(p shm.Provider, name string, id ID, numIDs uint32) (*eventSeg, error) {
	seg, err := p.Create(name, protocol.NewEventLayout(numIDs).Size)
	if err != nil {
		return nil, err
	}
	s, l, err := layEventSegment(seg, numIDs)
	if err == nil {
		s.bits, err = ring.NewBitSet(seg.Bytes()[l.BitsOff:l.CountersOff], numIDs)
	}
	if err != nil {
		seg.Close()
		p.Remove(name)
		return nil, err
	}
	s.hdr.Listener = uint64(id)
	s.hdr.NumIDs = uint64(numIDs)
	// SYNC POINT publish: paired with openEventSegment's OpenReady.
	shm.Publish(seg, protocol.KindEvent, protocol.Version)
	return s, nil
}

// openEventSegment maps the event segment of listener id, whose size the
// caller knows from the static config.
func openEventSegment(p shm.Provider, name string, id ID, numIDs uint32, timeout time.Duration) (*eventSeg, error) {
	seg, err := shm.OpenReady(p, name, protocol.KindEvent, protocol.Version, true, timeout)
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
	if err == nil && (s.hdr.Listener != uint64(id) || s.hdr.NumIDs != uint64(numIDs)) {
		err = fmt.Errorf("%w: event segment %s belongs to listener %x with %d ids", ErrConnectionCorrupted, seg.Name(), s.hdr.Listener, s.hdr.NumIDs)
	}
	if err == nil {
		s.bits, err = ring.AttachBitSet(seg.Bytes()[l.BitsOff:l.CountersOff], numIDs)
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
	if s.hdr.Wake.Load() != 0 {
		claimAndRing(cfg, &s.hdr.Wake, node)
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
