/* sender.c: the data path shared by every port that sends (publisher,
 * client, server), as runtime/sender.go: a data segment with a pool of
 * chunks, and a connection to each receiver found in one array of port
 * slots. Everything but the data segment is local to the process;
 * receivers only read the chunks and give them back through the
 * completion queues. */
#include "data.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static iox2_node *node_of(const iox2d_sender *p) { return p->svc->node; }

/* wrap_err turns the node's errmsg of a failed step into a ServiceError
 * text for op ("<op> service "<name>": <errstr>: <detail>"), keeping the
 * code. */
static int wrap_err(iox2_node *node, const char *op, const char *service, int code)
{
	char detail[IOX2I_ERRMSG_CAP];
	const char *msg = node->errmsg;
	const char *es = iox2_errstr(code);
	size_t n = strlen(es);
	if (strncmp(msg, es, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
		msg += n + 2;
	snprintf(detail, sizeof detail, "%s", msg);
	return iox2i_service_err(node, op, service, code, "%s", detail);
}

static void sender_free_local(iox2d_sender *p)
{
	free(p->refs);
	free(p->state);
	free(p->free_stack);
	free(p->history);
	free(p->conns);
	if (p->conn_errs)
		for (uint32_t k = 0; k < p->npeers; k++)
			free(p->conn_errs[k].msg);
	free(p->conn_errs);
	p->refs = NULL;
	p->state = NULL;
	p->free_stack = NULL;
	p->history = NULL;
	p->conns = NULL;
	p->conn_errs = NULL;
}

int iox2d_sender_init(iox2d_sender *p, const iox2d_sender_opts *o)
{
	iox2_node *node = o->svc->node;
	memset(p, 0, sizeof *p);
	p->svc = o->svc;
	p->id = o->id;
	p->op = o->op;
	p->peers = o->peers;
	p->npeers = o->npeers;
	p->conn_for = o->conn_for;
	p->conn_ctx = o->conn_ctx;
	p->max_loans = o->max_loans;
	p->strategy = o->strategy;
	p->safe_overflow = o->safe_overflow;
	p->max_slice = o->max_slice;
	p->seen = iox2i_dyn_changes(o->svc) - 1; /* never matches: the first update looks */
	iox2d_layout_new(&p->layout, o->elem_size, o->elem_align, o->max_slice, o->num_chunks, o->hdr_size,
	                 o->hdr_align, o->table_len);
	if (o->num_chunks == 0 || o->num_chunks > IOX2R_MAX_CAPACITY)
		return iox2i_service_err(node, o->op, o->svc->name, IOX2_E_RESOURCE_LIMIT, "%llu chunks",
		                         (unsigned long long)o->num_chunks);
	uint32_t n = (uint32_t)o->num_chunks;
	/* The local state first: a failure here leaves no file behind. */
	p->refs = calloc(n, sizeof *p->refs);
	p->state = calloc(n, sizeof *p->state);
	p->free_stack = malloc((size_t)n * sizeof *p->free_stack);
	p->hcap = o->history;
	p->history = calloc(o->history ? o->history : 1, sizeof *p->history);
	p->conns = calloc(o->npeers ? o->npeers : 1, sizeof *p->conns);
	p->conn_errs = calloc(o->npeers ? o->npeers : 1, sizeof *p->conn_errs);
	if (!p->refs || !p->state || !p->free_stack || !p->history || !p->conns || !p->conn_errs) {
		sender_free_local(p);
		return iox2i_service_err(node, o->op, o->svc->name, IOX2_E_NO_MEMORY, NULL);
	}
	/* The journal entry comes first: if we die from here on, the cleanup
	 * of our node finds the files, whatever happens to the slot. */
	int rc = iox2i_journal_port(node, p->id, IOX2I_JOURNAL_DATA);
	if (rc != IOX2_OK) {
		sender_free_local(p);
		return wrap_err(node, o->op, o->svc->name, rc);
	}
	p->journaled = true;
	char name[256];
	iox2i_data_name(node, p->id, name, sizeof name);
	rc = iox2i_seg_create(node, name, p->layout.size, &p->data);
	if (rc != IOX2_OK) {
		iox2i_forget_port(node, p->id, IOX2I_JOURNAL_DATA);
		sender_free_local(p);
		return wrap_err(node, o->op, o->svc->name, rc == IOX2_E_SERVICE_EXISTS ? IOX2_E_OS : rc);
	}
	p->mapped = true;
	iox2d_data_header *h = (iox2d_data_header *)((char *)p->data.base + IOX2I_HEADER_SIZE);
	const iox2d_layout *l = &p->layout;
	h->chunk_stride = l->stride;
	h->num_chunks = l->num_chunks;
	h->chunks_offset = l->chunks_off;
	h->payload_off = l->payload_off;
	h->payload_size = l->payload_size;
	h->elem_size = l->elem_size;
	h->pool_offset = l->pool_off;
	h->publisher = p->id;
	h->header_off = l->header_off;
	h->header_size = l->header_size;
	h->table_offset = l->table_off;
	h->table_len = l->table_len;
	int r = iox2r_pool_init(&p->pool, (char *)p->data.base + l->pool_off, iox2r_pool_memory_size(n), n, true);
	if (r != IOX2R_OK) {
		iox2i_seg_close(&p->data);
		iox2i_seg_remove(node, name);
		iox2i_forget_port(node, p->id, IOX2I_JOURNAL_DATA);
		sender_free_local(p);
		return iox2i_service_err(node, o->op, o->svc->name, IOX2_E_RESOURCE_LIMIT, "%s", iox2r_strerror(r));
	}
	if (l->table_len > 0)
		p->table = (_Atomic uint64_t *)((char *)p->data.base + l->table_off);
	/* SYNC POINT publish: paired with the receivers' open_ready. */
	iox2i_seg_publish(&p->data, IOX2I_KIND_DATA);
	return IOX2_OK;
}

/* ---------------------------------------------------------------------------
 * Chunks
 */

static bool get_free(iox2d_sender *p, uint32_t *i)
{
	if (p->nfree > 0) {
		*i = p->free_stack[--p->nfree];
		return true;
	}
	return iox2r_pool_get(&p->pool, i);
}

void iox2d_sender_deref(iox2d_sender *p, uint32_t i)
{
	if (i >= p->layout.num_chunks || p->refs[i] == 0)
		return;
	if (--p->refs[i] == 0) {
		p->state[i] = IOX2D_CHUNK_FREE;
		if (p->nfree < p->layout.num_chunks)
			p->free_stack[p->nfree++] = i;
		else
			(void)iox2r_pool_put(&p->pool, i);
	}
}

int iox2d_sender_loan(iox2d_sender *p, uint32_t *out)
{
	iox2_node *node = node_of(p);
	if (p->closed)
		return iox2i_err(node, IOX2_E_CLOSED, NULL);
	if (p->loans >= p->max_loans)
		return iox2i_err(node, IOX2_E_EXCEEDS_MAX_LOANS, NULL);
	uint32_t i;
	if (!get_free(p, &i)) {
		/* Slow path: connections of vanished receivers give their chunks
		 * back when dropped, then take back what receivers released. */
		iox2d_sender_update(p);
		iox2d_sender_reclaim(p);
		if (!get_free(p, &i))
			return iox2i_err(node, IOX2_E_OUT_OF_MEMORY, NULL);
	}
	if (i >= p->layout.num_chunks || p->state[i] != IOX2D_CHUNK_FREE) {
		/* Our own pool handed out a chunk in use: someone else wrote the
		 * segment. Refuse rather than corrupt a sample. */
		char id[17];
		iox2i_id_str(p->id, id);
		return iox2i_err(node, IOX2_E_CONNECTION_CORRUPTED, "free list of sender %s returned chunk %u in use", id, i);
	}
	p->state[i] = IOX2D_CHUNK_LOANED;
	p->refs[i] = 1;
	p->loans++;
	*out = i;
	return IOX2_OK;
}

void iox2d_sender_unloan(iox2d_sender *p, uint32_t i)
{
	if (i < p->layout.num_chunks && p->state[i] == IOX2D_CHUNK_LOANED) {
		p->state[i] = IOX2D_CHUNK_SENT;
		p->loans--;
		iox2d_sender_deref(p, i);
	}
}

/* stamp turns loaned chunk i into a sent one and writes its header. */
static int stamp(iox2d_sender *p, uint32_t i, uint64_t length, uint64_t request_id, uint32_t channel)
{
	if (p->closed)
		return iox2i_err(node_of(p), IOX2_E_CLOSED, NULL);
	if (i >= p->layout.num_chunks || p->state[i] != IOX2D_CHUNK_LOANED)
		return iox2i_err(node_of(p), IOX2_E_SAMPLE_NOT_OWNED, NULL);
	p->state[i] = IOX2D_CHUNK_SENT;
	p->loans--;
	/* Plain stores: the push that hands the chunk over (ring Q2, a release)
	 * publishes them. */
	iox2d_chunk_header *h = iox2d_sender_chunk(p, i);
	h->sequence = p->seq;
	h->publisher = p->id;
	h->length = length;
	h->request_id = request_id;
	h->channel = channel;
	p->seq++;
	return IOX2_OK;
}

/* ---------------------------------------------------------------------------
 * Connections
 */

static void mark(iox2d_send_conn *c, uint32_t i)
{
	c->inflight[i >> 6] |= (uint64_t)1 << (i & 63);
	c->n++;
}
static bool has(const iox2d_send_conn *c, uint32_t i) { return (c->inflight[i >> 6] >> (i & 63)) & 1; }
static void unmark(iox2d_send_conn *c, uint32_t i)
{
	c->inflight[i >> 6] &= ~((uint64_t)1 << (i & 63));
	c->n--;
}

/* wake follows a push to c (every channel of a connection has the same
 * capacity, so channel 0 says whether the push was a fence). */
static void wake(iox2d_sender *p, iox2d_send_conn *c)
{
	iox2d_wake(node_of(p), c->wake, c->node, iox2r_queue_publish_is_fence(&c->conn.channels[0]));
}

/* give_back handles value v that came back from c (its completion queue,
 * or taken back from a submission queue on overflow). A value that names
 * no chunk in flight on c is ignored: a receiver cannot make us free a
 * chunk twice. */
static void give_back(iox2d_sender *p, iox2d_send_conn *c, uint64_t v)
{
	uint32_t i;
	if (!iox2d_decode(&p->layout, v, &i) || !has(c, i))
		return;
	unmark(c, i);
	iox2d_sender_deref(p, i);
}

static void reclaim_conn(iox2d_sender *p, iox2d_send_conn *c)
{
	uint64_t v;
	/* takes back the chunks the receiver released (ring Q4/Q6) */
	while (iox2r_queue_pop(&c->conn.completion, &v))
		give_back(p, c, v);
}

void iox2d_sender_reclaim(iox2d_sender *p)
{
	for (uint32_t k = 0; k < p->npeers; k++)
		if (p->conns[k])
			reclaim_conn(p, p->conns[k]);
}

/* over_limit reports whether c's receiver, found with limit chunks or more
 * in flight after a reclaim, breaks the protocol (holds more than it may
 * or gives nothing back): it gets nothing more, so that it cannot drain
 * the pool that the other receivers share. The queue's length is read
 * before a second reclaim (see sender.go's overLimit). */
static bool over_limit(iox2d_sender *p, iox2d_send_conn *c, const iox2r_queue *q)
{
	uint64_t l = iox2r_queue_len(q);
	reclaim_conn(p, c);
	return c->n > c->limit || (c->n == c->limit && l < iox2r_queue_cap(q));
}

static void sleep_ns(long ns)
{
	struct timespec ts = {0, ns};
	nanosleep(&ts, NULL);
}

static void drop_conn(iox2d_sender *p, uint32_t slot);

/* retry waits, without holding up the discovery of other ports for long,
 * until channel ch of the connection in slot has room for v or its
 * receiver is gone (or no longer wanted). c is only used while it is the
 * connection of the slot: an update may drop and free it. */
static bool retry(iox2d_sender *p, uint32_t slot, iox2d_send_conn *c, uint32_t ch, uint64_t v,
                  bool (*wanted)(void *), void *ctx)
{
	uint64_t peer = c->peer;
	for (uint64_t n = 0;; n++) {
		reclaim_conn(p, c);
		/* Never above the connection's limit: the completion queue has
		 * room for limit+1 chunks. */
		if (c->n < c->limit && iox2r_queue_push(&c->conn.channels[ch], v)) /* hands chunk to the receiver (ring Q2) */
			return true;
		if (n % 64 == 63) {
			if (iox2i_dyn_changes(p->svc) != p->seen) {
				iox2d_sender_update(p);
				if (p->conns[slot] != c || c->peer != peer)
					return false; /* dropped (c may be freed) */
			}
			if (wanted && !wanted(ctx))
				return false;
			sleep_ns(10000);
		} else {
			sched_yield();
		}
	}
}

/* push puts v into channel ch of the connection in slot, following the
 * safe-overflow setting or the backpressure strategy, and reports whether
 * it is in. */
static bool push(iox2d_sender *p, uint32_t slot, uint32_t ch, uint64_t v, bool (*wanted)(void *), void *ctx)
{
	iox2d_send_conn *c = p->conns[slot];
	iox2r_queue *q = &c->conn.channels[ch];
	if (c->n >= c->limit) {
		reclaim_conn(p, c);
		if (c->n >= c->limit && over_limit(p, c, q)) {
			p->discarded++;
			return false;
		}
	}
	if (p->safe_overflow) {
		uint64_t old;
		/* hands the chunk to the receiver (ring Q2); an evicted one comes
		 * back to us (ring Q4) */
		if (iox2r_queue_push_overflow(q, v, &old)) {
			p->overflows++;
			give_back(p, c, old);
		}
		return true;
	}
	if (iox2r_queue_push(q, v)) /* hands the chunk to the receiver (ring Q2) */
		return true;
	if (p->strategy == IOX2_DISCARD_DATA || !retry(p, slot, c, ch, v, wanted, ctx)) {
		p->discarded++;
		return false;
	}
	return true;
}

static void set_conn_err(iox2d_sender *p, uint32_t slot, uint64_t peer, int code)
{
	iox2d_conn_failure *f = &p->conn_errs[slot];
	if (code == IOX2_OK && f->code == IOX2_OK)
		return;
	if (code == IOX2_OK) {
		p->failing--;
		free(f->msg);
		memset(f, 0, sizeof *f);
		return;
	}
	if (f->code == IOX2_OK)
		p->failing++;
	free(f->msg);
	char id[17], buf[IOX2I_ERRMSG_CAP + 64];
	iox2i_id_str(peer, id);
	snprintf(buf, sizeof buf, "connecting to port %s: %s", id, node_of(p)->errmsg);
	f->peer = peer;
	f->code = code;
	f->msg = strdup(buf);
}

int iox2d_sender_conn_error(iox2d_sender *p, const char *op, int slot)
{
	if (slot < 0) {
		for (uint32_t k = 0; k < p->npeers; k++)
			if (p->conn_errs[k].code != IOX2_OK) {
				slot = (int)k;
				break;
			}
	}
	if (slot < 0 || (uint32_t)slot >= p->npeers || p->conn_errs[slot].code == IOX2_OK)
		return IOX2_OK;
	iox2d_conn_failure *f = &p->conn_errs[slot];
	char q[600];
	iox2i_go_quote(q, sizeof q, p->svc->name);
	iox2i_errmsg_set(node_of(p), "%s service %s: %s", op, q, f->msg ? f->msg : "connection failed");
	return f->code;
}

static int connect_to(iox2d_sender *p, uint32_t slot, const iox2i_port_info *pi)
{
	iox2_node *node = node_of(p);
	iox2d_conn_spec spec;
	p->conn_for(p->conn_ctx, pi, &spec);
	iox2d_send_conn *c = calloc(1, sizeof *c);
	if (!c)
		return iox2i_err(node, IOX2_E_NO_MEMORY, NULL);
	c->inflight = calloc((p->layout.num_chunks + 63) / 64, sizeof *c->inflight);
	if (!c->inflight) {
		free(c);
		return iox2i_err(node, IOX2_E_NO_MEMORY, NULL);
	}
	iox2i_conn_name(node, p->id, pi->id, c->name, sizeof c->name);
	int rc = iox2d_conn_create(node, c->name, p->id, pi->id, &spec.layout, &c->conn);
	if (rc == IOX2_E_SERVICE_EXISTS) {
		/* Left over from an earlier connection to the same receiver that
		 * we dropped while its file was still being removed. */
		iox2i_seg_remove(node, c->name);
		rc = iox2d_conn_create(node, c->name, p->id, pi->id, &spec.layout, &c->conn);
	}
	if (rc != IOX2_OK) {
		free(c->inflight);
		free(c);
		return rc;
	}
	c->peer = pi->id;
	c->limit = spec.limit;
	c->wake = &p->peers[slot].wake;
	c->node = &p->peers[slot].node;
	p->conns[slot] = c;
	/* History for the late joiner: the newest samples it asked for, oldest
	 * first. */
	bool pushed = false;
	uint32_t from = p->hlen > spec.history ? p->hlen - spec.history : 0;
	for (uint32_t k = from; k < p->hlen; k++) {
		uint32_t i = p->history[(p->hhead + k) % p->hcap];
		/* hands chunk i to the receiver (ring Q2) */
		if (iox2r_queue_push(&c->conn.channels[0], iox2d_encode(&p->layout, i))) {
			mark(c, i);
			p->refs[i]++;
			pushed = true;
		}
	}
	if (pushed)
		wake(p, c);
	return IOX2_OK;
}

/* drop_conn forgets the connection in slot: every chunk it had in flight
 * comes back to the pool, whatever the receiver did with it. */
static void drop_conn(iox2d_sender *p, uint32_t slot)
{
	iox2d_send_conn *c = p->conns[slot];
	p->conns[slot] = NULL;
	uint64_t words = (p->layout.num_chunks + 63) / 64;
	for (uint64_t w = 0; w < words; w++) {
		uint64_t bits = c->inflight[w];
		while (bits) {
			uint32_t b = (uint32_t)(w * 64 + (uint64_t)__builtin_ctzll(bits));
			bits &= bits - 1;
			iox2d_sender_deref(p, b);
		}
	}
	iox2d_conn_close(&c->conn);
	iox2i_seg_remove(node_of(p), c->name);
	free(c->inflight);
	free(c);
}

void iox2d_sender_update(iox2d_sender *p)
{
	if (p->closed)
		return;
	uint32_t cur = iox2i_dyn_changes(p->svc);
	if (cur == p->seen && p->failing == 0)
		return;
	p->seen = cur;
	bool created = false;
	for (uint32_t k = 0; k < p->npeers; k++) {
		iox2i_port_info pi;
		bool ok = iox2i_slot_snapshot(&p->peers[k], &pi);
		iox2d_send_conn *c = p->conns[k];
		if (c && (!ok || pi.id != c->peer)) {
			drop_conn(p, k);
			p->changed = true;
			c = NULL;
		}
		int rc = IOX2_OK;
		if (ok && !c && pi.id != p->id) {
			rc = connect_to(p, k, &pi);
			if (rc == IOX2_OK)
				created = p->changed = true;
		}
		set_conn_err(p, k, ok ? pi.id : 0, rc);
	}
	if (created)
		iox2i_dyn_bump(p->svc);
}

bool iox2d_sender_in_flight(iox2d_sender *p, uint32_t i)
{
	iox2d_sender_update(p);
	bool found = false;
	for (uint32_t k = 0; k < p->npeers; k++) {
		iox2d_send_conn *c = p->conns[k];
		if (c) {
			reclaim_conn(p, c);
			found = found || (i < p->layout.num_chunks && has(c, i));
		}
	}
	return found;
}

/* ---------------------------------------------------------------------------
 * Sending
 */

int iox2d_sender_send(iox2d_sender *p, uint32_t i, uint64_t length, uint64_t request_id, uint32_t channel,
                      bool keep, size_t *delivered)
{
	*delivered = 0;
	int rc = stamp(p, i, length, request_id, channel);
	if (rc != IOX2_OK)
		return rc;
	iox2d_sender_update(p);
	if (p->failing > 0) {
		iox2d_sender_deref(p, i); /* the loan's reference: the sample goes back unsent */
		return iox2d_sender_conn_error(p, "send", -1);
	}
	uint64_t v = iox2d_encode(&p->layout, i);
	size_t n = 0;
	/* (p->conns is read at each step: a retry may update it) */
	for (uint32_t k = 0; k < p->npeers; k++) {
		if (p->conns[k] && push(p, k, 0, v, NULL, NULL)) {
			iox2d_send_conn *c = p->conns[k];
			mark(c, i);
			p->refs[i]++;
			n++;
			wake(p, c);
		}
	}
	if (p->hcap > 0) {
		if (p->hlen == p->hcap) {
			uint32_t old = p->history[p->hhead];
			p->history[p->hhead] = i;
			p->hhead = (p->hhead + 1) % p->hcap;
			iox2d_sender_deref(p, old);
		} else {
			p->history[(p->hhead + p->hlen) % p->hcap] = i;
			p->hlen++;
		}
		p->refs[i]++;
	}
	if (!keep)
		iox2d_sender_deref(p, i); /* the loan's reference */
	*delivered = n;
	return IOX2_OK;
}

int iox2d_sender_send_to(iox2d_sender *p, uint32_t i, uint64_t length, uint64_t request_id, uint32_t channel,
                         int slot, uint64_t peer, bool (*wanted)(void *ctx), void *ctx, bool *delivered)
{
	*delivered = false;
	int rc = stamp(p, i, length, request_id, channel);
	if (rc != IOX2_OK)
		return rc;
	iox2d_sender_update(p);
	if (slot >= 0 && (uint32_t)slot < p->npeers && p->conn_errs[slot].code != IOX2_OK &&
	    p->conn_errs[slot].peer == peer) {
		iox2d_sender_deref(p, i);
		return iox2d_sender_conn_error(p, "send", slot);
	}
	if (slot >= 0 && (uint32_t)slot < p->npeers) {
		iox2d_send_conn *c = p->conns[slot];
		if (c && c->peer == peer && channel < c->conn.nchannels) {
			if (push(p, (uint32_t)slot, channel, iox2d_encode(&p->layout, i), wanted, ctx)) {
				c = p->conns[slot];
				mark(c, i);
				p->refs[i]++;
				*delivered = true;
				wake(p, c);
			}
		}
	}
	iox2d_sender_deref(p, i);
	return IOX2_OK;
}

/* ---------------------------------------------------------------------------
 * Closing
 */

/* await_receivers waits, at most the creation timeout, until every receiver
 * that has chunks in flight from us has mapped its connection and our data
 * segment, so that removing the files loses nothing. A receiver that went
 * away is not waited for. */
static void await_receivers(iox2d_sender *p)
{
	int64_t deadline = 0;
	for (;;) {
		bool waiting = false;
		for (uint32_t k = 0; k < p->npeers && !waiting; k++) {
			iox2d_send_conn *c = p->conns[k];
			if (!c)
				continue;
			/* SYNC POINT attached: paired with the receiver's store in connect. */
			if (atomic_load_explicit(&c->conn.hdr->attached, memory_order_acquire) != 0)
				continue;
			reclaim_conn(p, c);
			iox2i_port_info pi;
			if (c->n > 0 && iox2i_slot_snapshot(&p->peers[k], &pi) && pi.id == c->peer)
				waiting = true;
		}
		if (!waiting)
			return;
		if (deadline == 0) {
			deadline = iox2i_now() + node_of(p)->cfg.creation_timeout_ns;
			iox2i_dyn_bump(p->svc); /* ring the receivers' nodes once more */
		} else if (iox2i_now() > deadline) {
			return;
		}
		sleep_ns(50000);
	}
}

void iox2d_sender_close(iox2d_sender *p)
{
	if (p->closed)
		return;
	iox2_node *node = node_of(p);
	if (p->mapped)
		await_receivers(p);
	p->closed = true;
	for (uint32_t k = 0; k < p->npeers; k++) {
		iox2d_send_conn *c = p->conns[k];
		if (c) {
			p->conns[k] = NULL;
			iox2d_conn_close(&c->conn);
			iox2i_seg_remove(node, c->name);
			free(c->inflight);
			free(c);
		}
	}
	/* Files first, journal entry last: if we die in between, the entry
	 * still names the files. Receivers keep their own mappings. */
	if (p->mapped) {
		char name[256];
		iox2i_data_name(node, p->id, name, sizeof name);
		iox2i_seg_remove(node, name);
		iox2i_seg_close(&p->data);
		p->mapped = false;
		p->table = NULL;
	}
	if (p->journaled) {
		iox2i_forget_port(node, p->id, IOX2I_JOURNAL_DATA);
		p->journaled = false;
	}
}

void iox2d_sender_free(iox2d_sender *p) { sender_free_local(p); }
