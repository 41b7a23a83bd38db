/* json.c: a small strict JSON parser (RFC 8259) into a tree, bounded in
 * size, depth and number of values, for the files of the domain that
 * other processes write (static configs); and the writing of strings.
 * Whatever the input, it returns a tree or a reason, never crashes. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct parser {
	const char *s;
	size_t len, pos;
	int values;
	char *why;
	size_t whycap;
	bool oom;
} parser;

static bool fail(parser *p, const char *what) {
	if (p->why && p->why[0] == 0)
		snprintf(p->why, p->whycap, "%s at byte %zu", what, p->pos);
	return false;
}

static void skip_ws(parser *p) {
	while (p->pos < p->len) {
		char c = p->s[p->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return;
		p->pos++;
	}
}

static iox2i_json *new_value(parser *p, iox2i_jtype t) {
	if (++p->values > IOX2I_JSON_MAX_VALUES) {
		fail(p, "too many values");
		return NULL;
	}
	iox2i_json *j = calloc(1, sizeof *j);
	if (!j) {
		p->oom = true;
		fail(p, "out of memory");
		return NULL;
	}
	j->type = t;
	return j;
}

static int hexval(char c) {
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool hex4(parser *p, unsigned *out) {
	if (p->len - p->pos < 4)
		return fail(p, "truncated \\u escape");
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(p->s[p->pos + (size_t)i]);
		if (h < 0)
			return fail(p, "invalid \\u escape");
		v = v << 4 | (unsigned)h;
	}
	p->pos += 4;
	*out = v;
	return true;
}

static size_t put_utf8(char *d, unsigned c) {
	if (c < 0x80) {
		d[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		d[0] = (char)(0xc0 | c >> 6);
		d[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		d[0] = (char)(0xe0 | c >> 12);
		d[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		d[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | c >> 18);
	d[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	d[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	d[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* parse_string: at the opening quote; the decoded string into *out. */
static bool parse_string(parser *p, char **out, size_t *outlen) {
	p->pos++; /* " */
	/* The decoded string is never longer than the literal. */
	size_t start = p->pos, end = start;
	while (end < p->len && p->s[end] != '"') {
		if (p->s[end] == '\\')
			end++;
		end++;
	}
	if (end >= p->len)
		return fail(p, "unterminated string");
	char *d = malloc(end - start + 1);
	if (!d) {
		p->oom = true;
		return fail(p, "out of memory");
	}
	size_t n = 0;
	while (p->pos < p->len) {
		unsigned char c = (unsigned char)p->s[p->pos];
		if (c == '"') {
			p->pos++;
			d[n] = 0;
			*out = d;
			*outlen = n;
			return true;
		}
		if (c < 0x20) {
			free(d);
			return fail(p, "control character in string");
		}
		if (c != '\\') {
			d[n++] = (char)c;
			p->pos++;
			continue;
		}
		p->pos++;
		if (p->pos >= p->len)
			break;
		char e = p->s[p->pos++];
		switch (e) {
		case '"': d[n++] = '"'; break;
		case '\\': d[n++] = '\\'; break;
		case '/': d[n++] = '/'; break;
		case 'b': d[n++] = '\b'; break;
		case 'f': d[n++] = '\f'; break;
		case 'n': d[n++] = '\n'; break;
		case 'r': d[n++] = '\r'; break;
		case 't': d[n++] = '\t'; break;
		case 'u': {
			unsigned u;
			if (!hex4(p, &u)) {
				free(d);
				return false;
			}
			if (u >= 0xd800 && u < 0xdc00) {
				unsigned lo;
				if (p->len - p->pos >= 6 && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u') {
					p->pos += 2;
					if (!hex4(p, &lo)) {
						free(d);
						return false;
					}
					if (lo >= 0xdc00 && lo < 0xe000)
						u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
					else
						u = 0xfffd; /* as Go: an unpaired surrogate is U+FFFD */
				} else {
					u = 0xfffd;
				}
			} else if (u >= 0xdc00 && u < 0xe000) {
				u = 0xfffd;
			}
			if (u == 0) {
				free(d);
				return fail(p, "NUL character in string");
			}
			n += put_utf8(d + n, u);
			break;
		}
		default:
			free(d);
			return fail(p, "invalid escape in string");
		}
	}
	free(d);
	return fail(p, "unterminated string");
}

