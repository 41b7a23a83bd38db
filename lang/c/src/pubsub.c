/* pubsub.c: publisher and subscriber (runtime/pubsub.go): the ports of a
 * publish-subscribe service on the sending and receiving cores. */
#include "data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct iox2_sample_mut {
	iox2_publisher *pub;
	uint32_t chunk;
	uint64_t len;
	void *data; /* NULL: not on loan */
};

struct iox2_publisher {
	iox2i_port base;
	iox2_service *svc;
	iox2d_sender snd;
	int slot;
	bool slice;
	uint32_t nsamples;
	iox2_sample_mut *samples; /* preallocated: loans allocate nothing */
};

struct iox2_sample {
	iox2_subscriber *sub;
	iox2d_recv_conn *conn;
	uint32_t chunk;
	uint64_t len;
	const void *data; /* NULL: not held */
};

struct iox2_subscriber {
	iox2i_port base;
	iox2_service *svc;
	iox2d_receiver rcv;
	int slot;
	uint32_t buf, hist;
	iox2i_waitpoint *wp;
	uint32_t nsamples;
	iox2_sample *samples;
};

void iox2_publisher_options_init(iox2_publisher_options *o)
{
	o->max_loaned_samples = IOX2_UNSET;
	o->max_slice_len = IOX2_UNSET;
	o->backpressure = IOX2_UNSET;
}

void iox2_subscriber_options_init(iox2_subscriber_options *o)
{
	o->buffer_size = IOX2_UNSET;
	o->history_request = IOX2_UNSET;
}


/* ---------------------------------------------------------------------------
 * Publisher
 */

/* subscriber_buffer derives a subscriber's buffer size and history request
 * from its slot, clamped to what the service allows (another process wrote
 * the slot). */
static void subscriber_buffer(const iox2i_pubsub_static *q, const iox2i_port_info *pi, uint32_t *buf, uint32_t *hist)
{
	uint64_t b = pi->a > 1 ? pi->a : 1;
	if (b > (uint64_t)q->subscriber_max_buffer_size)
		b = (uint64_t)q->subscriber_max_buffer_size;
	uint64_t h = pi->b;
	if (h > (uint64_t)q->history_size)
		h = (uint64_t)q->history_size;
	if (h > b)
		h = b;
	*buf = (uint32_t)b;
	*hist = (uint32_t)h;
}

static void publisher_conn_for(void *ctx, const iox2i_port_info *pi, iox2d_conn_spec *out)
{
	const iox2i_pubsub_static *q = ctx;
	uint32_t buf, hist;
	subscriber_buffer(q, pi, &buf, &hist);
	uint32_t limit = buf + (uint32_t)q->subscriber_max_borrowed_samples;
	iox2d_conn_layout_new(&out->layout, 1, buf, limit + 1); /* completionCap(limit) */
	out->limit = limit;
	out->history = hist;
}

static int publisher_port_close(iox2i_port *base)
{
	return iox2_publisher_close((iox2_publisher *)base);
}

