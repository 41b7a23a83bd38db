/* ring.h: the lock-free building blocks that live in caller-provided
 * (shared) memory, byte for byte and atomic for atomic those of the Go
 * package runtime/ring (see its doc.go for the design):
 *
 *   - iox2r_queue: a single-producer single-consumer queue of uint64 values
 *     with safe overflow (iceoryx2's SafelyOverflowingIndexQueue); at
 *     capacity 1 a single exchanged slot word.
 *   - iox2r_pool: a multi-producer multi-consumer free list of the indices
 *     0..n-1 (a Treiber stack whose head word carries an ABA tag).
 *   - iox2r_bitset: a multi-producer multi-consumer set of n bits.
 *
 * Layout (offsets from the start of the memory, which must be 8-byte
 * aligned; every structure's size is a multiple of 128):
 *
 *   offset  queue                    pool                     bitset
 *   0       header                   header                   header
 *   128     read position            head (index|count|tag)   words[(n+63)/64]
 *   256     write position           links[n]
 *   264     cells[2^k]
 *
 * The header is one word, magic<<32 | capacity, stored last by the creator
 * (SYNC POINT H1) and loaded first by an opener (H2).
 *
 * Trust: the peer may write anything anywhere at any time. Capacities are
 * copied into the handle and never re-read; every position or index read
 * from the memory is masked or validated before it addresses memory; every
 * queue operation ends in a bounded number of steps.
 *
 * Memory model: each atomic carries the C11 memory order it needs and the
 * SYNC POINT label of the Go code. The Go side uses sequentially consistent
 * atomics (and release stores for Push on amd64); the orders here are the
 * acquire/release pairs that the contracts need:
 *   - a push of v happens before the pop that returns v; a pop that returns
 *     v happens before the push that reuses its cell; an evicting overflow
 *     push and a pop never both return the same element;
 *   - a put(i) happens before the get that returns i;
 *   - a set(i) that finds the bit clear happens before the clear or drain
 *     that takes it.
 */
#ifndef IOX2GO_RING_H
#define IOX2GO_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest capacity of a queue and the most indices of a pool or bits of
 * a bitset: a pool's head packs an index and a count in 24 bits each. */
#define IOX2R_MAX_CAPACITY ((uint32_t)((1u << 24) - 1))

/* The distance between words written by different parties (two 64-byte
 * cache lines: x86's adjacent-line prefetcher moves lines in pairs). */
#define IOX2R_LINE 128u

/* Magic numbers of the header word; the low byte is the layout version of
 * the structure. */
#define IOX2R_MAGIC_QUEUE 0x69785102u  /* "ixQ" v2: capacity 1 is an exchanged slot */
#define IOX2R_MAGIC_POOL 0x69785001u   /* "ixP" v1 */
#define IOX2R_MAGIC_BITSET 0x69784201u /* "ixB" v1 */

/* Results of the constructors (init) and openers (attach). */
enum {
	IOX2R_OK = 0,
	IOX2R_E_MISALIGNED = 1,        /* the memory is not 8-byte aligned */
	IOX2R_E_TOO_SMALL = 2,         /* shorter than the structure's memory size */
	IOX2R_E_CAPACITY = 3,          /* capacity 0 or above IOX2R_MAX_CAPACITY */
	IOX2R_E_CAPACITY_MISMATCH = 4, /* the header records another capacity */
	IOX2R_E_NOT_INITIALIZED = 5    /* the header holds another magic */
};

/* iox2r_strerror names a result of init/attach (the Go sentinels' texts). */
const char *iox2r_strerror(int code);

/* The shared parts, declared once; the _Static_asserts in ring.c hold them
 * to the Go structs (header, queueShared, poolShared, bitSetShared). */
struct iox2r_header {
	_Atomic uint64_t word; /* magic<<32 | capacity */
	uint8_t pad_[IOX2R_LINE - 8];
};

struct iox2r_queue_shared {
	struct iox2r_header hdr;  /* offset 0 */
	_Atomic uint64_t read;    /* offset 128: advanced by CAS, by the consumer and by an evicting producer */
	uint8_t pad_[IOX2R_LINE - 8];
	_Atomic uint64_t write;   /* offset 256: written by the producer only; the cells follow */
};

struct iox2r_pool_shared {
	struct iox2r_header hdr;  /* offset 0 */
	_Atomic uint64_t head;    /* offset 128: packed index | count<<24 | tag<<48 */
	uint8_t pad_[IOX2R_LINE - 8];
};

struct iox2r_bitset_shared {
	struct iox2r_header hdr; /* offset 0; the words follow */
};

/* ---------------------------------------------------------------------------
 * Queue. One party is the producer (push, push_overflow), one the consumer
 * (pop); each has its own handle (or both share one in one thread). len and
 * is_empty may be called by anyone and may be stale.
 */
typedef struct iox2r_queue {
	/* Read-only after init/attach. */
	struct iox2r_queue_shared *shm;
	_Atomic uint64_t *cells;
	uint64_t mask;
	uint64_t capacity; /* copied at init/attach, never re-read */
	bool slot;         /* capacity 1: the queue is cells[0], 0 empty, v+1 holding v */
	/* Producer-local: a copy of the read position, never above the shared one. */
	uint64_t read_cache;
	/* Consumer-local: a copy of the write position, never above the shared
	 * one, and a guess of the read position (checked by pop's CAS). */
	uint64_t write_cache;
	uint64_t read_guess;
} iox2r_queue;

/* iox2r_queue_memory_size returns the bytes a queue of capacity needs (a
 * multiple of 128), or 0 when the capacity is 0 or too large. */
