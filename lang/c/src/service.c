/* service.c: create / open / open-or-create of the three patterns
 * (runtime/service.go and the builders of pubsub.go, event.go, reqres.go),
 * with every check of the Go runtime and its messages; the dynamic config
 * segment (dynamic.go): join, leave, destroyer, port slots, bump. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* --- Port slots (dynamic.go) ---------------------------------------------------- */

int iox2i_slot_claim(iox2i_port_slot *slots, uint32_t n, uint64_t id, uint64_t node) {
	for (uint32_t i = 0; i < n; i++) {
		iox2i_port_slot *s = &slots[i];
		uint64_t zero = 0;
		/* SYNC POINT slot-claim: paired with release's store of node. */
		if (atomic_compare_exchange_strong_explicit(&s->node, &zero, node, memory_order_seq_cst, memory_order_seq_cst)) {
			atomic_store_explicit(&s->a, 0, memory_order_seq_cst);
			atomic_store_explicit(&s->b, 0, memory_order_seq_cst);
			atomic_store_explicit(&s->c, 0, memory_order_seq_cst);
			/* SYNC POINT W-claimed-slot: no token of the slot's previous
			 * port survives; before the slot turns active. */
			atomic_store_explicit(&s->wake, 0, memory_order_seq_cst);
			atomic_store_explicit(&s->id, id, memory_order_seq_cst);
			return (int)i;
		}
	}
	return -1;
}

void iox2i_slot_activate(iox2i_port_slot *s) {
	/* SYNC POINT slot-active: publishes id, node, a, b, c; paired with
	 * snapshot's loads. */
	atomic_store_explicit(&s->state, IOX2I_SLOT_ACTIVE, memory_order_seq_cst);
}

void iox2i_slot_release(iox2i_port_slot *s, uint64_t node) {
	if (atomic_load_explicit(&s->node, memory_order_seq_cst) != node)
		return;
	atomic_store_explicit(&s->state, IOX2I_SLOT_FREE, memory_order_seq_cst);
	atomic_store_explicit(&s->id, 0, memory_order_seq_cst);
	/* SYNC POINT slot-release: the slot is claimable from here; paired
	 * with claim's CAS. */
	atomic_compare_exchange_strong_explicit(&s->node, &node, 0, memory_order_seq_cst, memory_order_seq_cst);
}

bool iox2i_slot_snapshot_receivable(iox2i_port_slot *s, iox2i_port_info *pi, bool *draining) {
	*draining = false;
	uint64_t st = atomic_load_explicit(&s->state, memory_order_seq_cst);
	uint64_t id = atomic_load_explicit(&s->id, memory_order_seq_cst);
	if ((st != IOX2I_SLOT_ACTIVE && st != IOX2I_SLOT_DRAINING) || id == 0)
		return false;
	pi->id = id;
	pi->node = atomic_load_explicit(&s->node, memory_order_seq_cst);
	pi->a = atomic_load_explicit(&s->a, memory_order_seq_cst);
	pi->b = atomic_load_explicit(&s->b, memory_order_seq_cst);
	pi->c = atomic_load_explicit(&s->c, memory_order_seq_cst);
	uint64_t st2 = atomic_load_explicit(&s->state, memory_order_seq_cst);
	if ((st2 != IOX2I_SLOT_ACTIVE && st2 != IOX2I_SLOT_DRAINING) || st2 < st ||
	    atomic_load_explicit(&s->id, memory_order_seq_cst) != id)
		return false;
	*draining = st2 == IOX2I_SLOT_DRAINING;
	return true;
}

bool iox2i_slot_snapshot(iox2i_port_slot *s, iox2i_port_info *pi) {
	bool draining;
	return iox2i_slot_snapshot_receivable(s, pi, &draining) && !draining;
}

void iox2i_dyn_bump(iox2_service *s) {
	/* SYNC POINT changes: publishes every slot and connection write before
	 * it; paired with the ports' load of changes. Dekker with node-arm. */
	atomic_fetch_add_explicit(&s->hdr->changes, 1, memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst); /* pairs with the fence of W-arm (node-arm) */
	for (uint32_t i = 0; i < s->nnodes; i++) {
		iox2i_node_slot *ns = &s->nodes[i];
		/* SYNC POINT node-claim: paired with node-arm. */
		if (atomic_load_explicit(&ns->wake, memory_order_seq_cst) == 0)
			continue;
		uint64_t t = atomic_exchange_explicit(&ns->wake, 0, memory_order_seq_cst);
		if (t == 0)
			continue;
		if (!iox2i_ring(s->node, atomic_load_explicit(&ns->id, memory_order_seq_cst), t)) {
			/* SYNC POINT node-restore: doorbell full: the next bump rings. */
			uint64_t zero = 0;
			atomic_compare_exchange_strong_explicit(&ns->wake, &zero, t, memory_order_seq_cst, memory_order_seq_cst);
		}
	}
}

void iox2i_service_arm(iox2_service *s) { iox2i_wp_arm(s->wp); }

void iox2i_port_add(iox2_service *s, iox2i_port *p) {
	p->prev = NULL;
	p->next = s->ports;
	if (s->ports)
		s->ports->prev = p;
	s->ports = p;
}

void iox2i_port_remove(iox2_service *s, iox2i_port *p) {
	if (p->prev)
		p->prev->next = p->next;
	else if (s->ports == p)
		s->ports = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
}

/* --- The dynamic config --------------------------------------------------------- */

static size_t dynamic_size(uint32_t nodes, uint32_t pubs, uint32_t subs) {
	return IOX2I_HEADER_SIZE + sizeof(iox2i_dyn_header) + (((size_t)nodes * 16 + 63) & ~(size_t)63) +
	       ((size_t)pubs + subs) * sizeof(iox2i_port_slot);
}

static void lay_dynamic(iox2_service *s, uint32_t nodes, uint32_t pubs, uint32_t subs) {
	char *b = s->dyn.base;
	s->hdr = (iox2i_dyn_header *)(b + IOX2I_HEADER_SIZE);
	size_t off = IOX2I_HEADER_SIZE + sizeof(iox2i_dyn_header);
	s->nodes = (iox2i_node_slot *)(b + off);
	off += ((size_t)nodes * 16 + 63) & ~(size_t)63;
	s->pubs = (iox2i_port_slot *)(b + off);
	off += (size_t)pubs * sizeof(iox2i_port_slot);
	s->subs = (iox2i_port_slot *)(b + off);
	s->nnodes = nodes;
	s->npubs = pubs;
	s->nsubs = subs;
}

/* caps_of: the capacities of the dynamic config from the static config
 * (nodes, pubs: publishers/notifiers/clients, subs). */
static void caps_of(const iox2i_static *sc, int64_t *nodes, int64_t *pubs, int64_t *subs) {
	switch (sc->pattern_id) {
	case IOX2I_PATTERN_PUBSUB:
		*nodes = sc->ps.max_nodes, *pubs = sc->ps.max_publishers, *subs = sc->ps.max_subscribers;
		break;
	case IOX2I_PATTERN_EVENT:
		*nodes = sc->ev.max_nodes, *pubs = sc->ev.max_notifiers, *subs = sc->ev.max_listeners;
		break;
	default:
		*nodes = sc->rr.max_nodes, *pubs = sc->rr.max_clients, *subs = sc->rr.max_servers;
		break;
	}
}

static bool caps_valid(int64_t nodes, int64_t pubs, int64_t subs) {
	const int64_t max = 1 << 16;
	return nodes >= 1 && pubs >= 0 && subs >= 0 && nodes <= max && pubs <= max && subs <= max;
}

