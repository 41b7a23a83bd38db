/* reqres.c: client and server of a request-response service
 * (runtime/reqres.go, reqres_client.go, reqres_server.go).
 *
 * A client is a sender of requests to the servers (its data segment also
 * holds its request table, one word per request slot) and a receiver of
 * responses from them, through one channel per request slot. A server is a
 * receiver of requests from the clients and a sender of responses to them,
 * each on the channel of its request. Both share one port slot and ID. */
#include "data.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------
 * Types
 */

struct iox2_request_mut {
	iox2_client *cl;
	uint32_t chunk;
	uint64_t len;
	void *data; /* NULL: not on loan */
};

struct iox2_pending_response {
	iox2_client *cl;
	uint32_t k;   /* the request slot (channel) */
	uint64_t gen; /* of the slot when the request was sent */
};

struct iox2_response {
	iox2_client *cl;
	uint32_t k;
	uint64_t gen;
	iox2d_recv_conn *conn;
	uint32_t chunk;
	uint64_t len;
	const void *data; /* NULL: not held */
};

/* The client-local state of one request slot (pendingReq). */
typedef struct pending_req {
	bool used;
	uint64_t gen; /* bumped when the slot is given up */
	uint64_t request_id;
	uint32_t chunk;
	uint64_t length;
	size_t servers;
	uint32_t borrowed;
} pending_req;

struct iox2_client {
	iox2i_port base;
	iox2_service *svc;
	uint64_t id;
	int slot;
	bool closed;
	iox2d_sender snd;   /* requests */
	iox2d_receiver rcv; /* responses */
	iox2i_waitpoint *wp;
	uint32_t max_active, active;
	uint32_t max_borrowed; /* per pending response */
	uint64_t last_id;
	pending_req *pending;            /* by request slot */
	iox2_pending_response *pendings; /* by request slot */
	iox2_request_mut *requests;
	uint32_t nrequests;
	iox2_response *responses;
	uint32_t nresponses;
};

struct iox2_response_mut {
	iox2_server *srv;
	iox2_active_request *a;
	uint64_t gen; /* of a when loaned */
	uint32_t chunk;
	uint64_t len;
	void *data; /* NULL: not on loan */
};

struct iox2_active_request {
	iox2_server *srv;
	bool used;
	uint64_t gen; /* bumped on close: stale responses see another gen */
	iox2d_recv_conn *conn;
	uint32_t chunk;
	uint64_t length;
	uint64_t request_id; /* copied when received: the client cannot change it under us */
	uint32_t channel;
	uint64_t sequence;
	const void *data;
	iox2_response_mut *muts; /* loans_per_request handles: the responses on loan for it */
};

struct iox2_server {
	iox2i_port base;
	iox2_service *svc;
	uint64_t id;
	int slot;
	bool closed;
	iox2d_receiver rcv; /* requests */
	iox2d_sender snd;   /* responses */
	iox2i_waitpoint *wp;
	uint32_t loans_per_request;
	iox2_active_request *actives;
	uint32_t nactives;
	iox2_response_mut *muts; /* nactives * loans_per_request */
	uint64_t skipped;
};

void iox2_client_options_init(iox2_client_options *o)
{
	o->max_active_requests = IOX2_UNSET;
	o->max_slice_len = IOX2_UNSET;
	o->backpressure = IOX2_UNSET;
}

void iox2_server_options_init(iox2_server_options *o)
{
	o->max_loaned_responses_per_request = IOX2_UNSET;
	o->max_slice_len = IOX2_UNSET;
	o->backpressure = IOX2_UNSET;
}


/* Connection geometries, from the static config only (never from a slot):
 * a request connection has one queue of max_active_requests_per_client; a
 * response connection one queue of max_response_buffer_size per request
 * slot of the client. */
static void request_conn(const iox2i_reqres_static *q, iox2d_conn_spec *out)
{
	uint32_t a = (uint32_t)q->max_active_requests_per_client;
	iox2d_conn_layout_new(&out->layout, 1, a, 2 * a);
	out->limit = 2 * a;
	out->history = 0;
}

static uint32_t response_conn_limit(const iox2i_reqres_static *q)
{
	return (uint32_t)(q->max_active_requests_per_client *
	                  (q->max_response_buffer_size + q->max_borrowed_responses_per_pending_response));
}

static void response_conn(const iox2i_reqres_static *q, iox2d_conn_spec *out)
{
	uint32_t limit = response_conn_limit(q);
	iox2d_conn_layout_new(&out->layout, (uint32_t)q->max_active_requests_per_client,
	                      (uint32_t)q->max_response_buffer_size, limit);
	out->limit = limit;
	out->history = 0;
}

static void request_conn_for(void *ctx, const iox2i_port_info *pi, iox2d_conn_spec *out)
{
	(void)pi;
	request_conn(ctx, out);
}

static void response_conn_for(void *ctx, const iox2i_port_info *pi, iox2d_conn_spec *out)
{
	(void)pi;
	response_conn(ctx, out);
}

/* ---------------------------------------------------------------------------
 * Client
 */

static int client_port_close(iox2i_port *base) { return iox2_client_close((iox2_client *)base); }

static void client_free(iox2_client *c)
{
	free(c->pending);
	free(c->pendings);
	free(c->requests);
	free(c->responses);
	free(c);
}