int iox2_publisher_create(iox2_service *svc, const iox2_publisher_options *o, iox2_publisher **out)
{
	const char *op = "create publisher";
	if (!out)
		return IOX2_E_INVALID_ARGUMENT;
	*out = NULL;
	int rc = iox2i_check_service(svc, IOX2I_PATTERN_PUBSUB, op);
	if (rc != IOX2_OK)
		return rc;
	iox2_node *node = svc->node;
	const iox2i_pubsub_static *q = &svc->sc.ps;
	int64_t loans = o && o->max_loaned_samples != IOX2_UNSET ? o->max_loaned_samples : svc->publisher_max_loans;
	int64_t slice = o && o->max_slice_len != IOX2_UNSET ? o->max_slice_len : 1;
	int64_t strategy = o && o->backpressure != IOX2_UNSET ? o->backpressure : IOX2_RETRY_UNTIL_DELIVERED;
	if (loans < 1 || slice < 1 || loans > IOX2I_MAX_QOS_VALUE)
		return iox2i_service_err(node, op, svc->name, IOX2_E_INVALID_QOS,
		                         "max loaned samples %lld and max slice length %lld must be at least 1",
		                         (long long)loans, (long long)slice);
	if (!q->slice && slice != 1)
		return iox2i_service_err(node, op, svc->name, IOX2_E_INVALID_QOS,
		                         "MaxSliceLen needs a slice service (PublishSubscribeSlice)");
	if (strategy != IOX2_RETRY_UNTIL_DELIVERED && strategy != IOX2_DISCARD_DATA)
		return iox2i_service_err(node, op, svc->name, IOX2_E_INVALID_QOS, "unknown backpressure strategy %lld",
		                         (long long)strategy);
	char why[512];
	if (iox2i_check_publisher(q, loans, slice, node->cfg.port_memory_limit, why, sizeof why))
		return iox2i_service_err(node, op, svc->name, IOX2_E_RESOURCE_LIMIT, "%s", why);

	iox2_publisher *p = calloc(1, sizeof *p);
	if (!p || !(p->samples = calloc((size_t)loans, sizeof *p->samples))) {
		free(p);
		return iox2i_service_err(node, op, svc->name, IOX2_E_NO_MEMORY, NULL);
	}
	p->svc = svc;
	p->slice = q->slice;
	p->nsamples = (uint32_t)loans;
	for (uint32_t k = 0; k < p->nsamples; k++)
		p->samples[k].pub = p;
	uint64_t id = iox2i_new_id();
	p->slot = iox2i_slot_claim(svc->pubs, svc->npubs, id, node->id);
	if (p->slot < 0) {
		free(p->samples);
		free(p);
		return iox2i_service_err(node, op, svc->name, IOX2_E_EXCEEDS_MAX_PUBLISHERS, "the service supports %lld",
		                         (long long)q->max_publishers);
	}
	uint64_t s = (uint64_t)q->max_subscribers, b = (uint64_t)q->subscriber_max_buffer_size,
	         r = (uint64_t)q->subscriber_max_borrowed_samples;
	iox2d_sender_opts so = {
		.svc = svc, .id = id, .op = op, .peers = svc->subs, .npeers = svc->nsubs,
		.conn_for = publisher_conn_for, .conn_ctx = (void *)q,
		.elem_size = q->payload.size, .elem_align = q->payload.align,
		.hdr_size = q->has_user_header ? q->user_header.size : 0,
		.hdr_align = q->has_user_header ? q->user_header.align : 0,
		.max_slice = (uint64_t)slice, .num_chunks = s * (b + r) + (uint64_t)q->history_size + (uint64_t)loans,
		.table_len = 0, .max_loans = (uint32_t)loans, .history = (uint32_t)q->history_size,
		.safe_overflow = q->enable_safe_overflow, .strategy = (int)strategy,
	};
	rc = iox2d_sender_init(&p->snd, &so);
	if (rc != IOX2_OK) {
		iox2i_slot_release(&svc->pubs[p->slot], node->id);
		free(p->samples);
		free(p);
		return rc;
	}
	iox2i_port_slot *slot = &svc->pubs[p->slot];
	atomic_store_explicit(&slot->a, (uint64_t)slice, memory_order_relaxed); /* published by the slot's activation */
	iox2i_slot_activate(slot);
	iox2i_dyn_bump(svc);
	iox2d_sender_update(&p->snd);
	rc = iox2d_sender_conn_error(&p->snd, op, -1);
	p->base.close = publisher_port_close;
	iox2i_port_add(svc, &p->base);
	if (rc != IOX2_OK) {
		/* A subscriber that exists now would miss every sample. */
		char msg[IOX2I_ERRMSG_CAP];
		memcpy(msg, node->errmsg, sizeof msg);
		iox2_publisher_close(p);
		memcpy(node->errmsg, msg, sizeof msg);
		return rc;
	}
	*out = p;
	return IOX2_OK;
}

int iox2_publisher_close(iox2_publisher *p)
{
	if (!p)
		return IOX2_OK;
	iox2_service *svc = p->svc;
	iox2d_sender_close(&p->snd);
	iox2i_slot_release(&svc->pubs[p->slot], svc->node->id);
	iox2i_dyn_bump(svc);
	iox2i_port_remove(svc, &p->base);
	iox2d_sender_free(&p->snd);
	free(p->samples);
	free(p);
	return IOX2_OK;
}

