/* ring.c: the queue, pool and bitset of ring.h, as runtime/ring lays them
 * out (queue.go, pool.go, bitset.go, layout.go). The SYNC POINT labels are
 * those of the Go code. */
#include "ring.h"

#include <stddef.h>
#include <string.h>

/* The cross-process layout (a failure here means that a shared struct no
 * longer matches the Go one; that changes the contract with other
 * processes). */
_Static_assert(sizeof(_Atomic uint64_t) == 8 && _Alignof(_Atomic uint64_t) == 8, "atomic words are 8 bytes, 8-aligned");
_Static_assert(sizeof(struct iox2r_header) == IOX2R_LINE, "header is one 128-byte line");
_Static_assert(sizeof(struct iox2r_queue_shared) == 2 * IOX2R_LINE + 8, "queueShared is 264 bytes");
_Static_assert(offsetof(struct iox2r_queue_shared, read) == IOX2R_LINE, "queue read at 128");
_Static_assert(offsetof(struct iox2r_queue_shared, write) == 2 * IOX2R_LINE, "queue write at 256");
_Static_assert(sizeof(struct iox2r_pool_shared) == 2 * IOX2R_LINE, "poolShared is 256 bytes");
_Static_assert(offsetof(struct iox2r_pool_shared, head) == IOX2R_LINE, "pool head at 128");
_Static_assert(sizeof(struct iox2r_bitset_shared) == IOX2R_LINE, "bitSetShared is 128 bytes");
_Static_assert(IOX2R_POOL_NIL > IOX2R_MAX_CAPACITY - 1 && IOX2R_POOL_NIL == IOX2R_MAX_CAPACITY,
	       "the nil index is not a valid index");

/* Against the generated header (runtime/internal/protocol, the Go structs'
 * own numbers: TestCLayoutHeader keeps it current). */
#include "iox2go_layout.h"
_Static_assert(IOX2R_LINE == IOX2P_RING_LINE_SIZE, "ring line size");
_Static_assert(sizeof(_Atomic uint64_t) == IOX2P_RING_CELL_SIZE, "ring cell size");
_Static_assert(IOX2R_MAX_CAPACITY == IOX2P_RING_MAX_CAPACITY, "ring.MaxCapacity");
_Static_assert(IOX2R_MAGIC_QUEUE == IOX2P_RING_MAGIC_QUEUE, "queue magic");
_Static_assert(IOX2R_MAGIC_POOL == IOX2P_RING_MAGIC_POOL, "pool magic");
_Static_assert(IOX2R_MAGIC_BITSET == IOX2P_RING_MAGIC_BIT_SET, "bitset magic");
_Static_assert(IOX2R_POOL_NIL == IOX2P_RING_POOL_NIL_INDEX, "pool nil index");
_Static_assert(IOX2P_RING_POOL_INDEX_BITS == 24 && IOX2P_RING_POOL_COUNT_BITS == 24 && IOX2P_RING_POOL_TAG_BITS == 16,
	       "pool head packing (iox2r_pool_pack)");
_Static_assert(IOX2P_RING_SLOT_EMPTY_MARK == UINT64_MAX, "slot empty mark");
_Static_assert(sizeof(struct iox2r_header) == IOX2P_RING_HEADER_SIZE, "header size");
_Static_assert(offsetof(struct iox2r_header, word) == IOX2P_RING_HEADER_WORD_OFFSET, "header word");
_Static_assert(sizeof(struct iox2r_queue_shared) == IOX2P_RING_QUEUE_SIZE, "queueShared size");
_Static_assert(offsetof(struct iox2r_queue_shared, hdr) == IOX2P_RING_QUEUE_HDR_OFFSET, "queueShared.hdr");
_Static_assert(offsetof(struct iox2r_queue_shared, read) == IOX2P_RING_QUEUE_READ_OFFSET, "queueShared.read");
_Static_assert(offsetof(struct iox2r_queue_shared, write) == IOX2P_RING_QUEUE_WRITE_OFFSET, "queueShared.write");
_Static_assert(sizeof(struct iox2r_pool_shared) == IOX2P_RING_POOL_SIZE, "poolShared size");
_Static_assert(offsetof(struct iox2r_pool_shared, hdr) == IOX2P_RING_POOL_HDR_OFFSET, "poolShared.hdr");
_Static_assert(offsetof(struct iox2r_pool_shared, head) == IOX2P_RING_POOL_HEAD_OFFSET, "poolShared.head");
_Static_assert(sizeof(struct iox2r_bitset_shared) == IOX2P_RING_BIT_SET_SIZE, "bitSetShared size");
_Static_assert(offsetof(struct iox2r_bitset_shared, hdr) == IOX2P_RING_BIT_SET_HDR_OFFSET, "bitSetShared.hdr");

