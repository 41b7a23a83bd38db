/* static_config.c: the static config of a service (runtime/static.go): its
 * hash, decoding (a file another process wrote: every field checked) and
 * encoding (as Go's json.MarshalIndent writes it). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *iox2i_pattern_name(int pattern) {
	switch (pattern) {
	case IOX2I_PATTERN_PUBSUB: return "publish_subscribe";
	case IOX2I_PATTERN_EVENT: return "event";
	case IOX2I_PATTERN_REQRES: return "request_response";
	}
	return "unknown";
}

void iox2i_service_hash(const char *name, int pattern, char out[33]) {
	size_t l = strlen(name);
	char *b = malloc(l + 16);
	uint8_t h[32];
	if (!b) {
		/* Hash in two steps is not possible with this API: fall back to a
		 * stack buffer for names up to the maximum length. */
		char sb[IOX2I_MAX_SERVICE_NAME + 16];
		int n = snprintf(sb, sizeof sb, "%d", pattern);
		size_t k = l > IOX2I_MAX_SERVICE_NAME ? IOX2I_MAX_SERVICE_NAME : l;
		sb[n] = 0;
		memcpy(sb + n + 1, name, k);
		iox2i_sha256(sb, (size_t)n + 1 + k, h);
	} else {
		int n = snprintf(b, 16, "%d", pattern);
		b[n] = 0; /* "<pattern>\0<name>" */
		memcpy(b + n + 1, name, l);
		iox2i_sha256(b, (size_t)n + 1 + l, h);
		free(b);
	}
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* --- Decoding ----------------------------------------------------------------- */

typedef struct dec {
	char *why;
	size_t cap;
	bool oom;
} dec;

static bool bad(dec *d, const char *fmt, const char *field) {
	if (d->why[0] == 0)
		snprintf(d->why, d->cap, fmt, field);
	return false;
}

static char *dupn(dec *d, const char *s, size_t n) {
	char *r = malloc(n + 1);
	if (!r) {
		d->oom = true;
		return NULL;
	}
	memcpy(r, s, n);
	r[n] = 0;
	return r;
}

/* get_str: absent or null leaves "" (Go's zero value). */
static bool get_str(dec *d, const iox2i_json *obj, const char *key, char **out) {
	const iox2i_json *j = iox2i_json_get(obj, key);
	if (!j || j->type == IOX2I_JNULL) {
		*out = dupn(d, "", 0);
		return *out != NULL;
	}
	if (j->type != IOX2I_JSTR)
		return bad(d, "json: field %s is not a string", key);
	*out = dupn(d, j->s, j->slen);
	return *out != NULL;
}

static bool get_int(dec *d, const iox2i_json *obj, const char *key, int64_t *out) {
	const iox2i_json *j = iox2i_json_get(obj, key);
	*out = 0;
	if (!j || j->type == IOX2I_JNULL)
		return true;
	if (!iox2i_json_int(j, INT64_MIN, INT64_MAX, out))
		return bad(d, "json: field %s is not an integer of 64 bits", key);
	return true;
}

static bool get_uint(dec *d, const iox2i_json *obj, const char *key, uint64_t *out) {
	const iox2i_json *j = iox2i_json_get(obj, key);
	*out = 0;
	if (!j || j->type == IOX2I_JNULL)
		return true;
	if (!iox2i_json_uint(j, out))
		return bad(d, "json: field %s is not an unsigned integer of 64 bits", key);
	return true;
}

static bool get_bool(dec *d, const iox2i_json *obj, const char *key, bool *out) {
	const iox2i_json *j = iox2i_json_get(obj, key);
	*out = false;
	if (!j || j->type == IOX2I_JNULL)
		return true;
	if (j->type != IOX2I_JBOOL)
		return bad(d, "json: field %s is not a boolean", key);
	*out = j->b;
	return true;
}

/* get_opt_id: an optional EventID (absent or null: -1). */
static bool get_opt_id(dec *d, const iox2i_json *obj, const char *key, int64_t *out) {
	const iox2i_json *j = iox2i_json_get(obj, key);
	*out = -1;
	if (!j || j->type == IOX2I_JNULL)
		return true;
	uint64_t v;
	if (!iox2i_json_uint(j, &v))
		return bad(d, "json: field %s is not an unsigned integer of 64 bits", key);
	/* Anything above the largest event id max value is out of range
	 * anyway; keep it representable. */
	*out = v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
	return true;
}

