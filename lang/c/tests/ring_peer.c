/* ring_peer.c: the C endpoint of the cross-process ring test
 * (lang/c/ring_test.go). The Go test maps the same MAP_SHARED file and is
 * the other endpoint.
 *
 *   ring_peer sizes
 *       prints "queue <cap> <bytes>", "pool <n> <bytes>", "bitset <n> <bytes>"
 *       for a set of capacities (the Go test compares them with runtime/ring).
 *   ring_peer queues <file> <capA> <capB> <n> <overflow 0|1> <create 0|1>
 *       The file holds a control line (128 bytes: word 0 = Go's producer is
 *       done, word 1 = ours is done, word 2 = we have created the queues),
 *       then queue a2b (Go -> C) of capA, then queue b2a (C -> Go) of capB.
 *       We consume a2b and produce 1..n into b2a (with push_overflow when
 *       overflow is 1, else push with retry), and print
 *       "popped <count> <sum> evicted <count> <sum> order_errors <k>".
 *   ring_peer pool <file> <n> <rounds>
 *       A pool of n at offset 128 that Go created full; we get and put
 *       indices concurrently with Go for <rounds> rounds, then print the
 *       indices we hold at the end: "held <i> <i> ...".
 *   ring_peer bitset <file> <n> <bit>...
 *       Sets the bits in a bitset of n at offset 128 that Go created.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "../src/ring.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "ring_peer: %s\n", what);
	exit(2);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *map_file(const char *path, size_t *size)
{
	int fd = open(path, O_RDWR);
	if (fd < 0)
		die(strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0)
		die(strerror(errno));
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die(strerror(errno));
	close(fd);
	*size = (size_t)st.st_size;
	return p;
}

static uint32_t arg_u32(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*end != 0 || v > UINT32_MAX)
		die("bad number");
	return (uint32_t)v;
}

static void pause_us(long us)
{
	struct timespec ts = {0, us * 1000};
	nanosleep(&ts, NULL);
}

/* The parent is gone or the deadline passed: give up rather than spin forever. */
static void check_alive(pid_t ppid, double deadline)
{
	if (getppid() != ppid || now_s() > deadline)
		die("gave up waiting");
}

static int run_queues(int argc, char **argv)
{
	if (argc != 8)
		die("usage: queues <file> <capA> <capB> <n> <overflow> <create>");
	size_t size;
	char *mem = map_file(argv[2], &size);
	uint32_t cap_a = arg_u32(argv[3]), cap_b = arg_u32(argv[4]);
	uint64_t n = arg_u32(argv[5]);
	int overflow = (int)arg_u32(argv[6]), create = (int)arg_u32(argv[7]);
	_Atomic uint64_t *ctl = (_Atomic uint64_t *)mem;
	size_t size_a = iox2r_queue_memory_size(cap_a), size_b = iox2r_queue_memory_size(cap_b);
	if (size < IOX2R_LINE + size_a + size_b)
		die("file too small");
	iox2r_queue a2b, b2a;
	int rc;
	if (create) {
		if ((rc = iox2r_queue_init(&a2b, mem + IOX2R_LINE, size_a, cap_a)) != IOX2R_OK ||
		    (rc = iox2r_queue_init(&b2a, mem + IOX2R_LINE + size_a, size_b, cap_b)) != IOX2R_OK)
			die(iox2r_strerror(rc));
		atomic_store_explicit(&ctl[2], 1, memory_order_release);
	} else {
		if ((rc = iox2r_queue_attach(&a2b, mem + IOX2R_LINE, size_a, cap_a)) != IOX2R_OK ||
		    (rc = iox2r_queue_attach(&b2a, mem + IOX2R_LINE + size_a, size_b, cap_b)) != IOX2R_OK)
			die(iox2r_strerror(rc));
	}
	pid_t ppid = getppid();
	double deadline = now_s() + 120; /* generous: two busy cores; it only stops a hung test */
	uint64_t popped = 0, popsum = 0, last = 0, evicted = 0, evsum = 0, next = 1, v, ev;
	int order_errors = 0;
	bool in_done = false;
	/* idle counts rounds without progress: after a few, the peer sleeps
	 * instead of spinning, so that on a machine whose cores are busy the
	 * other process gets the CPU (a yield alone can leave it waiting for a
	 * whole time slice of the busy work). */
	unsigned idle = 0;
	for (uint64_t spins = 0; !in_done || next <= n; spins++) {
		if ((spins & 0xffff) == 0)
			check_alive(ppid, deadline);
		uint64_t before = popped + next;
		if (!in_done) {
			/* SYNC POINT test-done: Go's store of word 0 after its last
			 * push; a pop after seeing it finds everything. */
			bool done = atomic_load_explicit(&ctl[0], memory_order_acquire) != 0;
			if (iox2r_queue_pop(&a2b, &v)) {
				if (v <= last)
					order_errors++;
				last = v;
				popped++;
				popsum += v;
				if (popped % 1000 == 0)
					pause_us(50); /* let the Go producer overflow */
			} else if (done) {
				in_done = true;
			}
		}
		if (next <= n) {
			if (overflow) {
				if (next % 64 == 0)
					sched_yield(); /* let the consumer race the evictions */
				if (iox2r_queue_push_overflow(&b2a, next, &ev)) {
					evicted++;
					evsum += ev;
				}
				next++;
			} else if (iox2r_queue_push(&b2a, next)) {
				next++;
			} else {
				sched_yield();
			}
			if (next > n)
				atomic_store_explicit(&ctl[1], 1, memory_order_release); /* SYNC POINT test-done */
		}
		if (popped + next != before)
			idle = 0;
		else if (++idle >= 64) {
			pause_us(20);
			idle = 0;
		}
	}
	printf("popped %llu %llu evicted %llu %llu order_errors %d\n", (unsigned long long)popped,
	       (unsigned long long)popsum, (unsigned long long)evicted, (unsigned long long)evsum, order_errors);
	return 0;
}