uint64_t iox2_publisher_id(const iox2_publisher *p) { return p ? p->snd.id : 0; }

int iox2_publisher_update_connections(iox2_publisher *p)
{
	if (!p)
		return IOX2_E_INVALID_ARGUMENT;
	if (p->svc->node->fd_mode)
		iox2i_service_arm(p->svc); /* the next port change rings the doorbell */
	iox2d_sender_update(&p->snd);
	iox2d_sender_reclaim(&p->snd);
	return iox2d_sender_conn_error(&p->snd, "update connections", -1);
}

static int loan(iox2_publisher *p, uint64_t len, iox2_sample_mut **out, bool zero)
{
	if (!p || !out)
		return IOX2_E_INVALID_ARGUMENT;
	*out = NULL;
	iox2_node *node = p->svc->node;
	if (!p->slice && len != 1)
		return iox2i_err(node, IOX2_E_SLICE_LENGTH_EXCEEDS_LIMIT,
		                 "requested %llu elements of a service without slices", (unsigned long long)len);
	if (len > p->snd.max_slice)
		return iox2i_err(node, IOX2_E_SLICE_LENGTH_EXCEEDS_LIMIT,
		                 "requested %llu elements, the publisher's maximum is %llu", (unsigned long long)len,
		                 (unsigned long long)p->snd.max_slice);
	uint32_t i;
	int rc = iox2d_sender_loan(&p->snd, &i);
	if (rc != IOX2_OK)
		return rc;
	iox2_sample_mut *s = NULL;
	for (uint32_t k = 0; k < p->nsamples; k++)
		if (!p->samples[k].data) {
			s = &p->samples[k];
			break;
		}
	s->chunk = i;
	s->len = len;
	s->data = iox2d_sender_payload(&p->snd, i);
	if (zero) {
		memset(s->data, 0, len * p->snd.layout.elem_size);
		if (p->snd.layout.header_size)
			memset(iox2d_sender_user_header(&p->snd, i), 0, p->snd.layout.header_size);
	}
	*out = s;
	return IOX2_OK;
}

int iox2_publisher_loan(iox2_publisher *p, uint64_t len, iox2_sample_mut **out) { return loan(p, len, out, true); }

int iox2_publisher_loan_uninit(iox2_publisher *p, uint64_t len, iox2_sample_mut **out)
{
	return loan(p, len, out, false);
}

void *iox2_sample_mut_payload(iox2_sample_mut *s) { return s ? s->data : NULL; }

void *iox2_sample_mut_user_header(iox2_sample_mut *s)
{
	if (!s || !s->data)
		return NULL;
	return iox2d_sender_user_header(&s->pub->snd, s->chunk);
}

uint64_t iox2_sample_mut_len(const iox2_sample_mut *s) { return s && s->data ? s->len : 0; }

int iox2_sample_mut_send(iox2_sample_mut *s, size_t *delivered)
{
	size_t n = 0;
	if (delivered)
		*delivered = 0;
	if (!s)
		return IOX2_E_INVALID_ARGUMENT;
	iox2_publisher *p = s->pub;
	if (!s->data)
		return iox2i_err(p->svc->node, IOX2_E_SAMPLE_NOT_OWNED, NULL);
	int rc = iox2d_sender_send(&p->snd, s->chunk, s->len, 0, 0, false, &n);
	s->data = NULL;
	if (delivered)
		*delivered = n;
	return rc;
}

void iox2_sample_mut_release(iox2_sample_mut *s)
{
	if (!s || !s->data)
		return;
	iox2d_sender_unloan(&s->pub->snd, s->chunk);
	s->data = NULL;
}

/* ---------------------------------------------------------------------------
 * Subscriber
 */

static int subscriber_port_close(iox2i_port *base)
{
	return iox2_subscriber_close((iox2_subscriber *)base);
}

