/* cdata_peer.c: a C process that the Go tests of the data path
 * (lang/c/cdata_test.go) drive line by line over stdin/stdout, with the Go
 * runtime as its peer.
 *
 *   cdata_peer <root> <prefix> <service> <pattern pubsub|reqres> <slice 0|1> <header 0|1>
 *              <msg-hash> <hdr-hash> <req-hash> <resp-hash>
 *
 * The Go test creates the service (or, with the command "create", the C
 * side does); the types are those of cdata_test.go (struct msg, hdr, req,
 * resp below), whose identities the Go test passes as hashes. Commands,
 * one per line; each answers one or more lines, the last one "ok ...",
 * "timeout ..." or "error <code> <errmsg>":
 *
 *   open | create [history buffer borrowed overflow]  the service
 *   pub [max_slice [backpressure]]       create the publisher
 *   send <n> <first> [len]                send n samples with seq first.. (len elements)
 *   update                                publisher: update connections
 *   sub [buffer [history]]                create the subscriber
 *   recv <n> <timeout_ms> [hold]          receive n samples, print them; hold: keep them
 *   release                               release the held samples
 *   close_pub | close_sub
 *   client | server                       create the port
 *   request <value> [len]                 send a request; stays pending
 *   responses <timeout_ms>                receive the pending's responses until the stream ends
 *   serve <nreq> <nresp> <timeout_ms>     answer nreq requests with nresp responses each
 *   close_client | close_server | quit
 */
#include "iox2go.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct msg {
	uint64_t seq;
	int32_t value;
	uint32_t flags;
	double x;
	char name[16];
};

struct hdr {
	uint64_t stamp;
	uint32_t tag;
	uint32_t pad;
};

struct req {
	uint64_t id;
	int64_t a;
};

struct resp {
	uint64_t req;
	int64_t v;
};

static iox2_node *node;
static iox2_service *svc;
static iox2_publisher *pub;
static iox2_subscriber *sub;
static iox2_client *cl;
static iox2_server *srv;
static iox2_pending_response *pending;
static const iox2_sample *held[64];
static int nheld;
static bool slice, header;
static iox2_type_info msg_t, hdr_t, req_t, resp_t;
static const char *service_name;
static int pattern;

static void fail(int rc)
{
	printf("error %d %s\n", rc, node ? iox2_node_errmsg(node) : iox2_last_create_error());
	fflush(stdout);
}

static void ok(const char *what)
{
	printf("ok %s\n", what);
	fflush(stdout);
}

static int open_service(int mode, int64_t history, int64_t buffer, int64_t borrowed, int64_t overflow)
{
	if (pattern == 0) {
		iox2_pubsub_spec spec;
		iox2_pubsub_spec_init(&spec, service_name, &msg_t);
		spec.slice = slice;
		spec.user_header = header ? &hdr_t : NULL;
		spec.history_size = history;
		spec.subscriber_max_buffer_size = buffer;
		spec.subscriber_max_borrowed_samples = borrowed;
		spec.enable_safe_overflow = overflow;
		return iox2_pubsub_service(node, &spec, mode, &svc);
	}
	iox2_reqres_spec spec;
	iox2_reqres_spec_init(&spec, service_name, &req_t, &resp_t);
	spec.request_slice = slice;
	spec.response_slice = slice;
	return iox2_reqres_service(node, &spec, mode, &svc);
}

static void fill(struct msg *m, uint64_t seq, uint64_t k)
{
	m->seq = seq;
	m->value = (int32_t)(seq * 3 + k);
	m->flags = 0xc0de0000u | (uint32_t)k;
	m->x = (double)seq * 0.5 + (double)k;
	char name[48] = {0}; /* as Go's copy: the first 16 bytes, zero-padded */
	snprintf(name, sizeof name, "msg-%" PRIu64 "-%" PRIu64, seq, k);
	memcpy(m->name, name, sizeof m->name);
}

