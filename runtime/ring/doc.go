// Package ring provides the lock-free building blocks of iox2go that live in
// caller-provided memory: a single-producer single-consumer Queue of uint64
// values with optional safe overflow, a multi-producer multi-consumer Pool of
// free indices, and a BitSet of event ids.
//
// # Memory
//
// Every structure lives in a []byte that the caller provides and keeps alive
// (and mapped) for as long as a handle is in use: a MAP_SHARED mapping, shared
// with other processes, or heap memory (see NewHeapMemory). The slice must
// start at an 8-byte-aligned address (ErrMisaligned otherwise) and hold at
// least QueueMemorySize, PoolMemorySize or BitSetMemorySize bytes
// (ErrTooSmall otherwise). The sizes are multiples of 128, so that structures
// laid out one after the other in a segment stay on separate lines. Nothing in
// the memory is a Go pointer, so two processes may map it at different
// addresses.
//
// The layout is a cross-process contract. Each structure is a declared Go
// struct with fixed-size fields (queueShared, poolShared, bitSetShared) laid
// over the start of the memory, followed by an array of 8-byte cells. Every
// atomic word is 8 bytes at an 8-byte-aligned offset, and words written by
// different parties sit on different 128-byte lines (two 64-byte cache lines,
// because the adjacent-line prefetcher of x86 moves lines in pairs):
//
//	offset  Queue                    Pool                     BitSet
//	0       header                   header                   header
//	128     read position            head (index|count|tag)   words[(n+63)/64]
//	256     write position           links[n]
//	264     cells[2^k]
//
// The cells of the Queue follow the write position directly: both are written
// only by the producer, and a consumer that sees a new write position has then
// usually fetched the new cell in the same cache line.
//
// The header holds one word, magic<<32 | capacity. The creator (New*)
// initializes everything else first and stores the header word last; an
// opener (Attach*) loads it first and fails with ErrNotInitialized when the
// magic is not the one of the expected structure, and with
// ErrCapacityMismatch when the capacity differs from the one the opener
// expects. Waiting for a creator that is still initializing is the business
// of the segment layer (runtime/shm), which publishes a whole segment in the
// same way.
//
// # Trust
//
// The other side of a shared mapping may be buggy or hostile and may write
// anything anywhere at any time. The rules that keep a process safe from it:
//
//   - Capacities are copied into the local handle at New/Attach and never
//     re-read from shared memory.
//   - Every position or index read from shared memory is reduced (masked) or
//     validated before it is used to address memory, so no value can cause a
//     panic or an access out of bounds. Corrupted memory can only make the
//     caller see wrong values (which callers validate: an offset is checked
//     against its segment) or see a structure as empty or full.
//   - Every Queue operation finishes in a bounded number of steps whatever
//     the peer writes. Pool operations retry a failed compare-and-swap until
//     one succeeds; only a party that keeps rewriting the pool's head word can
//     keep them retrying, and in iox2go a pool lives in a segment that only
//     its owner maps writable.
//
// # Queue design
//
// The Queue follows iceoryx2's SafelyOverflowingIndexQueue. Positions are
// free-running 64-bit counters (they never wrap in practice, so there is no
// ABA problem); the value at position p lives in cell p & mask. The producer
// owns the write position, the consumer owns the read position, and each sits
// on its own 128-byte line.
//
// The queue has more cells than its capacity: capacity+1 rounded up to a
// power of two, so that a position maps to its cell with a mask instead of a
// 64-bit division on the hot path. The extra cell is what makes overflow safe:
// when the queue is full, PushOverflow writes the new value into a cell that
// no element occupies, publishes it (the queue briefly holds capacity+1
// elements), and only then takes the oldest element out by a compare-and-swap
// of the read position from r to r+1. Pop takes an element with the same
// compare-and-swap, so for every position exactly one of the two, consumer
// or evicting producer, gets the element. A consumer that loses the race
// retries at the new read position.
//
// Each side keeps a local copy of the other side's position (Vyukov/rigtorp
// style) and reloads the shared one only when its copy says empty (consumer)
// or full (producer). Both positions only ever grow, so a stale copy is always
// conservative: the producer's copy of the read position can only
// overestimate how full the queue is, even though the producer itself also
// advances the read position on overflow, and the consumer's copy of the
// write position can only underestimate how many elements are ready. The
// consumer also keeps its own read position locally and learns that the
// producer moved it when its compare-and-swap fails. In the common case a Push
// is a load of the producer's own write position and two release stores (the
// cell, then the write position: plain MOVs on amd64, see storeRelease, and
// sync/atomic stores elsewhere and under the race detector); PushOverflow
// publishes first and only then, when its copy says full, loads the read
// position to decide whether to evict, so that this load is not on the way
// from the push to the pop. A Pop is one atomic load of the cell and
// one compare-and-swap of the read position, on a line that the producer
// touches only when it evicts or finds the queue full. A Pop on an empty queue
// loads the write position and, at the same time, the next cell (so that both
// arrive together once the producer writes them); both stay in the consumer's
// cache until the producer writes them, so Pop is cheap to poll.
//
// A queue of capacity 1 (the subscriber buffer of "only the latest sample"
// services, and of iceoryx2's latency benchmark) uses none of that: its first
// cell is a slot that holds 0 when empty and v+1 when it holds v, and each
// operation is one atomic instruction on it. Push is a compare-and-swap from
// 0; PushOverflow exchanges the new value in and gets back the element the
// slot held, if any; Pop loads the slot (a plain load, so that polling an
// empty slot keeps the line shared) and, when it is not empty, exchanges 0 in.
// Only the consumer ever empties the slot, and the producer's exchange and the
// consumer's are on the same word, so for every element exactly one of them
// gets it. The read and write positions stay 0. Against the ring of
// positions this saves the line of the read position, which the producer of a
// capacity-1 ring must load on every push and the consumer must then take
// back with its compare-and-swap: in the bench program's zerocopy-bare
// mechanism (the runtime's data path without the runtime) it took the one-way
// latency from about 162 to about 143 ns (docs/BENCHMARKS.md). The price is
// one value: the slot cannot hold 1<<64-1, which Push refuses and
// PushOverflow hands straight back as evicted.
//
// A handle's local copies are hints that are always safe: several handles may
// be used for the same role one after the other, as long as one role is never
// used by two parties at the same time. A restarted producer simply attaches
// again; once a consumer is known to be gone (its process died), the producer
// may take its role and Pop what is left, to reclaim it.
//
// # Memory model
//
// All operations use sync/atomic, which is sequentially consistent: stronger
// than the acquire/release pairs of iceoryx2, so correct, at some cost on
// arm64. The one exception is the two stores of a Push or PushOverflow on
// amd64 without the race detector: release stores (storeRelease, a plain
// MOV, which x86's total store order makes a release), because an XCHG would
// wait for the line the consumer polls. Each atomic operation carries a
// "SYNC POINT" comment naming its partner. The contracts, stated in the terms of the Go memory model:
//
//   - Queue (and its capacity-1 slot, SYNC POINTs S1-S5): a Push or
//     PushOverflow of v synchronizes before the Pop that
//     returns v; a Pop that returns v synchronizes before every later Push
//     that reuses v's cell. An evicting PushOverflow and a Pop never both
//     return the same element.
//   - Pool: a Put(i) synchronizes before the Get that returns i.
//   - BitSet: a Set(i) that finds the bit clear synchronizes before the
//     Drain or Clear that takes the bit.
package ring
