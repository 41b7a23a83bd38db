/* limits.c: the ranges of every QoS value and the resource limits of ports
 * (runtime/limits.go, the validate methods of pubsub.go, event.go and
 * reqres.go), with the Go runtime's messages: a service that Go refuses, C
 * refuses with the same words, and the reverse.
 *
 * The process memory of a port's bookkeeping is counted with the sizes of
 * the Go runtime's structures (the constants below), so that both
 * implementations draw the line at the same QoS. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* Sizes of the Go runtime's bookkeeping (unsafe.Sizeof on amd64, Go 1.26;
 * see runtime/limits.go). */
enum {
	GO_SENDER_CHUNK_BYTES = 4 + 1 + 4,
	GO_SEND_CONN_BYTES = 1552,
	GO_RECV_CONN_BYTES = 1704,
	GO_RING_QUEUE_BYTES = 464,
	GO_SAMPLE_MUT = 32,
	GO_SAMPLE = 56,
	GO_PENDING_REQ = 80,
	GO_PENDING_RESPONSE = 64,
	GO_HELD_CHUNK = 16,
	GO_ACTIVE_REQUEST = 136,
	GO_RESPONSE_MUT = 56,
	GO_REQUEST_MUT = 32,
	GO_NOTIFIER_CONN = 32, /* notifierConn plus its pointer */
	GO_EVENT_ACTIVATION = 16,
	CHUNK_HEADER_SIZE = 48,
	LINE = 128,
};

#define MAXCAP IOX2I_RING_MAX_CAPACITY
#define sadd iox2i_sat_add
#define smul iox2i_sat_mul

