/* receiver.c: the data path shared by every port that receives
 * (subscriber, server, client), as runtime/receiver.go: a connection from
 * each sender found in one array of port slots and a read-only mapping of
 * each sender's data segment. Every value read from a queue is validated
 * (range, chunk boundary, not already held) before it addresses memory. */
#include "data.h"

#include <stdlib.h>
#include <string.h>

static iox2_node *node_of(const iox2d_receiver *r) { return r->svc->node; }

int iox2d_receiver_init(iox2d_receiver *r, const iox2d_receiver_opts *o)
{
	memset(r, 0, sizeof *r);
	r->svc = o->svc;
	r->id = o->id;
	r->peers = o->peers;
	r->npeers = o->npeers;
	r->elem_size = o->elem_size;
	r->elem_align = o->elem_align;
	r->hdr_size = o->hdr_size;
	r->slice = o->slice;
	r->layout = o->layout;
	r->want_table = o->want_table;
	r->max_borrowed = o->max_borrowed;
	r->conn_max_borrowed = o->conn_max_borrowed;
	r->conns = calloc(o->npeers ? o->npeers : 1, sizeof *r->conns);
	if (!r->conns)
		return iox2i_err(o->svc->node, IOX2_E_NO_MEMORY, NULL);
	/* A change count that never matches: the first update looks. */
	r->seen = iox2i_dyn_changes(o->svc) - 1;
	return IOX2_OK;
}

static void close_conn(iox2d_recv_conn *c)
{
	iox2d_conn_close(&c->conn);
	iox2i_seg_close(&c->data);
	free(c->borrowed);
	free(c);
}

/* connect maps the connection from the sender in slot and its data segment,
 * and sets the connection's attached word. A draining (dead) sender's
 * connection is mapped too (what it queued stays readable); one whose data
 * segment cannot be mapped is given attached all the same, so that the
 * cleaner does not keep its files for us. Failures are silent (the node's
 * errmsg is left as it was): the sender may not have created it yet, or it
 * is garbage; either way there is nothing to receive from it now. */
static iox2d_recv_conn *connect_from(iox2d_receiver *r, uint32_t slot, const iox2i_port_info *pi, bool draining)
{
	iox2_node *node = node_of(r);
	char saved[IOX2I_ERRMSG_CAP];
	memcpy(saved, node->errmsg, sizeof saved);
	char name[256];
	iox2d_conn conn;
	iox2i_conn_name(node, pi->id, r->id, name, sizeof name);
	iox2d_recv_conn *c = NULL;
	if (iox2d_conn_open(node, name, pi->id, r->id, &r->layout, &conn) != IOX2_OK)
		goto out;
	iox2i_segment data;
	iox2d_layout dl;
	iox2i_data_name(node, pi->id, name, sizeof name);
	bool mapped = iox2i_seg_open_ready(node, name, IOX2I_KIND_DATA, false, node->cfg.creation_timeout_ns, &data) == IOX2_OK;
	bool valid = mapped && iox2d_layout_read(node, &data, r->elem_size, r->hdr_size, r->want_table, &dl) == IOX2_OK &&
	             dl.payload_off % (r->elem_align ? r->elem_align : 1) == 0;
	if (valid) {
		c = calloc(1, sizeof *c);
		if (c && !(c->borrowed = calloc((dl.num_chunks + 63) / 64, sizeof *c->borrowed))) {
			free(c);
			c = NULL;
		}
	}
	if (!c) {
		if (mapped)
			iox2i_seg_close(&data);
		if (draining) {
			/* SYNC POINT attached: nothing to wait for; paired with the
			 * cleaner's load. */
			atomic_store_explicit(&conn.hdr->attached, 1, memory_order_release);
		}
		iox2d_conn_close(&conn);
		goto out;
	}
	c->peer = pi->id;
	c->slot = slot;
	c->conn = conn;
	c->data = data;
	c->layout = dl;
	if (dl.table_len > 0)
		c->table = (_Atomic uint64_t *)((char *)data.base + dl.table_off);
	/* SYNC POINT attached: both mappings exist; paired with the sender's
	 * load in its close and a cleaner's. */
	atomic_store_explicit(&conn.hdr->attached, 1, memory_order_release);
	c->expired = draining;
out:
	memcpy(node->errmsg, saved, sizeof saved);
	return c;
}

/* expire keeps c readable until it is drained and nothing of it is held. */
static void expire(iox2d_receiver *r, iox2d_recv_conn *c)
{
	c->expired = true;
	if (c->nborrowed == 0 && iox2d_conn_empty(&c->conn)) {
		close_conn(c);
		return;
	}
	c->next = r->expired;
	r->expired = c;
}