int iox2_client_create(iox2_service *svc, const iox2_client_options *o, iox2_client **out)
{
	const char *op = "create client";
	if (!out)
		return IOX2_E_INVALID_ARGUMENT;
	*out = NULL;
	int rc = iox2i_check_service(svc, IOX2I_PATTERN_REQRES, op);
	if (rc != IOX2_OK)
		return rc;
	iox2_node *node = svc->node;
	const iox2i_reqres_static *q = &svc->sc.rr;
	int64_t a = q->max_active_requests_per_client;
	int64_t max_active = o && o->max_active_requests != IOX2_UNSET ? o->max_active_requests : a;
	int64_t slice = o && o->max_slice_len != IOX2_UNSET ? o->max_slice_len : 1;
	int64_t strategy = o && o->backpressure != IOX2_UNSET ? o->backpressure : IOX2_RETRY_UNTIL_DELIVERED;
	if (max_active < 1 || slice < 1)
		return iox2i_service_err(node, op, svc->name, IOX2_E_INVALID_QOS,
		                         "max active requests %lld and max slice length %lld must be at least 1",
		                         (long long)max_active, (long long)slice);
	if (max_active > a)
		return iox2i_service_err(node, op, svc->name, IOX2_E_ACTIVE_REQUESTS_EXCEED_MAX,
		                         "requested %lld, the service allows %lld", (long long)max_active, (long long)a);
	if (slice != 1 && !q->request_slice)
		return iox2i_service_err(node, op, svc->name, IOX2_E_INVALID_QOS,
		                         "MaxSliceLen needs a slice service (RequestResponseSlice)");
	if (strategy != IOX2_RETRY_UNTIL_DELIVERED && strategy != IOX2_DISCARD_DATA)
		return iox2i_service_err(node, op, svc->name, IOX2_E_INVALID_QOS, "unknown backpressure strategy %lld",
		                         (long long)strategy);
	char why[512];
	if (iox2i_check_client(q, slice, node->cfg.port_memory_limit, why, sizeof why))
		return iox2i_service_err(node, op, svc->name, IOX2_E_RESOURCE_LIMIT, "%s", why);

	iox2_client *c = calloc(1, sizeof *c);
	if (!c)
		return iox2i_service_err(node, op, svc->name, IOX2_E_NO_MEMORY, NULL);
	c->svc = svc;
	c->max_active = (uint32_t)max_active;
	c->max_borrowed = (uint32_t)q->max_borrowed_responses_per_pending_response;
	c->nrequests = (uint32_t)q->max_loaned_requests;
	c->nresponses = c->max_active * c->max_borrowed;
	c->pending = calloc(c->max_active, sizeof *c->pending);
	c->pendings = calloc(c->max_active, sizeof *c->pendings);
	c->requests = calloc(c->nrequests, sizeof *c->requests);
	c->responses = calloc(c->nresponses, sizeof *c->responses);
	if (!c->pending || !c->pendings || !c->requests || !c->responses) {
		client_free(c);
		return iox2i_service_err(node, op, svc->name, IOX2_E_NO_MEMORY, NULL);
	}
	for (uint32_t k = 0; k < c->max_active; k++) {
		c->pendings[k].cl = c;
		c->pendings[k].k = k;
	}
	for (uint32_t k = 0; k < c->nrequests; k++)
		c->requests[k].cl = c;
	for (uint32_t k = 0; k < c->nresponses; k++)
		c->responses[k].cl = c;
	c->id = iox2i_new_id();
	c->slot = iox2i_slot_claim(svc->pubs, svc->npubs, c->id, node->id);
	if (c->slot < 0) {
		client_free(c);
		return iox2i_service_err(node, op, svc->name, IOX2_E_EXCEEDS_MAX_CLIENTS, "the service supports %lld",
		                         (long long)q->max_clients);
	}
	uint64_t ua = (uint64_t)a;
	iox2d_sender_opts so = {
		.svc = svc, .id = c->id, .op = op, .peers = svc->subs, .npeers = svc->nsubs,
		.conn_for = request_conn_for, .conn_ctx = (void *)q,
		.elem_size = q->request.size, .elem_align = q->request.align,
		.max_slice = (uint64_t)slice,
		.num_chunks = (uint64_t)q->max_servers * 2 * ua + ua + (uint64_t)q->max_loaned_requests,
		.table_len = ua, .max_loans = (uint32_t)q->max_loaned_requests, .history = 0,
		.safe_overflow = q->safe_overflow_requests, .strategy = (int)strategy,
	};
	if ((rc = iox2d_sender_init(&c->snd, &so)) != IOX2_OK) {
		iox2i_slot_release(&svc->pubs[c->slot], node->id);
		client_free(c);
		return rc;
	}
	uint32_t b = (uint32_t)a * c->max_borrowed;
	iox2d_receiver_opts ro = {
		.svc = svc, .id = c->id, .peers = svc->subs, .npeers = svc->nsubs,
		.elem_size = q->response.size, .elem_align = q->response.align, .hdr_size = 0,
		.slice = q->response_slice, .want_table = 0, .max_borrowed = b, .conn_max_borrowed = b,
	};
	iox2d_conn_spec rs;
	response_conn(q, &rs);
	ro.layout = rs.layout;
	iox2i_port_slot *slot = &svc->pubs[c->slot];
	if ((rc = iox2d_receiver_init(&c->rcv, &ro)) != IOX2_OK || !(c->wp = iox2i_wp_new(node, &slot->wake))) {
		if (rc == IOX2_OK)
			iox2d_receiver_free(&c->rcv);
		iox2d_sender_close(&c->snd);
		iox2d_sender_free(&c->snd);
		iox2i_slot_release(slot, node->id);
		client_free(c);
		return rc != IOX2_OK ? rc : IOX2_E_NO_MEMORY;
	}
	atomic_store_explicit(&slot->a, (uint64_t)max_active, memory_order_relaxed); /* published by the activation */
	iox2i_slot_activate(slot);
	iox2i_dyn_bump(svc);
	iox2d_sender_update(&c->snd);
	iox2d_receiver_update(&c->rcv);
	rc = iox2d_sender_conn_error(&c->snd, op, -1);
	c->base.close = client_port_close;
	iox2i_port_add(svc, &c->base);
	if (rc != IOX2_OK) {
		/* A server that exists now would miss every request. */
		char msg[IOX2I_ERRMSG_CAP];
		memcpy(msg, node->errmsg, sizeof msg);
		iox2_client_close(c);
		memcpy(node->errmsg, msg, sizeof msg);
		return rc;
	}
	*out = c;
	return IOX2_OK;
}