static void print_sample(const iox2_sample *s)
{
	const struct msg *m = iox2_sample_payload(s);
	uint64_t len = iox2_sample_len(s);
	printf("sample seq=%" PRIu64 " pub=%016" PRIx64 " len=%" PRIu64, iox2_sample_sequence(s), iox2_sample_publisher(s),
	       len);
	for (uint64_t k = 0; k < len; k++)
		printf(" [%" PRIu64 " %d %x %.1f %.16s]", m[k].seq, m[k].value, m[k].flags, m[k].x, m[k].name);
	const struct hdr *h = iox2_sample_user_header(s);
	if (h)
		printf(" hdr=%" PRIu64 "/%x", h->stamp, h->tag);
	printf("\n");
}

static void cmd_send(uint64_t n, uint64_t first, uint64_t len)
{
	size_t total = 0;
	for (uint64_t k = 0; k < n; k++) {
		iox2_sample_mut *s;
		int rc = iox2_publisher_loan(pub, len, &s);
		if (rc != IOX2_OK) {
			fail(rc);
			return;
		}
		struct msg *m = iox2_sample_mut_payload(s);
		for (uint64_t e = 0; e < len; e++)
			fill(&m[e], first + k, e);
		struct hdr *h = iox2_sample_mut_user_header(s);
		if (h) {
			h->stamp = (first + k) * 7;
			h->tag = 0xabc;
		}
		size_t d;
		if ((rc = iox2_sample_mut_send(s, &d)) != IOX2_OK) {
			fail(rc);
			return;
		}
		total += d;
	}
	printf("ok sent %zu\n", total);
	fflush(stdout);
}

static void cmd_recv(uint64_t n, int64_t timeout_ms, bool hold)
{
	uint64_t got = 0;
	while (got < n) {
		const iox2_sample *s;
		int rc = iox2_subscriber_receive(sub, &s);
		if (rc != IOX2_OK) {
			fail(rc);
			return;
		}
		if (!s) {
			rc = iox2_subscriber_wait(sub, timeout_ms * 1000000);
			if (rc == IOX2_E_TIMEOUT) {
				printf("timeout %" PRIu64 "\n", got);
				fflush(stdout);
				return;
			}
			if (rc != IOX2_OK) {
				fail(rc);
				return;
			}
			continue;
		}
		print_sample(s);
		got++;
		if (hold && nheld < 64)
			held[nheld++] = s;
		else
			iox2_sample_release(s);
	}
	ok("received");
}

static void cmd_request(int64_t value, uint64_t len)
{
	iox2_request_mut *r;
	int rc = iox2_client_loan(cl, len, &r);
	if (rc != IOX2_OK) {
		fail(rc);
		return;
	}
	struct req *q = iox2_request_mut_payload(r);
	for (uint64_t e = 0; e < len; e++) {
		q[e].id = e;
		q[e].a = value + (int64_t)e;
	}
	if ((rc = iox2_request_mut_send(r, &pending)) != IOX2_OK) {
		fail(rc);
		return;
	}
	printf("ok request %" PRIu64 "\n", iox2_pending_response_request_id(pending));
	fflush(stdout);
}

static void cmd_responses(int64_t timeout_ms)
{
	uint64_t got = 0;
	for (;;) {
		const iox2_response *r;
		int rc = iox2_pending_response_receive(pending, &r);
		if (rc == IOX2_E_STREAM_ENDED)
			break;
		if (rc != IOX2_OK) {
			fail(rc);
			return;
		}
		if (!r) {
			rc = iox2_pending_response_wait(pending, timeout_ms * 1000000);
			if (rc == IOX2_E_STREAM_ENDED)
				break;
			if (rc == IOX2_E_TIMEOUT) {
				printf("timeout %" PRIu64 "\n", got);
				fflush(stdout);
				return;
			}
			if (rc != IOX2_OK) {
				fail(rc);
				return;
			}
			continue;
		}
		const struct resp *p = iox2_response_payload(r);
		printf("response server=%016" PRIx64 " len=%" PRIu64, iox2_response_server(r), iox2_response_len(r));
		for (uint64_t e = 0; e < iox2_response_len(r); e++)
			printf(" [%" PRIu64 " %" PRId64 "]", p[e].req, p[e].v);
		printf("\n");
		iox2_response_release(r);
		got++;
	}
	iox2_pending_response_close(pending);
	pending = NULL;
	printf("ok ended %" PRIu64 "\n", got);
	fflush(stdout);
}