int iox2_subscriber_create(iox2_service *svc, const iox2_subscriber_options *o, iox2_subscriber **out)
{
	const char *op = "create subscriber";
	if (!out)
		return IOX2_E_INVALID_ARGUMENT;
	*out = NULL;
	int rc = iox2i_check_service(svc, IOX2I_PATTERN_PUBSUB, op);
	if (rc != IOX2_OK)
		return rc;
	iox2_node *node = svc->node;
	const iox2i_pubsub_static *q = &svc->sc.ps;
	int64_t buf = o && o->buffer_size != IOX2_UNSET ? o->buffer_size : q->subscriber_max_buffer_size;
	if (buf < 1)
		return iox2i_service_err(node, op, svc->name, IOX2_E_INVALID_QOS, "buffer size %lld must be at least 1",
		                         (long long)buf);
	if (buf > q->subscriber_max_buffer_size)
		return iox2i_service_err(node, op, svc->name, IOX2_E_BUFFER_SIZE_EXCEEDS_MAX,
		                         "requested %lld, the service allows %lld", (long long)buf,
		                         (long long)q->subscriber_max_buffer_size);
	int64_t hist = o && o->history_request != IOX2_UNSET ? o->history_request
	                                                      : (q->history_size < buf ? q->history_size : buf);
	if (hist < 0 || hist > q->history_size || hist > buf)
		return iox2i_service_err(node, op, svc->name, IOX2_E_HISTORY_REQUEST_EXCEEDS,
		                         "requested %lld, the service keeps %lld and the buffer holds %lld", (long long)hist,
		                         (long long)q->history_size, (long long)buf);
	iox2_subscriber *s = calloc(1, sizeof *s);
	uint32_t borrowed = (uint32_t)q->subscriber_max_borrowed_samples;
	if (!s || !(s->samples = calloc(borrowed, sizeof *s->samples))) {
		free(s);
		return iox2i_service_err(node, op, svc->name, IOX2_E_NO_MEMORY, NULL);
	}
	s->svc = svc;
	s->buf = (uint32_t)buf;
	s->hist = (uint32_t)hist;
	s->nsamples = borrowed;
	for (uint32_t k = 0; k < borrowed; k++)
		s->samples[k].sub = s;
	iox2d_receiver_opts ro = {
		.svc = svc, .id = iox2i_new_id(), .peers = svc->pubs, .npeers = svc->npubs,
		.elem_size = q->payload.size, .elem_align = q->payload.align,
		.hdr_size = q->has_user_header ? q->user_header.size : 0, .slice = q->slice,
		.want_table = 0, .max_borrowed = borrowed, .conn_max_borrowed = borrowed,
	};
	iox2d_conn_layout_new(&ro.layout, 1, (uint32_t)buf, (uint32_t)buf + borrowed + 1);
	if ((rc = iox2d_receiver_init(&s->rcv, &ro)) != IOX2_OK) {
		free(s->samples);
		free(s);
		return rc;
	}
	s->slot = iox2i_slot_claim(svc->subs, svc->nsubs, s->rcv.id, node->id);
	if (s->slot < 0) {
		iox2d_receiver_free(&s->rcv);
		free(s->samples);
		free(s);
		return iox2i_service_err(node, op, svc->name, IOX2_E_EXCEEDS_MAX_SUBSCRIBERS, "the service supports %lld",
		                         (long long)q->max_subscribers);
	}
	iox2i_port_slot *slot = &svc->subs[s->slot];
	s->wp = iox2i_wp_new(node, &slot->wake);
	if (!s->wp) {
		iox2i_slot_release(slot, node->id);
		iox2d_receiver_free(&s->rcv);
		free(s->samples);
		free(s);
		return IOX2_E_NO_MEMORY;
	}
	atomic_store_explicit(&slot->a, (uint64_t)buf, memory_order_relaxed);  /* published by the activation */
	atomic_store_explicit(&slot->b, (uint64_t)hist, memory_order_relaxed); /* published by the activation */
	/* From here on, every send of every publisher reaches us: a publisher
	 * checks the change counter on every send and connects first. */
	iox2i_slot_activate(slot);
	iox2i_dyn_bump(svc);
	iox2d_receiver_update(&s->rcv);
	s->base.close = subscriber_port_close;
	iox2i_port_add(svc, &s->base);
	*out = s;
	return IOX2_OK;
}

