/* event.c: notifiers and listeners (runtime/notifier.go, listener.go,
 * event_segment.go). A listener owns an event segment:
 *
 *   shm header | eventHeader (wake word, listener id, number of ids) |
 *   BitSet of pending ids (ring "ixB" v1) | one counter per id
 *
 * notify: counters[i] += 1; if the bit was clear and wake != 0: claim the
 * wake word and ring the listener's node. A listener waits on its node's
 * doorbell (iox2i_block). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- The BitSet of runtime/ring (bitset.go) ------------------------------------ */

#define BITSET_MAGIC ((uint32_t)0x69784201) /* "ixB" v1 */

typedef struct bitset {
	_Atomic uint64_t *words;
	uint32_t n;
} bitset;

static uint32_t bitset_words(uint32_t n) { return (n + 63) / 64; }

static void bitset_init(bitset *b, void *mem, uint32_t n) {
	_Atomic uint64_t *hdr = mem;
	b->words = (_Atomic uint64_t *)((char *)mem + 128);
	b->n = n;
	for (uint32_t i = 0; i < bitset_words(n); i++)
		atomic_store_explicit(&b->words[i], 0, memory_order_seq_cst); /* SYNC POINT B0 init */
	/* SYNC POINT H1 publish: paired with H2 in bitset_attach. */
	atomic_store_explicit(hdr, (uint64_t)BITSET_MAGIC << 32 | n, memory_order_seq_cst);
}

static bool bitset_attach(bitset *b, void *mem, uint32_t n) {
	/* SYNC POINT H2 attach: paired with H1. */
	uint64_t w = atomic_load_explicit((_Atomic uint64_t *)mem, memory_order_seq_cst);
	if ((uint32_t)(w >> 32) != BITSET_MAGIC || (uint32_t)w != n)
		return false;
	b->words = (_Atomic uint64_t *)((char *)mem + 128);
	b->n = n;
	return true;
}

/* bitset_set sets bit i and reports whether it was set already. */
static bool bitset_set(bitset *b, uint32_t i) {
	if (i >= b->n)
		return false;
	uint64_t m = (uint64_t)1 << (i % 64);
	/* SYNC POINT B1 set: paired with the Swap of drain (B2). */
	return (atomic_fetch_or_explicit(&b->words[i / 64], m, memory_order_seq_cst) & m) != 0;
}

static bool bitset_any(const bitset *b) {
	for (uint32_t w = 0; w < bitset_words(b->n); w++)
		if (atomic_load_explicit(&b->words[w], memory_order_seq_cst) != 0) /* SYNC POINT B3 snapshot */
			return true;
	return false;
}

/* --- Event segments ----------------------------------------------------------- */

typedef struct event_seg {
	iox2i_segment seg;
	iox2i_event_header *hdr;
	bitset bits;
	_Atomic uint64_t *counters;
	uint32_t num_ids;
} event_seg;

static void lay_event(event_seg *e, uint32_t num_ids) {
	size_t bits_off, counters_off;
	iox2i_event_layout(num_ids, &bits_off, &counters_off, NULL);
	char *b = e->seg.base;
	e->hdr = (iox2i_event_header *)(b + IOX2I_HEADER_SIZE);
	e->counters = (_Atomic uint64_t *)(b + counters_off);
	e->num_ids = num_ids;
}

/* open_event: openEventSegment + attachEventSegment: the segment of
 * listener id, validated (size, owner, capacity, bitset). */
static int open_event(iox2_node *n, uint64_t id, uint32_t num_ids, event_seg *e) {
	char name[256];
	iox2i_event_name(n, id, name, sizeof name);
	int rc = iox2i_seg_open_ready(n, name, IOX2I_KIND_EVENT, true, 0, &e->seg);
	if (rc != IOX2_OK)
		return rc;
	size_t bits_off, size;
	iox2i_event_layout(num_ids, &bits_off, NULL, &size);
	if (e->seg.size != size) {
		rc = iox2i_err(n, IOX2_E_CONNECTION_CORRUPTED, "event segment %s has %zu bytes, expected %zu", name, e->seg.size, size);
	} else {
		lay_event(e, num_ids);
		if (e->hdr->listener != id || e->hdr->num_ids != num_ids)
			rc = iox2i_err(n, IOX2_E_CONNECTION_CORRUPTED, "event segment %s belongs to listener %llx with %llu ids", name,
			               (unsigned long long)e->hdr->listener, (unsigned long long)e->hdr->num_ids);
		else if (!bitset_attach(&e->bits, (char *)e->seg.base + bits_off, num_ids))
			rc = iox2i_err(n, IOX2_E_CONNECTION_CORRUPTED, "event segment %s: its bitset is not initialized", name);
	}
	if (rc != IOX2_OK)
		iox2i_seg_close(&e->seg);
	return rc;
}

