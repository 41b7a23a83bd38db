/* ring_unit.c: unit tests of src/ring.c (queue, pool, bitset), in one
 * process: the behaviours of runtime/ring's conformance suite that do not
 * need another process, hostile memory, and a two-thread stress of the
 * queue with overflow. Exit status 0 when every check passes; each failure
 * prints file:line and what it saw. */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "../src/ring.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int failures;

#define CHECK(cond, ...)                                                    \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                       \
			fputc('\n', stderr);                                \
			failures++;                                         \
		}                                                           \
	} while (0)

static void *alloc_mem(size_t size)
{
	void *p = NULL;
	if (posix_memalign(&p, IOX2R_LINE, size) != 0) {
		perror("posix_memalign");
		exit(2);
	}
	memset(p, 0xa5, size); /* garbage: init must overwrite it */
	return p;
}

static void test_sizes(void)
{
	/* The Go sizes (the interop test compares them for more capacities). */
	CHECK(iox2r_queue_memory_size(0) == 0, "capacity 0");
	CHECK(iox2r_queue_memory_size(1) == 384, "got %zu", iox2r_queue_memory_size(1));
	CHECK(iox2r_queue_memory_size(3) == 384, "got %zu", iox2r_queue_memory_size(3));
	CHECK(iox2r_queue_memory_size(4) == 384, "got %zu", iox2r_queue_memory_size(4));
	CHECK(iox2r_queue_memory_size(7) == 384, "got %zu", iox2r_queue_memory_size(7));
	CHECK(iox2r_queue_memory_size(8) == 512, "got %zu", iox2r_queue_memory_size(8));
	CHECK(iox2r_queue_memory_size(16) == 640, "got %zu", iox2r_queue_memory_size(16));
	CHECK(iox2r_queue_memory_size(IOX2R_MAX_CAPACITY + 1) == 0, "too large");
	CHECK(iox2r_pool_memory_size(1) == 384, "got %zu", iox2r_pool_memory_size(1));
	CHECK(iox2r_pool_memory_size(16) == 384, "got %zu", iox2r_pool_memory_size(16));
	CHECK(iox2r_pool_memory_size(17) == 512, "got %zu", iox2r_pool_memory_size(17));
	CHECK(iox2r_bitset_memory_size(1) == 256, "got %zu", iox2r_bitset_memory_size(1));
	CHECK(iox2r_bitset_memory_size(1024) == 256, "got %zu", iox2r_bitset_memory_size(1024));
	CHECK(iox2r_bitset_memory_size(1025) == 384, "got %zu", iox2r_bitset_memory_size(1025));
}

static void test_pool_packing(void)
{
	uint32_t mi = 0xffffff, mc = 0xffffff;
	uint16_t mt = 0xffff;
	uint64_t h = iox2r_pool_pack(mi, 0, 0);
	CHECK(iox2r_pool_head_index(h) == mi && iox2r_pool_head_count(h) == 0 && iox2r_pool_head_tag(h) == 0, "index max");
	h = iox2r_pool_pack(0, mc, 0);
	CHECK(iox2r_pool_head_index(h) == 0 && iox2r_pool_head_count(h) == mc && iox2r_pool_head_tag(h) == 0, "count max");
	h = iox2r_pool_pack(0, 0, mt);
	CHECK(iox2r_pool_head_index(h) == 0 && iox2r_pool_head_count(h) == 0 && iox2r_pool_head_tag(h) == mt, "tag max");
	h = iox2r_pool_pack(mi, mc, mt);
	CHECK(h == UINT64_MAX, "all max: %#llx", (unsigned long long)h);
}