static bool is_obj(dec *d, const iox2i_json *j, const char *what) {
	if (!j || j->type != IOX2I_JOBJ)
		return bad(d, "json: %s is not an object", what);
	return true;
}

static bool get_type(dec *d, const iox2i_json *obj, const char *key, iox2i_typeinfo *t) {
	const iox2i_json *j = iox2i_json_get(obj, key);
	memset(t, 0, sizeof *t);
	if (j && j->type != IOX2I_JNULL && !is_obj(d, j, key))
		return false;
	return get_str(d, j, "Name", &t->name) && get_uint(d, j, "Size", &t->size) && get_uint(d, j, "Align", &t->align) &&
	       get_str(d, j, "LayoutHash", &t->layout_hash) && get_str(d, j, "Layout", &t->layout);
}

static bool get_variant(dec *d, const iox2i_json *obj, const char *key, bool *slice) {
	char *v = NULL;
	if (!get_str(d, obj, key, &v))
		return false;
	/* Any other text fails the comparison with what an opener asks. */
	*slice = strcmp(v, "dynamic") == 0;
	bool ok = *slice || strcmp(v, "fixed") == 0;
	free(v);
	if (!ok)
		return bad(d, "json: field %s is neither \"fixed\" nor \"dynamic\"", key);
	return true;
}

static bool decode_pubsub(dec *d, const iox2i_json *j, iox2i_pubsub_static *ps) {
	if (!is_obj(d, j, "publish_subscribe"))
		return false;
	const iox2i_json *uh = iox2i_json_get(j, "user_header");
	ps->has_user_header = uh && uh->type != IOX2I_JNULL;
	if (!get_type(d, j, "payload", &ps->payload) || !get_variant(d, j, "payload_variant", &ps->slice))
		return false;
	if (ps->has_user_header && !get_type(d, j, "user_header", &ps->user_header))
		return false;
	return get_int(d, j, "max_publishers", &ps->max_publishers) && get_int(d, j, "max_subscribers", &ps->max_subscribers) &&
	       get_int(d, j, "max_nodes", &ps->max_nodes) && get_int(d, j, "history_size", &ps->history_size) &&
	       get_int(d, j, "subscriber_max_buffer_size", &ps->subscriber_max_buffer_size) &&
	       get_int(d, j, "subscriber_max_borrowed_samples", &ps->subscriber_max_borrowed_samples) &&
	       get_bool(d, j, "enable_safe_overflow", &ps->enable_safe_overflow);
}

static bool decode_event(dec *d, const iox2i_json *j, iox2i_event_static *ev) {
	if (!is_obj(d, j, "event"))
		return false;
	return get_int(d, j, "max_notifiers", &ev->max_notifiers) && get_int(d, j, "max_listeners", &ev->max_listeners) &&
	       get_int(d, j, "max_nodes", &ev->max_nodes) && get_int(d, j, "event_id_max_value", &ev->event_id_max_value) &&
	       get_int(d, j, "deadline_ns", &ev->deadline_ns) && get_opt_id(d, j, "notifier_created_event", &ev->created) &&
	       get_opt_id(d, j, "notifier_dropped_event", &ev->dropped) && get_opt_id(d, j, "notifier_dead_event", &ev->dead);
}

static bool decode_reqres(dec *d, const iox2i_json *j, iox2i_reqres_static *rr) {
	if (!is_obj(d, j, "request_response"))
		return false;
	return get_type(d, j, "request", &rr->request) && get_variant(d, j, "request_variant", &rr->request_slice) &&
	       get_type(d, j, "response", &rr->response) && get_variant(d, j, "response_variant", &rr->response_slice) &&
	       get_bool(d, j, "enable_safe_overflow_for_requests", &rr->safe_overflow_requests) &&
	       get_bool(d, j, "enable_safe_overflow_for_responses", &rr->safe_overflow_responses) &&
	       get_bool(d, j, "enable_fire_and_forget_requests", &rr->fire_and_forget) &&
	       get_int(d, j, "max_active_requests_per_client", &rr->max_active_requests_per_client) &&
	       get_int(d, j, "max_loaned_requests", &rr->max_loaned_requests) &&
	       get_int(d, j, "max_response_buffer_size", &rr->max_response_buffer_size) &&
	       get_int(d, j, "max_borrowed_responses_per_pending_response", &rr->max_borrowed_responses_per_pending_response) &&
	       get_int(d, j, "max_servers", &rr->max_servers) && get_int(d, j, "max_clients", &rr->max_clients) &&
	       get_int(d, j, "max_nodes", &rr->max_nodes);
}