int iox2_subscriber_close(iox2_subscriber *s)
{
	if (!s)
		return IOX2_OK;
	iox2_service *svc = s->svc;
	/* Before the slot goes: the waitpoint forgets its word, which the
	 * slot's next port owns. */
	iox2i_wp_close(s->wp);
	iox2i_slot_release(&svc->subs[s->slot], svc->node->id);
	iox2i_dyn_bump(svc);
	iox2d_receiver_close(&s->rcv);
	iox2i_port_remove(svc, &s->base);
	iox2d_receiver_free(&s->rcv);
	free(s->samples);
	free(s);
	return IOX2_OK;
}

uint64_t iox2_subscriber_id(const iox2_subscriber *s) { return s ? s->rcv.id : 0; }

static int subscriber_try(void *ctx);

int iox2_subscriber_receive(iox2_subscriber *s, const iox2_sample **out)
{
	if (!s || !out)
		return IOX2_E_INVALID_ARGUMENT;
	*out = NULL;
	iox2d_recv_conn *c;
	uint32_t i;
	uint64_t n;
	int rc = iox2d_receiver_receive(&s->rcv, &c, &i, &n);
	if (rc == IOX2_OK && !c && s->svc->node->fd_mode) {
		/* Event-loop mode (iox2_node_fd): nothing here, so stay armed (the
		 * next sender rings the doorbell); iox2i_block re-checks after
		 * arming, and a sample that came meanwhile is taken now. */
		iox2i_waitpoint *wps[2] = {s->wp, s->svc->wp};
		if (iox2i_block(s->svc->node, wps, s->svc->wp ? 2 : 1, 0, subscriber_try, s) == IOX2_OK)
			rc = iox2d_receiver_receive(&s->rcv, &c, &i, &n);
	}
	if (rc != IOX2_OK || !c)
		return rc;
	iox2_sample *smp = NULL;
	for (uint32_t k = 0; k < s->nsamples; k++)
		if (!s->samples[k].data) {
			smp = &s->samples[k];
			break;
		}
	smp->conn = c;
	smp->chunk = i;
	smp->len = n;
	smp->data = (const char *)iox2d_recv_chunk(c, i) + c->layout.payload_off;
	*out = smp;
	return IOX2_OK;
}

static int subscriber_try(void *ctx)
{
	iox2_subscriber *s = ctx;
	if (s->rcv.closed)
		return -IOX2_E_CLOSED;
	if (s->rcv.borrowed >= s->rcv.max_borrowed)
		return -iox2i_err(s->svc->node, IOX2_E_EXCEEDS_MAX_BORROWS, NULL);
	return iox2d_receiver_has_data(&s->rcv, 0) ? 1 : 0;
}

int iox2_subscriber_wait(iox2_subscriber *s, int64_t timeout_ns)
{
	if (!s)
		return IOX2_E_INVALID_ARGUMENT;
	/* The port's word W: a sender that pushes to us rings it; the service's:
	 * a new publisher (a connection to map) rings it with its bump. */
	iox2i_waitpoint *wps[2] = {s->wp, s->svc->wp};
	return iox2i_block(s->svc->node, wps, s->svc->wp ? 2 : 1, timeout_ns, subscriber_try, s);
}

const void *iox2_sample_payload(const iox2_sample *s) { return s ? s->data : NULL; }

const void *iox2_sample_user_header(const iox2_sample *s)
{
	if (!s || !s->data || s->conn->layout.header_size == 0)
		return NULL;
	return (const char *)iox2d_recv_chunk(s->conn, s->chunk) + s->conn->layout.header_off;
}

uint64_t iox2_sample_len(const iox2_sample *s) { return s && s->data ? s->len : 0; }

uint64_t iox2_sample_sequence(const iox2_sample *s)
{
	if (!s || !s->data)
		return 0;
	return ((volatile const iox2d_chunk_header *)iox2d_recv_chunk(s->conn, s->chunk))->sequence;
}

uint64_t iox2_sample_publisher(const iox2_sample *s)
{
	if (!s || !s->data)
		return 0;
	return s->conn->peer;
}

void iox2_sample_release(const iox2_sample *cs)
{
	iox2_sample *s = (iox2_sample *)cs;
	if (!s || !s->data)
		return;
	iox2d_receiver_release(&s->sub->rcv, s->conn, s->chunk);
	s->data = NULL;
	s->conn = NULL;
}