static void test_header_checks(void)
{
	size_t size = iox2r_queue_memory_size(4);
	char *mem = alloc_mem(size + 8);
	iox2r_queue q;
	CHECK(iox2r_queue_attach(&q, mem, size, 4) == IOX2R_E_NOT_INITIALIZED, "attach garbage");
	CHECK(iox2r_queue_init(&q, mem, size - 1, 4) == IOX2R_E_TOO_SMALL, "too small");
	CHECK(iox2r_queue_init(&q, mem + 4, size, 4) == IOX2R_E_MISALIGNED, "misaligned");
	CHECK(iox2r_queue_init(&q, mem, size, 0) == IOX2R_E_CAPACITY, "capacity 0");
	CHECK(iox2r_queue_init(&q, mem, size, 4) == IOX2R_OK, "init");
	CHECK(iox2r_queue_attach(&q, mem, size, 3) == IOX2R_E_CAPACITY_MISMATCH, "mismatch");
	iox2r_pool p;
	CHECK(iox2r_pool_attach(&p, mem, size, 4) == IOX2R_E_NOT_INITIALIZED, "a queue is not a pool");
	CHECK(iox2r_queue_attach(&q, mem, size, 4) == IOX2R_OK, "attach");
	CHECK(strcmp(iox2r_strerror(IOX2R_E_CAPACITY_MISMATCH), "ring: capacity mismatch") == 0, "strerror");
	free(mem);
}

static void queue_fifo(uint32_t cap)
{
	size_t size = iox2r_queue_memory_size(cap);
	void *mem = alloc_mem(size);
	iox2r_queue prod, cons;
	CHECK(iox2r_queue_init(&prod, mem, size, cap) == IOX2R_OK, "init");
	CHECK(iox2r_queue_attach(&cons, mem, size, cap) == IOX2R_OK, "attach");
	uint64_t v;
	CHECK(iox2r_queue_is_empty(&cons) && !iox2r_queue_pop(&cons, &v), "new queue empty");
	for (int round = 0; round < 3; round++) {
		for (uint32_t i = 0; i < cap; i++)
			CHECK(iox2r_queue_push(&prod, 100 + i), "push %u of %u", i, cap);
		CHECK(!iox2r_queue_push(&prod, 999), "push into full queue of %u", cap);
		CHECK(iox2r_queue_len(&cons) == cap, "len %llu", (unsigned long long)iox2r_queue_len(&cons));
		for (uint32_t i = 0; i < cap; i++) {
			CHECK(iox2r_queue_pop(&cons, &v) && v == 100 + i, "pop %u got %llu", i, (unsigned long long)v);
		}
		CHECK(!iox2r_queue_pop(&cons, &v), "empty after draining");
	}
	/* Safe overflow: push 2*cap values, the first cap are evicted in order. */
	uint64_t evicted = 0, ev;
	for (uint32_t i = 0; i < 2 * cap; i++) {
		if (iox2r_queue_push_overflow(&prod, 1000 + i, &ev)) {
			CHECK(ev == 1000 + evicted, "evicted %llu, want %llu", (unsigned long long)ev,
			      (unsigned long long)(1000 + evicted));
			evicted++;
		}
	}
	CHECK(evicted == cap, "evicted %llu of cap %u", (unsigned long long)evicted, cap);
	for (uint32_t i = 0; i < cap; i++)
		CHECK(iox2r_queue_pop(&cons, &v) && v == 1000 + cap + i, "pop after overflow got %llu", (unsigned long long)v);
	CHECK(!iox2r_queue_pop(&cons, &v), "empty");
	if (cap == 1) {
		CHECK(!iox2r_queue_push(&prod, UINT64_MAX), "the slot refuses 2^64-1");
		CHECK(iox2r_queue_push_overflow(&prod, UINT64_MAX, &ev) && ev == UINT64_MAX, "and hands it back");
		CHECK(iox2r_queue_is_empty(&cons), "unchanged");
	}
	free(mem);
}

/* Hostile memory: whatever the peer writes, operations end and stay in bounds. */
static void queue_hostile(uint32_t cap)
{
	size_t size = iox2r_queue_memory_size(cap);
	void *mem = alloc_mem(size);
	iox2r_queue prod, cons;
	CHECK(iox2r_queue_init(&prod, mem, size, cap) == IOX2R_OK, "init");
	CHECK(iox2r_queue_attach(&cons, mem, size, cap) == IOX2R_OK, "attach");
	struct iox2r_queue_shared *s = mem;
	uint64_t vals[] = {0, 1, 2, cap, cap + 1ull, 1ull << 63, UINT64_MAX, UINT64_MAX - 1};
	for (size_t a = 0; a < sizeof vals / sizeof vals[0]; a++)
		for (size_t b = 0; b < sizeof vals / sizeof vals[0]; b++) {
			atomic_store(&s->read, vals[a]);
			atomic_store(&s->write, vals[b]);
			atomic_store(&prod.cells[0], vals[b]);
			uint64_t v, ev;
			for (int k = 0; k < 4; k++) {
				(void)iox2r_queue_pop(&cons, &v);
				(void)iox2r_queue_push(&prod, 7);
				(void)iox2r_queue_push_overflow(&prod, 8, &ev);
			}
			CHECK(iox2r_queue_len(&cons) <= cap, "len in range");
		}
	free(mem);
}

