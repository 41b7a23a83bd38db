/* pingpong.c: the C peer of the benchmark (bench/, `make bench`).
 *
 * The Go harness (process A of bench/) starts this program as a peer and
 * drives it over its standard input and output with the commands of
 * bench/peer.go, one a line:
 *
 *   C: hello <pid> <note>              once, after pinning itself
 *   A: run <mechanism> <size> <prefix> play process B: echo until seq 0
 *   C: ready | error <message>         after the setup
 *   C: done | error <message>          after the run and the close
 *   A: time <mechanism> <size> <prefix> <warm-iters> <warm-budget-ns>
 *         <iters> <budget-ns> <file>   play process A against a B
 *   C: ready | error <message>         after the setup
 *   A: go                              (once B is ready too)
 *   C: done <n> | error <message>      n round trips (ns, int64 little
 *                                      endian) written to <file>
 *   A: quit                            (or end of input): exit
 *
 * It reads IOX2GO_BENCH_CPU (the CPU to pin to, -1: none), IOX2GO_BENCH_DIR
 * (the run's private directory) and IOX2GO_BENCH_TIMEOUT_NS (how long a wait
 * for the peer may see nothing) from its environment. It exits after it
 * reports an error.
 *
 * The mechanisms are those of bench/ that have a C side, with the same
 * resources, names and steps, so that a Go process and this one are each
 * other's peer:
 *
 *   floor          one 8-byte word on one 128-byte line of a MAP_SHARED
 *                  /dev/shm file (bench/floor.go)
 *   iox2go-pubsub  publish-subscribe of the C library: slice services of
 *                  bytes a2b and b2a, loan uninitialized, stamp, send;
 *                  the receiver polls (bench/mech_iox2go.go)
 *
 * A payload carries seq in its first 8 bytes (little endian) and (uint8)seq
 * in its last byte; the receiver checks both. The timing (role A) uses
 * clock_gettime(CLOCK_MONOTONIC) around every round trip, with the warm-up
 * and the bounds of bench/measure.go.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "iox2go.h"

/* ------------------------------------------------------------------------
 * Errors: a failing function writes its message here and returns -1. (A
 * program of its own; the library keeps no such global.)
 */
static char errmsg[1024];

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof errmsg, fmt, ap);
	va_end(ap);
	return -1;
}

/* say writes one line to A and flushes it. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------------------------
 * What a mechanism gets (bench/mechanism.go's Config) and the bounded busy
 * wait (Waiter).
 */
enum role { ROLE_A, ROLE_B };

struct config {
	enum role role;
	const char *prefix; /* unique to one measurement */
	const char *dir;    /* the run's private directory */
	uint64_t size;      /* payload bytes, at least 8 (the seq) */
	int64_t timeout_ns;
};

/* single_cpu: this process may run on one CPU only (shared with the
 * peer), so a busy wait yields now and then. */
static bool single_cpu;

/* POLL_EVERY is how many spins a busy wait makes between two looks at the
 * clock (bench's pollEvery). */
#define POLL_EVERY 1024

struct waiter {
	int64_t timeout_ns;
	int64_t start; /* of this wait, 0 before its first poll */
};

static int waiter_poll(struct waiter *w)
{
	if (single_cpu)
		sched_yield();
	int64_t now = now_ns();
	if (w->start == 0) {
		w->start = now;
		return 0;
	}
	if (now - w->start > w->timeout_ns)
		return fail("peer stalled: nothing for %.3f s", (double)w->timeout_ns / 1e9);
	return 0;
}

/* stamp and check: the payload format of bench's Stamp and Check. */
static void stamp(uint8_t *p, uint64_t size, uint64_t seq)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(seq >> (8 * i));
	if (size > 8)
		p[size - 1] = (uint8_t)seq;
}

static int check(const uint8_t *p, uint64_t size, uint64_t *seq)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	if (size > 8 && p[size - 1] != (uint8_t)v)
		return fail("corrupt payload: seq %" PRIu64 ", last byte %#x", v, p[size - 1]);
	*seq = v;
	return 0;
}

/* A mechanism: the four operations of bench's Mechanism interface. */
struct mech {
	int (*setup)(struct mech *m, const struct config *cfg);
	int (*send)(struct mech *m, uint64_t seq);
	int (*receive)(struct mech *m, uint64_t *seq);
	int (*close)(struct mech *m);
};