/* event_notify: eventSeg.notify: one notification of id (< num_ids). */
static void event_notify(iox2_node *self, event_seg *e, uint32_t id, _Atomic uint64_t *node_word) {
	/* SYNC POINT count: before the bit; paired with drain's Swap of the
	 * counter, which comes after its Swap of the bit. */
	atomic_fetch_add_explicit(&e->counters[id], 1, memory_order_seq_cst);
	if (bitset_set(&e->bits, id))
		return; /* pending already: its setter woke the listener */
	/* SYNC POINT W-check (Dekker with the sleeper's W-arm): the fence
	 * pairs with the one after the sleeper's store of its token. */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&e->hdr->wake, memory_order_seq_cst) != 0)
		iox2i_claim_and_ring(self, &e->hdr->wake, node_word);
}

/* --- Notifier ------------------------------------------------------------------- */

typedef struct notifier_conn {
	uint64_t listener; /* 0: none */
	event_seg seg;
} notifier_conn;

struct iox2_notifier {
	iox2i_port base;
	iox2_service *svc;
	uint64_t id;
	int slot;
	uint32_t default_id;
	uint32_t num_ids;
	notifier_conn *conns; /* by listener slot */
	uint32_t seen;
	bool fresh; /* seen not valid yet */
};

/* update: maps the event segments of new listeners and drops those of
 * vanished ones; the common case is one atomic load. */
static void notifier_update(iox2_notifier *nt) {
	iox2_service *s = nt->svc;
	uint32_t cur = iox2i_dyn_changes(s);
	if (!nt->fresh && cur == nt->seen)
		return;
	nt->fresh = false;
	nt->seen = cur;
	for (uint32_t i = 0; i < s->nsubs; i++) {
		iox2i_port_info pi;
		bool ok = iox2i_slot_snapshot(&s->subs[i], &pi);
		notifier_conn *c = &nt->conns[i];
		if (c->listener && (!ok || pi.id != c->listener)) {
			iox2i_seg_close(&c->seg.seg);
			c->listener = 0;
		}
		if (ok && !c->listener) {
			/* The listener published its segment before it activated its
			 * slot; a failure means it is going away again, or garbage. */
			char keep[IOX2I_ERRMSG_CAP];
			memcpy(keep, s->node->errmsg, sizeof keep);
			if (open_event(s->node, pi.id, nt->num_ids, &c->seg) == IOX2_OK)
				c->listener = pi.id;
			memcpy(s->node->errmsg, keep, sizeof keep);
		}
	}
}

static size_t notifier_deliver(iox2_notifier *nt, uint32_t id) {
	size_t k = 0;
	iox2_service *s = nt->svc;
	for (uint32_t i = 0; i < s->nsubs; i++) {
		notifier_conn *c = &nt->conns[i];
		if (c->listener) {
			event_notify(s->node, &c->seg, id, &s->subs[i].node);
			k++;
		}
	}
	return k;
}

static int notifier_close_port(iox2i_port *p) {
	iox2_notifier *nt = (iox2_notifier *)p;
	iox2_service *s = nt->svc;
	notifier_update(nt);
	if (s->sc.ev.dropped >= 0)
		notifier_deliver(nt, (uint32_t)s->sc.ev.dropped);
	iox2i_slot_release(&s->pubs[nt->slot], s->node->id);
	iox2i_dyn_bump(s);
	for (uint32_t i = 0; i < s->nsubs; i++)
		if (nt->conns[i].listener)
			iox2i_seg_close(&nt->conns[i].seg.seg);
	iox2i_port_remove(s, p);
	free(nt->conns);
	free(nt);
	return IOX2_OK;
}