static void test_pool(void)
{
	uint32_t n = 70;
	size_t size = iox2r_pool_memory_size(n);
	void *mem = alloc_mem(size);
	iox2r_pool p, q;
	CHECK(iox2r_pool_init(&p, mem, size, n, true) == IOX2R_OK, "init");
	CHECK(iox2r_pool_attach(&q, mem, size, n) == IOX2R_OK, "attach");
	CHECK(iox2r_pool_len(&q) == n, "len %u", iox2r_pool_len(&q));
	uint32_t i;
	for (uint32_t k = 0; k < n; k++)
		CHECK(iox2r_pool_get(&p, &i) && i == k, "get %u got %u", k, i);
	CHECK(!iox2r_pool_get(&q, &i), "empty");
	CHECK(!iox2r_pool_put(&p, n), "out of range");
	CHECK(iox2r_pool_put(&p, 5) && iox2r_pool_put(&q, 9), "put");
	CHECK(!iox2r_pool_put(&p, 9), "double free of the top index detected");
	CHECK(iox2r_pool_get(&q, &i) && i == 9, "LIFO: got %u", i);
	CHECK(iox2r_pool_get(&q, &i) && i == 5, "LIFO: got %u", i);
	CHECK(iox2r_pool_len(&p) == 0, "len 0");
	/* Hostile head and links: get and put return without going out of range. */
	atomic_store(&p.shm->head, iox2r_pool_pack(3, 1, 0));
	atomic_store(&p.links[3], 12345678);
	CHECK(!iox2r_pool_get(&p, &i), "corrupted link refused");
	atomic_store(&p.shm->head, iox2r_pool_pack(n + 1, 1, 0));
	CHECK(!iox2r_pool_get(&p, &i), "corrupted head refused");
	/* Empty pool (not full). */
	CHECK(iox2r_pool_init(&p, mem, size, n, false) == IOX2R_OK && !iox2r_pool_get(&p, &i), "empty init");
	CHECK(iox2r_pool_put(&p, 3) && iox2r_pool_get(&p, &i) && i == 3, "put then get");
	free(mem);
}

static void collect(void *ctx, uint32_t i)
{
	uint32_t *got = ctx;
	got[got[0] + 1] = i;
	got[0]++;
}

static void test_bitset(void)
{
	uint32_t n = 130;
	size_t size = iox2r_bitset_memory_size(n);
	void *mem = alloc_mem(size);
	iox2r_bitset b;
	CHECK(iox2r_bitset_init(&b, mem, size, n) == IOX2R_OK, "init");
	CHECK(!iox2r_bitset_any(&b), "empty");
	CHECK(!iox2r_bitset_set(&b, 0) && iox2r_bitset_set(&b, 0), "set twice");
	CHECK(!iox2r_bitset_set(&b, 129) && !iox2r_bitset_set(&b, 64) && !iox2r_bitset_set(&b, n), "set");
	CHECK(iox2r_bitset_test(&b, 64) && !iox2r_bitset_test(&b, 63) && !iox2r_bitset_test(&b, n), "test");
	CHECK(iox2r_bitset_clear(&b, 64) && !iox2r_bitset_clear(&b, 64), "clear");
	atomic_fetch_or(&b.words[2], (uint64_t)1 << 40); /* bit 168 >= n: a hostile peer's */
	uint32_t got[8] = {0};
	iox2r_bitset_drain(&b, collect, got);
	CHECK(got[0] == 2 && got[1] == 0 && got[2] == 129, "drain got %u bits", got[0]);
	CHECK(!iox2r_bitset_any(&b), "drained");
	free(mem);
}

/* Two threads: a producer that pushes 1..N with overflow (or with retry),
 * and a consumer that pops with pauses; every value is popped or evicted
 * exactly once, and pops come in increasing order. */