/* ------------------------------------------------------------------------
 * floor: one word on one 128-byte line of a shared file (bench/floor.go).
 * The word holds seq<<1 | from, from = 0 for A's writes and 1 for B's.
 */
#define FLOOR_LINE 128

struct floor_mech {
	struct mech m;
	char path[PATH_MAX];
	void *mem;
	size_t len;
	bool created;
	_Atomic uint64_t *word;
	uint64_t me;
	struct waiter w;
};

static int floor_setup(struct mech *mm, const struct config *cfg)
{
	struct floor_mech *f = (struct floor_mech *)mm;
	f->w.timeout_ns = cfg->timeout_ns;
	if ((size_t)snprintf(f->path, sizeof f->path, "/dev/shm/%s.floor", cfg->prefix) >= sizeof f->path)
		return fail("floor: prefix too long");
	int fd;
	if (cfg->role == ROLE_A) {
		/* As bench's createShm: create under a temporary name, size,
		 * map, initialize, then rename, so that B never sees a file
		 * still being made. Seq 0 from B: nothing to receive yet. */
		char tmp[PATH_MAX + 8];
		snprintf(tmp, sizeof tmp, "%s.tmp", f->path);
		fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return fail("floor: create %s: %s", tmp, strerror(errno));
		if (ftruncate(fd, FLOOR_LINE) != 0) {
			int e = errno;
			close(fd);
			unlink(tmp);
			return fail("floor: truncate %s: %s", tmp, strerror(e));
		}
		f->mem = mmap(NULL, FLOOR_LINE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		int e = errno;
		close(fd);
		if (f->mem == MAP_FAILED) {
			f->mem = NULL;
			unlink(tmp);
			return fail("floor: mmap %s: %s", tmp, strerror(e));
		}
		f->len = FLOOR_LINE;
		f->word = (_Atomic uint64_t *)f->mem;
		atomic_store_explicit(f->word, 1, memory_order_seq_cst);
		if (rename(tmp, f->path) != 0) {
			e = errno;
			unlink(tmp);
			return fail("floor: rename %s: %s", tmp, strerror(e));
		}
		f->created = true;
		f->me = 0;
		return 0;
	}
	/* B: wait for the file, then map it whole. */
	int64_t deadline = now_ns() + cfg->timeout_ns;
	while ((fd = open(f->path, O_RDWR | O_CLOEXEC)) < 0) {
		if (errno != ENOENT)
			return fail("floor: open %s: %s", f->path, strerror(errno));
		if (now_ns() > deadline)
			return fail("floor: open %s: %s (still after %.3f s)", f->path, strerror(ENOENT), (double)cfg->timeout_ns / 1e9);
		usleep(200);
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return fail("floor: stat %s: %s", f->path, strerror(e));
	}
	if (st.st_size < FLOOR_LINE) {
		close(fd);
		return fail("floor: %s has %lld bytes, want %d", f->path, (long long)st.st_size, FLOOR_LINE);
	}
	f->mem = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int e = errno;
	close(fd);
	if (f->mem == MAP_FAILED) {
		f->mem = NULL;
		return fail("floor: mmap %s: %s", f->path, strerror(e));
	}
	f->len = (size_t)st.st_size;
	f->word = (_Atomic uint64_t *)f->mem;
	f->me = 1;
	return 0;
}

static int floor_send(struct mech *mm, uint64_t seq)
{
	struct floor_mech *f = (struct floor_mech *)mm;
	/* SYNC POINT floor: publishes seq; paired with the peer's load in
	 * receive. An exchange, as Go's atomic Store (XCHG on amd64), so that
	 * both languages pay the same instruction. */
	(void)atomic_exchange_explicit(f->word, seq << 1 | f->me, memory_order_seq_cst);
	return 0;
}

static int floor_receive(struct mech *mm, uint64_t *seq)
{
	struct floor_mech *f = (struct floor_mech *)mm;
	f->w.start = 0;
	for (uint64_t i = 1;; i++) {
		/* SYNC POINT floor: paired with the peer's exchange in send.
		 * The turns alternate, so a word from the peer is a new one. */
		uint64_t v = atomic_load_explicit(f->word, memory_order_seq_cst);
		if ((v & 1) != f->me) {
			*seq = v >> 1;
			return 0;
		}
		if (i % POLL_EVERY == 0 && waiter_poll(&f->w) != 0)
			return -1;
	}
}

static int floor_close(struct mech *mm)
{
	struct floor_mech *f = (struct floor_mech *)mm;
	int rc = 0;
	if (f->mem != NULL && munmap(f->mem, f->len) != 0)
		rc = fail("floor: munmap: %s", strerror(errno));
	f->mem = NULL;
	f->word = NULL;
	if (f->created && unlink(f->path) != 0 && errno != ENOENT)
		rc = fail("floor: remove %s: %s", f->path, strerror(errno));
	f->created = false;
	return rc;
}

/* ------------------------------------------------------------------------
 * iox2go-pubsub on the C library (bench/mech_iox2go.go): A publishes on
 * a2b and subscribes to b2a, B the reverse; slice services of bytes with
 * one publisher, one subscriber and a subscriber buffer of 1, everything
 * else the default; the publisher lends 1 sample of at most size bytes and
 * retries until delivered.
 */

/* The identity of Go's byte (uint8), which PublishSubscribeSlice[byte]
 * stores: runtime/typeinfo_reflect.go's name, size, alignment and layout,
 * and the hex SHA-256 of that layout. */
static const iox2_type_info u8_type = {
	.name = "uint8",
	.size = 1,
	.align = 1,
	.layout_hash = "5e9aac7441638bfa1dbe7d28656fbc5ce75366722e8bb7e731fc99ba40f84648",
	.layout = "0 1 . uint8\n",
};

struct pubsub_mech {
	struct mech m;
	char root[PATH_MAX];
	char prefix[128];
	iox2_node *node;
	iox2_publisher *pub;
	iox2_subscriber *sub;
	uint64_t size;
	struct waiter w;
};

/* lib_fail reports a failed library call with the node's detail. */
static int lib_fail(struct pubsub_mech *p, const char *what, int rc)
{
	return fail("iox2go-pubsub: %s: %s (%d): %s", what, iox2_errstr(rc), rc,
	            p->node != NULL ? iox2_node_errmsg(p->node) : iox2_last_create_error());
}

static int pubsub_service(struct pubsub_mech *p, const char *name, iox2_service **out)
{
	iox2_pubsub_spec spec;
	iox2_pubsub_spec_init(&spec, name, &u8_type);
	spec.slice = true;
	spec.subscriber_max_buffer_size = 1;
	spec.max_publishers = 1;
	spec.max_subscribers = 1;
	int rc = iox2_pubsub_service(p->node, &spec, IOX2_OPEN_OR_CREATE, out);
	if (rc != IOX2_OK) {
		char what[64];
		snprintf(what, sizeof what, "open or create service %s", name);
		return lib_fail(p, what, rc);
	}
	return 0;
}

static int pubsub_setup(struct mech *mm, const struct config *cfg)
{
	struct pubsub_mech *p = (struct pubsub_mech *)mm;
	p->size = cfg->size;
	p->w.timeout_ns = cfg->timeout_ns;
	if ((size_t)snprintf(p->root, sizeof p->root, "%s/iox2go", cfg->dir) >= sizeof p->root ||
	    (size_t)snprintf(p->prefix, sizeof p->prefix, "%s_", cfg->prefix) >= sizeof p->prefix)
		return fail("iox2go-pubsub: directory or prefix too long");
	iox2_config c;
	iox2_config_default(&c);
	c.root = p->root;
	c.prefix = p->prefix;
	c.port_memory_limit = INT64_MAX; /* as the Go side's math.MaxInt */
	int rc = iox2_node_create(&c, cfg->role == ROLE_A ? "bench-A" : "bench-B", &p->node);
	if (rc != IOX2_OK)
		return lib_fail(p, "create node", rc);
	const char *out = cfg->role == ROLE_A ? "a2b" : "b2a";
	const char *in = cfg->role == ROLE_A ? "b2a" : "a2b";
	iox2_service *out_svc, *in_svc;
	if (pubsub_service(p, out, &out_svc) != 0 || pubsub_service(p, in, &in_svc) != 0)
		return -1;
	iox2_publisher_options po;
	iox2_publisher_options_init(&po);
	po.max_slice_len = (int64_t)cfg->size;
	po.max_loaned_samples = 1;
	po.backpressure = IOX2_RETRY_UNTIL_DELIVERED;
	if ((rc = iox2_publisher_create(out_svc, &po, &p->pub)) != IOX2_OK)
		return lib_fail(p, "create publisher", rc);
	if ((rc = iox2_subscriber_create(in_svc, NULL, &p->sub)) != IOX2_OK)
		return lib_fail(p, "create subscriber", rc);
	/* No wait for the peer's subscriber here: the harness starts a run
	 * only when both sides are ready, so every subscriber exists before
	 * the first send, which connects to it (the publisher looks at the
	 * service's change counter on every loan and send). */
	return 0;
}

static int pubsub_send(struct mech *mm, uint64_t seq)
{
	struct pubsub_mech *p = (struct pubsub_mech *)mm;
	iox2_sample_mut *s;
	int rc = iox2_publisher_loan_uninit(p->pub, p->size, &s);
	if (rc != IOX2_OK)
		return lib_fail(p, "loan", rc);
	stamp(iox2_sample_mut_payload(s), p->size, seq);
	if ((rc = iox2_sample_mut_send(s, NULL)) != IOX2_OK)
		return lib_fail(p, "send", rc);
	return 0;
}

static int pubsub_receive(struct mech *mm, uint64_t *seq)
{
	struct pubsub_mech *p = (struct pubsub_mech *)mm;
	p->w.start = 0;
	for (uint64_t i = 1;; i++) {
		const iox2_sample *s;
		int rc = iox2_subscriber_receive(p->sub, &s);
		if (rc != IOX2_OK)
			return lib_fail(p, "receive", rc);
		if (s != NULL) {
			uint64_t len = iox2_sample_len(s);
			if (len != p->size) {
				iox2_sample_release(s);
				return fail("corrupt payload: %" PRIu64 " bytes, want %" PRIu64, len, p->size);
			}
			rc = check(iox2_sample_payload(s), len, seq);
			iox2_sample_release(s);
			return rc;
		}
		if (i % POLL_EVERY == 0 && waiter_poll(&p->w) != 0)
			return -1;
	}
}

static int pubsub_close(struct mech *mm)
{
	struct pubsub_mech *p = (struct pubsub_mech *)mm;
	int rc = 0;
	if (p->node != NULL) {
		int e = iox2_node_close(p->node);
		if (e != IOX2_OK)
			rc = fail("iox2go-pubsub: close node: %s (%d)", iox2_errstr(e), e);
		p->node = NULL;
	}
	/* The domain's directories, once both sides have left them empty. */
	char d[PATH_MAX + 16];
	snprintf(d, sizeof d, "%s/nodes", p->root);
	rmdir(d);
	snprintf(d, sizeof d, "%s/services", p->root);
	rmdir(d);
	rmdir(p->root);
	return rc;
}

/* ------------------------------------------------------------------------
 * The harness's side of a measurement (bench/measure.go).
 */

/* new_mech returns a fresh mechanism called name, or NULL. */
static struct mech *new_mech(const char *name)
{
	if (strcmp(name, "floor") == 0) {
		struct floor_mech *f = calloc(1, sizeof *f);
		if (f == NULL)
			return NULL;
		f->m = (struct mech){floor_setup, floor_send, floor_receive, floor_close};
		return &f->m;
	}
	if (strcmp(name, "iox2go-pubsub") == 0) {
		struct pubsub_mech *p = calloc(1, sizeof *p);
		if (p == NULL)
			return NULL;
		p->m = (struct mech){pubsub_setup, pubsub_send, pubsub_receive, pubsub_close};
		return &p->m;
	}
	return NULL;
}

/* round_trip sends ++*seq and waits for it back. */
static int round_trip(struct mech *m, uint64_t *seq)
{
	++*seq;
	if (m->send(m, *seq) != 0) {
		char e[sizeof errmsg];
		memcpy(e, errmsg, sizeof e);
		return fail("send %" PRIu64 ": %s", *seq, e);
	}
	uint64_t got;
	if (m->receive(m, &got) != 0) {
		char e[sizeof errmsg];
		memcpy(e, errmsg, sizeof e);
		return fail("receive %" PRIu64 ": %s", *seq, e);
	}
	if (got != *seq)
		return fail("corrupt payload: sent %" PRIu64 ", received %" PRIu64, *seq, got);
	return 0;
}

struct plan {
	int64_t warm_iters, warm_budget_ns, iters, budget_ns;
};

/* ping_pong is A's side: after the warm-up it times every round trip into
 * rtts (p->iters values) and sets *n to how many it recorded. It always
 * ends the run with seq 0, so that B returns. */
static int ping_pong(struct mech *m, const struct plan *p, int64_t *rtts, int64_t *n)
{
	uint64_t seq = 0;
	int rc = 0;
	*n = 0;
	int64_t end = now_ns() + p->warm_budget_ns;
	for (int64_t i = 0; i < p->warm_iters && now_ns() < end; i++) {
		if ((rc = round_trip(m, &seq)) != 0) {
			char e[sizeof errmsg];
			memcpy(e, errmsg, sizeof e);
			rc = fail("warm-up: %s", e);
			goto out;
		}
	}
	end = now_ns() + p->budget_ns;
	while (*n < p->iters) {
		int64_t t0 = now_ns();
		rc = round_trip(m, &seq);
		int64_t t1 = now_ns();
		if (rc != 0)
			goto out;
		rtts[(*n)++] = t1 - t0;
		if (t1 > end)
			break;
	}
out:
	if (m->send(m, 0) != 0 && rc == 0) {
		char e[sizeof errmsg];
		memcpy(e, errmsg, sizeof e);
		rc = fail("send end of run: %s", e);
	}
	return rc;
}

/* echo is B's side: it sends back every seq until seq 0. */
static int echo(struct mech *m)
{
	for (;;) {
		uint64_t seq;
		if (m->receive(m, &seq) != 0) {
			char e[sizeof errmsg];
			memcpy(e, errmsg, sizeof e);
			return fail("receive: %s", e);
		}
		if (seq == 0)
			return 0;
		if (m->send(m, seq) != 0) {
			char e[sizeof errmsg];
			memcpy(e, errmsg, sizeof e);
			return fail("send %" PRIu64 ": %s", seq, e);
		}
	}
}

/* write_rtts writes rtts[0..n) to path as int64 little endian. */
static int write_rtts(const char *path, const int64_t *rtts, int64_t n)
{
	FILE *f = fopen(path, "wbx");
	if (f == NULL)
		return fail("create %s: %s", path, strerror(errno));
	uint8_t b[8];
	for (int64_t i = 0; i < n; i++) {
		for (int k = 0; k < 8; k++)
			b[k] = (uint8_t)((uint64_t)rtts[i] >> (8 * k));
		if (fwrite(b, 1, 8, f) != 8) {
			int e = errno;
			fclose(f);
			return fail("write %s: %s", path, strerror(e));
		}
	}
	if (fclose(f) != 0)
		return fail("write %s: %s", path, strerror(errno));
	return 0;
}

/* parse_i64 parses a non-negative decimal integer. */
static bool parse_i64(const char *s, int64_t *v)
{
	if (s == NULL || *s == '\0')
		return false;
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || x < 0)
		return false;
	*v = x;
	return true;
}