static pending_req *pending_of(iox2_client *c, uint32_t k, uint64_t gen)
{
	if (c->closed || k >= c->max_active)
		return NULL;
	pending_req *p = &c->pending[k];
	return p->used && p->gen == gen ? p : NULL;
}

/* close_pending gives up the request of slot k: the servers see it
 * disconnected, its queued responses go back unread, its chunk to the pool
 * once the servers are done with it. Responses still held stay valid until
 * released (iox2go.h). */
static void close_pending(iox2_client *c, uint32_t k, uint64_t gen)
{
	pending_req *p = pending_of(c, k, gen);
	if (!p)
		return;
	/* SYNC POINT request-state: paired with the servers' load in connected. */
	atomic_store_explicit(&c->snd.table[k], p->request_id << 2, memory_order_release);
	iox2d_receiver_drain_channel(&c->rcv, k);
	iox2d_sender_deref(&c->snd, p->chunk);
	p->used = false;
	p->gen++;
	p->borrowed = 0;
	c->active--;
}

int iox2_client_close(iox2_client *c)
{
	if (!c)
		return IOX2_OK;
	iox2_service *svc = c->svc;
	for (uint32_t k = 0; k < c->max_active; k++)
		close_pending(c, k, c->pending[k].gen);
	c->closed = true;
	iox2d_sender_close(&c->snd);
	iox2i_wp_close(c->wp); /* before the slot, whose word it forgets, goes */
	iox2i_slot_release(&svc->pubs[c->slot], svc->node->id);
	iox2i_dyn_bump(svc);
	iox2d_receiver_close(&c->rcv);
	iox2i_port_remove(svc, &c->base);
	iox2d_receiver_free(&c->rcv);
	iox2d_sender_free(&c->snd);
	client_free(c);
	return IOX2_OK;
}

uint64_t iox2_client_id(const iox2_client *c) { return c ? c->id : 0; }

int iox2_client_update_connections(iox2_client *c)
{
	if (!c)
		return IOX2_E_INVALID_ARGUMENT;
	if (c->closed)
		return iox2i_err(c->svc->node, IOX2_E_CLOSED, NULL);
	if (c->svc->node->fd_mode)
		iox2i_service_arm(c->svc); /* the next port change rings the doorbell */
	iox2d_sender_update(&c->snd);
	iox2d_sender_reclaim(&c->snd);
	iox2d_receiver_update(&c->rcv);
	iox2d_receiver_sweep_expired(&c->rcv);
	/* Late responses to given-up requests go back to their servers. */
	for (uint32_t k = 0; k < c->max_active; k++)
		if (!c->pending[k].used)
			iox2d_receiver_drain_channel(&c->rcv, k);
	return iox2d_sender_conn_error(&c->snd, "update connections", -1);
}

static int client_loan(iox2_client *c, uint64_t len, iox2_request_mut **out, bool zero)
{
	if (!c || !out)
		return IOX2_E_INVALID_ARGUMENT;
	*out = NULL;
	iox2_node *node = c->svc->node;
	if (c->closed)
		return iox2i_err(node, IOX2_E_CLOSED, NULL);
	if ((!c->svc->sc.rr.request_slice && len != 1) || len > c->snd.max_slice)
		return iox2i_err(node, IOX2_E_SLICE_LENGTH_EXCEEDS_LIMIT,
		                 "requested %llu elements, the client's maximum is %llu", (unsigned long long)len,
		                 (unsigned long long)c->snd.max_slice);
	uint32_t i;
	int rc = iox2d_sender_loan(&c->snd, &i);
	if (rc != IOX2_OK)
		return rc;
	iox2_request_mut *r = NULL;
	for (uint32_t k = 0; k < c->nrequests; k++)
		if (!c->requests[k].data) {
			r = &c->requests[k];
			break;
		}
	r->chunk = i;
	r->len = len;
	r->data = iox2d_sender_payload(&c->snd, i);
	if (zero)
		memset(r->data, 0, len * c->snd.layout.elem_size);
	*out = r;
	return IOX2_OK;
}