const char *iox2r_strerror(int code)
{
	switch (code) {
	case IOX2R_OK: return "ok";
	case IOX2R_E_MISALIGNED: return "ring: memory is not 8-byte aligned";
	case IOX2R_E_TOO_SMALL: return "ring: memory too small";
	case IOX2R_E_CAPACITY: return "ring: capacity out of range";
	case IOX2R_E_CAPACITY_MISMATCH: return "ring: capacity mismatch";
	case IOX2R_E_NOT_INITIALIZED: return "ring: memory not initialized";
	}
	return "ring: unknown error";
}

static size_t round_up(size_t n) { return (n + IOX2R_LINE - 1) & ~(size_t)(IOX2R_LINE - 1); }

static int check_mem(const void *mem, size_t len, uint32_t capacity, size_t size)
{
	if (capacity == 0 || capacity > IOX2R_MAX_CAPACITY)
		return IOX2R_E_CAPACITY;
	if (len < size)
		return IOX2R_E_TOO_SMALL;
	if ((uintptr_t)mem % 8 != 0)
		return IOX2R_E_MISALIGNED;
	return IOX2R_OK;
}

/* publish makes the structure visible to openers: the creator's last store. */
static void publish(struct iox2r_header *h, uint32_t magic, uint32_t capacity)
{
	/* SYNC POINT H1 publish: orders every initializing store of the creator
	 * before it; paired with H2 in check_header. */
	atomic_store_explicit(&h->word, (uint64_t)magic << 32 | capacity, memory_order_release);
}

static int check_header(struct iox2r_header *h, uint32_t magic, uint32_t capacity)
{
	/* SYNC POINT H2 attach: after this load the opener sees the creator's
	 * initialization; paired with H1. */
	uint64_t w = atomic_load_explicit(&h->word, memory_order_acquire);
	if ((uint32_t)(w >> 32) != magic)
		return IOX2R_E_NOT_INITIALIZED;
	if ((uint32_t)w != capacity)
		return IOX2R_E_CAPACITY_MISMATCH;
	return IOX2R_OK;
}

/* ---------------------------------------------------------------------------
 * Queue
 */

/* The queue's cells: capacity+1 (one free cell for safe overflow) rounded
 * up to a power of two, i.e. 2^bitlen(capacity). */
static uint64_t queue_cells(uint32_t capacity) { return (uint64_t)1 << (32 - __builtin_clz(capacity)); }

/* The one value a queue of capacity 1 cannot hold: the slot stores v+1. */
#define SLOT_EMPTY_MARK UINT64_MAX

/* The CAS attempts of one pop: each failure means the producer evicted the
 * element being taken (or someone corrupts the read position). */
#define POP_RETRIES 64

size_t iox2r_queue_memory_size(uint32_t capacity)
{
	if (capacity == 0 || capacity > IOX2R_MAX_CAPACITY)
		return 0;
	return round_up(sizeof(struct iox2r_queue_shared) + queue_cells(capacity) * 8);
}