int iox2_notifier_create(iox2_service *s, int64_t default_event_id, iox2_notifier **out) {
	if (out)
		*out = NULL;
	if (!s || !out)
		return s ? iox2i_err(s->node, IOX2_E_INVALID_ARGUMENT, "NULL out") : IOX2_E_INVALID_ARGUMENT;
	const char *op = "create notifier";
	iox2_node *n = s->node;
	int rc0 = iox2i_check_service(s, IOX2I_PATTERN_EVENT, op);
	if (rc0 != IOX2_OK)
		return rc0;
	int64_t max = s->sc.ev.event_id_max_value;
	if (default_event_id == IOX2_UNSET)
		default_event_id = 0;
	if (default_event_id < 0 || default_event_id > max)
		return iox2i_service_err(n, op, s->name, IOX2_E_EVENT_ID_OUT_OF_BOUNDS, "default event id %lld, the service's max is %lld",
		                         (long long)default_event_id, (long long)max);
	iox2_notifier *nt = calloc(1, sizeof *nt);
	notifier_conn *conns = calloc(s->nsubs ? s->nsubs : 1, sizeof *conns);
	if (!nt || !conns) {
		free(nt);
		free(conns);
		return iox2i_service_err(n, op, s->name, IOX2_E_NO_MEMORY, NULL);
	}
	nt->svc = s;
	nt->id = iox2i_new_id();
	nt->default_id = (uint32_t)default_event_id;
	nt->num_ids = (uint32_t)max + 1;
	nt->conns = conns;
	nt->fresh = true;
	nt->slot = iox2i_slot_claim(s->pubs, s->npubs, nt->id, n->id);
	if (nt->slot < 0) {
		free(conns);
		free(nt);
		return iox2i_service_err(n, op, s->name, IOX2_E_EXCEEDS_MAX_NOTIFIERS, "the service supports %lld",
		                         (long long)s->sc.ev.max_notifiers);
	}
	iox2i_slot_activate(&s->pubs[nt->slot]);
	iox2i_dyn_bump(s);
	notifier_update(nt);
	if (s->sc.ev.created >= 0)
		notifier_deliver(nt, (uint32_t)s->sc.ev.created);
	nt->base.close = notifier_close_port;
	iox2i_port_add(s, &nt->base);
	*out = nt;
	return IOX2_OK;
}

int iox2_notifier_close(iox2_notifier *nt) {
	if (!nt)
		return IOX2_OK;
	return notifier_close_port(&nt->base);
}

uint64_t iox2_notifier_id(const iox2_notifier *nt) { return nt ? nt->id : 0; }

int iox2_notifier_notify_id(iox2_notifier *nt, uint64_t event_id, size_t *notified) {
	if (notified)
		*notified = 0;
	if (!nt)
		return IOX2_E_INVALID_ARGUMENT;
	iox2_service *s = nt->svc;
	uint64_t max = (uint64_t)s->sc.ev.event_id_max_value;
	if (event_id > max)
		return iox2i_err(s->node, IOX2_E_EVENT_ID_OUT_OF_BOUNDS, "id %llu, the service's max is %llu",
		                 (unsigned long long)event_id, (unsigned long long)max);
	notifier_update(nt);
	size_t k = notifier_deliver(nt, (uint32_t)event_id);
	if (notified)
		*notified = k;
	int64_t dl = s->sc.ev.deadline_ns;
	if (dl > 0) {
		int64_t now = iox2i_now();
		/* SYNC POINT last-notification: shared by every notifier of the
		 * service; each swap sees the previous one's time. */
		int64_t prev = atomic_exchange_explicit(&s->hdr->last_notification, now, memory_order_seq_cst);
		if (prev != 0 && now - prev > dl) {
			char a[64], b[64];
			const char *since = iox2i_go_duration(now - prev, a, sizeof a);
			const char *d = iox2i_go_duration(dl, b, sizeof b);
			return iox2i_err(s->node, IOX2_E_MISSED_DEADLINE, "%s since the previous notification, deadline %s", since, d);
		}
	}
	return IOX2_OK;
}

int iox2_notifier_notify(iox2_notifier *nt, size_t *notified) {
	if (!nt) {
		if (notified)
			*notified = 0;
		return IOX2_E_INVALID_ARGUMENT;
	}
	return iox2_notifier_notify_id(nt, nt->default_id, notified);
}

/* --- Listener --------------------------------------------------------------------- */