static bool parse_number(parser *p, iox2i_json *j) {
	size_t start = p->pos;
	if (p->pos < p->len && p->s[p->pos] == '-')
		p->pos++;
	if (p->pos >= p->len)
		return fail(p, "truncated number");
	if (p->s[p->pos] == '0') {
		p->pos++;
	} else if (p->s[p->pos] >= '1' && p->s[p->pos] <= '9') {
		while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			p->pos++;
	} else {
		return fail(p, "invalid number");
	}
	if (p->pos < p->len && p->s[p->pos] == '.') {
		p->pos++;
		size_t d = p->pos;
		while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			p->pos++;
		if (p->pos == d)
			return fail(p, "invalid number");
	}
	if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		size_t d = p->pos;
		while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			p->pos++;
		if (p->pos == d)
			return fail(p, "invalid number");
	}
	size_t n = p->pos - start;
	j->num = malloc(n + 1);
	if (!j->num) {
		p->oom = true;
		return fail(p, "out of memory");
	}
	memcpy(j->num, p->s + start, n);
	j->num[n] = 0;
	return true;
}

static bool literal(parser *p, const char *lit) {
	size_t n = strlen(lit);
	if (p->len - p->pos < n || memcmp(p->s + p->pos, lit, n) != 0)
		return fail(p, "invalid literal");
	p->pos += n;
	return true;
}

static iox2i_json *parse_value(parser *p, int depth);

static iox2i_json *parse_container(parser *p, int depth, bool object) {
	iox2i_json *j = new_value(p, object ? IOX2I_JOBJ : IOX2I_JARR);
	if (!j)
		return NULL;
	p->pos++; /* [ or { */
	iox2i_json **tail = &j->child;
	skip_ws(p);
	char close = object ? '}' : ']';
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		return j;
	}
	for (;;) {
		char *key = NULL;
		size_t klen;
		skip_ws(p);
		if (object) {
			if (p->pos >= p->len || p->s[p->pos] != '"') {
				fail(p, "expected a string key");
				goto bad;
			}
			if (!parse_string(p, &key, &klen))
				goto bad;
			skip_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':') {
				free(key);
				fail(p, "expected ':'");
				goto bad;
			}
			p->pos++;
		}
		iox2i_json *v = parse_value(p, depth + 1);
		if (!v) {
			free(key);
			goto bad;
		}
		v->key = key;
		*tail = v;
		tail = &v->next;
		skip_ws(p);
		if (p->pos >= p->len) {
			fail(p, "unexpected end");
			goto bad;
		}
		char c = p->s[p->pos++];
		if (c == close)
			return j;
		if (c != ',') {
			p->pos--;
			fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
			goto bad;
		}
	}
bad:
	iox2i_json_free(j);
	return NULL;
}

static iox2i_json *parse_value(parser *p, int depth) {
	if (depth > IOX2I_JSON_MAX_DEPTH) {
		fail(p, "nested too deeply");
		return NULL;
	}
	skip_ws(p);
	if (p->pos >= p->len) {
		fail(p, "unexpected end");
		return NULL;
	}
	char c = p->s[p->pos];
	iox2i_json *j;
	switch (c) {
	case '{': return parse_container(p, depth, true);
	case '[': return parse_container(p, depth, false);
	case '"':
		j = new_value(p, IOX2I_JSTR);
		if (j && !parse_string(p, &j->s, &j->slen)) {
			iox2i_json_free(j);
			return NULL;
		}
		return j;
	case 't':
	case 'f':
		j = new_value(p, IOX2I_JBOOL);
		if (j && !literal(p, c == 't' ? "true" : "false")) {
			iox2i_json_free(j);
			return NULL;
		}
		if (j)
			j->b = c == 't';
		return j;
	case 'n':
		j = new_value(p, IOX2I_JNULL);
		if (j && !literal(p, "null")) {
			iox2i_json_free(j);
			return NULL;
		}
		return j;
	default:
		if (c == '-' || (c >= '0' && c <= '9')) {
			j = new_value(p, IOX2I_JNUM);
			if (j && !parse_number(p, j)) {
				iox2i_json_free(j);
				return NULL;
			}
			return j;
		}
		fail(p, "invalid character");
		return NULL;
	}
}