void iox2d_receiver_update(iox2d_receiver *r)
{
	if (r->closed)
		return;
	uint32_t cur = iox2i_dyn_changes(r->svc);
	if (cur == r->seen)
		return;
	r->seen = cur;
	for (uint32_t k = 0; k < r->npeers; k++) {
		/* A draining sender is dead but may have samples for us in a
		 * connection we have not mapped yet: we still connect to it. */
		iox2i_port_info pi;
		bool draining = false;
		bool ok = iox2i_slot_snapshot_receivable(&r->peers[k], &pi, &draining);
		iox2d_recv_conn *c = r->conns[k];
		if (c && (!ok || pi.id != c->peer)) {
			r->conns[k] = NULL;
			expire(r, c);
			r->changed = true;
			c = NULL;
		}
		if (ok && !c && pi.id != r->id) {
			c = connect_from(r, k, &pi, draining);
			r->conns[k] = c;
			r->changed = r->changed || c != NULL;
		}
		if (c && draining)
			c->expired = true; /* its node died: what is queued stays readable */
	}
}

void iox2d_receiver_sweep_expired(iox2d_receiver *r)
{
	iox2d_recv_conn **pp = &r->expired;
	while (*pp) {
		iox2d_recv_conn *c = *pp;
		if (c->nborrowed == 0 && iox2d_conn_empty(&c->conn)) {
			*pp = c->next;
			close_conn(c);
			continue;
		}
		pp = &c->next;
	}
}

/* pop takes the next valid chunk from channel ch of c. Values that name no
 * chunk, or a chunk we already hold, come from a buggy or hostile process:
 * counted and dropped. With request_id set, a chunk of another request is
 * given back unread. The number of elements of a slice payload is read
 * once, here, and checked against the sender's segment. */
static bool pop(iox2d_receiver *r, iox2d_recv_conn *c, uint32_t ch, uint64_t request_id, uint32_t *out_i,
                uint64_t *out_n)
{
	if (ch >= c->conn.nchannels)
		return false;
	iox2r_queue *q = &c->conn.channels[ch];
	for (;;) {
		uint64_t v;
		if (!iox2r_queue_pop(q, &v)) /* takes a chunk from the sender (ring Q6/Q4) */
			return false;
		uint32_t i;
		if (!iox2d_decode(&c->layout, v, &i) || iox2d_recv_has(c, i)) {
			r->dropped++;
			continue;
		}
		volatile const iox2d_chunk_header *h = iox2d_recv_chunk(c, i);
		uint64_t n = 1;
		if (r->slice) {
			n = h->length; /* read once */
			if (n > c->layout.max_len) {
				r->dropped++;
				(void)iox2r_queue_push(&c->conn.completion, v); /* not ours to keep: back to the sender (ring Q2) */
				continue;
			}
		}
		if (request_id != 0 && h->request_id != request_id) {
			r->stale++;
			(void)iox2r_queue_push(&c->conn.completion, v); /* back to the sender unread (ring Q2) */
			continue;
		}
		c->borrowed[i >> 6] |= (uint64_t)1 << (i & 63);
		c->nborrowed++;
		r->borrowed++;
		*out_i = i;
		*out_n = n;
		return true;
	}
}

int iox2d_receiver_receive(iox2d_receiver *r, iox2d_recv_conn **out_c, uint32_t *out_i, uint64_t *out_n)
{
	*out_c = NULL;
	if (r->closed)
		return iox2i_err(node_of(r), IOX2_E_CLOSED, NULL);
	if (r->borrowed >= r->max_borrowed)
		return iox2i_err(node_of(r), IOX2_E_EXCEEDS_MAX_BORROWS, NULL);
	iox2d_receiver_update(r);
	if (!r->expired && r->npeers == 1) {
		/* The common case of one sender: nothing expired to drain first,
		 * no round robin. */
		iox2d_recv_conn *c = r->conns[0];
		if (c && c->nborrowed < r->conn_max_borrowed && pop(r, c, 0, 0, out_i, out_n))
			*out_c = c;
		return IOX2_OK;
	}
	iox2d_recv_conn **pp = &r->expired;
	while (*pp) {
		iox2d_recv_conn *c = *pp;
		if (c->nborrowed < r->conn_max_borrowed && pop(r, c, 0, 0, out_i, out_n)) {
			*out_c = c;
			return IOX2_OK;
		}
		if (c->nborrowed == 0 && iox2d_conn_empty(&c->conn)) {
			*pp = c->next;
			close_conn(c);
			continue;
		}
		pp = &c->next;
	}
	uint32_t n = r->npeers, j = r->next;
	for (uint32_t k = 0; k < n; k++) {
		if (j >= n)
			j = 0;
		iox2d_recv_conn *c = r->conns[j++];
		if (!c || c->nborrowed >= r->conn_max_borrowed)
			continue;
		if (pop(r, c, 0, 0, out_i, out_n)) {
			r->next = j;
			*out_c = c;
			return IOX2_OK;
		}
	}
	return IOX2_OK;
}

