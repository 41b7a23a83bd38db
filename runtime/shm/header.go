package shm

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"
	"unsafe"
)

// Magic is the upper half of a published ready word: "ix2g" in ASCII. It
// changes whenever the layout of Header changes, so a Header of another
// layout is reported as ErrCorrupt, never misread.
const Magic uint32 = 0x69783267

// HeaderSize is the size of Header: the first HeaderSize bytes of every
// segment that the runtime creates.
const HeaderSize = 128

// A compile error here means that Header is no longer HeaderSize bytes.
var (
	_ [HeaderSize - unsafe.Sizeof(Header{})]byte
	_ [unsafe.Sizeof(Header{}) - HeaderSize]byte
)

// Header is the first HeaderSize bytes of every segment the runtime creates.
// A segment's layout is one Go struct that starts with a Header:
//
//	type dynamicConfig struct {
//		shm.Header
//		...
//	}
//
// The creator fills the header and its payload, then Publish stores the
// ready word last; OpenReady waits for the ready word and checks it. Every
// field is written only by the creator, before Publish, and read by openers
// only after their load of the ready word has returned non-zero.
type Header struct {
	// ready is Magic<<32 | protocol version, zero until Publish.
	// Written once by the creator (Publish), polled by openers (OpenReady).
	ready atomic.Uint64 // offset 0
	// kind says what the segment is (the runtime's constants). Written by
	// Init and Publish, read by OpenReady.
	kind uint32 // offset 8
	_    uint32 // offset 12: reserved, zero
	// size is the length of the mapping in bytes. Written by Init and
	// Publish, read by OpenReady, which compares it with the mapping.
	size uint64 // offset 16
	// creatorPID is the process id of the creator, for diagnostics only
	// (process ids are reused: liveness is a Lock's business).
	creatorPID uint64 // offset 24
	// createdNanos is the creation time, Unix nanoseconds, for diagnostics.
	createdNanos int64 // offset 32
	// Pad to 128 bytes, so that the creator's payload starts on its own
	// cache-line pair and does not share a line with the header.
	_ [HeaderSize - 40]byte
}

// Ready returns the ready word: Magic<<32 | version once published, zero
// before.
func (h *Header) Ready() uint64 {
	return h.ready.Load() // SYNC POINT ready: paired with Publish's store.
}

// Kind returns the kind written by Init or Publish.
func (h *Header) Kind() uint32 { return h.kind }

// Size returns the size of the segment as written by Init or Publish.
func (h *Header) Size() uint64 { return h.size }

// CreatorPID returns the process id of the creator (diagnostics only).
func (h *Header) CreatorPID() int { return int(h.creatorPID) }

// Created returns the time Init or Publish first wrote the header.
func (h *Header) Created() time.Time { return time.Unix(0, h.createdNanos) }

// HeaderOf returns the Header at the start of seg's mapping. It panics when
// the segment is closed, smaller than HeaderSize or misaligned. Writing
// through it requires a writable segment.
func HeaderOf(seg Segment) *Header { return headerOf(seg.Bytes()) }

func headerOf(b []byte) *Header {
	if len(b) < HeaderSize {
		panic(fmt.Sprintf("shm: segment of %d bytes has no room for a %d-byte header", len(b), HeaderSize))
	}
	p := unsafe.Pointer(unsafe.SliceData(b))
	if uintptr(p)%8 != 0 {
		panic("shm: segment is not 8-byte aligned")
	}
	return (*Header)(p)
}

// Init writes kind, size, creator pid and creation time into seg's header,
// but not the ready word: the segment stays unpublished. The creator may
// call it right after Create; Publish writes the same fields again.
// It panics when seg is not writable.
func Init(seg Segment, kind uint32) {
	if !seg.Writable() {
		panic("shm: Init of a read-only segment")
	}
	b := seg.Bytes()
	h := headerOf(b)
	h.kind = kind
	h.size = uint64(len(b))
	if h.creatorPID == 0 {
		h.creatorPID = uint64(os.Getpid())
		h.createdNanos = time.Now().UnixNano()
	}
}