static int run_pool(int argc, char **argv)
{
	if (argc != 5)
		die("usage: pool <file> <n> <rounds>");
	size_t size;
	char *mem = map_file(argv[2], &size);
	uint32_t n = arg_u32(argv[3]), rounds = arg_u32(argv[4]);
	iox2r_pool p;
	int rc = iox2r_pool_attach(&p, mem + IOX2R_LINE, size - IOX2R_LINE, n);
	if (rc != IOX2R_OK)
		die(iox2r_strerror(rc));
	uint32_t *held = calloc(n, sizeof *held);
	uint32_t nheld = 0, i;
	/* Take up to 3, give back all but the last, many times: the ABA tag
	 * keeps the concurrent gets and puts of Go and C apart. */
	for (uint32_t r = 0; r < rounds; r++) {
		for (int k = 0; k < 3 && iox2r_pool_get(&p, &i); k++)
			held[nheld++] = i;
		while (nheld > 1) {
			if (!iox2r_pool_put(&p, held[--nheld]))
				die("put refused");
		}
	}
	printf("held");
	for (uint32_t k = 0; k < nheld; k++)
		printf(" %u", held[k]);
	printf("\n");
	free(held);
	return 0;
}

static int run_bitset(int argc, char **argv)
{
	if (argc < 4)
		die("usage: bitset <file> <n> <bit>...");
	size_t size;
	char *mem = map_file(argv[2], &size);
	uint32_t n = arg_u32(argv[3]);
	iox2r_bitset b;
	int rc = iox2r_bitset_attach(&b, mem + IOX2R_LINE, size - IOX2R_LINE, n);
	if (rc != IOX2R_OK)
		die(iox2r_strerror(rc));
	for (int k = 4; k < argc; k++)
		(void)iox2r_bitset_set(&b, arg_u32(argv[k]));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "sizes") == 0) {
		uint32_t caps[] = {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 63, 64, 65, 100, 1000, 4096, IOX2R_MAX_CAPACITY};
		for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++)
			printf("queue %u %zu\npool %u %zu\nbitset %u %zu\n", caps[k], iox2r_queue_memory_size(caps[k]),
			       caps[k], iox2r_pool_memory_size(caps[k]), caps[k], iox2r_bitset_memory_size(caps[k]));
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "queues") == 0)
		return run_queues(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "pool") == 0)
		return run_pool(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "bitset") == 0)
		return run_bitset(argc, argv);
	die("usage: ring_peer sizes | queues ... | pool ... | bitset ...");
	return 2;
}