static bool decode_attrs(dec *d, const iox2i_json *root, iox2i_static *sc) {
	const iox2i_json *a = iox2i_json_get(root, "attributes");
	if (!a || a->type == IOX2I_JNULL)
		return true;
	if (a->type != IOX2I_JARR)
		return bad(d, "json: %s is not an array", "attributes");
	size_t n = 0;
	for (const iox2i_json *e = a->child; e; e = e->next)
		n++;
	if (n == 0)
		return true;
	sc->attrs = calloc(n, sizeof *sc->attrs);
	if (!sc->attrs) {
		d->oom = true;
		return false;
	}
	for (const iox2i_json *e = a->child; e; e = e->next) {
		if (!is_obj(d, e, "an attribute"))
			return false;
		iox2i_attr *at = &sc->attrs[sc->nattrs++];
		if (!get_str(d, e, "Key", &at->key) || !get_str(d, e, "Value", &at->value))
			return false;
	}
	return true;
}

int iox2i_static_decode(const char *text, size_t len, const char *path, const char *hash,
                        iox2i_static *out, char *why, size_t whycap) {
	memset(out, 0, sizeof *out);
	out->pattern_id = -1;
	char jwhy[512] = "";
	iox2i_json *root = NULL;
	int rc = iox2i_json_parse(text, len, &root, jwhy, sizeof jwhy);
	if (rc == IOX2_E_NO_MEMORY) {
		snprintf(why, whycap, "static config %s: out of memory", path);
		return rc;
	}
	if (rc != IOX2_OK) {
		snprintf(why, whycap, "static config %s: %s", path, jwhy);
		return IOX2_E_SERVICE_CORRUPTED;
	}
	dec d = {.why = jwhy, .cap = sizeof jwhy};
	jwhy[0] = 0;
	bool ok = is_obj(&d, root, "the static config") && get_str(&d, root, "version", &out->version) &&
	          get_str(&d, root, "name", &out->name) && get_str(&d, root, "pattern", &out->pattern) &&
	          get_str(&d, root, "hash", &out->hash) && get_str(&d, root, "uid", &out->uid) && decode_attrs(&d, root, out);
	if (ok) {
		const char *sect = NULL;
		if (strcmp(out->pattern, "publish_subscribe") == 0)
			out->pattern_id = IOX2I_PATTERN_PUBSUB, sect = "publish_subscribe";
		else if (strcmp(out->pattern, "event") == 0)
			out->pattern_id = IOX2I_PATTERN_EVENT, sect = "event";
		else if (strcmp(out->pattern, "request_response") == 0)
			out->pattern_id = IOX2I_PATTERN_REQRES, sect = "request_response";
		/* Every section present is decoded (Go decodes them all). */
		const iox2i_json *j;
		if (ok && (j = iox2i_json_get(root, "publish_subscribe")) && j->type != IOX2I_JNULL)
			ok = decode_pubsub(&d, j, &out->ps);
		if (ok && (j = iox2i_json_get(root, "event")) && j->type != IOX2I_JNULL)
			ok = decode_event(&d, j, &out->ev);
		if (ok && (j = iox2i_json_get(root, "request_response")) && j->type != IOX2I_JNULL)
			ok = decode_reqres(&d, j, &out->rr);
		if (ok && hash && strcmp(out->hash, hash) != 0) {
			char q[256];
			iox2i_go_quote(q, sizeof q, out->hash);
			snprintf(why, whycap, "static config %s describes service hash %s", path, q);
			iox2i_json_free(root);
			return IOX2_E_SERVICE_CORRUPTED;
		}
		if (ok && !sect) {
			char q[256];
			iox2i_go_quote(q, sizeof q, out->pattern);
			snprintf(why, whycap, "static config %s has the unknown pattern %s", path, q);
			iox2i_json_free(root);
			return IOX2_E_SERVICE_CORRUPTED;
		}
		if (ok) {
			j = iox2i_json_get(root, sect);
			if (!j || j->type == IOX2I_JNULL) {
				snprintf(why, whycap, "static config %s lacks its %s section", path, sect);
				iox2i_json_free(root);
				return IOX2_E_SERVICE_CORRUPTED;
			}
		}
	}
	iox2i_json_free(root);
	if (d.oom) {
		snprintf(why, whycap, "static config %s: out of memory", path);
		return IOX2_E_NO_MEMORY;
	}
	if (!ok) {
		snprintf(why, whycap, "static config %s: %s", path, jwhy);
		return IOX2_E_SERVICE_CORRUPTED;
	}
	return IOX2_OK;
}