int iox2_client_loan(iox2_client *c, uint64_t len, iox2_request_mut **out) { return client_loan(c, len, out, true); }

int iox2_client_loan_uninit(iox2_client *c, uint64_t len, iox2_request_mut **out)
{
	return client_loan(c, len, out, false);
}

void *iox2_request_mut_payload(iox2_request_mut *r) { return r ? r->data : NULL; }
uint64_t iox2_request_mut_len(const iox2_request_mut *r) { return r && r->data ? r->len : 0; }

int iox2_request_mut_send(iox2_request_mut *r, iox2_pending_response **out)
{
	if (out)
		*out = NULL;
	if (!r || !out)
		return IOX2_E_INVALID_ARGUMENT;
	iox2_client *c = r->cl;
	iox2_node *node = c->svc->node;
	if (!r->data)
		return iox2i_err(node, IOX2_E_SAMPLE_NOT_OWNED, NULL);
	uint32_t i = r->chunk;
	r->data = NULL; /* the loan ends here, also on error */
	if (c->closed) {
		iox2d_sender_unloan(&c->snd, i);
		return iox2i_err(node, IOX2_E_CLOSED, NULL);
	}
	uint32_t k = c->max_active;
	for (uint32_t j = 0; j < c->max_active; j++)
		if (!c->pending[j].used) {
			k = j;
			break;
		}
	if (k == c->max_active) {
		iox2d_sender_unloan(&c->snd, i);
		return iox2i_err(node, IOX2_E_EXCEEDS_MAX_ACTIVE_REQUESTS, NULL);
	}
	uint64_t id = ++c->last_id;
	/* SYNC POINT request-state: the slot turns active before the request
	 * is pushed (whose release publishes it), so a server that receives
	 * it sees it connected; paired with the servers' load in connected. */
	atomic_store_explicit(&c->snd.table[k], id << 2 | IOX2D_REQ_ACTIVE, memory_order_release);
	size_t n = 0;
	int rc = iox2d_sender_send(&c->snd, i, r->len, id, k, true, &n);
	if (rc != IOX2_OK) {
		atomic_store_explicit(&c->snd.table[k], id << 2, memory_order_release); /* SYNC POINT request-state */
		return rc;
	}
	pending_req *p = &c->pending[k];
	p->used = true;
	p->request_id = id;
	p->chunk = i;
	p->length = r->len;
	p->servers = n;
	p->borrowed = 0;
	c->active++;
	c->pendings[k].gen = p->gen;
	*out = &c->pendings[k];
	return IOX2_OK;
}

void iox2_request_mut_release(iox2_request_mut *r)
{
	if (!r || !r->data)
		return;
	iox2d_sender_unloan(&r->cl->snd, r->chunk);
	r->data = NULL;
}

static int pending_try(void *ctx);

static bool client_is_connected(iox2_client *c, uint32_t k, uint64_t gen)
{
	pending_req *p = pending_of(c, k, gen);
	return p && iox2d_sender_in_flight(&c->snd, p->chunk);
}

int iox2_pending_response_receive(iox2_pending_response *pr, const iox2_response **out)
{
	if (!pr || !out)
		return IOX2_E_INVALID_ARGUMENT;
	*out = NULL;
	iox2_client *c = pr->cl;
	iox2_node *node = c->svc->node;
	pending_req *p = pending_of(c, pr->k, pr->gen);
	if (!p)
		return iox2i_err(node, IOX2_E_CLOSED, NULL);
	if (p->borrowed >= c->max_borrowed)
		return iox2i_err(node, IOX2_E_EXCEEDS_MAX_BORROWS, NULL);
	iox2d_recv_conn *conn;
	uint32_t i;
	uint64_t n;
	iox2d_receiver_receive_on(&c->rcv, pr->k, p->request_id, &conn, &i, &n);
	if (!conn && node->fd_mode) {
		/* Event-loop mode: stay armed, re-check (see iox2_subscriber_receive). */
		iox2i_waitpoint *wps[2] = {c->wp, c->svc->wp};
		if (iox2i_block(node, wps, c->svc->wp ? 2 : 1, 0, pending_try, pr) == IOX2_OK)
			iox2d_receiver_receive_on(&c->rcv, pr->k, p->request_id, &conn, &i, &n);
	}
	if (!conn) {
		if (client_is_connected(c, pr->k, pr->gen))
			return IOX2_OK;
		/* No server holds the request any more. A server pushes its
		 * responses before it gives the request back, so what it sent is
		 * queued now. */
		iox2d_receiver_receive_on(&c->rcv, pr->k, p->request_id, &conn, &i, &n);
		if (!conn)
			return iox2i_err(node, IOX2_E_STREAM_ENDED, NULL);
	}
	iox2_response *r = NULL;
	for (uint32_t k = 0; k < c->nresponses; k++)
		if (!c->responses[k].data) {
			r = &c->responses[k];
			break;
		}
	if (!r) { /* every handle held (responses kept past their pending's close): give it back */
		iox2d_receiver_release(&c->rcv, conn, i);
		return iox2i_err(node, IOX2_E_EXCEEDS_MAX_BORROWS, NULL);
	}
	p->borrowed++;
	r->k = pr->k;
	r->gen = pr->gen;
	r->conn = conn;
	r->chunk = i;
	r->len = n;
	r->data = (const char *)iox2d_recv_chunk(conn, i) + conn->layout.payload_off;
	*out = r;
	return IOX2_OK;
}