static void cmd_serve(uint64_t nreq, uint64_t nresp, int64_t timeout_ms)
{
	for (uint64_t k = 0; k < nreq;) {
		iox2_active_request *a;
		int rc = iox2_server_receive(srv, &a);
		if (rc != IOX2_OK) {
			fail(rc);
			return;
		}
		if (!a) {
			rc = iox2_server_wait(srv, timeout_ms * 1000000);
			if (rc == IOX2_E_TIMEOUT) {
				printf("timeout %" PRIu64 "\n", k);
				fflush(stdout);
				return;
			}
			if (rc != IOX2_OK) {
				fail(rc);
				return;
			}
			continue;
		}
		const struct req *q = iox2_active_request_payload(a);
		uint64_t len = iox2_active_request_len(a);
		printf("request client=%016" PRIx64 " id=%" PRIu64 " len=%" PRIu64 " connected=%d", iox2_active_request_client(a),
		       iox2_active_request_id(a), len, iox2_active_request_is_connected(a));
		for (uint64_t e = 0; e < len; e++)
			printf(" [%" PRIu64 " %" PRId64 "]", q[e].id, q[e].a);
		printf("\n");
		for (uint64_t j = 0; j < nresp; j++) {
			iox2_response_mut *m;
			uint64_t rlen = slice ? j + 1 : 1;
			if ((rc = iox2_active_request_loan(a, rlen, &m)) != IOX2_OK) {
				fail(rc);
				return;
			}
			struct resp *p = iox2_response_mut_payload(m);
			for (uint64_t e = 0; e < rlen; e++) {
				p[e].req = iox2_active_request_id(a);
				p[e].v = q[0].a * 10 + (int64_t)j + (int64_t)e * 1000;
			}
			if ((rc = iox2_response_mut_send(m)) != IOX2_OK) {
				fail(rc);
				return;
			}
		}
		iox2_active_request_close(a);
		k++;
	}
	ok("served");
}

static void type(iox2_type_info *t, const char *name, uint64_t size, uint64_t align, const char *hash)
{
	t->name = name;
	t->size = size;
	t->align = align;
	t->layout_hash = hash;
	t->layout = "cdata test type";
}

