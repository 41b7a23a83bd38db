package ring

import (
	"math/bits"
	"sync/atomic"
	"unsafe"
)

// queueShared is the fixed part of a Queue in shared memory; the cells
// follow it directly, on the producer's line. The write and read positions
// are free-running counters; the value at position p is in cell
// p & (cells-1).
type queueShared struct {
	hdr header // offset 0: written once by the creator

	// read is the position of the oldest element. Advanced by compare-and-
	// swap, by the consumer (Pop) and by the producer (eviction in
	// PushOverflow); read by both.
	read atomic.Uint64 // offset 128
	// Padding keeps the consumer's word and the producer's words on
	// different lines, to avoid false sharing.
	_ [lineSize - 8]byte

	// write is the position of the next Push. Written only by the producer;
	// read by the consumer (and by Len and IsEmpty). The cells, also
	// written only by the producer, start right after it: the first ones
	// share its cache line, so that a consumer that sees a new write
	// position has usually fetched the new cell with it, and a Push of the
	// producer writes one line instead of two.
	write atomic.Uint64 // offset 256
}

// slotEmptyMark is the one value a queue of capacity 1 cannot hold: the slot
// stores v+1, and 0 means empty.
const slotEmptyMark = 1<<64 - 1

// popRetries bounds the compare-and-swap attempts of one Pop. Every failed
// attempt means that the producer evicted the element the consumer was about
// to take (or that someone corrupts the read position), so a well-behaved
// producer never comes close to it; it keeps a hostile one from trapping the
// consumer in Pop.
const popRetries = 64

// queueCells returns the number of cells of a queue: capacity+1 (one free
// cell for safe overflow) rounded up to a power of two.
func queueCells(capacity uint32) int {
	// With k = bits.Len32(capacity), 2^(k-1) <= capacity < 2^k, so 2^k is
	// the smallest power of two >= capacity+1.
	return 1 << bits.Len32(capacity)
}

// QueueMemorySize returns the number of bytes a Queue of the given capacity
// needs, a multiple of 128, or 0 when the capacity is 0 or larger than
// MaxCapacity.
func QueueMemorySize(capacity uint32) int {
	if capacity == 0 || capacity > MaxCapacity {
		return 0
	}
	return roundUp(int(unsafe.Sizeof(queueShared{})) + queueCells(capacity)*cellSize)
}

// Queue is a lock-free single-producer single-consumer queue of uint64
// values, with optional safe overflow, in caller-provided memory (see the
// package documentation for the design). A Queue of capacity 1 is a single
// exchanged word, which cannot hold the value 1<<64-1 (see Push and
// PushOverflow).
//
// One party is the producer (Push, PushOverflow) and one the consumer (Pop);
// they may be in different processes, each with its own handle, or be two
// goroutines sharing one handle. Len, Cap and IsEmpty may be called by
// anyone. A Push or PushOverflow of v synchronizes before the Pop that
// returns v. For every element, exactly one of Pop and an evicting
// PushOverflow returns it.
type Queue struct {
	// Read-only after New/Attach.
	shm      *queueShared
	cells    []atomic.Uint64
	mask     uint64
	capacity uint64 // copied at New/Attach, never re-read from shm
	// slot is set for capacity 1: the queue is the word cells[0], 0 when
	// empty, v+1 when it holds v, and every operation is one atomic
	// instruction on it (see the package documentation).
	slot bool
	_    [lineSize]byte

	// Producer-local: a copy of the read position, never greater than the
	// shared one (both only grow).
	readCache uint64
	_         [lineSize]byte

	// Consumer-local: a copy of the write position, never greater than the
	// shared one, and a guess of the read position (checked by the
	// compare-and-swap of Pop).
	writeCache uint64
	readGuess  uint64
	_          [lineSize]byte
}

// NewQueue initializes mem as an empty Queue of the given capacity and
// returns a handle to it. It is called by the creator, before any opener
// attaches; it overwrites whatever mem held.
func NewQueue(mem []byte, capacity uint32) (*Queue, error) {
	if err := checkMem("queue", mem, capacity, QueueMemorySize(capacity)); err != nil {
		return nil, err
	}
	q := newQueueHandle(mem, capacity)
	for i := range q.cells {
		q.cells[i].Store(0) // SYNC POINT Q0 init: published by H1.
	}
	q.shm.write.Store(0) // SYNC POINT Q0 init: published by H1.
	q.shm.read.Store(0)  // SYNC POINT Q0 init: published by H1.
	q.shm.hdr.publish(magicQueue, capacity)
	return q, nil
}

