/* cnode_tool: a C peer for lang/c's Go tests of nodes, services and events.
 * The domain comes from $IOX2C_ROOT, $IOX2C_SHM and $IOX2C_PREFIX.
 *
 *   cnode_tool pubsub <mode> <svc> <type> <size> <align> <layout-hash> [hold]
 *   cnode_tool reqres <mode> <svc> <req-type> <size> <align> <hash> <resp-type> <size> <align> <hash> [hold]
 *   cnode_tool event <mode> <svc> [hold]
 *       mode: open, create, open-or-create. Prints "ok" or
 *       "err <code> <errmsg>"; with hold, then waits for stdin to close.
 *   cnode_tool notify <svc> <id> <count>             notifies (open-or-create)
 *   cnode_tool listen <svc> <timeout-ms> <count>     prints "ready", then one
 *       line "event <id>" per event received (wait_one), or "timeout"
 *   cnode_tool hold-all <svc>                        node + event service + a
 *       listener + a notifier, prints "ready <node-id-hex>", then sleeps
 *       (the test SIGKILLs it)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iox2go.h"

static iox2_config cfg;

static int mode_of(const char *s) {
	if (strcmp(s, "open") == 0)
		return IOX2_OPEN;
	if (strcmp(s, "create") == 0)
		return IOX2_CREATE;
	return IOX2_OPEN_OR_CREATE;
}

static iox2_node *node(void) {
	iox2_node *n = NULL;
	int rc = iox2_node_create(&cfg, "cnode_tool", &n);
	if (rc != IOX2_OK) {
		printf("err %d %s\n", rc, iox2_last_create_error());
		exit(1);
	}
	return n;
}

static void wait_stdin(void) {
	char buf[64];
	while (fgets(buf, sizeof buf, stdin))
		;
}

static void report(iox2_node *n, int rc) {
	if (rc == IOX2_OK)
		printf("ok\n");
	else
		printf("err %d %s\n", rc, iox2_node_errmsg(n));
	fflush(stdout);
}

static iox2_type_info type_of(char **a) {
	iox2_type_info t = {.name = a[0], .size = strtoull(a[1], NULL, 10), .align = strtoull(a[2], NULL, 10), .layout_hash = a[3],
	                    .layout = ""};
	return t;
}

int main(int argc, char **argv) {
	iox2_config_default(&cfg);
	if (getenv("IOX2C_ROOT"))
		cfg.root = getenv("IOX2C_ROOT");
	if (getenv("IOX2C_SHM"))
		cfg.shm_dir = getenv("IOX2C_SHM");
	if (getenv("IOX2C_PREFIX"))
		cfg.prefix = getenv("IOX2C_PREFIX");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return 2;
	const char *cmd = argv[1];
	if (strcmp(cmd, "event") == 0 && argc >= 4) {
		iox2_node *n = node();
		iox2_event_spec spec;
		iox2_event_spec_init(&spec, argv[3]);
		iox2_service *s = NULL;
		int rc = iox2_event_service(n, &spec, mode_of(argv[2]), &s);
		report(n, rc);
		if (rc == IOX2_OK && argc > 4)
			wait_stdin();
		iox2_node_close(n);
		return rc == IOX2_OK ? 0 : 1;
	}
	if (strcmp(cmd, "pubsub") == 0 && argc >= 8) {
		iox2_node *n = node();
		iox2_type_info t = type_of(argv + 4);
		iox2_pubsub_spec spec;
		iox2_pubsub_spec_init(&spec, argv[3], &t);
		iox2_service *s = NULL;
		int rc = iox2_pubsub_service(n, &spec, mode_of(argv[2]), &s);
		report(n, rc);
		if (rc == IOX2_OK && argc > 8)
			wait_stdin();
		iox2_node_close(n);
		return rc == IOX2_OK ? 0 : 1;
	}
	if (strcmp(cmd, "reqres") == 0 && argc >= 12) {
		iox2_node *n = node();
		iox2_type_info rq = type_of(argv + 4), rs = type_of(argv + 8);
		iox2_reqres_spec spec;
		iox2_reqres_spec_init(&spec, argv[3], &rq, &rs);
		iox2_service *s = NULL;
		int rc = iox2_reqres_service(n, &spec, mode_of(argv[2]), &s);
		report(n, rc);
		if (rc == IOX2_OK && argc > 12)
			wait_stdin();
		iox2_node_close(n);
		return rc == IOX2_OK ? 0 : 1;
	}
	if (strcmp(cmd, "notify") == 0 && argc == 5) {
		iox2_node *n = node();
		iox2_event_spec spec;
		iox2_event_spec_init(&spec, argv[2]);
		iox2_service *s = NULL;
		int rc = iox2_event_service(n, &spec, IOX2_OPEN_OR_CREATE, &s);
		iox2_notifier *nt = NULL;
		if (rc == IOX2_OK)
			rc = iox2_notifier_create(s, IOX2_UNSET, &nt);
		size_t total = 0;
		for (int i = 0; rc == IOX2_OK && i < atoi(argv[4]); i++) {
			size_t k;
			rc = iox2_notifier_notify_id(nt, strtoull(argv[3], NULL, 10), &k);
			total += k;
		}
		if (rc == IOX2_OK)
			printf("notified %zu\n", total);
		else
			report(n, rc);
		iox2_node_close(n);
		return rc == IOX2_OK ? 0 : 1;
	}
	if (strcmp(cmd, "listen") == 0 && argc == 5) {
		iox2_node *n = node();
		iox2_event_spec spec;
		iox2_event_spec_init(&spec, argv[2]);
		iox2_service *s = NULL;
		int rc = iox2_event_service(n, &spec, IOX2_OPEN_OR_CREATE, &s);
		iox2_listener *l = NULL;
		if (rc == IOX2_OK)
			rc = iox2_listener_create(s, &l);
		if (rc != IOX2_OK) {
			report(n, rc);
			iox2_node_close(n);
			return 1;
		}
		printf("ready\n");
		int64_t timeout = (int64_t)atoll(argv[3]) * 1000000;
		for (int i = 0; i < atoi(argv[4]); i++) {
			uint64_t id;
			rc = iox2_listener_wait_one(l, timeout, &id);
			if (rc == IOX2_E_TIMEOUT) {
				printf("timeout\n");
				break;
			}
			if (rc != IOX2_OK) {
				report(n, rc);
				break;
			}
			printf("event %llu\n", (unsigned long long)id);
		}
		iox2_node_close(n);
		return rc == IOX2_OK ? 0 : 1;
	}
	if (strcmp(cmd, "hold-all") == 0 && argc == 3) {
		iox2_node *n = node();
		iox2_event_spec spec;
		iox2_event_spec_init(&spec, argv[2]);
		iox2_service *s = NULL;
		iox2_listener *l = NULL;
		iox2_notifier *nt = NULL;
		int rc = iox2_event_service(n, &spec, IOX2_OPEN_OR_CREATE, &s);
		if (rc == IOX2_OK)
			rc = iox2_listener_create(s, &l);
		if (rc == IOX2_OK)
			rc = iox2_notifier_create(s, IOX2_UNSET, &nt);
		if (rc != IOX2_OK) {
			report(n, rc);
			return 1;
		}
		printf("ready %016llx\n", (unsigned long long)iox2_node_id(n));
		for (;;)
			pause();
	}
	fprintf(stderr, "cnode_tool: bad arguments\n");
	return 2;
}