static void queue_handle(iox2r_queue *q, void *mem, uint32_t capacity)
{
	uint64_t n = queue_cells(capacity);
	q->shm = mem;
	q->cells = (_Atomic uint64_t *)((char *)mem + sizeof(struct iox2r_queue_shared));
	q->mask = n - 1;
	q->capacity = capacity;
	q->slot = capacity == 1;
	q->read_cache = q->write_cache = q->read_guess = 0;
}

int iox2r_queue_init(iox2r_queue *q, void *mem, size_t len, uint32_t capacity)
{
	int rc = check_mem(mem, len, capacity, iox2r_queue_memory_size(capacity));
	if (rc != IOX2R_OK)
		return rc;
	queue_handle(q, mem, capacity);
	for (uint64_t i = 0; i <= q->mask; i++)
		atomic_store_explicit(&q->cells[i], 0, memory_order_relaxed); /* SYNC POINT Q0 init: published by H1. */
	atomic_store_explicit(&q->shm->write, 0, memory_order_relaxed);       /* SYNC POINT Q0 init: published by H1. */
	atomic_store_explicit(&q->shm->read, 0, memory_order_relaxed);        /* SYNC POINT Q0 init: published by H1. */
	publish(&q->shm->hdr, IOX2R_MAGIC_QUEUE, capacity);
	return IOX2R_OK;
}

int iox2r_queue_attach(iox2r_queue *q, void *mem, size_t len, uint32_t capacity)
{
	int rc = check_mem(mem, len, capacity, iox2r_queue_memory_size(capacity));
	if (rc != IOX2R_OK)
		return rc;
	queue_handle(q, mem, capacity);
	if ((rc = check_header(&q->shm->hdr, IOX2R_MAGIC_QUEUE, capacity)) != IOX2R_OK)
		return rc;
	/* SYNC POINT Q5 attach: loads that seed the local copies; any value is
	 * safe, each copy is validated before use. */
	uint64_t r = atomic_load_explicit(&q->shm->read, memory_order_acquire);
	q->read_cache = q->read_guess = r;
	q->write_cache = atomic_load_explicit(&q->shm->write, memory_order_acquire); /* SYNC POINT Q5 attach. */
	return IOX2R_OK;
}

bool iox2r_queue_push(iox2r_queue *q, uint64_t v)
{
	if (q->slot) {
		if (v == SLOT_EMPTY_MARK)
			return false;
		/* SYNC POINT S1 fill: publishes v and everything the caller wrote
		 * before (release); paired with the consumer's S3. Fails when the
		 * slot is occupied (or corrupted). seq_cst, as Go's: a sender's
		 * seq_cst load of the wake word W after it needs no fence
		 * (iox2r_queue_publish_is_fence; the same locked instruction on
		 * x86). */
		uint64_t empty = 0;
		return atomic_compare_exchange_strong_explicit(&q->cells[0], &empty, v + 1, memory_order_seq_cst,
							       memory_order_seq_cst);
	}
	/* SYNC POINT Q1 own position: only the producer writes write, so this
	 * returns its own last store (Q2). A corrupted value is only masked. */
	uint64_t w = atomic_load_explicit(&q->shm->write, memory_order_relaxed);
	if (w - q->read_cache >= q->capacity) {
		/* SYNC POINT Q3 free cells: paired with the CAS of pop (Q4); every
		 * position below the loaded value was consumed or evicted, so its
		 * cell may be reused. */
		q->read_cache = atomic_load_explicit(&q->shm->read, memory_order_acquire);
		if (w - q->read_cache >= q->capacity) /* full (or read corrupted) */
			return false;
	}
	/* Writes a cell that no element occupies: w - read < capacity < cells. */
	atomic_store_explicit(&q->cells[w & q->mask], v, memory_order_relaxed); /* SYNC POINT Q2a cell: published by Q2. */
	/* SYNC POINT Q2 publish: a release store that makes the cell at w, and
	 * everything the caller wrote before, visible to the consumer and
	 * passes them to it; paired with the load of write in pop (Q6). */
	atomic_store_explicit(&q->shm->write, w + 1, memory_order_release);
	return true;
}