// AttachQueue returns a handle to the Queue that a creator initialized in
// mem. It fails with ErrCapacityMismatch when the creator's capacity differs
// from capacity, and with ErrNotInitialized when mem does not hold a Queue.
func AttachQueue(mem []byte, capacity uint32) (*Queue, error) {
	if err := checkMem("queue", mem, capacity, QueueMemorySize(capacity)); err != nil {
		return nil, err
	}
	q := newQueueHandle(mem, capacity)
	if err := q.shm.hdr.check("queue", magicQueue, capacity); err != nil {
		return nil, err
	}
	// SYNC POINT Q5 attach: loads that seed the local copies; any value is
	// safe, because each copy is validated before use.
	r := q.shm.read.Load()
	q.readCache, q.readGuess = r, r
	q.writeCache = q.shm.write.Load() // SYNC POINT Q5 attach (see above).
	return q, nil
}

func newQueueHandle(mem []byte, capacity uint32) *Queue {
	n := queueCells(capacity)
	return &Queue{
		shm:      (*queueShared)(unsafe.Pointer(unsafe.SliceData(mem))),
		cells:    words(mem, int(unsafe.Sizeof(queueShared{})), n),
		mask:     uint64(n - 1),
		capacity: uint64(capacity),
		slot:     capacity == 1,
	}
}

// Push appends v and reports true, or reports false, with no effect, when
// the queue is full (or, with capacity 1, when v is 1<<64-1, which the slot
// cannot hold). It must only be called by the single producer.
func (q *Queue) Push(v uint64) bool {
	if q.slot {
		// SYNC POINT S1 fill: publishes v and everything the caller wrote
		// before; paired with the consumer's S3. Fails when the slot is
		// occupied (or corrupted).
		return v != slotEmptyMark && q.cells[0].CompareAndSwap(0, v+1)
	}
	// SYNC POINT Q1 own position: the producer is the only writer of write,
	// so this load returns its own last store (Q2). A corrupted value is
	// harmless: it is only ever masked.
	w := q.shm.write.Load()
	if w-q.readCache >= q.capacity {
		// SYNC POINT Q3 free cells: paired with the compare-and-swap of Pop
		// (Q4); every position below the loaded value was consumed or
		// evicted, so its cell may be reused.
		q.readCache = q.shm.read.Load()
		if w-q.readCache >= q.capacity { // full (or read corrupted)
			return false
		}
	}
	// Writes a cell that no element occupies: w - read < capacity < cells.
	storeRelease(&q.cells[w&q.mask], v) // SYNC POINT Q2a cell: published by Q2.
	// SYNC POINT Q2 publish: a release store (storeRelease) that makes the
	// cell at w, and everything the caller wrote before Push, visible and
	// passes them to the consumer; paired with the load of write in Pop
	// (Q6).
	storeRelease(&q.shm.write, w+1)
	return true
}

// PushOverflow always appends v. When the queue is full it first takes out
// the oldest element and returns it with overflowed true, unless the
// consumer takes that element first, in which case nothing is evicted. It
// must only be called by the single producer. (With capacity 1 the value
// 1<<64-1 cannot be stored: it comes straight back as the evicted element,
// and the queue is left as it was.)
func (q *Queue) PushOverflow(v uint64) (evicted uint64, overflowed bool) {
	if q.slot {
		if v == slotEmptyMark {
			return v, true
		}
		// SYNC POINT S2 exchange: publishes v like S1, and takes the
		// element the slot held, if any; races with the consumer's S3 for
		// it: both are exchanges of the same word, so exactly one of them
		// gets it.
		if old := q.cells[0].Swap(v + 1); old != 0 {
			return old - 1, true
		}
		return 0, false
	}
	w := q.shm.write.Load() // SYNC POINT Q1 own position (see Push).
	// The cell at w is free without looking at the read position: every
	// PushOverflow (and Push) leaves at most capacity elements behind it
	// (it evicts, or the consumer took one), so w - read <= capacity <
	// cells, and the consumer may at most be reading the cell at read.
	// Hence the value is published first, and whether the queue was full
	// (whether to evict) is decided afterwards: the load of the read
	// position, which the consumer has just written, is then off the path
	// from this push to the consumer's pop.
	storeRelease(&q.cells[w&q.mask], v) // SYNC POINT Q2a cell: published by Q2.
	// SYNC POINT Q2 publish (see Push). When full, the queue now holds
	// capacity+1 elements until the compare-and-swap below.
	storeRelease(&q.shm.write, w+1)
	r := q.readCache
	if w-r < q.capacity {
		return 0, false
	}
	r = q.shm.read.Load() // SYNC POINT Q3 free cells (see Push).
	q.readCache = r
	// The consumer may already have taken the new element too (r == w+1):
	// not full either.
	if r > w || w-r < q.capacity { // not full
		return 0, false
	}
	// Only the producer writes cells, and it is here: the cell at r still
	// holds the element at position r.
	old := q.cells[r&q.mask].Load() // SYNC POINT Q2a cell (own store).
	// SYNC POINT Q4 evict: races with the compare-and-swap of Pop for
	// position r; exactly one of them succeeds. On success the element at r
	// passes to the producer.
	if q.shm.read.CompareAndSwap(r, r+1) {
		q.readCache = r + 1
		return old, true
	}
	return 0, false // the consumer took it
}