struct iox2_listener {
	iox2i_port base;
	iox2_service *svc;
	uint64_t id;
	int slot;
	event_seg seg;
	iox2i_waitpoint *wp;
	/* ids drained and not returned yet (wait_one): capacity num_ids */
	uint32_t *one;
	uint32_t one_head, one_len;
};

static int listener_close_port(iox2i_port *p) {
	iox2_listener *l = (iox2_listener *)p;
	iox2_service *s = l->svc;
	iox2_node *n = s->node;
	char name[256];
	/* The file goes first, while the journal entry (and the slot) still
	 * name it, so that dying in between leaks nothing. */
	iox2i_seg_remove(n, iox2i_event_name(n, l->id, name, sizeof name));
	iox2i_forget_port(n, l->id, IOX2I_JOURNAL_EVENT);
	iox2i_slot_release(&s->subs[l->slot], n->id);
	iox2i_dyn_bump(s);
	iox2i_wp_close(l->wp); /* forgets the wake word before the unmap */
	iox2i_seg_close(&l->seg.seg);
	iox2i_port_remove(s, p);
	free(l->one);
	free(l);
	return IOX2_OK;
}

int iox2_listener_create(iox2_service *s, iox2_listener **out) {
	if (out)
		*out = NULL;
	if (!s || !out)
		return s ? iox2i_err(s->node, IOX2_E_INVALID_ARGUMENT, "NULL out") : IOX2_E_INVALID_ARGUMENT;
	const char *op = "create listener";
	iox2_node *n = s->node;
	int rc0 = iox2i_check_service(s, IOX2I_PATTERN_EVENT, op);
	if (rc0 != IOX2_OK)
		return rc0;
	uint32_t num_ids = (uint32_t)s->sc.ev.event_id_max_value + 1;
	iox2_listener *l = calloc(1, sizeof *l);
	uint32_t *one = calloc(num_ids, sizeof *one);
	if (!l || !one) {
		free(l);
		free(one);
		return iox2i_service_err(n, op, s->name, IOX2_E_NO_MEMORY, NULL);
	}
	l->svc = s;
	l->one = one;
	l->id = iox2i_new_id();
	l->slot = iox2i_slot_claim(s->subs, s->nsubs, l->id, n->id);
	if (l->slot < 0) {
		free(one);
		free(l);
		return iox2i_service_err(n, op, s->name, IOX2_E_EXCEEDS_MAX_LISTENERS, "the service supports %lld",
		                         (long long)s->sc.ev.max_listeners);
	}
	/* The journal entry comes first: if we die from here on, the cleanup
	 * of our node finds the segment, whatever happens to the slot. */
	int rc = iox2i_journal_port(n, l->id, IOX2I_JOURNAL_EVENT);
	if (rc != IOX2_OK) {
		char d[IOX2I_ERRMSG_CAP];
		snprintf(d, sizeof d, "%s", n->errmsg);
		iox2i_slot_release(&s->subs[l->slot], n->id);
		free(one);
		free(l);
		return iox2i_service_err(n, op, s->name, rc, "%s", d);
	}
	char name[256];
	size_t bits_off, size;
	iox2i_event_layout(num_ids, &bits_off, NULL, &size);
	rc = iox2i_seg_create(n, iox2i_event_name(n, l->id, name, sizeof name), size, &l->seg.seg);
	if (rc != IOX2_OK) {
		char d[IOX2I_ERRMSG_CAP];
		snprintf(d, sizeof d, "%s", n->errmsg);
		iox2i_forget_port(n, l->id, IOX2I_JOURNAL_EVENT);
		iox2i_slot_release(&s->subs[l->slot], n->id);
		free(one);
		free(l);
		return iox2i_service_err(n, op, s->name, rc == IOX2_E_SERVICE_EXISTS ? IOX2_E_SERVICE_CORRUPTED : rc, "%s", d);
	}
	lay_event(&l->seg, num_ids);
	bitset_init(&l->seg.bits, (char *)l->seg.seg.base + bits_off, num_ids);
	l->seg.hdr->listener = l->id;
	l->seg.hdr->num_ids = num_ids;
	/* SYNC POINT publish: paired with the notifiers' open. */
	iox2i_seg_publish(&l->seg.seg, IOX2I_KIND_EVENT);
	l->wp = iox2i_wp_new(n, &l->seg.hdr->wake);
	if (!l->wp) {
		iox2i_seg_close(&l->seg.seg);
		iox2i_seg_remove(n, name);
		iox2i_forget_port(n, l->id, IOX2I_JOURNAL_EVENT);
		iox2i_slot_release(&s->subs[l->slot], n->id);
		free(one);
		free(l);
		return iox2i_service_err(n, op, s->name, IOX2_E_NO_MEMORY, NULL);
	}
	iox2i_slot_activate(&s->subs[l->slot]);
	iox2i_dyn_bump(s);
	l->base.close = listener_close_port;
	iox2i_port_add(s, &l->base);
	*out = l;
	return IOX2_OK;
}