bool iox2r_queue_push_overflow(iox2r_queue *q, uint64_t v, uint64_t *evicted)
{
	if (q->slot) {
		if (v == SLOT_EMPTY_MARK) {
			*evicted = v;
			return true;
		}
		/* SYNC POINT S2 exchange: publishes v like S1 (release) and takes
		 * the element the slot held (acquire), if any; races with the
		 * consumer's S3: both exchange the same word, so exactly one of
		 * them gets it. seq_cst, as S1. */
		uint64_t old = atomic_exchange_explicit(&q->cells[0], v + 1, memory_order_seq_cst);
		if (old != 0) {
			*evicted = old - 1;
			return true;
		}
		return false;
	}
	uint64_t w = atomic_load_explicit(&q->shm->write, memory_order_relaxed); /* SYNC POINT Q1 own position. */
	/* The cell at w is free without looking at the read position: every
	 * push leaves at most capacity elements behind it, so w - read <=
	 * capacity < cells, and the consumer reads at most the cell at read.
	 * So publish first, and decide whether to evict afterwards. */
	atomic_store_explicit(&q->cells[w & q->mask], v, memory_order_relaxed); /* SYNC POINT Q2a cell: published by Q2. */
	/* SYNC POINT Q2 publish (see push). When full, the queue now holds
	 * capacity+1 elements until the CAS below. */
	atomic_store_explicit(&q->shm->write, w + 1, memory_order_release);
	uint64_t r = q->read_cache;
	if (w - r < q->capacity)
		return false;
	r = atomic_load_explicit(&q->shm->read, memory_order_acquire); /* SYNC POINT Q3 free cells (see push). */
	q->read_cache = r;
	/* The consumer may have taken the new element too (r == w+1). */
	if (r > w || w - r < q->capacity)
		return false;
	/* Only the producer writes cells, and it is here: the cell at r still
	 * holds the element at position r. */
	uint64_t old = atomic_load_explicit(&q->cells[r & q->mask], memory_order_relaxed); /* SYNC POINT Q2a cell (own store). */
	/* SYNC POINT Q4 evict: races with the CAS of pop for position r;
	 * exactly one succeeds. On success the element at r passes to the
	 * producer. */
	uint64_t expect = r;
	if (atomic_compare_exchange_strong_explicit(&q->shm->read, &expect, r + 1, memory_order_acq_rel,
						    memory_order_acquire)) {
		q->read_cache = r + 1;
		*evicted = old;
		return true;
	}
	return false; /* the consumer took it */
}