static void free_type(iox2i_typeinfo *t) {
	free(t->name);
	free(t->layout_hash);
	free(t->layout);
	memset(t, 0, sizeof *t);
}

void iox2i_static_free(iox2i_static *sc) {
	free(sc->version);
	free(sc->name);
	free(sc->pattern);
	free(sc->hash);
	free(sc->uid);
	for (size_t i = 0; i < sc->nattrs; i++) {
		free(sc->attrs[i].key);
		free(sc->attrs[i].value);
	}
	free(sc->attrs);
	free_type(&sc->ps.payload);
	free_type(&sc->ps.user_header);
	free_type(&sc->rr.request);
	free_type(&sc->rr.response);
	memset(sc, 0, sizeof *sc);
}

/* --- Encoding ----------------------------------------------------------------- */

static void kv_str(iox2i_buf *b, const char *ind, const char *key, const char *v, bool comma) {
	iox2i_buf_printf(b, "%s\"%s\": ", ind, key);
	iox2i_json_str(b, v ? v : "");
	iox2i_buf_puts(b, comma ? ",\n" : "\n");
}

static void kv_int(iox2i_buf *b, const char *ind, const char *key, long long v, bool comma) {
	iox2i_buf_printf(b, "%s\"%s\": %lld%s", ind, key, v, comma ? ",\n" : "\n");
}

static void kv_bool(iox2i_buf *b, const char *ind, const char *key, bool v, bool comma) {
	iox2i_buf_printf(b, "%s\"%s\": %s%s", ind, key, v ? "true" : "false", comma ? ",\n" : "\n");
}

static void kv_type(iox2i_buf *b, const char *ind, const char *key, const iox2i_typeinfo *t) {
	char in2[32];
	snprintf(in2, sizeof in2, "%s  ", ind);
	iox2i_buf_printf(b, "%s\"%s\": {\n", ind, key);
	kv_str(b, in2, "Name", t->name, true);
	iox2i_buf_printf(b, "%s\"Size\": %llu,\n", in2, (unsigned long long)t->size);
	iox2i_buf_printf(b, "%s\"Align\": %llu,\n", in2, (unsigned long long)t->align);
	kv_str(b, in2, "LayoutHash", t->layout_hash, true);
	kv_str(b, in2, "Layout", t->layout, false);
	iox2i_buf_printf(b, "%s},\n", ind);
}

