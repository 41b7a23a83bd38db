/* error.c: error codes, their texts (the Go sentinels' texts, from
 * runtime/errors.go) and the errmsg of a node. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *iox2_errstr(int code) {
	switch (code) {
	case IOX2_OK: return "ok";
	case IOX2_E_INVALID_ARGUMENT: return "iox2: invalid argument";
	case IOX2_E_NO_MEMORY: return "iox2: out of memory";
	case IOX2_E_OS: return "iox2: a system call failed";
	case IOX2_E_TIMEOUT: return "iox2: timed out";
	case IOX2_E_CLOSED: return "iox2: use of a closed node, service or port";
	case IOX2_E_PERMISSION: return "iox2: insufficient permissions";
	case IOX2_E_INVALID_SERVICE_NAME: return "iox2: invalid service name";
	case IOX2_E_INVALID_NODE_NAME: return "iox2: invalid node name";
	case IOX2_E_INVALID_ATTRIBUTE: return "iox2: invalid attribute";
	case IOX2_E_INVALID_QOS: return "iox2: invalid quality of service";
	case IOX2_E_INVALID_TYPE: return "iox2: payload type is not a fixed-layout, pointer-free type";
	case IOX2_E_RESOURCE_LIMIT: return "iox2: invalid quality of service: it exceeds a resource limit";
	case IOX2_E_SERVICE_NOT_EXIST: return "iox2: service does not exist";
	case IOX2_E_SERVICE_EXISTS: return "iox2: service already exists";
	case IOX2_E_INCOMPATIBLE_PATTERN: return "iox2: service exists with another messaging pattern";
	case IOX2_E_INCOMPATIBLE_TYPES: return "iox2: incompatible payload types";
	case IOX2_E_INCOMPATIBLE_QOS: return "iox2: incompatible quality of service";
	case IOX2_E_INCOMPATIBLE_ATTRIBUTES: return "iox2: incompatible attributes";
	case IOX2_E_VERSION_MISMATCH: return "iox2: service was created by another iox2go version";
	case IOX2_E_SERVICE_CORRUPTED: return "iox2: service is in a corrupted state";
	case IOX2_E_SERVICE_IN_FLUX: return "iox2: service kept being created and removed; gave up";
	case IOX2_E_EXCEEDS_MAX_NODES: return "iox2: service already has its maximum number of nodes";
	case IOX2_E_EXCEEDS_MAX_PUBLISHERS: return "iox2: service already has its maximum number of publishers";
	case IOX2_E_EXCEEDS_MAX_SUBSCRIBERS: return "iox2: service already has its maximum number of subscribers";
	case IOX2_E_BUFFER_SIZE_EXCEEDS_MAX: return "iox2: subscriber buffer size exceeds the service's maximum";
	case IOX2_E_HISTORY_REQUEST_EXCEEDS:
		return "iox2: history request exceeds the service's history size or the subscriber's buffer";
	case IOX2_E_EXCEEDS_MAX_NOTIFIERS: return "iox2: service already has its maximum number of notifiers";
	case IOX2_E_EXCEEDS_MAX_LISTENERS: return "iox2: service already has its maximum number of listeners";
	case IOX2_E_EXCEEDS_MAX_CLIENTS: return "iox2: service already has its maximum number of clients";
	case IOX2_E_EXCEEDS_MAX_SERVERS: return "iox2: service already has its maximum number of servers";
	case IOX2_E_EXCEEDS_MAX_LOANS:
		return "iox2: the port (publisher, client or server) already has its maximum number of loaned samples";
	case IOX2_E_OUT_OF_MEMORY: return "iox2: the sending port's chunk pool is exhausted";
	case IOX2_E_EXCEEDS_MAX_BORROWS:
		return "iox2: the receiving port already holds its maximum number of borrowed samples";
	case IOX2_E_SAMPLE_NOT_OWNED: return "iox2: sample was already sent or released";
	case IOX2_E_UNABLE_TO_DELIVER: return "iox2: unable to deliver the sample";
	case IOX2_E_CONNECTION_CORRUPTED: return "iox2: connection is corrupted";
	case IOX2_E_SLICE_LENGTH_EXCEEDS_LIMIT: return "iox2: slice length exceeds the port's maximum";
	case IOX2_E_EVENT_ID_OUT_OF_BOUNDS: return "iox2: event id exceeds the service's event id max value";
	case IOX2_E_MISSED_DEADLINE:
		return "iox2: notification delivered, but later than the service's deadline after the previous one";
	case IOX2_E_EXCEEDS_MAX_ACTIVE_REQUESTS: return "iox2: client already has its maximum number of active requests";
	case IOX2_E_ACTIVE_REQUESTS_EXCEED_MAX:
		return "iox2: client max active requests exceeds the service's max active requests per client";
	case IOX2_E_STREAM_ENDED:
		return "iox2: response stream ended: no server holds the request and no response is queued";
	}
	return "iox2: unknown error code";
}

static _Thread_local char create_error[IOX2I_ERRMSG_CAP];

const char *iox2_last_create_error(void) { return create_error; }

void iox2i_set_create_error(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(create_error, sizeof create_error, fmt, ap);
	va_end(ap);
}

const char *iox2_node_errmsg(const iox2_node *node) {
	if (!node)
		return "iox2: NULL node";
	return node->errmsg;
}

void iox2i_errmsg_set(iox2_node *node, const char *fmt, ...) {
	if (!node)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(node->errmsg, sizeof node->errmsg, fmt, ap);
	va_end(ap);
}

int iox2i_err(iox2_node *node, int code, const char *fmt, ...) {
	if (!node)
		return code;
	size_t n = (size_t)snprintf(node->errmsg, sizeof node->errmsg, "%s", iox2_errstr(code));
	if (fmt && n + 2 < sizeof node->errmsg) {
		node->errmsg[n++] = ':';
		node->errmsg[n++] = ' ';
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(node->errmsg + n, sizeof node->errmsg - n, fmt, ap);
		va_end(ap);
	}
	return code;
}

void iox2i_go_quote(char *buf, size_t cap, const char *s) {
	size_t n = 0;
	if (cap < 3) {
		if (cap)
			buf[0] = 0;
		return;
	}
	buf[n++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p && n + 6 < cap; p++) {
		unsigned c = *p;
		const char *esc = NULL;
		switch (c) {
		case '\a': esc = "\\a"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\v': esc = "\\v"; break;
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		}
		if (esc) {
			n += (size_t)snprintf(buf + n, cap - n, "%s", esc);
		} else if (c < 0x20 || c >= 0x7f) {
			n += (size_t)snprintf(buf + n, cap - n, "\\x%02x", c);
		} else {
			buf[n++] = (char)c;
		}
	}
	buf[n++] = '"';
	buf[n] = 0;
}

int iox2i_service_err(iox2_node *node, const char *op, const char *service, int code,
                      const char *detail_fmt, ...) {
	if (!node)
		return code;
	char q[IOX2I_MAX_SERVICE_NAME * 4 + 8];
	iox2i_go_quote(q, sizeof q, service ? service : "");
	const char *es = iox2_errstr(code);
	size_t n = (size_t)snprintf(node->errmsg, sizeof node->errmsg, "%s service %s: %s", op, q, es);
	if (detail_fmt && n < sizeof node->errmsg) {
		char d[IOX2I_ERRMSG_CAP];
		va_list ap;
		va_start(ap, detail_fmt);
		vsnprintf(d, sizeof d, detail_fmt, ap);
		va_end(ap);
		/* As ServiceError.Error: a detail that repeats the sentinel's text
		 * is not repeated. */
		const char *dp = d;
		size_t el = strlen(es);
		if (strncmp(dp, es, el) == 0 && dp[el] == ':' && dp[el + 1] == ' ')
			dp += el + 2;
		if (*dp && strcmp(dp, es) != 0)
			n += (size_t)snprintf(node->errmsg + n, sizeof node->errmsg - n, ": %s", dp);
	}
	if (code == IOX2_E_SERVICE_CORRUPTED && n < sizeof node->errmsg)
		snprintf(node->errmsg + n, sizeof node->errmsg - n, "%s",
		         " (once no node holds it, iox2 clean or CleanupDeadNodes removes it, and so does, by default, the next node creation)");
	return code;
}

int iox2i_os_err(iox2_node *node, int err, const char *what, const char *path) {
	int code = (err == EACCES || err == EPERM) ? IOX2_E_PERMISSION : IOX2_E_OS;
	return iox2i_err(node, code, "%s %s: %s", what, path ? path : "", strerror(err));
}

/* --- iox2i_buf ------------------------------------------------------------ */

void iox2i_buf_put(iox2i_buf *b, const char *s, size_t n) {
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t c = b->cap ? b->cap : 256;
		while (c < b->len + n + 1)
			c *= 2;
		char *p = realloc(b->p, c);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = c;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

void iox2i_buf_puts(iox2i_buf *b, const char *s) { iox2i_buf_put(b, s, strlen(s)); }

void iox2i_buf_printf(iox2i_buf *b, const char *fmt, ...) {
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof tmp) {
		iox2i_buf_put(b, tmp, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		b->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	iox2i_buf_put(b, big, (size_t)n);
	free(big);
}

void iox2i_buf_free(iox2i_buf *b) {
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