static int pending_try(void *ctx)
{
	iox2_pending_response *pr = ctx;
	iox2_client *c = pr->cl;
	pending_req *p = pending_of(c, pr->k, pr->gen);
	if (!p)
		return -iox2i_err(c->svc->node, IOX2_E_CLOSED, NULL);
	if (iox2d_receiver_has_data(&c->rcv, pr->k))
		return 1;
	if (client_is_connected(c, pr->k, pr->gen))
		return 0;
	if (iox2d_receiver_has_data(&c->rcv, pr->k))
		return 1;
	return -iox2i_err(c->svc->node, IOX2_E_STREAM_ENDED, NULL);
}

int iox2_pending_response_wait(iox2_pending_response *pr, int64_t timeout_ns)
{
	if (!pr)
		return IOX2_E_INVALID_ARGUMENT;
	iox2_client *c = pr->cl;
	/* The port's word W: a server that pushes a response or gives the
	 * request back rings it; the service's: a server that vanishes. */
	iox2i_waitpoint *wps[2] = {c->wp, c->svc->wp};
	return iox2i_block(c->svc->node, wps, c->svc->wp ? 2 : 1, timeout_ns, pending_try, pr);
}

bool iox2_pending_response_is_connected(iox2_pending_response *pr)
{
	return pr && client_is_connected(pr->cl, pr->k, pr->gen);
}

void iox2_pending_response_set_disconnect_hint(iox2_pending_response *pr)
{
	if (!pr)
		return;
	pending_req *p = pending_of(pr->cl, pr->k, pr->gen);
	if (p) /* SYNC POINT request-state: paired with the servers' has_disconnect_hint. */
		atomic_store_explicit(&pr->cl->snd.table[pr->k], p->request_id << 2 | IOX2D_REQ_ACTIVE | IOX2D_REQ_HINT,
		                      memory_order_release);
}

uint64_t iox2_pending_response_request_id(const iox2_pending_response *pr)
{
	if (!pr)
		return 0;
	pending_req *p = pending_of(pr->cl, pr->k, pr->gen);
	return p ? p->request_id : 0;
}

void iox2_pending_response_close(iox2_pending_response *pr)
{
	if (pr)
		close_pending(pr->cl, pr->k, pr->gen);
}

const void *iox2_response_payload(const iox2_response *r) { return r ? r->data : NULL; }
uint64_t iox2_response_len(const iox2_response *r) { return r && r->data ? r->len : 0; }
uint64_t iox2_response_server(const iox2_response *r) { return r && r->data ? r->conn->peer : 0; }

void iox2_response_release(const iox2_response *cr)
{
	iox2_response *r = (iox2_response *)cr;
	if (!r || !r->data)
		return;
	iox2_client *c = r->cl;
	pending_req *p = pending_of(c, r->k, r->gen);
	if (p && p->borrowed > 0)
		p->borrowed--;
	iox2d_receiver_release(&c->rcv, r->conn, r->chunk);
	r->data = NULL;
	r->conn = NULL;
}

/* ---------------------------------------------------------------------------
 * Server
 */

static int server_port_close(iox2i_port *base) { return iox2_server_close((iox2_server *)base); }

static void server_free(iox2_server *s)
{
	free(s->actives);
	free(s->muts);
	free(s);
}