static uint64_t u(int64_t v) { return v < 0 ? 0 : (uint64_t)v; }
static uint64_t umax(uint64_t a, uint64_t b) { return a > b ? a : b; }
static uint64_t umin(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t round_up(uint64_t n) { return (n + LINE - 1) & ~(uint64_t)(LINE - 1); }

static uint64_t align_u(uint64_t n, uint64_t a) {
	if (a == 0)
		a = 1;
	if (n > UINT64_MAX - (a - 1))
		return UINT64_MAX & ~(a - 1);
	return (n + a - 1) & ~(a - 1);
}

/* --- ring sizes ----------------------------------------------------------------- */

uint64_t iox2i_queue_memory_size(uint32_t capacity) {
	if (capacity == 0 || capacity > MAXCAP)
		return 0;
	unsigned bits = 32 - (unsigned)__builtin_clz(capacity); /* bits.Len32 */
	return round_up(264 + ((uint64_t)1 << bits) * 8);
}

uint64_t iox2i_pool_memory_size(uint32_t n) {
	if (n == 0 || n > MAXCAP)
		return 0;
	return round_up(256 + (uint64_t)n * 8);
}

uint64_t iox2i_bitset_memory_size(uint32_t n) {
	if (n == 0 || n > MAXCAP)
		return 0;
	return round_up(128 + (((uint64_t)n + 63) / 64) * 8);
}

uint64_t iox2i_data_layout_bytes(uint64_t elem_size, uint64_t elem_align, uint64_t max_len, uint64_t num_chunks,
                                 uint64_t hdr_size, uint64_t hdr_align, uint64_t table_len, uint64_t *stride_out) {
	uint64_t a = umax(umax(elem_align, 8), hdr_align);
	uint64_t payload = smul(elem_size, max_len);
	uint64_t end = CHUNK_HEADER_SIZE;
	if (hdr_size > 0) {
		uint64_t off = align_u(CHUNK_HEADER_SIZE, umax(hdr_align, 1));
		end = sadd(off, hdr_size);
	}
	uint64_t payload_off = align_u(end, umax(elem_align, 8));
	uint64_t stride = align_u(sadd(payload_off, umax(payload, 1)), umax(a, 64));
	uint64_t pool_off = IOX2I_HEADER_SIZE + 128; /* dataHeader */
	end = pool_off + iox2i_pool_memory_size((uint32_t)umin(num_chunks, (uint64_t)MAXCAP + 1));
	if (table_len > 0) {
		uint64_t table_off = align_u(end, 128);
		end = sadd(table_off, smul(8, table_len));
	}
	uint64_t chunks_off = align_u(end, umax(a, 128));
	if (stride_out)
		*stride_out = stride;
	return sadd(chunks_off, smul(stride, num_chunks));
}

uint64_t iox2i_conn_layout_size(uint32_t channels, uint32_t sub_cap, uint32_t comp_cap) {
	uint64_t sub_off = 256; /* align(shm header + connHeader, 128) */
	uint64_t sub_size = (iox2i_queue_memory_size(sub_cap) + 127) & ~(uint64_t)127;
	uint64_t comp_off = sub_off + (uint64_t)channels * sub_size;
	return (comp_off + iox2i_queue_memory_size(comp_cap) + 127) & ~(uint64_t)127;
}

void iox2i_event_layout(uint32_t num_ids, size_t *bits_off, size_t *counters_off, size_t *size) {
	size_t b = IOX2I_HEADER_SIZE + sizeof(iox2i_event_header);
	size_t c = b + (size_t)iox2i_bitset_memory_size(num_ids);
	if (bits_off)
		*bits_off = b;
	if (counters_off)
		*counters_off = c;
	if (size)
		*size = c + (((size_t)num_ids * 8 + 127) & ~(size_t)127);
}

static uint64_t dynamic_size(uint64_t nodes, uint64_t pubs, uint64_t subs) {
	return IOX2I_HEADER_SIZE + sizeof(iox2i_dyn_header) + ((nodes * 16 + 63) & ~(uint64_t)63) + (pubs + subs) * 64;
}

/* --- formatting as Go ------------------------------------------------------------- */

static const char *fmt_count(uint64_t n, char *buf, size_t cap) {
	if (n >= (uint64_t)1 << 63)
		return "more than 9223372036854775807";
	snprintf(buf, cap, "%llu", (unsigned long long)n);
	return buf;
}

static const char *fmt_bytes(uint64_t n, char *buf, size_t cap) {
	if (n >= (uint64_t)1 << 63)
		return "more than 8 EiB";
	if (n < 1024) {
		snprintf(buf, cap, "%llu bytes", (unsigned long long)n);
		return buf;
	}
	static const char *units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	int i = 0;
	double v = (double)n / 1024;
	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	snprintf(buf, cap, "%.1f %s (%llu bytes)", v, units[i], (unsigned long long)n);
	return buf;
}

/* fmt_frac: Go's fmtFrac: the fraction digits of v/10^prec without
 * trailing zeros into buf (with the dot), returns v/10^prec. */
static uint64_t fmt_frac(uint64_t v, int prec, char *buf) {
	char digits[16];
	int n = 0;
	bool print = false;
	for (int i = 0; i < prec; i++) {
		int d = (int)(v % 10);
		print = print || d != 0;
		if (print)
			digits[n++] = (char)('0' + d);
		v /= 10;
	}
	int k = 0;
	if (print) {
		buf[k++] = '.';
		while (n > 0)
			buf[k++] = digits[--n];
	}
	buf[k] = 0;
	return v;
}

/* go_duration: time.Duration.String. */
static const char *go_duration(int64_t d, char *buf, size_t cap) {
	if (d == 0)
		return "0s";
	bool neg = d < 0;
	uint64_t v = neg ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;
	char frac[16];
	if (v < 1000000000) {
		const char *unit;
		if (v < 1000) {
			snprintf(buf, cap, "%s%lluns", neg ? "-" : "", (unsigned long long)v);
			return buf;
		} else if (v < 1000000) {
			v = fmt_frac(v, 3, frac);
			unit = "\xc2\xb5s"; /* µs */
		} else {
			v = fmt_frac(v, 6, frac);
			unit = "ms";
		}
		snprintf(buf, cap, "%s%llu%s%s", neg ? "-" : "", (unsigned long long)v, frac, unit);
		return buf;
	}
	v = fmt_frac(v, 9, frac);
	uint64_t s = v % 60;
	v /= 60;
	char hm[64] = "";
	if (v > 0) {
		uint64_t m = v % 60;
		v /= 60;
		if (v > 0)
			snprintf(hm, sizeof hm, "%lluh%llum", (unsigned long long)v, (unsigned long long)m);
		else
			snprintf(hm, sizeof hm, "%llum", (unsigned long long)m);
	}
	snprintf(buf, cap, "%s%s%llu%ss", neg ? "-" : "", hm, (unsigned long long)s, frac);
	return buf;
}

const char *iox2i_go_duration(int64_t d, char *buf, size_t cap) { return go_duration(d, buf, cap); }

/* --- footprints ------------------------------------------------------------------- */

typedef struct footprint {
	const char *what;
	uint64_t chunks;
	char chunks_from[512];
	uint64_t segment;
	char seg_name[160];
	uint64_t conns, conn_size, local;
} footprint;

static uint64_t total(const footprint *f) { return sadd(sadd(f->segment, smul(f->conns, f->conn_size)), f->local); }

static const char *check_index(const footprint *f, char *buf, size_t cap) {
	if (f->chunks > MAXCAP) {
		char c[64];
		snprintf(buf, cap, "%s needs %s = %s chunks; a chunk index addresses at most %u", f->what, f->chunks_from,
		         fmt_count(f->chunks, c, sizeof c), MAXCAP);
		return buf;
	}
	return NULL;
}

static const char *check(const footprint *f, uint64_t limit, char *buf, size_t cap) {
	if (check_index(f, buf, cap))
		return buf;
	uint64_t t = total(f);
	if (t <= limit)
		return NULL;
	char parts[3][256];
	int np = 0;
	char b1[64], b2[64];
	if (f->segment > 0)
		snprintf(parts[np++], sizeof parts[0], "%s", f->seg_name);
	if (f->conns > 0)
		snprintf(parts[np++], sizeof parts[0], "%llu connections of %s", (unsigned long long)f->conns,
		         fmt_bytes(f->conn_size, b1, sizeof b1));
	if (f->local > 0 && np == 0)
		snprintf(parts[np++], sizeof parts[0], "bookkeeping");
	else if (f->local > 0)
		snprintf(parts[np++], sizeof parts[0], "%s of bookkeeping", fmt_bytes(f->local, b1, sizeof b1));
	char list[800] = "its memory";
	if (np == 1)
		snprintf(list, sizeof list, "%s", parts[0]);
	else if (np == 2)
		snprintf(list, sizeof list, "%s and %s", parts[0], parts[1]);
	else if (np == 3)
		snprintf(list, sizeof list, "%s, %s and %s", parts[0], parts[1], parts[2]);
	char tb[64];
	snprintf(buf, cap,
	         "%s needs up to %s for %s, more than the port memory limit of %s (Config.PortMemoryLimit, global.port-memory-limit)",
	         f->what, fmt_bytes(t, tb, sizeof tb), list, fmt_bytes(limit, b2, sizeof b2));
	return buf;
}

static uint64_t bitset_bytes(uint64_t n) { return 8 * ((umin(n, MAXCAP) + 63) / 64); }

static uint64_t sender_local(uint64_t chunks, uint64_t peers, uint64_t history, uint64_t loans, uint64_t handle) {
	uint64_t per_conn = sadd(GO_SEND_CONN_BYTES, bitset_bytes(chunks));
	return sadd(sadd(smul(chunks, GO_SENDER_CHUNK_BYTES), smul(history, 4)), sadd(smul(peers, per_conn), smul(loans, handle)));
}

static void data_seg(footprint *f, uint64_t bytes, uint64_t stride) {
	char b[64];
	f->segment = bytes;
	snprintf(f->seg_name, sizeof f->seg_name, "a data segment of %llu chunks of %s", (unsigned long long)f->chunks,
	         fmt_bytes(stride, b, sizeof b));
}

static void dynamic_fp(footprint *f, int64_t nodes, int64_t pubs, int64_t subs) {
	memset(f, 0, sizeof *f);
	f->what = "the service's dynamic config";
	f->segment = dynamic_size(u(nodes), u(pubs), u(subs));
	snprintf(f->seg_name, sizeof f->seg_name, "the slots of max nodes %lld and %lld + %lld ports", (long long)nodes,
	         (long long)pubs, (long long)subs);
}

static void publisher_fp(footprint *f, const iox2i_pubsub_static *q, int64_t loans, int64_t slice) {
	memset(f, 0, sizeof *f);
	uint64_t s = u(q->max_subscribers), b = u(q->subscriber_max_buffer_size), r = u(q->subscriber_max_borrowed_samples),
	         h = u(q->history_size);
	f->what = "a publisher";
	f->chunks = sadd(sadd(smul(s, sadd(b, r)), h), u(loans));
	snprintf(f->chunks_from, sizeof f->chunks_from,
	         "max subscribers %llu \xc3\x97 (subscriber max buffer size %llu + subscriber max borrowed samples %llu) + history size %llu + max loaned samples %llu",
	         (unsigned long long)s, (unsigned long long)b, (unsigned long long)r, (unsigned long long)h,
	         (unsigned long long)u(loans));
	if (f->chunks > MAXCAP)
		return;
	uint64_t hs = 0, ha = 0;
	if (q->has_user_header)
		hs = q->user_header.size, ha = q->user_header.align;
	uint64_t stride;
	uint64_t bytes = iox2i_data_layout_bytes(q->payload.size, q->payload.align, u(slice), f->chunks, hs, ha, 0, &stride);
	data_seg(f, bytes, stride);
	f->conns = s;
	f->conn_size = iox2i_conn_layout_size(1, (uint32_t)b, (uint32_t)(b + r + 1));
	f->local = sender_local(f->chunks, s, h, u(loans), GO_SAMPLE_MUT);
}

static void subscriber_fp(footprint *f, const iox2i_pubsub_static *q) {
	memset(f, 0, sizeof *f);
	uint64_t p = u(q->max_publishers), s = u(q->max_subscribers), b = u(q->subscriber_max_buffer_size),
	         r = u(q->subscriber_max_borrowed_samples), h = u(q->history_size);
	uint64_t pool = sadd(sadd(smul(s, sadd(b, r)), h), 1);
	uint64_t per_conn = sadd(GO_RECV_CONN_BYTES, bitset_bytes(pool));
	f->what = "a subscriber";
	f->local = sadd(smul(p, per_conn), smul(r, GO_SAMPLE));
}

static void client_fp(footprint *f, const iox2i_reqres_static *q, int64_t slice) {
	memset(f, 0, sizeof *f);
	uint64_t sv = u(q->max_servers), c = u(q->max_clients), a = u(q->max_active_requests_per_client),
	         lq = u(q->max_loaned_requests), r = u(q->max_response_buffer_size),
	         b = u(q->max_borrowed_responses_per_pending_response);
	f->what = "a client";
	f->chunks = sadd(sadd(smul(sv, smul(2, a)), a), lq);
	snprintf(f->chunks_from, sizeof f->chunks_from,
	         "max servers %llu \xc3\x97 2 \xc3\x97 max active requests per client %llu + max active requests per client %llu + max loaned requests %llu",
	         (unsigned long long)sv, (unsigned long long)a, (unsigned long long)a, (unsigned long long)lq);
	if (f->chunks > MAXCAP)
		return;
	uint64_t stride;
	uint64_t bytes = iox2i_data_layout_bytes(q->request.size, q->request.align, u(slice), f->chunks, 0, 0, a, &stride);
	data_seg(f, bytes, stride);
	f->conns = sv;
	f->conn_size = iox2i_conn_layout_size(1, (uint32_t)a, (uint32_t)(2 * a));
	uint64_t server_pool = smul(smul(c, a), sadd(sadd(r, b), 1));
	uint64_t responses =
	    smul(sv, sadd(sadd(GO_RECV_CONN_BYTES, bitset_bytes(server_pool)), smul(a, GO_RING_QUEUE_BYTES + 8)));
	uint64_t slots = smul(a, sadd(GO_PENDING_REQ + GO_PENDING_RESPONSE, smul(b, GO_HELD_CHUNK)));
	f->local = sadd(sadd(sender_local(f->chunks, sv, 0, lq, GO_REQUEST_MUT), responses), slots);
}

static void server_fp(footprint *f, const iox2i_reqres_static *q, int64_t loans_per_request, int64_t slice) {
	memset(f, 0, sizeof *f);
	uint64_t sv = u(q->max_servers), c = u(q->max_clients), a = u(q->max_active_requests_per_client),
	         r = u(q->max_response_buffer_size), b = u(q->max_borrowed_responses_per_pending_response),
	         lr = u(loans_per_request);
	f->what = "a server";
	f->chunks = smul(smul(c, a), sadd(sadd(r, b), lr));
	snprintf(f->chunks_from, sizeof f->chunks_from,
	         "max clients %llu \xc3\x97 max active requests per client %llu \xc3\x97 (max response buffer size %llu + max borrowed responses per pending response %llu + max loaned responses per request %llu)",
	         (unsigned long long)c, (unsigned long long)a, (unsigned long long)r, (unsigned long long)b,
	         (unsigned long long)lr);
	if (f->chunks > MAXCAP)
		return;
	uint64_t stride;
	uint64_t bytes = iox2i_data_layout_bytes(q->response.size, q->response.align, u(slice), f->chunks, 0, 0, 0, &stride);
	data_seg(f, bytes, stride);
	f->conns = c;
	f->conn_size = iox2i_conn_layout_size((uint32_t)a, (uint32_t)r, (uint32_t)(a * (r + b)));
	uint64_t client_pool = sadd(sadd(smul(sv, smul(2, a)), a), 1);
	uint64_t requests = smul(c, sadd(GO_RECV_CONN_BYTES, bitset_bytes(client_pool)));
	uint64_t active = smul(smul(c, a), sadd(GO_ACTIVE_REQUEST, smul(lr, 4)));
	uint64_t loans = smul(smul(c, a), lr);
	uint64_t channels = smul(smul(c, a), GO_RING_QUEUE_BYTES + 8);
	f->local = sadd(sadd(sender_local(f->chunks, c, 0, loans, GO_RESPONSE_MUT), requests), sadd(active, channels));
}

/* --- validate ------------------------------------------------------------------ */

typedef struct range {
	const char *name;
	int64_t n, min, max;
} range;

static const char *check_ranges(const range *r, int n, char *buf, size_t cap) {
	for (int i = 0; i < n; i++)
		if (r[i].n < r[i].min || r[i].n > r[i].max) {
			snprintf(buf, cap, "%s is %lld, must be in [%lld, %lld]", r[i].name, (long long)r[i].n, (long long)r[i].min,
			         (long long)r[i].max);
			return buf;
		}
	return NULL;
}

const char *iox2i_pubsub_validate(const iox2i_pubsub_static *q, int64_t publisher_max_loans, char *buf, size_t cap) {
	const int64_t L = IOX2I_MAX_QOS_VALUE;
	range r[] = {
	    {"max publishers", q->max_publishers, 1, L},
	    {"max subscribers", q->max_subscribers, 1, L},
	    {"max nodes", q->max_nodes, 1, L},
	    {"history size", q->history_size, 0, L},
	    {"subscriber max buffer size", q->subscriber_max_buffer_size, 1, L},
	    {"subscriber max borrowed samples", q->subscriber_max_borrowed_samples, 1, L},
	    {"publisher max loaned samples", publisher_max_loans, 1, L},
	};
	if (check_ranges(r, (int)(sizeof r / sizeof r[0]), buf, cap))
		return buf;
	if (!q->enable_safe_overflow && q->subscriber_max_buffer_size < q->history_size) {
		snprintf(buf, cap, "without safe overflow the subscriber max buffer size (%lld) must be at least the history size (%lld)",
		         (long long)q->subscriber_max_buffer_size, (long long)q->history_size);
		return buf;
	}
	return NULL;
}

const char *iox2i_event_validate(const iox2i_event_static *q, char *buf, size_t cap) {
	const int64_t L = IOX2I_MAX_QOS_VALUE;
	range r[] = {
	    {"max notifiers", q->max_notifiers, 1, L},
	    {"max listeners", q->max_listeners, 1, L},
	    {"max nodes", q->max_nodes, 1, L},
	    {"event id max value", q->event_id_max_value, 0, IOX2I_MAX_EVENT_ID},
	};
	if (check_ranges(r, (int)(sizeof r / sizeof r[0]), buf, cap))
		return buf;
	char d[64];
	if (q->deadline_ns < 0) {
		snprintf(buf, cap, "deadline is %s, must be positive (or 0 for none)", go_duration(q->deadline_ns, d, sizeof d));
		return buf;
	}
	if (q->deadline_ns > 0 && q->deadline_ns < IOX2I_MIN_EVENT_DEADLINE_NS) {
		snprintf(buf, cap, "deadline is %s, must be at least 1ms (or 0 for none)", go_duration(q->deadline_ns, d, sizeof d));
		return buf;
	}
	const char *names[3] = {"notifier created event", "notifier dropped event", "notifier dead event"};
	int64_t ids[3] = {q->created, q->dropped, q->dead};
	for (int i = 0; i < 3; i++)
		if (ids[i] >= 0 && ids[i] > q->event_id_max_value) {
			snprintf(buf, cap, "%s %lld exceeds the event id max value %lld", names[i], (long long)ids[i],
			         (long long)q->event_id_max_value);
			return buf;
		}
	return NULL;
}

const char *iox2i_reqres_validate(const iox2i_reqres_static *q, int64_t server_max_loans, char *buf, size_t cap) {
	const int64_t L = IOX2I_MAX_QOS_VALUE;
	range r[] = {
	    {"max active requests per client", q->max_active_requests_per_client, 1, L},
	    {"max loaned requests", q->max_loaned_requests, 1, L},
	    {"max response buffer size", q->max_response_buffer_size, 1, L},
	    {"max borrowed responses per pending response", q->max_borrowed_responses_per_pending_response, 1, L},
	    {"max servers", q->max_servers, 1, L},
	    {"max clients", q->max_clients, 1, L},
	    {"max nodes", q->max_nodes, 1, L},
	    {"server max loaned responses per request", server_max_loans, 1, L},
	};
	return check_ranges(r, (int)(sizeof r / sizeof r[0]), buf, cap);
}

const char *iox2i_check_pubsub(const iox2i_pubsub_static *q, int64_t publisher_max_loans, uint64_t limit, char *buf,
                               size_t cap) {
	footprint f;
	dynamic_fp(&f, q->max_nodes, q->max_publishers, q->max_subscribers);
	if (check(&f, limit, buf, cap))
		return buf;
	publisher_fp(&f, q, publisher_max_loans, 1);
	if (check(&f, limit, buf, cap))
		return buf;
	subscriber_fp(&f, q);
	return check(&f, limit, buf, cap);
}

const char *iox2i_check_publisher(const iox2i_pubsub_static *q, int64_t loans, int64_t slice, uint64_t limit, char *buf,
                                  size_t cap) {
	footprint f;
	publisher_fp(&f, q, loans, slice);
	return check(&f, limit, buf, cap);
}

const char *iox2i_check_event(const iox2i_event_static *q, uint64_t limit, char *buf, size_t cap) {
	footprint f;
	dynamic_fp(&f, q->max_nodes, q->max_notifiers, q->max_listeners);
	if (check(&f, limit, buf, cap))
		return buf;
	uint64_t ids = u(q->event_id_max_value) + 1;
	size_t size;
	iox2i_event_layout((uint32_t)ids, NULL, NULL, &size);
	memset(&f, 0, sizeof f);
	f.what = "a listener";
	f.segment = size;
	snprintf(f.seg_name, sizeof f.seg_name, "an event segment of %llu event ids (event id max value %lld)",
	         (unsigned long long)ids, (long long)q->event_id_max_value);
	f.local = smul(ids, GO_EVENT_ACTIVATION);
	if (check(&f, limit, buf, cap))
		return buf;
	memset(&f, 0, sizeof f);
	f.what = "a notifier";
	f.local = smul(u(q->max_listeners), GO_NOTIFIER_CONN);
	return check(&f, limit, buf, cap);
}

const char *iox2i_check_reqres(const iox2i_reqres_static *q, int64_t server_max_loans, uint64_t limit, char *buf,
                               size_t cap) {
	footprint f;
	dynamic_fp(&f, q->max_nodes, q->max_clients, q->max_servers);
	if (check(&f, limit, buf, cap))
		return buf;
	client_fp(&f, q, 1);
	if (check(&f, limit, buf, cap))
		return buf;
	server_fp(&f, q, server_max_loans, 1);
	return check(&f, limit, buf, cap);
}

const char *iox2i_check_client(const iox2i_reqres_static *q, int64_t slice, uint64_t limit, char *buf, size_t cap) {
	footprint f;
	client_fp(&f, q, slice);
	return check(&f, limit, buf, cap);
}

const char *iox2i_check_server(const iox2i_reqres_static *q, int64_t loans_per_request, int64_t slice, uint64_t limit,
                               char *buf, size_t cap) {
	footprint f;
	server_fp(&f, q, loans_per_request, slice);
	return check(&f, limit, buf, cap);
}