// Pop removes and returns the oldest element, or reports false when the
// queue is empty. It must only be called by the single consumer.
//
// Pop may also report false when the memory is corrupted, or in the
// practically impossible case that the producer evicts the oldest element
// popRetries times in a row while Pop tries to take it.
func (q *Queue) Pop() (uint64, bool) {
	if q.slot {
		// SYNC POINT S4 poll: a plain load keeps the line shared while
		// the slot is empty, so that polling does not take it from the
		// producer; paired with S1 and S2 like S3.
		if q.cells[0].Load() == 0 {
			return 0, false
		}
		// SYNC POINT S3 take: paired with S1 and S2 (their stores happen
		// before it). Only the consumer empties the slot, so it still
		// holds an element (the one loaded, or a newer one that evicted
		// it), unless the memory is corrupted.
		if v := q.cells[0].Swap(0); v != 0 {
			return v - 1, true
		}
		return 0, false
	}
	r := q.readGuess
	limit := q.capacity + 1 // most elements a valid state holds (overflow)
	for range popRetries {
		var v uint64
		if n := q.writeCache - r; n-1 >= limit { // n == 0 or n > limit
			// SYNC POINT Q6 consume: paired with Q2; makes the cells below
			// the loaded position visible.
			q.writeCache = q.shm.write.Load()
			// The cell is loaded right away, before the checks, so that
			// the processor fetches both lines at once when the producer
			// has just written them. The value is used only if the checks
			// pass: then the cell's store (Q2a) happened before Q6.
			v = q.cells[r&q.mask].Load() // SYNC POINT Q2a cell: ordered by Q6.
			n = q.writeCache - r
			if n == 0 {
				// r never exceeds the shared read position (it only grows,
				// and r came from it), so read == write: empty.
				q.readGuess = r
				return 0, false
			}
			if n > limit {
				// r is stale (evictions moved read past it), or the memory
				// is corrupted.
				// SYNC POINT Q7 resync: paired with Q4 (eviction).
				rr := q.shm.read.Load()
				if rr == r { // read and write are more than limit apart
					break
				}
				r = rr
				continue
			}
		} else {
			v = q.cells[r&q.mask].Load() // SYNC POINT Q2a cell: ordered by an earlier Q6.
		}
		// SYNC POINT Q4 take: races with the eviction of PushOverflow for
		// position r, exactly one of them succeeds. Success passes the
		// element to the consumer and its cell back to the producer (Q3).
		if q.shm.read.CompareAndSwap(r, r+1) {
			q.readGuess = r + 1
			return v, true
		}
		r = q.shm.read.Load() // SYNC POINT Q7 resync (see above).
	}
	q.readGuess = r
	return 0, false
}

// Len returns the number of elements in the queue, between 0 and Cap. It may
// be called by anyone. The result may be stale under concurrency.
func (q *Queue) Len() int {
	if q.slot {
		return int(min(q.cells[0].Load(), 1)) // SYNC POINT S5 snapshot: paired with S1-S3.
	}
	// SYNC POINT Q8 snapshot: loads read then write (so read <= write for a
	// valid queue); paired with Q2 and Q4.
	r := q.shm.read.Load()
	w := q.shm.write.Load()
	n := w - r
	switch {
	case int64(n) < 0: // corrupted
		return 0
	case n > q.capacity: // an eviction in progress, or corrupted
		return int(q.capacity)
	}
	return int(n)
}

// Cap returns the capacity of the queue.
func (q *Queue) Cap() int { return int(q.capacity) }

// PublishIsFence reports whether Push and PushOverflow end with a
// sequentially consistent operation, so that a load after them in program
// order cannot be satisfied before the element is visible: true for a queue
// of capacity 1 (an exchange) and where storeRelease is sequentially
// consistent. Where it is false, a producer that follows a push with a
// Dekker-style load (the runtime's wake word) calls a Fence first.
func (q *Queue) PublishIsFence() bool { return q.slot || !plainStores }

// A Fence is a full memory barrier that its owner executes: Full orders
// every load and store before it before every load and store after it
// (a locked instruction on amd64). It is a word of its own, so that owners
// in different goroutines do not share a cache line through it; keep it in
// the owner's struct, and use it from one goroutine at a time.
type Fence struct {
	w atomic.Uint64
	_ [56]byte
}

// Full executes the barrier.
func (f *Fence) Full() {
	// SYNC POINT fence: a read-modify-write is sequentially consistent in
	// Go's memory model; on amd64 it drains the store buffer.
	f.w.Add(1)
}

// IsEmpty reports whether the queue is empty. It is cheap (two loads, no
// write), for polling; it may be called by anyone. The result may be stale
// under concurrency.
func (q *Queue) IsEmpty() bool {
	if q.slot {
		return q.cells[0].Load() == 0 // SYNC POINT S5 snapshot (see Len).
	}
	// SYNC POINT Q8 snapshot (see Len).
	return q.shm.read.Load() == q.shm.write.Load()
}