/* leave: dynamic.go's leave (slot -1: every registration of id). */
static bool dyn_leave(iox2_service *s, uint64_t id, int slot) {
	for (uint32_t i = 0; i < s->nnodes; i++) {
		iox2i_node_slot *ns = &s->nodes[i];
		if ((slot != -1 && (int)i != slot) || atomic_load_explicit(&ns->id, memory_order_seq_cst) != id)
			continue;
		/* SYNC POINT node-leave: before the slot turns free; paired with
		 * bump's node-claim. */
		atomic_store_explicit(&ns->wake, 0, memory_order_seq_cst);
		uint64_t v = id;
		atomic_compare_exchange_strong_explicit(&ns->id, &v, 0, memory_order_seq_cst, memory_order_seq_cst);
	}
	for (uint32_t i = 0; i < s->nnodes; i++)
		if (atomic_load_explicit(&s->nodes[i].id, memory_order_seq_cst) != 0)
			return false;
	uint64_t zero = 0;
	/* SYNC POINT leave-mark: paired with join-check. */
	if (!atomic_compare_exchange_strong_explicit(&s->hdr->destroyer, &zero, id, memory_order_seq_cst, memory_order_seq_cst))
		return zero == id; /* someone else removes it, or a crashed remover was us */
	for (uint32_t i = 0; i < s->nnodes; i++)
		if (atomic_load_explicit(&s->nodes[i].id, memory_order_seq_cst) != 0) {
			/* A node joined between our scan and our mark: let it live. */
			uint64_t v = id;
			atomic_compare_exchange_strong_explicit(&s->hdr->destroyer, &v, 0, memory_order_seq_cst, memory_order_seq_cst);
			return false;
		}
	return true;
}

/* dyn_join: 0 joined (slot in *slot), 1 full, 2 destroying (*destroyer;
 * *mine when we must remove the service ourselves). */
static int dyn_join(iox2_service *s, uint64_t id, int *slot, bool *mine) {
	*slot = -1;
	for (uint32_t i = 0; i < s->nnodes; i++) {
		uint64_t zero = 0;
		/* SYNC POINT join-claim: paired with leave's scan of node slots. */
		if (atomic_compare_exchange_strong_explicit(&s->nodes[i].id, &zero, id, memory_order_seq_cst, memory_order_seq_cst)) {
			*slot = (int)i;
			break;
		}
	}
	if (*slot < 0)
		return 1;
	/* SYNC POINT join-check (Dekker with leave). */
	if (atomic_load_explicit(&s->hdr->destroyer, memory_order_seq_cst) != 0) {
		*mine = dyn_leave(s, id, *slot);
		*slot = -1;
		return 2;
	}
	return 0;
}

/* destroy_service: static config first (nobody opens it any more), then
 * the dynamic segment. */
static void destroy_service(iox2_node *n, const char *hash, const char *uid) {
	char path[4096], name[256];
	iox2i_static_path(n, hash, path, sizeof path);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		char *buf = malloc(IOX2I_JSON_MAX_BYTES + 1);
		ssize_t len = buf ? read(fd, buf, IOX2I_JSON_MAX_BYTES + 1) : -1;
		close(fd);
		if (len >= 0) {
			iox2i_static sc;
			char why[512];
			int rc = iox2i_static_decode(buf, (size_t)len, path, hash, &sc, why, sizeof why);
			/* Ours, or corrupted (nobody can open it): it goes. */
			if ((rc == IOX2_OK && strcmp(sc.uid, uid) == 0) || rc == IOX2_E_SERVICE_CORRUPTED)
				unlink(path);
			iox2i_static_free(&sc);
		}
		free(buf);
	}
	iox2i_seg_remove(n, iox2i_dynamic_name(n, hash, uid, name, sizeof name));
}

/* --- Reading the static config ---------------------------------------------------- */

/* read_static: IOX2_OK, IOX2_E_SERVICE_NOT_EXIST (no file: silent),
 * IOX2_E_PERMISSION, IOX2_E_SERVICE_CORRUPTED, IOX2_E_OS; why holds the
 * detail. */