int iox2_listener_close(iox2_listener *l) {
	if (!l)
		return IOX2_OK;
	return listener_close_port(&l->base);
}

uint64_t iox2_listener_id(const iox2_listener *l) { return l ? l->id : 0; }

/* drain: takes every pending id into l->one (which must be empty), in
 * increasing order; counts taken with an earlier bit are skipped. */
static void drain(iox2_listener *l) {
	event_seg *e = &l->seg;
	l->one_head = l->one_len = 0;
	for (uint32_t w = 0; w < bitset_words(e->num_ids); w++) {
		/* SYNC POINT B3 snapshot: skip empty words without writing them. */
		if (atomic_load_explicit(&e->bits.words[w], memory_order_seq_cst) == 0)
			continue;
		uint64_t v = atomic_exchange_explicit(&e->bits.words[w], 0, memory_order_seq_cst); /* SYNC POINT B2 take */
		while (v) {
			uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(v);
			v &= v - 1;
			if (i >= e->num_ids)
				continue; /* only a corrupting peer sets these */
			/* SYNC POINT count: paired with notify's add. */
			if (atomic_exchange_explicit(&e->counters[i], 0, memory_order_seq_cst) == 0)
				continue; /* taken with an earlier bit */
			l->one[l->one_len++] = i;
		}
	}
}

static bool take_one(iox2_listener *l, uint64_t *id) {
	if (l->one_head >= l->one_len) {
		if (!bitset_any(&l->seg.bits))
			return false;
		drain(l);
		if (l->one_len == 0)
			return false;
	}
	*id = l->one[l->one_head++];
	return true;
}

typedef struct one_ctx {
	iox2_listener *l;
	uint64_t *id;
} one_ctx;

static int try_one(void *ctx) {
	one_ctx *c = ctx;
	return take_one(c->l, c->id) ? 1 : 0;
}

int iox2_listener_wait_one(iox2_listener *l, int64_t timeout_ns, uint64_t *event_id) {
	if (!l || !event_id)
		return l ? iox2i_err(l->svc->node, IOX2_E_INVALID_ARGUMENT, "NULL event_id") : IOX2_E_INVALID_ARGUMENT;
	one_ctx c = {l, event_id};
	return iox2i_block(l->svc->node, &l->wp, 1, timeout_ns, try_one, &c);
}

static int try_any(void *ctx) {
	iox2_listener *l = ctx;
	if (l->one_head < l->one_len)
		return 1;
	if (!bitset_any(&l->seg.bits))
		return 0;
	drain(l);
	return l->one_len > 0 ? 1 : 0;
}

int iox2_listener_wait_all(iox2_listener *l, int64_t timeout_ns, void (*fn)(void *ctx, uint64_t event_id), void *ctx,
                           size_t *count) {
	if (count)
		*count = 0;
	if (!l || !fn)
		return l ? iox2i_err(l->svc->node, IOX2_E_INVALID_ARGUMENT, "NULL fn") : IOX2_E_INVALID_ARGUMENT;
	int rc = iox2i_block(l->svc->node, &l->wp, 1, timeout_ns, try_any, l);
	if (rc != IOX2_OK)
		return rc;
	size_t k = 0;
	/* What an earlier wait_one drained first, then the segment's. */
	while (l->one_head < l->one_len) {
		fn(ctx, l->one[l->one_head++]);
		k++;
	}
	drain(l);
	while (l->one_head < l->one_len) {
		fn(ctx, l->one[l->one_head++]);
		k++;
	}
	if (count)
		*count = k;
	return IOX2_OK;
}