int iox2_server_create(iox2_service *svc, const iox2_server_options *o, iox2_server **out)
{
	const char *op = "create server";
	if (!out)
		return IOX2_E_INVALID_ARGUMENT;
	*out = NULL;
	int rc = iox2i_check_service(svc, IOX2I_PATTERN_REQRES, op);
	if (rc != IOX2_OK)
		return rc;
	iox2_node *node = svc->node;
	const iox2i_reqres_static *q = &svc->sc.rr;
	int64_t lpr = o && o->max_loaned_responses_per_request != IOX2_UNSET ? o->max_loaned_responses_per_request
	                                                                      : svc->server_max_loans;
	int64_t slice = o && o->max_slice_len != IOX2_UNSET ? o->max_slice_len : 1;
	int64_t strategy = o && o->backpressure != IOX2_UNSET ? o->backpressure : IOX2_RETRY_UNTIL_DELIVERED;
	if (lpr < 1 || lpr > IOX2I_MAX_QOS_VALUE || slice < 1)
		return iox2i_service_err(node, op, svc->name, IOX2_E_INVALID_QOS,
		                         "max loaned responses per request %lld must be in [1, 65536], max slice length %lld at least 1",
		                         (long long)lpr, (long long)slice);
	if (slice != 1 && !q->response_slice)
		return iox2i_service_err(node, op, svc->name, IOX2_E_INVALID_QOS,
		                         "MaxSliceLen needs a slice service (RequestResponseSlice)");
	if (strategy != IOX2_RETRY_UNTIL_DELIVERED && strategy != IOX2_DISCARD_DATA)
		return iox2i_service_err(node, op, svc->name, IOX2_E_INVALID_QOS, "unknown backpressure strategy %lld",
		                         (long long)strategy);
	char why[512];
	if (iox2i_check_server(q, lpr, slice, node->cfg.port_memory_limit, why, sizeof why))
		return iox2i_service_err(node, op, svc->name, IOX2_E_RESOURCE_LIMIT, "%s", why);

	uint64_t a = (uint64_t)q->max_active_requests_per_client, clients = (uint64_t)q->max_clients;
	iox2_server *s = calloc(1, sizeof *s);
	if (!s)
		return iox2i_service_err(node, op, svc->name, IOX2_E_NO_MEMORY, NULL);
	s->svc = svc;
	s->loans_per_request = (uint32_t)lpr;
	s->nactives = (uint32_t)(clients * a);
	s->actives = calloc(s->nactives, sizeof *s->actives);
	s->muts = calloc((size_t)s->nactives * s->loans_per_request, sizeof *s->muts);
	if (!s->actives || !s->muts) {
		server_free(s);
		return iox2i_service_err(node, op, svc->name, IOX2_E_NO_MEMORY, NULL);
	}
	for (uint32_t k = 0; k < s->nactives; k++) {
		s->actives[k].srv = s;
		s->actives[k].muts = &s->muts[(size_t)k * s->loans_per_request];
		for (uint32_t j = 0; j < s->loans_per_request; j++) {
			s->actives[k].muts[j].srv = s;
			s->actives[k].muts[j].a = &s->actives[k];
		}
	}
	s->id = iox2i_new_id();
	s->slot = iox2i_slot_claim(svc->subs, svc->nsubs, s->id, node->id);
	if (s->slot < 0) {
		server_free(s);
		return iox2i_service_err(node, op, svc->name, IOX2_E_EXCEEDS_MAX_SERVERS, "the service supports %lld",
		                         (long long)q->max_servers);
	}
	iox2d_sender_opts so = {
		.svc = svc, .id = s->id, .op = op, .peers = svc->pubs, .npeers = svc->npubs,
		.conn_for = response_conn_for, .conn_ctx = (void *)q,
		.elem_size = q->response.size, .elem_align = q->response.align,
		.max_slice = (uint64_t)slice,
		.num_chunks = clients * ((uint64_t)response_conn_limit(q) + a * (uint64_t)lpr),
		.table_len = 0, .max_loans = (uint32_t)(clients * a * (uint64_t)lpr), .history = 0,
		.safe_overflow = q->safe_overflow_responses, .strategy = (int)strategy,
	};
	if ((rc = iox2d_sender_init(&s->snd, &so)) != IOX2_OK) {
		iox2i_slot_release(&svc->subs[s->slot], node->id);
		server_free(s);
		return rc;
	}
	iox2d_receiver_opts ro = {
		.svc = svc, .id = s->id, .peers = svc->pubs, .npeers = svc->npubs,
		.elem_size = q->request.size, .elem_align = q->request.align, .hdr_size = 0,
		.slice = q->request_slice, .want_table = a, .max_borrowed = (uint32_t)(clients * a),
		.conn_max_borrowed = (uint32_t)a,
	};
	iox2d_conn_spec rs;
	request_conn(q, &rs);
	ro.layout = rs.layout;
	iox2i_port_slot *slot = &svc->subs[s->slot];
	if ((rc = iox2d_receiver_init(&s->rcv, &ro)) != IOX2_OK || !(s->wp = iox2i_wp_new(node, &slot->wake))) {
		if (rc == IOX2_OK)
			iox2d_receiver_free(&s->rcv);
		iox2d_sender_close(&s->snd);
		iox2d_sender_free(&s->snd);
		iox2i_slot_release(slot, node->id);
		server_free(s);
		return rc != IOX2_OK ? rc : IOX2_E_NO_MEMORY;
	}
	atomic_store_explicit(&slot->a, (uint64_t)slice, memory_order_relaxed); /* published by the activation */
	iox2i_slot_activate(slot);
	iox2i_dyn_bump(svc);
	iox2d_sender_update(&s->snd);
	iox2d_receiver_update(&s->rcv);
	rc = iox2d_sender_conn_error(&s->snd, op, -1);
	s->base.close = server_port_close;
	iox2i_port_add(svc, &s->base);
	if (rc != IOX2_OK) {
		/* A client that exists now would get no response from us. */
		char msg[IOX2I_ERRMSG_CAP];
		memcpy(msg, node->errmsg, sizeof msg);
		iox2_server_close(s);
		memcpy(node->errmsg, msg, sizeof msg);
		return rc;
	}
	*out = s;
	return IOX2_OK;
}

/* connected: the client still wants responses to request request_id of
 * its slot ch, received on c: it is still there and its request table
 * names the request as active. */
static bool connected(iox2_server *s, iox2d_recv_conn *c, uint32_t ch, uint64_t request_id)
{
	if (s->closed || c->expired || ch >= c->layout.table_len || !c->table)
		return false;
	/* SYNC POINT request-state: paired with the client's stores in send,
	 * close_pending and set_disconnect_hint. */
	uint64_t w = atomic_load_explicit(&c->table[ch], memory_order_acquire);
	return (w & ~(uint64_t)IOX2D_REQ_HINT) == (request_id << 2 | IOX2D_REQ_ACTIVE);
}

/* close_active ends a's response stream: its loans go back, its request
 * chunk to the client, whose pending response turns disconnected once
 * every server did the same. */