/* next_line reads one command into buf without its newline; false at the
 * end of input. */
static bool next_line(char *buf, size_t cap)
{
	if (fgets(buf, (int)cap, stdin) == NULL)
		return false;
	buf[strcspn(buf, "\n")] = '\0';
	return true;
}

/* measure serves one "run" (B) or "time" (A) command; f are its fields. */
static int measure(char **f, int nf, const char *dir, int64_t timeout_ns)
{
	bool a = strcmp(f[0], "time") == 0;
	if (nf != (a ? 9 : 4))
		return fail("bad command %s with %d fields", f[0], nf);
	int64_t size;
	if (!parse_i64(f[2], &size) || size < 8)
		return fail("bad size %s", f[2]);
	struct plan p = {0};
	if (a && (!parse_i64(f[4], &p.warm_iters) || !parse_i64(f[5], &p.warm_budget_ns) ||
	          !parse_i64(f[6], &p.iters) || !parse_i64(f[7], &p.budget_ns) || p.iters < 1))
		return fail("bad plan in the time command");
	struct mech *m = new_mech(f[1]);
	if (m == NULL)
		return fail("unknown mechanism %s or no memory (the C peer has floor and iox2go-pubsub)", f[1]);
	int64_t *rtts = NULL;
	int64_t n = 0;
	struct config cfg = {.role = a ? ROLE_A : ROLE_B, .prefix = f[3], .dir = dir, .size = (uint64_t)size, .timeout_ns = timeout_ns};
	int rc = 0;
	if (a && (rtts = calloc((size_t)p.iters, sizeof *rtts)) == NULL) {
		rc = fail("no memory for %" PRId64 " samples", p.iters);
		goto out;
	}
	if (m->setup(m, &cfg) != 0) {
		char e[sizeof errmsg];
		memcpy(e, errmsg, sizeof e);
		rc = fail("setup: %s", e);
		goto out;
	}
	say("ready");
	if (a) {
		char line[64];
		if (!next_line(line, sizeof line) || strcmp(line, "go") != 0) {
			rc = fail("want go, got %s", line);
			goto out;
		}
		rc = ping_pong(m, &p, rtts, &n);
	} else {
		rc = echo(m);
	}
out:
	if (m->close(m) != 0 && rc == 0) {
		char e[sizeof errmsg];
		memcpy(e, errmsg, sizeof e);
		rc = fail("close: %s", e);
	}
	free(m);
	if (rc == 0 && a)
		rc = write_rtts(f[8], rtts, n);
	free(rtts);
	if (rc != 0) {
		char e[sizeof errmsg];
		memcpy(e, errmsg, sizeof e);
		return fail("%s %s %s: %s", f[1], f[2], a ? "A" : "B", e);
	}
	if (a)
		say("done %" PRId64, n);
	else
		say("done");
	return 0;
}

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return (a > b) - (a < b);
}