bool iox2r_queue_pop(iox2r_queue *q, uint64_t *out)
{
	if (q->slot) {
		/* SYNC POINT S4 poll: a plain load keeps the line shared while the
		 * slot is empty; the exchange below (S3) synchronizes. */
		if (atomic_load_explicit(&q->cells[0], memory_order_relaxed) == 0)
			return false;
		/* SYNC POINT S3 take: paired with S1 and S2 (acquire: their stores
		 * happen before it; release: our reads of the element's chunk
		 * happen before the producer's reuse). Only the consumer empties
		 * the slot, so it still holds an element unless corrupted. */
		uint64_t v = atomic_exchange_explicit(&q->cells[0], 0, memory_order_acq_rel);
		if (v != 0) {
			*out = v - 1;
			return true;
		}
		return false;
	}
	uint64_t r = q->read_guess;
	uint64_t limit = q->capacity + 1; /* most elements a valid state holds (overflow) */
	for (int attempt = 0; attempt < POP_RETRIES; attempt++) {
		uint64_t v;
		uint64_t n = q->write_cache - r;
		if (n - 1 >= limit) { /* n == 0 or n > limit */
			/* SYNC POINT Q6 consume: paired with Q2; makes the cells below
			 * the loaded position visible. */
			q->write_cache = atomic_load_explicit(&q->shm->write, memory_order_acquire);
			/* Loaded before the checks, so that both lines are fetched at
			 * once; used only if the checks pass (then its store, Q2a,
			 * happened before Q6). */
			v = atomic_load_explicit(&q->cells[r & q->mask], memory_order_relaxed); /* SYNC POINT Q2a cell: ordered by Q6. */
			n = q->write_cache - r;
			if (n == 0) {
				q->read_guess = r; /* read == write: empty */
				return false;
			}
			if (n > limit) {
				/* r is stale (evictions moved read past it), or corrupted.
				 * SYNC POINT Q7 resync: paired with Q4 (eviction). */
				uint64_t rr = atomic_load_explicit(&q->shm->read, memory_order_acquire);
				if (rr == r) /* read and write more than limit apart */
					break;
				r = rr;
				continue;
			}
		} else {
			v = atomic_load_explicit(&q->cells[r & q->mask], memory_order_relaxed); /* SYNC POINT Q2a cell: ordered by an earlier Q6. */
		}
		/* SYNC POINT Q4 take: races with the eviction of push_overflow for
		 * position r; exactly one succeeds. Success passes the element to
		 * the consumer and its cell back to the producer (Q3): release
		 * orders our read of the cell before the producer's reuse. */
		uint64_t expect = r;
		if (atomic_compare_exchange_strong_explicit(&q->shm->read, &expect, r + 1, memory_order_acq_rel,
							    memory_order_acquire)) {
			q->read_guess = r + 1;
			*out = v;
			return true;
		}
		r = expect; /* SYNC POINT Q7 resync: the value the CAS found (acquire). */
	}
	q->read_guess = r;
	return false;
}

uint64_t iox2r_queue_len(const iox2r_queue *q)
{
	if (q->slot) /* SYNC POINT S5 snapshot: paired with S1-S3. */
		return atomic_load_explicit(&q->cells[0], memory_order_acquire) != 0;
	/* SYNC POINT Q8 snapshot: loads read then write (read <= write for a
	 * valid queue); paired with Q2 and Q4. */
	uint64_t r = atomic_load_explicit(&q->shm->read, memory_order_acquire);
	uint64_t w = atomic_load_explicit(&q->shm->write, memory_order_acquire);
	uint64_t n = w - r;
	if ((int64_t)n < 0) /* corrupted */
		return 0;
	if (n > q->capacity) /* an eviction in progress, or corrupted */
		return q->capacity;
	return n;
}

bool iox2r_queue_is_empty(const iox2r_queue *q)
{
	if (q->slot) /* SYNC POINT S5 snapshot (see len). */
		return atomic_load_explicit(&q->cells[0], memory_order_acquire) == 0;
	/* SYNC POINT Q8 snapshot (see len). */
	uint64_t r = atomic_load_explicit(&q->shm->read, memory_order_acquire);
	return r == atomic_load_explicit(&q->shm->write, memory_order_acquire);
}

/* ---------------------------------------------------------------------------
 * Pool
 */

size_t iox2r_pool_memory_size(uint32_t n)
{
	if (n == 0 || n > IOX2R_MAX_CAPACITY)
		return 0;
	return round_up(sizeof(struct iox2r_pool_shared) + (size_t)n * 8);
}

static void pool_handle(iox2r_pool *p, void *mem, uint32_t n)
{
	p->shm = mem;
	p->links = (_Atomic uint64_t *)((char *)mem + sizeof(struct iox2r_pool_shared));
	p->n = n;
}