static void close_active(iox2_server *s, iox2_active_request *a)
{
	if (!a->used)
		return;
	for (uint32_t j = 0; j < s->loans_per_request; j++) {
		iox2_response_mut *m = &a->muts[j];
		if (m->data) {
			if (!s->closed)
				iox2d_sender_unloan(&s->snd, m->chunk);
			m->data = NULL;
		}
	}
	iox2d_receiver_release(&s->rcv, a->conn, a->chunk);
	/* The client's pending response may wait for the end of its stream. */
	iox2d_receiver_wake_sender(&s->rcv, a->conn);
	a->used = false;
	a->conn = NULL;
	a->data = NULL;
	a->gen++;
}

int iox2_server_close(iox2_server *s)
{
	if (!s)
		return IOX2_OK;
	iox2_service *svc = s->svc;
	for (uint32_t k = 0; k < s->nactives; k++)
		close_active(s, &s->actives[k]);
	s->closed = true;
	iox2d_sender_close(&s->snd);
	iox2i_wp_close(s->wp); /* before the slot, whose word it forgets, goes */
	iox2i_slot_release(&svc->subs[s->slot], svc->node->id);
	iox2i_dyn_bump(svc);
	iox2d_receiver_close(&s->rcv);
	iox2i_port_remove(svc, &s->base);
	iox2d_receiver_free(&s->rcv);
	iox2d_sender_free(&s->snd);
	server_free(s);
	return IOX2_OK;
}

uint64_t iox2_server_id(const iox2_server *s) { return s ? s->id : 0; }

int iox2_server_update_connections(iox2_server *s)
{
	if (!s)
		return IOX2_E_INVALID_ARGUMENT;
	if (s->closed)
		return iox2i_err(s->svc->node, IOX2_E_CLOSED, NULL);
	if (s->svc->node->fd_mode)
		iox2i_service_arm(s->svc); /* the next port change rings the doorbell */
	iox2d_sender_update(&s->snd);
	iox2d_sender_reclaim(&s->snd);
	iox2d_receiver_update(&s->rcv);
	iox2d_receiver_sweep_expired(&s->rcv);
	return iox2d_sender_conn_error(&s->snd, "update connections", -1);
}

static int server_try(void *ctx);

int iox2_server_receive(iox2_server *s, iox2_active_request **out)
{
	if (!s || !out)
		return IOX2_E_INVALID_ARGUMENT;
	*out = NULL;
	if (s->closed)
		return iox2i_err(s->svc->node, IOX2_E_CLOSED, NULL);
	for (;;) {
		iox2d_recv_conn *c;
		uint32_t i;
		uint64_t n;
		int rc = iox2d_receiver_receive(&s->rcv, &c, &i, &n);
		if (rc == IOX2_OK && !c && s->svc->node->fd_mode) {
			/* Event-loop mode: stay armed, re-check (see iox2_subscriber_receive). */
			iox2i_waitpoint *wps[2] = {s->wp, s->svc->wp};
			if (iox2i_block(s->svc->node, wps, s->svc->wp ? 2 : 1, 0, server_try, s) == IOX2_OK)
				rc = iox2d_receiver_receive(&s->rcv, &c, &i, &n);
		}
		if (rc != IOX2_OK || !c)
			return rc;
		/* Read once: later writes of the client cannot change what we act on. */
		volatile const iox2d_chunk_header *h = iox2d_recv_chunk(c, i);
		uint64_t request_id = h->request_id, seq = h->sequence;
		uint32_t ch = h->channel;
		if (ch >= c->layout.table_len || request_id == 0) {
			s->rcv.dropped++;
			iox2d_receiver_release(&s->rcv, c, i);
			iox2d_receiver_wake_sender(&s->rcv, c);
			continue;
		}
		if (!s->svc->sc.rr.fire_and_forget && !connected(s, c, ch, request_id)) {
			s->skipped++;
			iox2d_receiver_release(&s->rcv, c, i);
			iox2d_receiver_wake_sender(&s->rcv, c);
			continue;
		}
		iox2_active_request *a = NULL;
		for (uint32_t k = 0; k < s->nactives; k++)
			if (!s->actives[k].used) {
				a = &s->actives[k];
				break;
			}
		if (!a) { /* cannot happen: the receiver's borrow limit is nactives */
			iox2d_receiver_release(&s->rcv, c, i);
			return iox2i_err(s->svc->node, IOX2_E_EXCEEDS_MAX_BORROWS, NULL);
		}
		a->used = true;
		a->conn = c;
		a->chunk = i;
		a->length = n;
		a->request_id = request_id;
		a->channel = ch;
		a->sequence = seq;
		a->data = (const char *)iox2d_recv_chunk(c, i) + c->layout.payload_off;
		*out = a;
		return IOX2_OK;
	}
}

static int server_try(void *ctx)
{
	iox2_server *s = ctx;
	if (s->closed)
		return -IOX2_E_CLOSED;
	if (s->rcv.borrowed >= s->rcv.max_borrowed)
		return -iox2i_err(s->svc->node, IOX2_E_EXCEEDS_MAX_BORROWS, NULL);
	return iox2d_receiver_has_data(&s->rcv, 0) ? 1 : 0;
}

int iox2_server_wait(iox2_server *s, int64_t timeout_ns)
{
	if (!s)
		return IOX2_E_INVALID_ARGUMENT;
	iox2i_waitpoint *wps[2] = {s->wp, s->svc->wp};
	return iox2i_block(s->svc->node, wps, s->svc->wp ? 2 : 1, timeout_ns, server_try, s);
}