/* clock_cost returns the median cost of one clock_gettime, in ns. */
static double clock_cost(void)
{
	enum { N = 20001 };
	static int64_t d[N];
	for (int i = 0; i < N; i++) {
		int64_t t0 = now_ns();
		d[i] = now_ns() - t0;
	}
	qsort(d, N, sizeof d[0], cmp_i64);
	return (double)d[N / 2];
}

int main(void)
{
	const char *cpu_s = getenv("IOX2GO_BENCH_CPU");
	const char *dir = getenv("IOX2GO_BENCH_DIR");
	const char *timeout_s = getenv("IOX2GO_BENCH_TIMEOUT_NS");
	int64_t timeout_ns;
	char *end;
	long cpu = cpu_s != NULL ? strtol(cpu_s, &end, 10) : 0;
	if (cpu_s == NULL || *end != '\0' || dir == NULL || !parse_i64(timeout_s, &timeout_ns) || timeout_ns <= 0) {
		fprintf(stderr, "pingpong: the C peer of bench/; it needs IOX2GO_BENCH_CPU, IOX2GO_BENCH_DIR and IOX2GO_BENCH_TIMEOUT_NS\n");
		return 2;
	}
	/* A pins itself before it starts its peers, so the CPUs a peer
	 * inherits are A's one CPU: they say nothing about sharing. A pinned
	 * peer never shares its CPU (bench's -cpus refuses a,a; a single CPU
	 * leaves both unpinned); an unpinned one shares it when it may use
	 * one CPU only. (A yield on every POLL_EVERY spins of a peer that does
	 * not share its CPU costs a system call every few microseconds of
	 * waiting: every tenth message or so where a one-way trip takes
	 * 550 ns.) */
	cpu_set_t set;
	if (cpu < 0 && sched_getaffinity(0, sizeof set, &set) == 0)
		single_cpu = CPU_COUNT(&set) < 2;
	char note[128];
	if (cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET((int)cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) != 0) {
			say("error pin to CPU %ld: %s", cpu, strerror(errno));
			return 1;
		}
		snprintf(note, sizeof note, "pinned to CPU %ld", cpu);
	} else {
		snprintf(note, sizeof note, "not pinned");
	}
	say("hello %d %s; clock_gettime %.1f ns", (int)getpid(), note, clock_cost());

	char line[8192];
	while (next_line(line, sizeof line)) {
		char *f[10];
		int nf = 0;
		for (char *save, *t = strtok_r(line, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
			if (nf == 10)
				break;
			f[nf++] = t;
		}
		if (nf == 1 && strcmp(f[0], "quit") == 0)
			return 0;
		int rc;
		if (nf >= 1 && (strcmp(f[0], "run") == 0 || strcmp(f[0], "time") == 0))
			rc = measure(f, nf, dir, timeout_ns);
		else if (nf >= 1 && strcmp(f[0], "stream") == 0)
			rc = fail("the C peer has no throughput mode");
		else
			rc = fail("bad command %s", nf > 0 ? f[0] : "(empty)");
		if (rc != 0) {
			for (char *c = errmsg; *c; c++)
				if (*c == '\n')
					*c = ' ';
			say("error %s", errmsg);
			return 1;
		}
	}
	return 0;
}