struct stress {
	iox2r_queue prod, cons;
	uint64_t n;
	bool overflow;
	_Atomic int done;
	uint64_t evicted, evsum;
	uint64_t popped, popsum;
	int order_errors;
};

/* idle is what a stress thread does after its tries-th attempt without
 * progress: yield, and every 64 tries sleep, so that on a machine whose
 * cores are busy the other thread gets a CPU (a yield alone can leave it
 * waiting for a whole time slice of the busy work). */
static void idle(unsigned tries)
{
	if (tries % 64 == 0) {
		struct timespec ts = {0, 20000};
		nanosleep(&ts, NULL);
	} else {
		sched_yield();
	}
}

static void *producer(void *arg)
{
	struct stress *s = arg;
	for (uint64_t v = 1; v <= s->n; v++) {
		uint64_t ev;
		if (v % 256 == 0)
			sched_yield(); /* let the consumer interleave */
		if (s->overflow) {
			if (iox2r_queue_push_overflow(&s->prod, v, &ev)) {
				s->evicted++;
				s->evsum += ev;
			}
		} else {
			for (unsigned tries = 1; !iox2r_queue_push(&s->prod, v); tries++)
				idle(tries);
		}
	}
	atomic_store_explicit(&s->done, 1, memory_order_release);
	return NULL;
}

static void *consumer(void *arg)
{
	struct stress *s = arg;
	uint64_t last = 0, v;
	for (unsigned tries = 1;; tries++) {
		if (iox2r_queue_pop(&s->cons, &v)) {
			tries = 0;
			if (v <= last)
				s->order_errors++;
			last = v;
			s->popped++;
			s->popsum += v;
			if (s->popped % 997 == 0) {
				struct timespec ts = {0, 20000};
				nanosleep(&ts, NULL);
			}
			continue;
		}
		if (atomic_load_explicit(&s->done, memory_order_acquire)) {
			if (!iox2r_queue_pop(&s->cons, &v))
				return NULL;
			if (v <= last)
				s->order_errors++;
			last = v;
			s->popped++;
			s->popsum += v;
		} else {
			idle(tries);
		}
	}
}

static void stress(uint32_t cap, bool overflow)
{
	size_t size = iox2r_queue_memory_size(cap);
	void *mem = alloc_mem(size);
	struct stress *s = calloc(1, sizeof *s);
	/* Without overflow every value may wait for the consumer: fewer. */
	s->n = overflow ? 100000 : 20000;
	s->overflow = overflow;
	CHECK(iox2r_queue_init(&s->prod, mem, size, cap) == IOX2R_OK, "init");
	CHECK(iox2r_queue_attach(&s->cons, mem, size, cap) == IOX2R_OK, "attach");
	pthread_t a, b;
	pthread_create(&b, NULL, consumer, s);
	pthread_create(&a, NULL, producer, s);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	uint64_t total = s->n * (s->n + 1) / 2;
	CHECK(s->popped + s->evicted == s->n, "cap %u overflow %d: popped %llu + evicted %llu != %llu", cap, overflow,
	      (unsigned long long)s->popped, (unsigned long long)s->evicted, (unsigned long long)s->n);
	CHECK(s->popsum + s->evsum == total, "cap %u: sums differ", cap);
	CHECK(s->order_errors == 0, "cap %u: %d pops out of order", cap, s->order_errors);
	CHECK(!overflow || s->evicted > 0, "cap %u: no overflow happened", cap);
	printf("stress cap %u overflow %d: popped %llu evicted %llu\n", cap, overflow, (unsigned long long)s->popped,
	       (unsigned long long)s->evicted);
	free(s);
	free(mem);
}

int main(void)
{
	test_sizes();
	test_pool_packing();
	test_header_checks();
	uint32_t caps[] = {1, 2, 3, 4, 7, 8, 100};
	for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
		queue_fifo(caps[k]);
		queue_hostile(caps[k]);
	}
	test_pool();
	test_bitset();
	stress(1, true);
	stress(4, true);
	stress(1, false);
	stress(5, false);
	if (failures) {
		fprintf(stderr, "FAIL: %d checks failed\n", failures);
		return 1;
	}
	printf("PASS\n");
	return 0;
}