const void *iox2_active_request_payload(const iox2_active_request *r) { return r && r->used ? r->data : NULL; }
uint64_t iox2_active_request_len(const iox2_active_request *r) { return r && r->used ? r->length : 0; }
uint64_t iox2_active_request_client(const iox2_active_request *r) { return r && r->used ? r->conn->peer : 0; }
uint64_t iox2_active_request_id(const iox2_active_request *r) { return r && r->used ? r->request_id : 0; }

bool iox2_active_request_is_connected(const iox2_active_request *cr)
{
	iox2_active_request *r = (iox2_active_request *)cr;
	if (!r || !r->used || r->srv->closed)
		return false;
	iox2d_receiver_update(&r->srv->rcv);
	return r->used && connected(r->srv, r->conn, r->channel, r->request_id);
}

bool iox2_active_request_has_disconnect_hint(const iox2_active_request *r)
{
	if (!iox2_active_request_is_connected(r))
		return false;
	/* SYNC POINT request-state: paired with the client's set_disconnect_hint. */
	return (atomic_load_explicit(&r->conn->table[r->channel], memory_order_acquire) & IOX2D_REQ_HINT) != 0;
}

static int active_loan(iox2_active_request *a, uint64_t len, iox2_response_mut **out, bool zero)
{
	if (!a || !out)
		return IOX2_E_INVALID_ARGUMENT;
	*out = NULL;
	iox2_server *s = a->srv;
	iox2_node *node = s->svc->node;
	if (s->closed)
		return iox2i_err(node, IOX2_E_CLOSED, NULL);
	if (!a->used)
		return iox2i_err(node, IOX2_E_SAMPLE_NOT_OWNED, NULL);
	if ((!s->svc->sc.rr.response_slice && len != 1) || len > s->snd.max_slice)
		return iox2i_err(node, IOX2_E_SLICE_LENGTH_EXCEEDS_LIMIT,
		                 "requested %llu elements, the server's maximum is %llu", (unsigned long long)len,
		                 (unsigned long long)s->snd.max_slice);
	iox2_response_mut *m = NULL;
	for (uint32_t j = 0; j < s->loans_per_request; j++)
		if (!a->muts[j].data) {
			m = &a->muts[j];
			break;
		}
	if (!m)
		return iox2i_err(node, IOX2_E_EXCEEDS_MAX_LOANS, NULL);
	uint32_t i;
	int rc = iox2d_sender_loan(&s->snd, &i);
	if (rc != IOX2_OK)
		return rc;
	m->gen = a->gen;
	m->chunk = i;
	m->len = len;
	m->data = iox2d_sender_payload(&s->snd, i);
	if (zero)
		memset(m->data, 0, len * s->snd.layout.elem_size);
	*out = m;
	return IOX2_OK;
}

int iox2_active_request_loan(iox2_active_request *r, uint64_t len, iox2_response_mut **out)
{
	return active_loan(r, len, out, true);
}

int iox2_active_request_loan_uninit(iox2_active_request *r, uint64_t len, iox2_response_mut **out)
{
	return active_loan(r, len, out, false);
}

void iox2_active_request_close(iox2_active_request *r)
{
	if (r && r->used)
		close_active(r->srv, r);
}

void *iox2_response_mut_payload(iox2_response_mut *m) { return m ? m->data : NULL; }
uint64_t iox2_response_mut_len(const iox2_response_mut *m) { return m && m->data ? m->len : 0; }

struct wanted_ctx {
	iox2_server *s;
	iox2_active_request *a;
};

static bool still_wanted(void *ctx)
{
	struct wanted_ctx *w = ctx;
	iox2d_receiver_update(&w->s->rcv);
	return connected(w->s, w->a->conn, w->a->channel, w->a->request_id);
}

int iox2_response_mut_send(iox2_response_mut *m)
{
	if (!m)
		return IOX2_E_INVALID_ARGUMENT;
	iox2_server *s = m->srv;
	iox2_node *node = s->svc->node;
	if (!m->data)
		return iox2i_err(node, IOX2_E_SAMPLE_NOT_OWNED, NULL);
	iox2_active_request *a = m->a;
	m->data = NULL; /* the loan ends here */
	if (s->closed) {
		iox2d_sender_unloan(&s->snd, m->chunk);
		return iox2i_err(node, IOX2_E_CLOSED, NULL);
	}
	if (!a->used || a->gen != m->gen)
		return iox2i_err(node, IOX2_E_SAMPLE_NOT_OWNED, NULL);
	iox2d_receiver_update(&s->rcv);
	if (!connected(s, a->conn, a->channel, a->request_id)) {
		/* A response to a client that gave the request up or went away is
		 * dropped without error, as in iceoryx2. */
		iox2d_sender_unloan(&s->snd, m->chunk);
		return IOX2_OK;
	}
	struct wanted_ctx w = {s, a};
	bool delivered;
	return iox2d_sender_send_to(&s->snd, m->chunk, m->len, a->request_id, a->channel, (int)a->conn->slot,
	                            a->conn->peer, still_wanted, &w, &delivered);
}

void iox2_response_mut_release(iox2_response_mut *m)
{
	if (!m || !m->data)
		return;
	if (!m->srv->closed)
		iox2d_sender_unloan(&m->srv->snd, m->chunk);
	m->data = NULL;
}