// Publish makes seg visible to OpenReady: it writes kind and size (as Init
// does) and then stores the ready word, Magic<<32 | version, last. Every
// write the creator made to the segment before Publish is visible to an
// opener whose OpenReady returned the segment. Call it once, after the
// payload is fully initialized. It panics when seg is not writable.
func Publish(seg Segment, kind uint32, version uint32) {
	Init(seg, kind)
	// SYNC POINT ready: publishes the header and the whole payload; paired
	// with the load in OpenReady (and Header.Ready). After this store the
	// creator must not change what openers read without their own sync.
	HeaderOf(seg).ready.Store(uint64(Magic)<<32 | uint64(version))
}

// OpenReady opens the published segment name of p and checks its header.
//
// It waits up to timeout for the segment to be published, sleeping with a
// bounded backoff between attempts (it never spins): while the file is still
// empty and while the ready word is zero. It fails with
//   - ErrNotExist when the segment does not exist (without waiting),
//   - ErrNotInitialized when it is not published within timeout: its
//     creator is slow or died while creating it,
//   - ErrCorrupt when the magic is wrong, the segment is smaller than a
//     Header, or the size in the header disagrees with the mapping,
//   - ErrVersionMismatch when it was published with another version (the
//     message shows both),
//   - ErrWrongKind when it was published as another kind.
//
// On error, the segment is closed. A timeout of zero or less checks once.
func OpenReady(p Provider, name string, kind uint32, version uint32, writable bool, timeout time.Duration) (Segment, error) {
	deadline := time.Now().Add(timeout)
	var b backoff
	for {
		seg, err := p.Open(name, writable)
		if err == nil {
			return awaitReady(seg, kind, version, timeout, deadline, &b)
		}
		if !errors.Is(err, ErrNotInitialized) || !b.wait(deadline) {
			return nil, err
		}
	}
}

func awaitReady(seg Segment, kind, version uint32, timeout time.Duration, deadline time.Time, b *backoff) (Segment, error) {
	buf := seg.Bytes()
	if len(buf) < HeaderSize {
		seg.Close()
		return nil, &Error{Op: "open", Name: seg.Name(), Err: fmt.Errorf("%w: %d bytes, too small for a header", ErrCorrupt, len(buf))}
	}
	h := headerOf(buf)
	for h.Ready() == 0 {
		if !b.wait(deadline) {
			seg.Close()
			return nil, &Error{Op: "open", Name: seg.Name(), Err: fmt.Errorf("%w: not published within %v", ErrNotInitialized, max(timeout, 0))}
		}
	}
	if err := check(h, len(buf), kind, version); err != nil {
		seg.Close()
		return nil, &Error{Op: "open", Name: seg.Name(), Err: err}
	}
	return seg, nil
}

// check validates a published header against what the opener expects. It
// reads everything once, so a peer that scribbles on the header concurrently
// cannot make it inconsistent with itself.
func check(h *Header, mapped int, kind, version uint32) error {
	w := h.Ready()
	gotMagic, gotVersion := uint32(w>>32), uint32(w)
	if gotMagic != Magic {
		return fmt.Errorf("%w: bad magic %#08x, want %#08x", ErrCorrupt, gotMagic, Magic)
	}
	if gotVersion != version {
		return fmt.Errorf("%w: the segment uses protocol version %d, this process speaks %d", ErrVersionMismatch, gotVersion, version)
	}
	if k := h.Kind(); k != kind {
		return fmt.Errorf("%w: the segment is of kind %d, want kind %d", ErrWrongKind, k, kind)
	}
	if s := h.Size(); s != uint64(mapped) {
		return fmt.Errorf("%w: the header says %d bytes, the mapping has %d", ErrCorrupt, s, mapped)
	}
	return nil
}

// backoff sleeps between polls: 50µs at first, doubling up to 10ms, never
// past the deadline.
type backoff struct{ d time.Duration }

const (
	minBackoff = 50 * time.Microsecond
	maxBackoff = 10 * time.Millisecond
)

// wait sleeps for the next interval and reports whether the caller may try
// again (false once the deadline has passed).
func (b *backoff) wait(deadline time.Time) bool {
	left := time.Until(deadline)
	if left <= 0 {
		return false
	}
	b.d = min(max(2*b.d, minBackoff), maxBackoff)
	time.Sleep(min(b.d, left))
	return true
}