int iox2i_json_parse(const char *text, size_t len, iox2i_json **out, char *why, size_t whycap) {
	*out = NULL;
	if (why && whycap)
		why[0] = 0;
	parser p = {.s = text, .len = len, .why = why, .whycap = whycap};
	if (len > IOX2I_JSON_MAX_BYTES) {
		if (why)
			snprintf(why, whycap, "%zu bytes, more than the %u a JSON file may have", len, IOX2I_JSON_MAX_BYTES);
		return IOX2_E_SERVICE_CORRUPTED;
	}
	iox2i_json *j = parse_value(&p, 0);
	if (j) {
		skip_ws(&p);
		if (p.pos != p.len) {
			fail(&p, "invalid character after the top-level value");
			iox2i_json_free(j);
			j = NULL;
		}
	}
	if (!j)
		return p.oom ? IOX2_E_NO_MEMORY : IOX2_E_SERVICE_CORRUPTED;
	*out = j;
	return IOX2_OK;
}

void iox2i_json_free(iox2i_json *j) {
	while (j) {
		iox2i_json *next = j->next;
		iox2i_json_free(j->child);
		free(j->s);
		free(j->num);
		free(j->key);
		free(j);
		j = next;
	}
}

const iox2i_json *iox2i_json_get(const iox2i_json *obj, const char *key) {
	/* As Go's encoding/json: the last member that names the field wins,
	 * and a key matches exactly or, failing that, ignoring case. */
	if (!obj || obj->type != IOX2I_JOBJ)
		return NULL;
	const iox2i_json *exact = NULL, *fold = NULL;
	for (const iox2i_json *m = obj->child; m; m = m->next) {
		if (strcmp(m->key, key) == 0)
			exact = m;
		else if (strcasecmp(m->key, key) == 0)
			fold = m;
	}
	return exact ? exact : fold;
}

bool iox2i_json_uint(const iox2i_json *j, uint64_t *out) {
	if (!j || j->type != IOX2I_JNUM || j->num[0] == '-')
		return false;
	uint64_t v = 0;
	for (const char *c = j->num; *c; c++) {
		if (*c < '0' || *c > '9')
			return false;
		unsigned d = (unsigned)(*c - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

bool iox2i_json_int(const iox2i_json *j, int64_t min, int64_t max, int64_t *out) {
	if (!j || j->type != IOX2I_JNUM)
		return false;
	const char *c = j->num;
	bool neg = *c == '-';
	if (neg)
		c++;
	uint64_t v = 0;
	for (; *c; c++) {
		if (*c < '0' || *c > '9')
			return false;
		unsigned d = (unsigned)(*c - '0');
		if (v > ((uint64_t)INT64_MAX + 1 - d) / 10)
			return false;
		v = v * 10 + d;
	}
	int64_t r;
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return false;
		r = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > (uint64_t)INT64_MAX)
			return false;
		r = (int64_t)v;
	}
	if (r < min || r > max)
		return false;
	*out = r;
	return true;
}

void iox2i_json_str(iox2i_buf *b, const char *s) {
	static const char hex[] = "0123456789abcdef";
	iox2i_buf_put(b, "\"", 1);
	const unsigned char *p = (const unsigned char *)s;
	size_t start = 0, i = 0;
	for (; p[i]; i++) {
		unsigned c = p[i];
		const char *esc = NULL;
		char u[7];
		if (c == '"')
			esc = "\\\"";
		else if (c == '\\')
			esc = "\\\\";
		else if (c == '\b')
			esc = "\\b";
		else if (c == '\f')
			esc = "\\f";
		else if (c == '\n')
			esc = "\\n";
		else if (c == '\r')
			esc = "\\r";
		else if (c == '\t')
			esc = "\\t";
		else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
			u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0', u[4] = hex[c >> 4], u[5] = hex[c & 15], u[6] = 0;
			esc = u;
		} else if (c == 0xe2 && p[i + 1] == 0x80 && (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) {
			/* U+2028, U+2029, escaped as Go does. */
			iox2i_buf_put(b, s + start, i - start);
			iox2i_buf_puts(b, p[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
			i += 2;
			start = i + 1;
			continue;
		}
		if (esc) {
			iox2i_buf_put(b, s + start, i - start);
			iox2i_buf_puts(b, esc);
			start = i + 1;
		}
	}
	iox2i_buf_put(b, s + start, i - start);
	iox2i_buf_put(b, "\"", 1);
}