size_t iox2r_queue_memory_size(uint32_t capacity);
/* iox2r_queue_init lays out an empty queue in mem (len bytes) and publishes
 * it; called by the creator before anyone attaches. */
int iox2r_queue_init(iox2r_queue *q, void *mem, size_t len, uint32_t capacity);
/* iox2r_queue_attach opens the queue that a creator laid out in mem. */
int iox2r_queue_attach(iox2r_queue *q, void *mem, size_t len, uint32_t capacity);
/* iox2r_queue_push appends v (producer only): false, with no effect, when
 * the queue is full (or, at capacity 1, when v is UINT64_MAX). */
bool iox2r_queue_push(iox2r_queue *q, uint64_t v);
/* iox2r_queue_push_overflow always appends v (producer only): when the
 * queue is full it takes the oldest element out and returns true with it in
 * *evicted, unless the consumer took it first. */
bool iox2r_queue_push_overflow(iox2r_queue *q, uint64_t v, uint64_t *evicted);
/* iox2r_queue_pop takes the oldest element (consumer only); false when the
 * queue is empty (or corrupted). */
bool iox2r_queue_pop(iox2r_queue *q, uint64_t *v);
/* iox2r_queue_len is the number of elements, 0..capacity; may be stale. */
uint64_t iox2r_queue_len(const iox2r_queue *q);
/* iox2r_queue_is_empty is cheap (loads only), for polling; may be stale. */
bool iox2r_queue_is_empty(const iox2r_queue *q);
static inline uint64_t iox2r_queue_cap(const iox2r_queue *q) { return q->capacity; }
/* iox2r_queue_publish_is_fence reports whether push and push_overflow end
 * with a sequentially consistent read-modify-write (capacity 1: the slot's
 * exchange or compare-and-swap, a locked instruction on x86), so that a
 * seq_cst load after them cannot be satisfied before the element is
 * visible; the ring's publication is a release store, which such a load
 * may pass (ring.Queue.PublishIsFence). A producer that follows a push with
 * a Dekker-style load (the wake word W) fences only when this is false. */
static inline bool iox2r_queue_publish_is_fence(const iox2r_queue *q) { return q->slot; }

/* ---------------------------------------------------------------------------
 * Pool: get and put may be called by anyone, concurrently.
 */
typedef struct iox2r_pool {
	struct iox2r_pool_shared *shm;
	_Atomic uint64_t *links;
	uint32_t n; /* copied at init/attach, never re-read */
} iox2r_pool;

#define IOX2R_POOL_NIL ((uint32_t)((1u << 24) - 1)) /* the end of the free list */

size_t iox2r_pool_memory_size(uint32_t n);
/* iox2r_pool_init lays out a pool of the indices 0..n-1: all free (get
 * returns them in increasing order) when full, else none. */
int iox2r_pool_init(iox2r_pool *p, void *mem, size_t len, uint32_t n, bool full);
int iox2r_pool_attach(iox2r_pool *p, void *mem, size_t len, uint32_t n);
/* iox2r_pool_get takes a free index; false when empty (or corrupted). */
bool iox2r_pool_get(iox2r_pool *p, uint32_t *i);
/* iox2r_pool_put gives i back; false, with no effect, when i >= n or a
 * double free is detected cheaply. The caller owns i. */
bool iox2r_pool_put(iox2r_pool *p, uint32_t i);
/* iox2r_pool_len is the number of free indices; may be stale. */
uint32_t iox2r_pool_len(const iox2r_pool *p);

/* The packed head word (no overlap: see the unit test at each maximum). */
static inline uint64_t iox2r_pool_pack(uint32_t index, uint32_t count, uint16_t tag)
{
	return (uint64_t)(index & 0xffffffu) | (uint64_t)(count & 0xffffffu) << 24 | (uint64_t)tag << 48;
}
static inline uint32_t iox2r_pool_head_index(uint64_t h) { return (uint32_t)(h & 0xffffffu); }
static inline uint32_t iox2r_pool_head_count(uint64_t h) { return (uint32_t)(h >> 24) & 0xffffffu; }
static inline uint16_t iox2r_pool_head_tag(uint64_t h) { return (uint16_t)(h >> 48); }

/* ---------------------------------------------------------------------------
 * Bitset: every function may be called by anyone, concurrently.
 */
typedef struct iox2r_bitset {
	_Atomic uint64_t *words;
	uint32_t n; /* copied at init/attach, never re-read */
} iox2r_bitset;

size_t iox2r_bitset_memory_size(uint32_t n);
int iox2r_bitset_init(iox2r_bitset *b, void *mem, size_t len, uint32_t n);
int iox2r_bitset_attach(iox2r_bitset *b, void *mem, size_t len, uint32_t n);
/* iox2r_bitset_set sets bit i and returns whether it was set already (false
 * out of range, with no effect). */
bool iox2r_bitset_set(iox2r_bitset *b, uint32_t i);
/* iox2r_bitset_clear clears bit i and returns whether it was set. */
bool iox2r_bitset_clear(iox2r_bitset *b, uint32_t i);
bool iox2r_bitset_test(const iox2r_bitset *b, uint32_t i);
/* iox2r_bitset_drain takes every set bit, word by word, and calls fn for
 * each in increasing order; bits at n and above are cleared and ignored. */
void iox2r_bitset_drain(iox2r_bitset *b, void (*fn)(void *ctx, uint32_t i), void *ctx);
bool iox2r_bitset_any(const iox2r_bitset *b);

#endif /* IOX2GO_RING_H */