int iox2r_pool_init(iox2r_pool *p, void *mem, size_t len, uint32_t n, bool full)
{
	int rc = check_mem(mem, len, n, iox2r_pool_memory_size(n));
	if (rc != IOX2R_OK)
		return rc;
	pool_handle(p, mem, n);
	uint64_t head = iox2r_pool_pack(IOX2R_POOL_NIL, 0, 0);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t next = full && i + 1 < n ? i + 1 : IOX2R_POOL_NIL;
		atomic_store_explicit(&p->links[i], next, memory_order_relaxed); /* SYNC POINT P0 init: published by H1. */
	}
	if (full)
		head = iox2r_pool_pack(0, n, 0);
	atomic_store_explicit(&p->shm->head, head, memory_order_relaxed); /* SYNC POINT P0 init: published by H1. */
	publish(&p->shm->hdr, IOX2R_MAGIC_POOL, n);
	return IOX2R_OK;
}

int iox2r_pool_attach(iox2r_pool *p, void *mem, size_t len, uint32_t n)
{
	int rc = check_mem(mem, len, n, iox2r_pool_memory_size(n));
	if (rc != IOX2R_OK)
		return rc;
	pool_handle(p, mem, n);
	return check_header(&p->shm->hdr, IOX2R_MAGIC_POOL, n);
}

bool iox2r_pool_get(iox2r_pool *p, uint32_t *out)
{
	/* SYNC POINT P1 take: paired with the CAS of put (P3), which published
	 * the link of the head index. */
	uint64_t h = atomic_load_explicit(&p->shm->head, memory_order_acquire);
	for (;;) {
		uint32_t i = iox2r_pool_head_index(h);
		if (i >= p->n) /* nil: empty; anything else: corrupted */
			return false;
		/* SYNC POINT P2 link: written by the put of i (P3a) before its CAS,
		 * ordered by P1. If i was taken and put back since the load of the
		 * head, this may be another link; the tag then fails the CAS. */
		uint64_t next = atomic_load_explicit(&p->links[i], memory_order_relaxed);
		if (next >= p->n && next != IOX2R_POOL_NIL) /* corrupted link */
			return false;
		uint32_t count = iox2r_pool_head_count(h);
		if (count > 0)
			count--;
		/* SYNC POINT P1 take: on success, index i passes to the caller; on
		 * failure h is reloaded (acquire, as above). */
		if (atomic_compare_exchange_strong_explicit(&p->shm->head, &h,
							    iox2r_pool_pack((uint32_t)next, count,
									    (uint16_t)(iox2r_pool_head_tag(h) + 1)),
							    memory_order_acq_rel, memory_order_acquire)) {
			*out = i;
			return true;
		}
	}
}

bool iox2r_pool_put(iox2r_pool *p, uint32_t i)
{
	if (i >= p->n)
		return false;
	uint64_t h = atomic_load_explicit(&p->shm->head, memory_order_acquire); /* SYNC POINT P3 give (see below). */
	for (;;) {
		if (iox2r_pool_head_index(h) == i || iox2r_pool_head_count(h) >= p->n)
			return false;
		/* The caller owns i, so nobody else writes its link; a get with a
		 * stale head may read it (P2) but then fails its CAS. */
		atomic_store_explicit(&p->links[i], iox2r_pool_head_index(h), memory_order_relaxed); /* SYNC POINT P3a link: published by P3. */
		/* SYNC POINT P3 give: publishes the link of i and passes i to the
		 * pool (release); paired with the head load of get (P1). */
		if (atomic_compare_exchange_strong_explicit(&p->shm->head, &h,
							    iox2r_pool_pack(i, iox2r_pool_head_count(h) + 1,
									    (uint16_t)(iox2r_pool_head_tag(h) + 1)),
							    memory_order_acq_rel, memory_order_acquire))
			return true;
	}
}

uint32_t iox2r_pool_len(const iox2r_pool *p)
{
	/* SYNC POINT P4 snapshot: paired with P1 and P3. */
	uint32_t c = iox2r_pool_head_count(atomic_load_explicit(&p->shm->head, memory_order_relaxed));
	return c < p->n ? c : p->n;
}

/* ---------------------------------------------------------------------------
 * Bitset
 */