int main(int argc, char **argv)
{
	if (argc != 11) {
		fprintf(stderr, "usage: cdata_peer root prefix service pubsub|reqres slice header msg hdr req resp\n");
		return 2;
	}
	iox2_config cfg;
	iox2_config_default(&cfg);
	cfg.root = argv[1];
	cfg.prefix = argv[2];
	service_name = argv[3];
	pattern = strcmp(argv[4], "reqres") == 0;
	slice = strcmp(argv[5], "1") == 0;
	header = strcmp(argv[6], "1") == 0;
	type(&msg_t, "cdata::Msg", sizeof(struct msg), _Alignof(struct msg), argv[7]);
	type(&hdr_t, "cdata::Hdr", sizeof(struct hdr), _Alignof(struct hdr), argv[8]);
	type(&req_t, "cdata::Req", sizeof(struct req), _Alignof(struct req), argv[9]);
	type(&resp_t, "cdata::Resp", sizeof(struct resp), _Alignof(struct resp), argv[10]);
	int rc = iox2_node_create(&cfg, "cdata-peer", &node);
	if (rc != IOX2_OK) {
		node = NULL;
		fail(rc);
		return 1;
	}
	char line[256];
	while (fgets(line, sizeof line, stdin)) {
		char cmd[32] = "";
		long long a1 = -1, a2 = -1, a3 = -1, a4 = -1;
		if (sscanf(line, "%31s %lld %lld %lld %lld", cmd, &a1, &a2, &a3, &a4) < 1)
			continue;
		if (strcmp(cmd, "open") == 0 || strcmp(cmd, "create") == 0) {
			rc = open_service(cmd[0] == 'o' ? IOX2_OPEN : IOX2_CREATE, a1, a2, a3, a4);
			rc == IOX2_OK ? ok("service") : fail(rc);
		} else if (strcmp(cmd, "pub") == 0) {
			iox2_publisher_options o;
			iox2_publisher_options_init(&o);
			o.max_slice_len = a1 > 0 ? a1 : IOX2_UNSET;
			o.backpressure = a2 >= 0 ? a2 : IOX2_UNSET;
			rc = iox2_publisher_create(svc, &o, &pub);
			rc == IOX2_OK ? ok("publisher") : fail(rc);
		} else if (strcmp(cmd, "send") == 0) {
			cmd_send((uint64_t)a1, (uint64_t)a2, a3 > 0 ? (uint64_t)a3 : 1);
		} else if (strcmp(cmd, "update") == 0) {
			rc = iox2_publisher_update_connections(pub);
			rc == IOX2_OK ? ok("updated") : fail(rc);
		} else if (strcmp(cmd, "sub") == 0) {
			iox2_subscriber_options o;
			iox2_subscriber_options_init(&o);
			o.buffer_size = a1 > 0 ? a1 : IOX2_UNSET;
			o.history_request = a2 >= 0 ? a2 : IOX2_UNSET;
			rc = iox2_subscriber_create(svc, &o, &sub);
			rc == IOX2_OK ? ok("subscriber") : fail(rc);
		} else if (strcmp(cmd, "recv") == 0) {
			cmd_recv((uint64_t)a1, a2, a3 == 1);
		} else if (strcmp(cmd, "release") == 0) {
			for (int k = 0; k < nheld; k++)
				iox2_sample_release(held[k]);
			nheld = 0;
			ok("released");
		} else if (strcmp(cmd, "close_pub") == 0) {
			iox2_publisher_close(pub);
			pub = NULL;
			ok("closed");
		} else if (strcmp(cmd, "close_sub") == 0) {
			iox2_subscriber_close(sub);
			sub = NULL;
			ok("closed");
		} else if (strcmp(cmd, "client") == 0) {
			iox2_client_options o;
			iox2_client_options_init(&o);
			o.max_slice_len = a1 > 0 ? a1 : IOX2_UNSET;
			rc = iox2_client_create(svc, &o, &cl);
			rc == IOX2_OK ? ok("client") : fail(rc);
		} else if (strcmp(cmd, "server") == 0) {
			iox2_server_options o;
			iox2_server_options_init(&o);
			o.max_slice_len = a1 > 0 ? a1 : IOX2_UNSET;
			rc = iox2_server_create(svc, &o, &srv);
			rc == IOX2_OK ? ok("server") : fail(rc);
		} else if (strcmp(cmd, "request") == 0) {
			cmd_request(a1, a2 > 0 ? (uint64_t)a2 : 1);
		} else if (strcmp(cmd, "responses") == 0) {
			cmd_responses(a1);
		} else if (strcmp(cmd, "serve") == 0) {
			cmd_serve((uint64_t)a1, (uint64_t)a2, a3);
		} else if (strcmp(cmd, "close_client") == 0) {
			iox2_client_close(cl);
			cl = NULL;
			ok("closed");
		} else if (strcmp(cmd, "close_server") == 0) {
			iox2_server_close(srv);
			srv = NULL;
			ok("closed");
		} else if (strcmp(cmd, "quit") == 0) {
			break;
		} else {
			printf("error 1 unknown command %s\n", cmd);
			fflush(stdout);
		}
	}
	for (int k = 0; k < nheld; k++)
		iox2_sample_release(held[k]);
	iox2_node_close(node);
	ok("bye");
	return 0;
}