static int read_static(const char *path, const char *hash, iox2i_static *sc, char *why, size_t cap) {
	memset(sc, 0, sizeof *sc);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return IOX2_E_SERVICE_NOT_EXIST;
		snprintf(why, cap, "open %s: %s", path, strerror(e));
		return e == EACCES || e == EPERM ? IOX2_E_PERMISSION : IOX2_E_OS;
	}
	char *buf = malloc(IOX2I_JSON_MAX_BYTES + 1);
	if (!buf) {
		close(fd);
		snprintf(why, cap, "out of memory");
		return IOX2_E_NO_MEMORY;
	}
	size_t len = 0;
	while (len <= IOX2I_JSON_MAX_BYTES) {
		ssize_t r = read(fd, buf + len, IOX2I_JSON_MAX_BYTES + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			free(buf);
			snprintf(why, cap, "read %s: %s", path, strerror(e));
			return IOX2_E_OS;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	int rc;
	if (len > IOX2I_JSON_MAX_BYTES) {
		snprintf(why, cap, "static config %s: more than %u bytes", path, IOX2I_JSON_MAX_BYTES);
		rc = IOX2_E_SERVICE_CORRUPTED;
	} else {
		rc = iox2i_static_decode(buf, len, path, hash, sc, why, cap);
	}
	free(buf);
	if (rc != IOX2_OK)
		iox2i_static_free(sc);
	return rc;
}

/* --- What a request for a service asks ---------------------------------------------- */

typedef struct spec {
	int pattern;
	const char *name;
	const iox2_attribute *attrs, *reqs;
	size_t nattrs, nreqs;
	iox2i_static want; /* what a service this spec creates stores (pattern part) */
	/* pattern specific, what an opener requires (IOX2_UNSET: nothing) */
	const iox2_pubsub_spec *ps;
	const iox2_event_spec *ev;
	const iox2_reqres_spec *rr;
} spec;

static const char *str_or_empty(const char *s) { return s ? s : ""; }

static void describe(const iox2i_typeinfo *t, char *buf, size_t cap) {
	char h[13];
	snprintf(h, sizeof h, "%s", str_or_empty(t->layout_hash));
	snprintf(buf, cap, "%s (size %llu, align %llu, layout %s)", str_or_empty(t->name), (unsigned long long)t->size,
	         (unsigned long long)t->align, h);
}

/* type_mismatch: typeMismatch of pubsub.go: "" when compatible. */
static bool type_mismatch(const iox2i_typeinfo *want, const iox2i_typeinfo *have, char *buf, size_t cap) {
	if (strcmp(str_or_empty(want->name), str_or_empty(have->name)) == 0 && want->size == have->size &&
	    strcmp(str_or_empty(want->layout_hash), str_or_empty(have->layout_hash)) == 0 && want->align <= have->align)
		return false;
	char a[600], b[600];
	describe(want, a, sizeof a);
	describe(have, b, sizeof b);
	snprintf(buf, cap, "requested %s, service has %s", a, b);
	return true;
}

/* check_raw_type: raw.go's checkRawType; NULL when usable. */
static const char *check_raw_type(const iox2i_typeinfo *t, char *buf, size_t cap) {
	char q[600];
	iox2i_go_quote(q, sizeof q, str_or_empty(t->name));
	const uint64_t max = ((uint64_t)1 << 31) - 1;
	if (t->size == 0 || t->size > max)
		snprintf(buf, cap, "type %s has size %llu, must be in [1, %llu]", q, (unsigned long long)t->size,
		         (unsigned long long)max);
	else if (t->align == 0 || (t->align & (t->align - 1)) != 0 || t->align > 4096)
		snprintf(buf, cap, "type %s has alignment %llu, must be a power of two up to 4096", q, (unsigned long long)t->align);
	else if (t->size % t->align != 0)
		snprintf(buf, cap, "type %s has size %llu, not a multiple of its alignment %llu", q, (unsigned long long)t->size,
		         (unsigned long long)t->align);
	else
		return NULL;
	return buf;
}

static void fmt_attrs(const iox2i_static *sc, char *buf, size_t cap) {
	if (sc->nattrs == 0) {
		snprintf(buf, cap, "no attributes");
		return;
	}
	size_t n = (size_t)snprintf(buf, cap, "{");
	for (size_t i = 0; i < sc->nattrs && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%s=%s", i ? ", " : "", sc->attrs[i].key, sc->attrs[i].value);
	if (n < cap)
		snprintf(buf + n, cap - n, "}");
}

/* verify_common: verifyCommon of service.go. */
static int verify_common(const iox2i_static *sc, const spec *sp, char *d, size_t cap) {
	if (strcmp(sc->version, IOX2I_STATIC_VERSION) != 0) {
		iox2i_version_mismatch(d, cap, sc->version);
		return IOX2_E_VERSION_MISMATCH;
	}
	if (strcmp(sc->pattern, iox2i_pattern_name(sp->pattern)) != 0 || strcmp(sc->name, sp->name) != 0) {
		char a[600], b[600];
		iox2i_go_quote(a, sizeof a, sp->name);
		iox2i_go_quote(b, sizeof b, sc->name);
		snprintf(d, cap, "requested %s %s, found %s %s", iox2i_pattern_name(sp->pattern), a, sc->pattern, b);
		return IOX2_E_INCOMPATIBLE_PATTERN;
	}
	for (size_t i = 0; i < sp->nreqs; i++) {
		const char *k = str_or_empty(sp->reqs[i].key), *v = str_or_empty(sp->reqs[i].value);
		bool found = false;
		for (size_t j = 0; j < sc->nattrs && !found; j++)
			found = strcmp(sc->attrs[j].key, k) == 0 && (v[0] == 0 || strcmp(sc->attrs[j].value, v) == 0);
		if (!found) {
			char have[2400], q[200];
			fmt_attrs(sc, have, sizeof have);
			if (v[0] == 0) {
				iox2i_go_quote(q, sizeof q, k);
				snprintf(d, cap, "required key %s, service has %s", q, have);
			} else {
				snprintf(d, cap, "required %s=%s, service has %s", k, v, have);
			}
			return IOX2_E_INCOMPATIBLE_ATTRIBUTES;
		}
	}
	return IOX2_OK;
}

#define MIN_CHECK(setv, label, got)                                                                                   \
	do {                                                                                                              \
		if ((setv) != IOX2_UNSET && (got) < (setv)) {                                                                 \
			snprintf(d, cap, "requested %s of at least %lld, service has %lld", label, (long long)(setv), (long long)(got)); \
			return IOX2_E_INCOMPATIBLE_QOS;                                                                           \
		}                                                                                                             \
	} while (0)

static const char *tf(bool b) { return b ? "true" : "false"; }

static int verify_pubsub(const iox2i_static *sc, const spec *sp, char *d, size_t cap) {
	const iox2i_pubsub_static *ps = &sc->ps;
	const iox2_pubsub_spec *w = sp->ps;
	const iox2i_pubsub_static *want = &sp->want.ps;
	if (type_mismatch(&want->payload, &ps->payload, d, cap))
		return IOX2_E_INCOMPATIBLE_TYPES;
	if (want->slice != ps->slice) {
		snprintf(d, cap, "requested a %s payload of %s, service has a %s payload", want->slice ? "dynamic" : "fixed",
		         want->payload.name, ps->slice ? "dynamic" : "fixed");
		return IOX2_E_INCOMPATIBLE_TYPES;
	}
	char t[600];
	if (!want->has_user_header && ps->has_user_header) {
		describe(&ps->user_header, t, sizeof t);
		snprintf(d, cap, "requested no user header, service has %s", t);
		return IOX2_E_INCOMPATIBLE_TYPES;
	}
	if (want->has_user_header && !ps->has_user_header) {
		describe(&want->user_header, t, sizeof t);
		snprintf(d, cap, "requested user header %s, service has none", t);
		return IOX2_E_INCOMPATIBLE_TYPES;
	}
	if (want->has_user_header) {
		char m[1400];
		if (type_mismatch(&want->user_header, &ps->user_header, m, sizeof m)) {
			snprintf(d, cap, "user header: %s", m);
			return IOX2_E_INCOMPATIBLE_TYPES;
		}
	}
	MIN_CHECK(w->max_publishers, "max publishers", ps->max_publishers);
	MIN_CHECK(w->max_subscribers, "max subscribers", ps->max_subscribers);
	MIN_CHECK(w->max_nodes, "max nodes", ps->max_nodes);
	MIN_CHECK(w->history_size, "history size", ps->history_size);
	MIN_CHECK(w->subscriber_max_buffer_size, "subscriber max buffer size", ps->subscriber_max_buffer_size);
	MIN_CHECK(w->subscriber_max_borrowed_samples, "subscriber max borrowed samples", ps->subscriber_max_borrowed_samples);
	if (w->enable_safe_overflow != IOX2_UNSET && (w->enable_safe_overflow != 0) != ps->enable_safe_overflow) {
		snprintf(d, cap, "requested safe overflow %s, service has %s", tf(w->enable_safe_overflow != 0),
		         tf(ps->enable_safe_overflow));
		return IOX2_E_INCOMPATIBLE_QOS;
	}
	/* The types of a file another process wrote: usable ones only. */
	char r[700];
	if (check_raw_type(&ps->payload, r, sizeof r)) {
		snprintf(d, cap, "payload %s", r);
		return IOX2_E_SERVICE_CORRUPTED;
	}
	if (ps->has_user_header && check_raw_type(&ps->user_header, r, sizeof r)) {
		snprintf(d, cap, "user header %s", r);
		return IOX2_E_SERVICE_CORRUPTED;
	}
	return IOX2_OK;
}

static void fmt_opt_id(int64_t v, char *buf, size_t cap) {
	if (v < 0)
		snprintf(buf, cap, "none");
	else
		snprintf(buf, cap, "%lld", (long long)v);
}

static void fmt_deadline(int64_t ns, char *buf, size_t cap) {
	if (ns == 0) {
		snprintf(buf, cap, "none");
		return;
	}
	const char *d = iox2i_go_duration(ns, buf, cap);
	if (d != buf)
		snprintf(buf, cap, "%s", d);
}

static int verify_event(const iox2i_static *sc, const spec *sp, char *d, size_t cap) {
	const iox2i_event_static *es = &sc->ev;
	const iox2_event_spec *w = sp->ev;
	MIN_CHECK(w->max_notifiers, "max notifiers", es->max_notifiers);
	MIN_CHECK(w->max_listeners, "max listeners", es->max_listeners);
	MIN_CHECK(w->max_nodes, "max nodes", es->max_nodes);
	MIN_CHECK(w->event_id_max_value, "event id max value", es->event_id_max_value);
	if (w->deadline_ns != IOX2_UNSET && w->deadline_ns != es->deadline_ns) {
		char a[64], b[64];
		fmt_deadline(w->deadline_ns, a, sizeof a);
		fmt_deadline(es->deadline_ns, b, sizeof b);
		snprintf(d, cap, "requested deadline %s, service has %s", a, b);
		return IOX2_E_INCOMPATIBLE_QOS;
	}
	struct {
		int64_t want, got;
		const char *name;
	} e[3] = {{w->notifier_created_event, es->created, "notifier created event"},
	          {w->notifier_dropped_event, es->dropped, "notifier dropped event"},
	          {w->notifier_dead_event, es->dead, "notifier dead event"}};
	for (int i = 0; i < 3; i++)
		if (e[i].want != IOX2_UNSET && e[i].want != e[i].got) {
			char a[32], b[32];
			fmt_opt_id(e[i].want, a, sizeof a);
			fmt_opt_id(e[i].got, b, sizeof b);
			snprintf(d, cap, "requested %s %s, service has %s", e[i].name, a, b);
			return IOX2_E_INCOMPATIBLE_QOS;
		}
	return IOX2_OK;
}

static int verify_reqres(const iox2i_static *sc, const spec *sp, char *d, size_t cap) {
	const iox2i_reqres_static *rs = &sc->rr;
	const iox2_reqres_spec *w = sp->rr;
	const iox2i_reqres_static *want = &sp->want.rr;
	char m[1400];
	if (type_mismatch(&want->request, &rs->request, m, sizeof m)) {
		snprintf(d, cap, "request: %s", m);
		return IOX2_E_INCOMPATIBLE_TYPES;
	}
	if (type_mismatch(&want->response, &rs->response, m, sizeof m)) {
		snprintf(d, cap, "response: %s", m);
		return IOX2_E_INCOMPATIBLE_TYPES;
	}
	if (want->request_slice != rs->request_slice) {
		snprintf(d, cap, "requested a %s request of %s, service has a %s request", want->request_slice ? "dynamic" : "fixed",
		         want->request.name, rs->request_slice ? "dynamic" : "fixed");
		return IOX2_E_INCOMPATIBLE_TYPES;
	}
	if (want->response_slice != rs->response_slice) {
		snprintf(d, cap, "requested a %s response of %s, service has a %s response", want->response_slice ? "dynamic" : "fixed",
		         want->response.name, rs->response_slice ? "dynamic" : "fixed");
		return IOX2_E_INCOMPATIBLE_TYPES;
	}
	MIN_CHECK(w->max_active_requests_per_client, "max active requests per client", rs->max_active_requests_per_client);
	MIN_CHECK(w->max_loaned_requests, "max loaned requests", rs->max_loaned_requests);
	MIN_CHECK(w->max_response_buffer_size, "max response buffer size", rs->max_response_buffer_size);
	MIN_CHECK(w->max_borrowed_responses_per_pending_response, "max borrowed responses per pending response",
	          rs->max_borrowed_responses_per_pending_response);
	MIN_CHECK(w->max_servers, "max servers", rs->max_servers);
	MIN_CHECK(w->max_clients, "max clients", rs->max_clients);
	MIN_CHECK(w->max_nodes, "max nodes", rs->max_nodes);
	struct {
		int64_t want;
		bool got;
		const char *name;
	} f[3] = {{w->enable_safe_overflow_for_requests, rs->safe_overflow_requests, "safe overflow for requests"},
	          {w->enable_safe_overflow_for_responses, rs->safe_overflow_responses, "safe overflow for responses"},
	          {w->enable_fire_and_forget_requests, rs->fire_and_forget, "fire-and-forget requests"}};
	for (int i = 0; i < 3; i++)
		if (f[i].want != IOX2_UNSET && (f[i].want != 0) != f[i].got) {
			snprintf(d, cap, "requested %s %s, service has %s", f[i].name, tf(f[i].want != 0), tf(f[i].got));
			return IOX2_E_INCOMPATIBLE_QOS;
		}
	char r[700];
	if (check_raw_type(&rs->request, r, sizeof r)) {
		snprintf(d, cap, "request %s", r);
		return IOX2_E_SERVICE_CORRUPTED;
	}
	if (check_raw_type(&rs->response, r, sizeof r)) {
		snprintf(d, cap, "response %s", r);
		return IOX2_E_SERVICE_CORRUPTED;
	}
	return IOX2_OK;
}

/* limits: spec.limits of the pattern: the QoS of a static config (this
 * one's or another process's) in range (IOX2_E_SERVICE_CORRUPTED) and
 * within this process's limits (IOX2_E_RESOURCE_LIMIT). */
static int check_limits(const iox2i_static *sc, const iox2_node *n, char *d, size_t cap) {
	switch (sc->pattern_id) {
	case IOX2I_PATTERN_PUBSUB:
		if (iox2i_pubsub_validate(&sc->ps, 2, d, cap))
			return IOX2_E_SERVICE_CORRUPTED;
		if (iox2i_check_pubsub(&sc->ps, 2, n->cfg.port_memory_limit, d, cap))
			return IOX2_E_RESOURCE_LIMIT;
		return IOX2_OK;
	case IOX2I_PATTERN_EVENT:
		if (iox2i_event_validate(&sc->ev, d, cap))
			return IOX2_E_SERVICE_CORRUPTED;
		if (iox2i_check_event(&sc->ev, n->cfg.port_memory_limit, d, cap))
			return IOX2_E_RESOURCE_LIMIT;
		return IOX2_OK;
	default:
		if (iox2i_reqres_validate(&sc->rr, 2, d, cap))
			return IOX2_E_SERVICE_CORRUPTED;
		if (iox2i_check_reqres(&sc->rr, 2, n->cfg.port_memory_limit, d, cap))
			return IOX2_E_RESOURCE_LIMIT;
		return IOX2_OK;
	}
}

/* --- Opening ------------------------------------------------------------------------- */

static char *xstrdup(const char *s) {
	size_t l = strlen(s) + 1;
	char *d = malloc(l);
	if (d)
		memcpy(d, s, l);
	return d;
}

static bool copy_type(iox2i_typeinfo *dst, const iox2i_typeinfo *src) {
	dst->size = src->size;
	dst->align = src->align;
	dst->name = xstrdup(str_or_empty(src->name));
	dst->layout_hash = xstrdup(str_or_empty(src->layout_hash));
	dst->layout = xstrdup(str_or_empty(src->layout));
	return dst->name && dst->layout_hash && dst->layout;
}

static void sleep_ns(int64_t ns) {
	struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
	nanosleep(&ts, NULL);
}

static char *tag_path(iox2_node *n, const char *hash, const char *uid) {
	char path[4096], h[17];
	iox2i_id_str(iox2i_new_id(), h);
	snprintf(path, sizeof path, "%s/%s_%s_%s" IOX2P_SUFFIX_SERVICE_TAG, n->dir, hash, uid, h);
	return xstrdup(path);
}

static iox2_service *new_service(iox2_node *n, const spec *sp, const char *hash) {
	iox2_service *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->node = n;
	s->pattern = sp->pattern;
	s->slot = -1;
	s->name = xstrdup(sp->name);
	snprintf(s->hash, sizeof s->hash, "%s", hash);
	s->publisher_max_loans = 2;
	s->server_max_loans = 2;
	if (!s->name) {
		free(s);
		return NULL;
	}
	return s;
}

static void free_service(iox2_service *s) {
	iox2i_static_free(&s->sc);
	free(s->name);
	free(s->tag);
	free(s);
}

/* start: registers the service with its node. */
static int start(iox2_service *s) {
	s->wp = iox2i_wp_new(s->node, &s->nodes[s->slot].wake);
	if (!s->wp)
		return IOX2_E_NO_MEMORY;
	s->next = s->node->services;
	s->node->services = s;
	return IOX2_OK;
}

/* create_service: createService of service.go. Returns IOX2_OK, or
 * IOX2_E_SERVICE_EXISTS when another process created it first, or an
 * error with the detail in d. */
static int create_service(iox2_node *n, const spec *sp, const char *hash, iox2_service **out, char *d, size_t cap) {
	iox2_service *s = new_service(n, sp, hash);
	if (!s) {
		snprintf(d, cap, "out of memory");
		return IOX2_E_NO_MEMORY;
	}
	iox2i_static *sc = &s->sc;
	char uid[17];
	iox2i_id_str(iox2i_new_id(), uid);
	bool ok = true;
	sc->version = xstrdup(IOX2I_STATIC_VERSION);
	sc->name = xstrdup(sp->name);
	sc->pattern = xstrdup(iox2i_pattern_name(sp->pattern));
	sc->hash = xstrdup(hash);
	sc->uid = xstrdup(uid);
	sc->pattern_id = sp->pattern;
	ok = sc->version && sc->name && sc->pattern && sc->hash && sc->uid;
	if (ok && sp->nattrs) {
		sc->attrs = calloc(sp->nattrs, sizeof *sc->attrs);
		ok = sc->attrs != NULL;
		for (size_t i = 0; ok && i < sp->nattrs; i++) {
			sc->attrs[i].key = xstrdup(str_or_empty(sp->attrs[i].key));
			sc->attrs[i].value = xstrdup(str_or_empty(sp->attrs[i].value));
			sc->nattrs++;
			ok = sc->attrs[i].key && sc->attrs[i].value;
		}
	}
	if (ok) {
		sc->ev = sp->want.ev;
		sc->ps = sp->want.ps;
		sc->rr = sp->want.rr;
		memset(&sc->ps.payload, 0, sizeof sc->ps.payload);
		memset(&sc->ps.user_header, 0, sizeof sc->ps.user_header);
		memset(&sc->rr.request, 0, sizeof sc->rr.request);
		memset(&sc->rr.response, 0, sizeof sc->rr.response);
		if (sp->pattern == IOX2I_PATTERN_PUBSUB) {
			ok = copy_type(&sc->ps.payload, &sp->want.ps.payload) &&
			     (!sp->want.ps.has_user_header || copy_type(&sc->ps.user_header, &sp->want.ps.user_header));
		} else if (sp->pattern == IOX2I_PATTERN_REQRES) {
			ok = copy_type(&sc->rr.request, &sp->want.rr.request) && copy_type(&sc->rr.response, &sp->want.rr.response);
		}
	}
	if (!ok) {
		free_service(s);
		snprintf(d, cap, "out of memory");
		return IOX2_E_NO_MEMORY;
	}
	int rc = check_limits(sc, n, d, cap);
	if (rc != IOX2_OK) {
		free_service(s);
		return rc;
	}
	int64_t nodes, pubs, subs;
	caps_of(sc, &nodes, &pubs, &subs);
	/* The tag comes first: if we die anywhere after this line, whoever
	 * cleans up after us finds it and removes what we created. */
	s->tag = tag_path(n, hash, uid);
	if (!s->tag) {
		free_service(s);
		snprintf(d, cap, "out of memory");
		return IOX2_E_NO_MEMORY;
	}
	rc = iox2i_write_file(n, s->tag, "{}\n", 3, false);
	if (rc != IOX2_OK) {
		snprintf(d, cap, "%s", n->errmsg);
		free_service(s);
		return rc;
	}
	char dname[256];
	iox2i_dynamic_name(n, hash, uid, dname, sizeof dname);
	rc = iox2i_seg_create(n, dname, dynamic_size((uint32_t)nodes, (uint32_t)pubs, (uint32_t)subs), &s->dyn);
	if (rc != IOX2_OK) {
		snprintf(d, cap, "%s", n->errmsg);
		unlink(s->tag);
		free_service(s);
		return rc == IOX2_E_SERVICE_EXISTS ? IOX2_E_SERVICE_CORRUPTED : rc;
	}
	lay_dynamic(s, (uint32_t)nodes, (uint32_t)pubs, (uint32_t)subs);
	s->hdr->max_nodes = (uint32_t)nodes;
	s->hdr->max_publishers = (uint32_t)pubs;
	s->hdr->max_subscribers = (uint32_t)subs;
	s->hdr->pattern = (uint32_t)sp->pattern;
	atomic_store_explicit(&s->nodes[0].id, n->id, memory_order_seq_cst);
	/* SYNC POINT publish: makes every store above visible to an opener. */
	iox2i_seg_publish(&s->dyn, IOX2I_KIND_DYNAMIC);
	s->slot = 0;

	/* writeStatic: a temporary file in the node's directory, hard-linked
	 * to its final name: exactly one creator wins. */
	iox2i_buf b = {0};
	iox2i_static_encode(sc, &b);
	char path[4096], tmp[4400], id[17];
	iox2i_static_path(n, hash, path, sizeof path);
	iox2i_id_str(iox2i_new_id(), id);
	const char *base = strrchr(path, '/') + 1;
	snprintf(tmp, sizeof tmp, "%s/%s.%s.tmp", n->dir, base, id);
	if (b.oom) {
		rc = IOX2_E_NO_MEMORY;
		snprintf(d, cap, "out of memory");
	} else {
		rc = iox2i_write_file(n, tmp, b.p, b.len, true);
		if (rc != IOX2_OK) {
			snprintf(d, cap, "%s", n->errmsg);
		} else if (link(tmp, path) < 0) {
			int e = errno;
			rc = e == EEXIST ? IOX2_E_SERVICE_EXISTS : iox2i_os_err(n, e, "link", path);
			snprintf(d, cap, "link %s %s: %s", tmp, path, strerror(e));
		}
		unlink(tmp);
	}
	iox2i_buf_free(&b);
	if (rc != IOX2_OK) {
		iox2i_seg_close(&s->dyn);
		iox2i_seg_remove(n, dname);
		unlink(s->tag);
		free_service(s);
		return rc;
	}
	rc = start(s);
	if (rc != IOX2_OK) {
		iox2_service_close(s);
		snprintf(d, cap, "out of memory");
		return rc;
	}
	*out = s;
	return IOX2_OK;
}

/* join_service: joinService of service.go. 0 joined; 1 retry (the service
 * is going away); else an error with the detail. */
static int join_service(iox2_node *n, const spec *sp, iox2i_static *sc, iox2_service **out, char *d, size_t cap,
                        bool *retry) {
	*retry = false;
	iox2_service *s = new_service(n, sp, sc->hash);
	if (!s) {
		snprintf(d, cap, "out of memory");
		return IOX2_E_NO_MEMORY;
	}
	s->sc = *sc; /* owned by s from here */
	memset(sc, 0, sizeof *sc);
	s->tag = tag_path(n, s->hash, s->sc.uid);
	int rc = s->tag ? iox2i_write_file(n, s->tag, "{}\n", 3, false) : IOX2_E_NO_MEMORY;
	if (rc != IOX2_OK) {
		snprintf(d, cap, "%s", s->tag ? n->errmsg : "out of memory");
		free_service(s);
		return rc;
	}
	int64_t nodes, pubs, subs;
	caps_of(&s->sc, &nodes, &pubs, &subs);
	char dname[256];
	iox2i_dynamic_name(n, s->hash, s->sc.uid, dname, sizeof dname);
	rc = iox2i_seg_open_ready(n, dname, IOX2I_KIND_DYNAMIC, true, n->cfg.creation_timeout_ns, &s->dyn);
	if (rc == IOX2_OK && (!caps_valid(nodes, pubs, subs) ||
	                      s->dyn.size != dynamic_size((uint32_t)nodes, (uint32_t)pubs, (uint32_t)subs))) {
		size_t want = caps_valid(nodes, pubs, subs) ? dynamic_size((uint32_t)nodes, (uint32_t)pubs, (uint32_t)subs) : 0;
		snprintf(d, cap, "%s: dynamic config %s has %zu bytes, expected %zu", iox2_errstr(IOX2_E_SERVICE_CORRUPTED), dname,
		         s->dyn.size, want);
		rc = IOX2_E_SERVICE_CORRUPTED;
	} else if (rc == IOX2_OK) {
		lay_dynamic(s, (uint32_t)nodes, (uint32_t)pubs, (uint32_t)subs);
		iox2i_dyn_header *h = s->hdr;
		if (h->max_nodes != (uint32_t)nodes || h->max_publishers != (uint32_t)pubs || h->max_subscribers != (uint32_t)subs ||
		    h->pattern != (uint32_t)sp->pattern) {
			snprintf(d, cap, "%s: dynamic config %s disagrees with the static config", iox2_errstr(IOX2_E_SERVICE_CORRUPTED),
			         dname);
			rc = IOX2_E_SERVICE_CORRUPTED;
		}
	} else {
		/* Not there (any more), or never published: the service is being
		 * removed, or its remover died; look again. (Cleaning up after
		 * dead nodes is the Go runtime's job.) */
		if (rc == IOX2_E_SERVICE_NOT_EXIST || rc == IOX2_E_TIMEOUT)
			*retry = true;
		snprintf(d, cap, "%s", n->errmsg);
	}
	if (rc != IOX2_OK) {
		iox2i_seg_close(&s->dyn);
		unlink(s->tag);
		free_service(s);
		return rc;
	}
	int slot;
	bool mine = false;
	int j = dyn_join(s, n->id, &slot, &mine);
	if (j != 0) {
		if (j == 2 && mine)
			destroy_service(n, s->hash, s->sc.uid); /* the remover stood down; we left last */
		iox2i_seg_close(&s->dyn);
		unlink(s->tag);
		free_service(s);
		if (j == 1) {
			snprintf(d, cap, "%s", iox2_errstr(IOX2_E_EXCEEDS_MAX_NODES));
			return IOX2_E_EXCEEDS_MAX_NODES;
		}
		*retry = true;
		snprintf(d, cap, "service is being removed");
		return IOX2_E_SERVICE_IN_FLUX;
	}
	s->slot = slot;
	iox2i_dyn_bump(s); /* the other nodes start watching us at once */
	rc = start(s);
	if (rc != IOX2_OK) {
		iox2_service_close(s);
		snprintf(d, cap, "out of memory");
		return rc;
	}
	*out = s;
	return IOX2_OK;
}

static const char *mode_name(int mode) {
	switch (mode) {
	case IOX2_CREATE: return "create";
	case IOX2_OPEN: return "open";
	default: return "open or create";
	}
}

/* validate_attrs: validateAttributes of servicename.go; NULL when fine. */
static const char *validate_attrs(const iox2_attribute *a, size_t n, bool requirement, char *buf, size_t cap) {
	if (!requirement && n > IOX2I_MAX_ATTRIBUTES) {
		snprintf(buf, cap, "%zu attributes, the maximum is %d", n, IOX2I_MAX_ATTRIBUTES);
		return buf;
	}
	for (size_t i = 0; i < n; i++) {
		const char *k = str_or_empty(a[i].key), *v = str_or_empty(a[i].value);
		char qk[300], qv[1100];
		iox2i_go_quote(qk, sizeof qk, k);
		iox2i_go_quote(qv, sizeof qv, v);
		size_t kl = strlen(k), vl = strlen(v);
		const char *why = NULL;
		char w[128];
		if (kl == 0)
			why = "must not be empty";
		else if (kl > IOX2I_MAX_ATTR_KEY)
			snprintf(w, sizeof w, "is %zu bytes long, the maximum is %d", kl, IOX2I_MAX_ATTR_KEY), why = w;
		else
			for (size_t j = 0; j < kl && !why; j++)
				if ((unsigned char)k[j] > 127)
					snprintf(w, sizeof w, "byte %zu is 0x%02x; only ASCII 1..127 is allowed", j, (unsigned char)k[j]), why = w;
		if (why) {
			snprintf(buf, cap, "key %s %s", qk, why);
			return buf;
		}
		if (vl == 0 && !requirement)
			why = "must not be empty";
		else if (vl > IOX2I_MAX_ATTR_VALUE)
			snprintf(w, sizeof w, "is %zu bytes long, the maximum is %d", vl, IOX2I_MAX_ATTR_VALUE), why = w;
		else
			for (size_t j = 0; j < vl && !why; j++)
				if ((unsigned char)v[j] > 127)
					snprintf(w, sizeof w, "byte %zu is 0x%02x; only ASCII 1..127 is allowed", j, (unsigned char)v[j]), why = w;
		if (why) {
			snprintf(buf, cap, "value %s of key %s %s", qv, qk, why);
			return buf;
		}
	}
	return NULL;
}

/* validate_service_name: NewServiceName; NULL when fine. */
static const char *validate_service_name(const char *name, char *buf, size_t cap) {
	char q[IOX2I_MAX_SERVICE_NAME * 4 + 8], w[128];
	const char *why = NULL;
	size_t l = strlen(name);
	if (l == 0)
		why = "must not be empty";
	else if (l > IOX2I_MAX_SERVICE_NAME)
		snprintf(w, sizeof w, "is %zu bytes long, the maximum is %d", l, IOX2I_MAX_SERVICE_NAME), why = w;
	else
		for (size_t j = 0; j < l && !why; j++)
			if ((unsigned char)name[j] > 127)
				snprintf(w, sizeof w, "byte %zu is 0x%02x; only ASCII 1..127 is allowed", j, (unsigned char)name[j]), why = w;
	if (!why && strncmp(name, "iox2://", 7) == 0)
		why = "the prefix \"iox2://\" is reserved";
	if (!why)
		return NULL;
	iox2i_go_quote(q, sizeof q, name);
	snprintf(buf, cap, "%s %s: %s", iox2_errstr(IOX2_E_INVALID_SERVICE_NAME), q, why);
	return buf;
}

/* open_service: openServiceOf of service.go. */
static int open_service(iox2_node *n, const spec *sp, int mode, iox2_service **out) {
	const char *op = mode_name(mode);
	char d[IOX2I_ERRMSG_CAP];
	if (validate_service_name(sp->name, d, sizeof d))
		return iox2i_service_err(n, op, sp->name, IOX2_E_INVALID_SERVICE_NAME, "%s", d);
	if (validate_attrs(sp->attrs, sp->nattrs, false, d, sizeof d) ||
	    validate_attrs(sp->reqs, sp->nreqs, true, d, sizeof d))
		return iox2i_service_err(n, op, sp->name, IOX2_E_INVALID_ATTRIBUTE, "%s", d);
	char hash[33], path[4096];
	iox2i_service_hash(sp->name, sp->pattern, hash);
	iox2i_static_path(n, hash, path, sizeof path);
	int64_t deadline = iox2i_now() + 4 * n->cfg.creation_timeout_ns;
	int64_t backoff = 100000;
	char last[IOX2I_ERRMSG_CAP] = "<nil>";
	for (;;) {
		if (iox2i_now() > deadline)
			return iox2i_service_err(n, op, sp->name, IOX2_E_SERVICE_IN_FLUX, "%s", last);
		iox2i_static sc;
		int rc = read_static(path, hash, &sc, d, sizeof d);
		if (rc == IOX2_E_SERVICE_NOT_EXIST) {
			if (mode == IOX2_OPEN)
				return iox2i_service_err(n, op, sp->name, IOX2_E_SERVICE_NOT_EXIST, NULL);
			rc = create_service(n, sp, hash, out, d, sizeof d);
			if (rc == IOX2_OK)
				return IOX2_OK;
			if (rc == IOX2_E_SERVICE_EXISTS && mode == IOX2_OPEN_OR_CREATE) {
				snprintf(last, sizeof last, "%s", d);
				continue; /* another process created it first: open it */
			}
			if (rc == IOX2_E_SERVICE_EXISTS)
				return iox2i_service_err(n, op, sp->name, IOX2_E_SERVICE_EXISTS, NULL);
			return iox2i_service_err(n, op, sp->name, rc, "%s", d);
		}
		if (rc != IOX2_OK)
			return iox2i_service_err(n, op, sp->name, rc, "%s", d);
		if (mode == IOX2_CREATE) {
			iox2i_static_free(&sc);
			return iox2i_service_err(n, op, sp->name, IOX2_E_SERVICE_EXISTS, NULL);
		}
		rc = verify_common(&sc, sp, d, sizeof d);
		if (rc == IOX2_OK) {
			switch (sp->pattern) {
			case IOX2I_PATTERN_PUBSUB: rc = verify_pubsub(&sc, sp, d, sizeof d); break;
			case IOX2I_PATTERN_EVENT: rc = verify_event(&sc, sp, d, sizeof d); break;
			default: rc = verify_reqres(&sc, sp, d, sizeof d); break;
			}
		}
		/* The static config was written by another process: its QoS must
		 * not make this one allocate more than its limits allow. */
		if (rc == IOX2_OK)
			rc = check_limits(&sc, n, d, sizeof d);
		if (rc != IOX2_OK) {
			iox2i_static_free(&sc);
			return iox2i_service_err(n, op, sp->name, rc, "%s", d);
		}
		bool retry;
		rc = join_service(n, sp, &sc, out, d, sizeof d, &retry);
		iox2i_static_free(&sc);
		if (rc == IOX2_OK)
			return IOX2_OK;
		if (!retry)
			return iox2i_service_err(n, op, sp->name, rc, "%s", d);
		snprintf(last, sizeof last, "%s", d);
		sleep_ns(backoff);
		if (backoff < 10000000)
			backoff *= 2;
	}
}

int iox2_service_close(iox2_service *s) {
	if (!s)
		return IOX2_OK;
	iox2_node *n = s->node;
	int rc = IOX2_OK;
	while (s->ports) {
		iox2i_port *p = s->ports;
		int r = p->close(p);
		if (r != IOX2_OK && rc == IOX2_OK)
			rc = r;
		if (s->ports == p) /* a close that did not unregister itself */
			iox2i_port_remove(s, p);
	}
	/* SYNC POINT node-disarm: nobody rings us for this service any more. */
	iox2i_wp_close(s->wp);
	s->wp = NULL;
	if (s->slot >= 0) {
		if (dyn_leave(s, n->id, s->slot))
			destroy_service(n, s->hash, s->sc.uid);
		else
			iox2i_dyn_bump(s); /* the other nodes stop watching us for this service */
	}
	iox2i_seg_close(&s->dyn);
	if (s->tag)
		unlink(s->tag);
	for (iox2_service **pp = &n->services; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	free_service(s);
	return rc;
}

const char *iox2_service_name(const iox2_service *s) { return s ? s->name : ""; }

/* --- The public constructors ------------------------------------------------------------- */

static void to_type(iox2i_typeinfo *t, const iox2_type_info *ti) {
	/* A view of the caller's strings (not freed). */
	t->name = (char *)str_or_empty(ti->name);
	t->size = ti->size;
	t->align = ti->align;
	t->layout_hash = (char *)str_or_empty(ti->layout_hash);
	t->layout = (char *)str_or_empty(ti->layout);
}

static int64_t or_default(int64_t v, int64_t def) { return v == IOX2_UNSET ? def : v; }

static bool bool_ok(int64_t v) { return v == IOX2_UNSET || v == 0 || v == 1; }

void iox2_pubsub_spec_init(iox2_pubsub_spec *spec, const char *name, const iox2_type_info *payload) {
	if (!spec)
		return;
	memset(spec, 0, sizeof *spec);
	spec->name = name;
	if (payload)
		spec->payload = *payload;
	spec->max_publishers = spec->max_subscribers = spec->max_nodes = spec->history_size = IOX2_UNSET;
	spec->subscriber_max_buffer_size = spec->subscriber_max_borrowed_samples = spec->enable_safe_overflow = IOX2_UNSET;
}

void iox2_event_spec_init(iox2_event_spec *spec, const char *name) {
	if (!spec)
		return;
	memset(spec, 0, sizeof *spec);
	spec->name = name;
	spec->max_notifiers = spec->max_listeners = spec->max_nodes = spec->event_id_max_value = IOX2_UNSET;
	spec->deadline_ns = spec->notifier_created_event = spec->notifier_dropped_event = spec->notifier_dead_event = IOX2_UNSET;
}

void iox2_reqres_spec_init(iox2_reqres_spec *spec, const char *name, const iox2_type_info *request,
                           const iox2_type_info *response) {
	if (!spec)
		return;
	memset(spec, 0, sizeof *spec);
	spec->name = name;
	if (request)
		spec->request = *request;
	if (response)
		spec->response = *response;
	spec->enable_safe_overflow_for_requests = spec->enable_safe_overflow_for_responses = IOX2_UNSET;
	spec->enable_fire_and_forget_requests = spec->max_active_requests_per_client = IOX2_UNSET;
	spec->max_loaned_requests = spec->max_response_buffer_size = IOX2_UNSET;
	spec->max_borrowed_responses_per_pending_response = spec->max_servers = spec->max_clients = IOX2_UNSET;
	spec->max_nodes = IOX2_UNSET;
}

static int check_args(iox2_node *node, const char *name, iox2_service **out) {
	if (out)
		*out = NULL;
	if (!node)
		return IOX2_E_INVALID_ARGUMENT;
	if (!out || !name)
		return iox2i_err(node, IOX2_E_INVALID_ARGUMENT, "NULL spec, name or out");
	return IOX2_OK;
}

int iox2_event_service(iox2_node *node, const iox2_event_spec *es, int mode, iox2_service **out) {
	int rc = check_args(node, es ? es->name : NULL, out);
	if (rc != IOX2_OK)
		return rc;
	const char *op = mode_name(mode);
	if (mode != IOX2_OPEN && mode != IOX2_CREATE && mode != IOX2_OPEN_OR_CREATE)
		return iox2i_err(node, IOX2_E_INVALID_ARGUMENT, "mode %d", mode);
	spec sp = {.pattern = IOX2I_PATTERN_EVENT, .name = es->name, .attrs = es->attributes, .nattrs = es->num_attributes,
	           .reqs = es->required_attributes, .nreqs = es->num_required_attributes, .ev = es};
	iox2i_event_static *q = &sp.want.ev;
	q->max_notifiers = or_default(es->max_notifiers, 16);
	q->max_listeners = or_default(es->max_listeners, 16);
	q->max_nodes = or_default(es->max_nodes, 36);
	q->event_id_max_value = or_default(es->event_id_max_value, 255);
	q->deadline_ns = or_default(es->deadline_ns, 0);
	q->created = es->notifier_created_event;
	q->dropped = es->notifier_dropped_event;
	q->dead = es->notifier_dead_event;
	char d[IOX2I_ERRMSG_CAP], dl[64];
	if (es->deadline_ns != IOX2_UNSET && es->deadline_ns < 0)
		return iox2i_service_err(node, op, es->name, IOX2_E_INVALID_QOS,
		                         "deadline is %s, must be positive (DisableDeadline removes it)",
		                         iox2i_go_duration(es->deadline_ns, dl, sizeof dl));
	for (int i = 0; i < 3; i++) {
		int64_t v = i == 0 ? q->created : i == 1 ? q->dropped : q->dead;
		if (v < IOX2_UNSET)
			return iox2i_service_err(node, op, es->name, IOX2_E_INVALID_QOS, "event id %lld is negative", (long long)v);
	}
	if (iox2i_event_validate(q, d, sizeof d))
		return iox2i_service_err(node, op, es->name, IOX2_E_INVALID_QOS, "%s", d);
	rc = open_service(node, &sp, mode, out);
	if (rc == IOX2_OK && (*out)->sc.ev.deadline_ns > 0) {
		/* iceoryx2 measures the first gap from the service's creation; the
		 * first process to open the service starts the clock.
		 * SYNC POINT last-notification: paired with notify's exchange. */
		int64_t zero = 0;
		atomic_compare_exchange_strong_explicit(&(*out)->hdr->last_notification, &zero, iox2i_now(), memory_order_seq_cst,
		                                        memory_order_seq_cst);
	}
	return rc;
}

int iox2_pubsub_service(iox2_node *node, const iox2_pubsub_spec *ps, int mode, iox2_service **out) {
	int rc = check_args(node, ps ? ps->name : NULL, out);
	if (rc != IOX2_OK)
		return rc;
	const char *op = mode_name(mode);
	if (mode != IOX2_OPEN && mode != IOX2_CREATE && mode != IOX2_OPEN_OR_CREATE)
		return iox2i_err(node, IOX2_E_INVALID_ARGUMENT, "mode %d", mode);
	spec sp = {.pattern = IOX2I_PATTERN_PUBSUB, .name = ps->name, .attrs = ps->attributes, .nattrs = ps->num_attributes,
	           .reqs = ps->required_attributes, .nreqs = ps->num_required_attributes, .ps = ps};
	iox2i_pubsub_static *q = &sp.want.ps;
	char d[IOX2I_ERRMSG_CAP], r[700];
	to_type(&q->payload, &ps->payload);
	if (check_raw_type(&q->payload, r, sizeof r))
		return iox2i_service_err(node, op, ps->name, IOX2_E_INVALID_TYPE, "payload %s", r);
	if (ps->user_header) {
		q->has_user_header = true;
		to_type(&q->user_header, ps->user_header);
		if (check_raw_type(&q->user_header, r, sizeof r))
			return iox2i_service_err(node, op, ps->name, IOX2_E_INVALID_TYPE, "user header %s", r);
	}
	q->slice = ps->slice;
	q->max_publishers = or_default(ps->max_publishers, 2);
	q->max_subscribers = or_default(ps->max_subscribers, 8);
	q->max_nodes = or_default(ps->max_nodes, 20);
	q->history_size = or_default(ps->history_size, 0);
	q->subscriber_max_buffer_size = or_default(ps->subscriber_max_buffer_size, 2);
	q->subscriber_max_borrowed_samples = or_default(ps->subscriber_max_borrowed_samples, 2);
	if (!bool_ok(ps->enable_safe_overflow))
		return iox2i_service_err(node, op, ps->name, IOX2_E_INVALID_QOS, "enable safe overflow is %lld, must be 0 or 1",
		                         (long long)ps->enable_safe_overflow);
	q->enable_safe_overflow = or_default(ps->enable_safe_overflow, 1) != 0;
	if (iox2i_pubsub_validate(q, 2, d, sizeof d))
		return iox2i_service_err(node, op, ps->name, IOX2_E_INVALID_QOS, "%s", d);
	return open_service(node, &sp, mode, out);
}

int iox2_reqres_service(iox2_node *node, const iox2_reqres_spec *rs, int mode, iox2_service **out) {
	int rc = check_args(node, rs ? rs->name : NULL, out);
	if (rc != IOX2_OK)
		return rc;
	const char *op = mode_name(mode);
	if (mode != IOX2_OPEN && mode != IOX2_CREATE && mode != IOX2_OPEN_OR_CREATE)
		return iox2i_err(node, IOX2_E_INVALID_ARGUMENT, "mode %d", mode);
	spec sp = {.pattern = IOX2I_PATTERN_REQRES, .name = rs->name, .attrs = rs->attributes, .nattrs = rs->num_attributes,
	           .reqs = rs->required_attributes, .nreqs = rs->num_required_attributes, .rr = rs};
	iox2i_reqres_static *q = &sp.want.rr;
	char d[IOX2I_ERRMSG_CAP], r[700];
	to_type(&q->request, &rs->request);
	to_type(&q->response, &rs->response);
	if (check_raw_type(&q->request, r, sizeof r))
		return iox2i_service_err(node, op, rs->name, IOX2_E_INVALID_TYPE, "request: %s", r);
	if (check_raw_type(&q->response, r, sizeof r))
		return iox2i_service_err(node, op, rs->name, IOX2_E_INVALID_TYPE, "response: %s", r);
	q->request_slice = rs->request_slice;
	q->response_slice = rs->response_slice;
	int64_t flags[3] = {rs->enable_safe_overflow_for_requests, rs->enable_safe_overflow_for_responses,
	                    rs->enable_fire_and_forget_requests};
	for (int i = 0; i < 3; i++)
		if (!bool_ok(flags[i]))
			return iox2i_service_err(node, op, rs->name, IOX2_E_INVALID_QOS, "a flag is %lld, must be 0 or 1",
			                         (long long)flags[i]);
	q->safe_overflow_requests = or_default(flags[0], 1) != 0;
	q->safe_overflow_responses = or_default(flags[1], 1) != 0;
	q->fire_and_forget = or_default(flags[2], 1) != 0;
	q->max_active_requests_per_client = or_default(rs->max_active_requests_per_client, 4);
	q->max_loaned_requests = or_default(rs->max_loaned_requests, 2);
	q->max_response_buffer_size = or_default(rs->max_response_buffer_size, 2);
	q->max_borrowed_responses_per_pending_response = or_default(rs->max_borrowed_responses_per_pending_response, 2);
	q->max_servers = or_default(rs->max_servers, 2);
	q->max_clients = or_default(rs->max_clients, 8);
	q->max_nodes = or_default(rs->max_nodes, 20);
	if (iox2i_reqres_validate(q, 2, d, sizeof d))
		return iox2i_service_err(node, op, rs->name, IOX2_E_INVALID_QOS, "%s", d);
	return open_service(node, &sp, mode, out);
}

/* --- For the fuzzer (cconf) ---------------------------------------------------------------- */

int iox2i_static_config_check(const uint8_t *data, size_t size, char *errbuf, size_t errlen) {
	iox2i_static sc;
	char why[IOX2I_ERRMSG_CAP] = "";
	int rc = iox2i_static_decode((const char *)data, size, "<fuzz>", NULL, &sc, why, sizeof why);
	if (rc == IOX2_OK) {
		iox2_node fake;
		memset(&fake, 0, sizeof fake);
		fake.cfg.port_memory_limit = 1u << 30;
		int64_t nodes, pubs, subs;
		caps_of(&sc, &nodes, &pubs, &subs);
		rc = check_limits(&sc, &fake, why, sizeof why);
		if (rc == IOX2_OK && !caps_valid(nodes, pubs, subs)) {
			snprintf(why, sizeof why, "capacities %lld, %lld, %lld out of range", (long long)nodes, (long long)pubs,
			         (long long)subs);
			rc = IOX2_E_SERVICE_CORRUPTED;
		}
		if (rc == IOX2_OK && sc.pattern_id == IOX2I_PATTERN_PUBSUB) {
			char r[700];
			if (check_raw_type(&sc.ps.payload, r, sizeof r) ||
			    (sc.ps.has_user_header && check_raw_type(&sc.ps.user_header, r, sizeof r))) {
				snprintf(why, sizeof why, "%s", r);
				rc = IOX2_E_SERVICE_CORRUPTED;
			}
		}
		if (rc == IOX2_OK && sc.pattern_id == IOX2I_PATTERN_REQRES) {
			char r[700];
			if (check_raw_type(&sc.rr.request, r, sizeof r) || check_raw_type(&sc.rr.response, r, sizeof r)) {
				snprintf(why, sizeof why, "%s", r);
				rc = IOX2_E_SERVICE_CORRUPTED;
			}
		}
	}
	iox2i_static_free(&sc);
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "%s", rc == IOX2_OK ? "" : why);
	return rc;
}

int iox2i_check_service(iox2_service *svc, int pattern, const char *op) {
	if (!svc)
		return IOX2_E_INVALID_ARGUMENT;
	if (svc->closed)
		return iox2i_service_err(svc->node, op, svc->name, IOX2_E_CLOSED, NULL);
	if (svc->pattern != pattern) {
		static const char *what[] = {"a publish-subscribe", "an event", "a request-response"};
		return iox2i_service_err(svc->node, op, svc->name, IOX2_E_INCOMPATIBLE_PATTERN, "the service is not %s service",
		                         pattern >= 0 && pattern <= 2 ? what[pattern] : "such a");
	}
	return IOX2_OK;
}