static uint32_t bitset_words(uint32_t n) { return (n + 63) / 64; }

size_t iox2r_bitset_memory_size(uint32_t n)
{
	if (n == 0 || n > IOX2R_MAX_CAPACITY)
		return 0;
	return round_up(sizeof(struct iox2r_bitset_shared) + (size_t)bitset_words(n) * 8);
}

int iox2r_bitset_init(iox2r_bitset *b, void *mem, size_t len, uint32_t n)
{
	int rc = check_mem(mem, len, n, iox2r_bitset_memory_size(n));
	if (rc != IOX2R_OK)
		return rc;
	b->words = (_Atomic uint64_t *)((char *)mem + sizeof(struct iox2r_bitset_shared));
	b->n = n;
	for (uint32_t w = 0; w < bitset_words(n); w++)
		atomic_store_explicit(&b->words[w], 0, memory_order_relaxed); /* SYNC POINT B0 init: published by H1. */
	publish(&((struct iox2r_bitset_shared *)mem)->hdr, IOX2R_MAGIC_BITSET, n);
	return IOX2R_OK;
}

int iox2r_bitset_attach(iox2r_bitset *b, void *mem, size_t len, uint32_t n)
{
	int rc = check_mem(mem, len, n, iox2r_bitset_memory_size(n));
	if (rc != IOX2R_OK)
		return rc;
	if ((rc = check_header(&((struct iox2r_bitset_shared *)mem)->hdr, IOX2R_MAGIC_BITSET, n)) != IOX2R_OK)
		return rc;
	b->words = (_Atomic uint64_t *)((char *)mem + sizeof(struct iox2r_bitset_shared));
	b->n = n;
	return IOX2R_OK;
}

bool iox2r_bitset_set(iox2r_bitset *b, uint32_t i)
{
	if (i >= b->n)
		return false;
	uint64_t m = (uint64_t)1 << (i % 64);
	/* SYNC POINT B1 set: release, paired with the exchange of drain and the
	 * and of clear (B2), which take the bit. */
	return (atomic_fetch_or_explicit(&b->words[i / 64], m, memory_order_acq_rel) & m) != 0;
}

bool iox2r_bitset_clear(iox2r_bitset *b, uint32_t i)
{
	if (i >= b->n)
		return false;
	uint64_t m = (uint64_t)1 << (i % 64);
	/* SYNC POINT B2 take: acquire, paired with B1. */
	return (atomic_fetch_and_explicit(&b->words[i / 64], ~m, memory_order_acq_rel) & m) != 0;
}

bool iox2r_bitset_test(const iox2r_bitset *b, uint32_t i)
{
	if (i >= b->n)
		return false;
	/* SYNC POINT B3 snapshot: paired with B1 and B2. */
	return (atomic_load_explicit(&b->words[i / 64], memory_order_acquire) >> (i % 64)) & 1;
}

void iox2r_bitset_drain(iox2r_bitset *b, void (*fn)(void *ctx, uint32_t i), void *ctx)
{
	for (uint32_t w = 0; w < bitset_words(b->n); w++) {
		/* SYNC POINT B3 snapshot: skips empty words without writing them,
		 * so that polling does not steal the line from setters. */
		if (atomic_load_explicit(&b->words[w], memory_order_relaxed) == 0)
			continue;
		uint64_t v = atomic_exchange_explicit(&b->words[w], 0, memory_order_acq_rel); /* SYNC POINT B2 take: paired with B1. */
		while (v != 0) {
			uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(v);
			v &= v - 1;
			if (i < b->n)
				fn(ctx, i);
		}
	}
}

bool iox2r_bitset_any(const iox2r_bitset *b)
{
	for (uint32_t w = 0; w < bitset_words(b->n); w++)
		if (atomic_load_explicit(&b->words[w], memory_order_acquire) != 0) /* SYNC POINT B3 snapshot. */
			return true;
	return false;
}