void iox2i_static_encode(const iox2i_static *sc, iox2i_buf *b) {
	const char *i1 = "  ", *i2 = "    ";
	iox2i_buf_puts(b, "{\n");
	kv_str(b, i1, "version", sc->version, true);
	kv_str(b, i1, "name", sc->name, true);
	kv_str(b, i1, "pattern", iox2i_pattern_name(sc->pattern_id), true);
	kv_str(b, i1, "hash", sc->hash, true);
	kv_str(b, i1, "uid", sc->uid, true);
	if (sc->nattrs == 0) {
		iox2i_buf_puts(b, "  \"attributes\": [],\n");
	} else {
		iox2i_buf_puts(b, "  \"attributes\": [\n");
		for (size_t i = 0; i < sc->nattrs; i++) {
			iox2i_buf_puts(b, "    {\n");
			kv_str(b, "      ", "Key", sc->attrs[i].key, true);
			kv_str(b, "      ", "Value", sc->attrs[i].value, false);
			iox2i_buf_puts(b, i + 1 < sc->nattrs ? "    },\n" : "    }\n");
		}
		iox2i_buf_puts(b, "  ],\n");
	}
	switch (sc->pattern_id) {
	case IOX2I_PATTERN_PUBSUB: {
		const iox2i_pubsub_static *ps = &sc->ps;
		iox2i_buf_puts(b, "  \"publish_subscribe\": {\n");
		kv_type(b, i2, "payload", &ps->payload);
		kv_str(b, i2, "payload_variant", ps->slice ? "dynamic" : "fixed", true);
		if (ps->has_user_header)
			kv_type(b, i2, "user_header", &ps->user_header);
		kv_int(b, i2, "max_publishers", ps->max_publishers, true);
		kv_int(b, i2, "max_subscribers", ps->max_subscribers, true);
		kv_int(b, i2, "max_nodes", ps->max_nodes, true);
		kv_int(b, i2, "history_size", ps->history_size, true);
		kv_int(b, i2, "subscriber_max_buffer_size", ps->subscriber_max_buffer_size, true);
		kv_int(b, i2, "subscriber_max_borrowed_samples", ps->subscriber_max_borrowed_samples, true);
		kv_bool(b, i2, "enable_safe_overflow", ps->enable_safe_overflow, false);
		break;
	}
	case IOX2I_PATTERN_EVENT: {
		const iox2i_event_static *ev = &sc->ev;
		iox2i_buf_puts(b, "  \"event\": {\n");
		int64_t opt[3] = {ev->created, ev->dropped, ev->dead};
		const char *names[3] = {"notifier_created_event", "notifier_dropped_event", "notifier_dead_event"};
		int last = -1;
		for (int i = 0; i < 3; i++)
			if (opt[i] >= 0)
				last = i;
		bool more = ev->deadline_ns != 0 || last >= 0;
		kv_int(b, i2, "max_notifiers", ev->max_notifiers, true);
		kv_int(b, i2, "max_listeners", ev->max_listeners, true);
		kv_int(b, i2, "max_nodes", ev->max_nodes, true);
		kv_int(b, i2, "event_id_max_value", ev->event_id_max_value, more);
		if (ev->deadline_ns != 0)
			kv_int(b, i2, "deadline_ns", ev->deadline_ns, last >= 0);
		for (int i = 0; i < 3; i++)
			if (opt[i] >= 0)
				kv_int(b, i2, names[i], opt[i], i < last);
		break;
	}
	case IOX2I_PATTERN_REQRES: {
		const iox2i_reqres_static *rr = &sc->rr;
		iox2i_buf_puts(b, "  \"request_response\": {\n");
		kv_type(b, i2, "request", &rr->request);
		kv_str(b, i2, "request_variant", rr->request_slice ? "dynamic" : "fixed", true);
		kv_type(b, i2, "response", &rr->response);
		kv_str(b, i2, "response_variant", rr->response_slice ? "dynamic" : "fixed", true);
		kv_bool(b, i2, "enable_safe_overflow_for_requests", rr->safe_overflow_requests, true);
		kv_bool(b, i2, "enable_safe_overflow_for_responses", rr->safe_overflow_responses, true);
		kv_bool(b, i2, "enable_fire_and_forget_requests", rr->fire_and_forget, true);
		kv_int(b, i2, "max_active_requests_per_client", rr->max_active_requests_per_client, true);
		kv_int(b, i2, "max_loaned_requests", rr->max_loaned_requests, true);
		kv_int(b, i2, "max_response_buffer_size", rr->max_response_buffer_size, true);
		kv_int(b, i2, "max_borrowed_responses_per_pending_response", rr->max_borrowed_responses_per_pending_response, true);
		kv_int(b, i2, "max_servers", rr->max_servers, true);
		kv_int(b, i2, "max_clients", rr->max_clients, true);
		kv_int(b, i2, "max_nodes", rr->max_nodes, false);
		break;
	}
	}
	iox2i_buf_puts(b, "  }\n}\n");
}