void iox2d_receiver_receive_on(iox2d_receiver *r, uint32_t ch, uint64_t request_id, iox2d_recv_conn **out_c,
                               uint32_t *out_i, uint64_t *out_n)
{
	*out_c = NULL;
	iox2d_receiver_update(r);
	for (iox2d_recv_conn *c = r->expired; c; c = c->next)
		if (pop(r, c, ch, request_id, out_i, out_n)) {
			*out_c = c;
			return;
		}
	for (uint32_t k = 0; k < r->npeers; k++) {
		iox2d_recv_conn *c = r->conns[k];
		if (c && pop(r, c, ch, request_id, out_i, out_n)) {
			*out_c = c;
			return;
		}
	}
}

static void drain(iox2d_recv_conn *c, uint32_t ch)
{
	if (ch >= c->conn.nchannels)
		return;
	uint64_t v;
	uint32_t i;
	while (iox2r_queue_pop(&c->conn.channels[ch], &v))
		if (iox2d_decode(&c->layout, v, &i) && !iox2d_recv_has(c, i))
			(void)iox2r_queue_push(&c->conn.completion, v); /* back to the sender unread (ring Q2) */
}

void iox2d_receiver_drain_channel(iox2d_receiver *r, uint32_t ch)
{
	for (iox2d_recv_conn *c = r->expired; c; c = c->next)
		drain(c, ch);
	for (uint32_t k = 0; k < r->npeers; k++)
		if (r->conns[k])
			drain(r->conns[k], ch);
}

void iox2d_receiver_release(iox2d_receiver *r, iox2d_recv_conn *c, uint32_t i)
{
	if (i >= c->layout.num_chunks || !iox2d_recv_has(c, i))
		return;
	c->borrowed[i >> 6] &= ~((uint64_t)1 << (i & 63));
	c->nborrowed--;
	r->borrowed--;
	if (r->closed)
		return;
	/* Gives chunk i back to the sender (ring Q2). The queue has room for
	 * everything the connection can have in flight; if it is full, the
	 * sender is gone or broken and takes the chunk back when it drops the
	 * connection. */
	(void)iox2r_queue_push(&c->conn.completion, iox2d_encode(&c->layout, i));
}

void iox2d_receiver_wake_sender(iox2d_receiver *r, iox2d_recv_conn *c)
{
	if (c->slot >= r->npeers)
		return;
	iox2i_port_slot *s = &r->peers[c->slot];
	/* SYNC POINT W-check: after the release (completion push); paired with
	 * the client's W-arm before its re-check of is_connected. */
	iox2d_wake(node_of(r), &s->wake, &s->node, iox2r_queue_publish_is_fence(&c->conn.completion));
}

bool iox2d_receiver_has_data(iox2d_receiver *r, uint32_t ch)
{
	iox2d_receiver_update(r);
	for (iox2d_recv_conn *c = r->expired; c; c = c->next)
		if (ch < c->conn.nchannels && !iox2r_queue_is_empty(&c->conn.channels[ch]))
			return true;
	for (uint32_t k = 0; k < r->npeers; k++) {
		iox2d_recv_conn *c = r->conns[k];
		if (c && ch < c->conn.nchannels && !iox2r_queue_is_empty(&c->conn.channels[ch]))
			return true;
	}
	return false;
}

void iox2d_receiver_close(iox2d_receiver *r)
{
	if (r->closed)
		return;
	r->closed = true;
	for (uint32_t k = 0; k < r->npeers; k++) {
		if (r->conns[k]) {
			close_conn(r->conns[k]);
			r->conns[k] = NULL;
		}
	}
	while (r->expired) {
		iox2d_recv_conn *c = r->expired;
		r->expired = c->next;
		close_conn(c);
	}
	r->borrowed = 0;
}

void iox2d_receiver_free(iox2d_receiver *r)
{
	free(r->conns);
	r->conns = NULL;
}
