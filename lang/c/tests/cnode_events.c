/* cnode_events: the event pattern and service checks of the C library
 * within one process (two nodes, two threads for the blocking wake-up).
 * The domain comes from $IOX2C_ROOT, $IOX2C_SHM and $IOX2C_PREFIX. Prints
 * "PASS" or the failures. */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iox2go.h"

static int fails;
static iox2_config cfg;

#define CHECK(cond, ...)                                                                                              \
	do {                                                                                                              \
		if (!(cond)) {                                                                                                \
			fails++;                                                                                                  \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                               \
			printf(__VA_ARGS__);                                                                                      \
			printf("\n");                                                                                             \
		}                                                                                                             \
	} while (0)

static int64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void collect(void *ctx, uint64_t id) {
	uint64_t *mask = ctx; /* two words: ids 0..127 */
	if (id < 128)
		mask[id / 64] |= (uint64_t)1 << (id % 64);
}

static iox2_node *mknode(void) {
	iox2_node *n = NULL;
	int rc = iox2_node_create(&cfg, "events", &n);
	if (rc != IOX2_OK) {
		printf("FAIL node: %s\n", iox2_last_create_error());
		exit(1);
	}
	return n;
}

static void test_basic(void) {
	iox2_node *n = mknode();
	iox2_event_spec spec;
	iox2_event_spec_init(&spec, "ev/basic");
	spec.max_notifiers = 1;
	spec.notifier_created_event = 1;
	spec.notifier_dropped_event = 2;
	iox2_attribute attr = {"color", "blue"};
	spec.attributes = &attr;
	spec.num_attributes = 1;
	iox2_service *s;
	int rc = iox2_event_service(n, &spec, IOX2_CREATE, &s);
	CHECK(rc == IOX2_OK, "create: %s", iox2_node_errmsg(n));
	iox2_listener *l;
	rc = iox2_listener_create(s, &l);
	CHECK(rc == IOX2_OK, "listener: %s", iox2_node_errmsg(n));
	uint64_t id = 99;
	int64_t t0 = now_ns();
	rc = iox2_listener_wait_one(l, 30000000, &id);
	int64_t waited = now_ns() - t0;
	CHECK(rc == IOX2_E_TIMEOUT && waited >= 30000000 && waited < 1000000000, "empty wait: rc %d after %lld ns", rc,
	      (long long)waited);
	iox2_notifier *nt, *nt2;
	rc = iox2_notifier_create(s, 5, &nt);
	CHECK(rc == IOX2_OK, "notifier: %s", iox2_node_errmsg(n));
	rc = iox2_notifier_create(s, 5, &nt2);
	CHECK(rc == IOX2_E_EXCEEDS_MAX_NOTIFIERS &&
	          strcmp(iox2_node_errmsg(n),
	                 "create notifier service \"ev/basic\": iox2: service already has its maximum number of notifiers: the service supports 1") == 0,
	      "second notifier: %d %s", rc, iox2_node_errmsg(n));
	rc = iox2_listener_wait_one(l, 0, &id);
	CHECK(rc == IOX2_OK && id == 1, "created event: rc %d id %llu", rc, (unsigned long long)id);
	size_t k;
	rc = iox2_notifier_notify(nt, &k);
	CHECK(rc == IOX2_OK && k == 1, "notify: rc %d k %zu", rc, k);
	rc = iox2_notifier_notify_id(nt, 63, &k);
	rc |= iox2_notifier_notify_id(nt, 64, &k);
	rc |= iox2_notifier_notify_id(nt, 64, &k);
	CHECK(rc == IOX2_OK, "notify ids");
	rc = iox2_notifier_notify_id(nt, 256, &k);
	CHECK(rc == IOX2_E_EVENT_ID_OUT_OF_BOUNDS &&
	          strcmp(iox2_node_errmsg(n),
	                 "iox2: event id exceeds the service's event id max value: id 256, the service's max is 255") == 0,
	      "out of bounds: %d %s", rc, iox2_node_errmsg(n));
	rc = iox2_listener_wait_one(l, 0, &id);
	CHECK(rc == IOX2_OK && id == 5, "first of three: %llu", (unsigned long long)id);
	uint64_t mask[2] = {0, 0};
	size_t count = 0;
	rc = iox2_listener_wait_all(l, 0, collect, mask, &count);
	CHECK(rc == IOX2_OK && count == 2 && mask[0] == ((uint64_t)1 << 63) && mask[1] == 1,
	      "wait_all (63 and twice 64, coalesced): rc %d count %zu mask %llx %llx", rc, count, (unsigned long long)mask[0],
	      (unsigned long long)mask[1]);
	iox2_notifier_close(nt);
	rc = iox2_listener_wait_one(l, 0, &id);
	CHECK(rc == IOX2_OK && id == 2, "dropped event: rc %d id %llu", rc, (unsigned long long)id);

	/* Open checks, from a second node. */
	iox2_node *n2 = mknode();
	iox2_service *s2;
	iox2_event_spec want;
	iox2_event_spec_init(&want, "ev/basic");
	want.max_listeners = 32;
	rc = iox2_event_service(n2, &want, IOX2_OPEN, &s2);
	CHECK(rc == IOX2_E_INCOMPATIBLE_QOS &&
	          strcmp(iox2_node_errmsg(n2),
	                 "open service \"ev/basic\": iox2: incompatible quality of service: requested max listeners of at least 32, service has 16") == 0,
	      "qos: %d %s", rc, iox2_node_errmsg(n2));
	iox2_event_spec_init(&want, "ev/basic");
	iox2_attribute req = {"size", ""};
	want.required_attributes = &req;
	want.num_required_attributes = 1;
	rc = iox2_event_service(n2, &want, IOX2_OPEN, &s2);
	CHECK(rc == IOX2_E_INCOMPATIBLE_ATTRIBUTES &&
	          strcmp(iox2_node_errmsg(n2),
	                 "open service \"ev/basic\": iox2: incompatible attributes: required key \"size\", service has {color=blue}") == 0,
	      "attrs: %d %s", rc, iox2_node_errmsg(n2));
	iox2_event_spec_init(&want, "ev/basic");
	want.notifier_dropped_event = 3;
	rc = iox2_event_service(n2, &want, IOX2_OPEN, &s2);
	CHECK(rc == IOX2_E_INCOMPATIBLE_QOS && strstr(iox2_node_errmsg(n2), "requested notifier dropped event 3, service has 2"),
	      "dropped: %d %s", rc, iox2_node_errmsg(n2));
	iox2_event_spec_init(&want, "iox2://x");
	rc = iox2_event_service(n2, &want, IOX2_OPEN, &s2);
	CHECK(rc == IOX2_E_INVALID_SERVICE_NAME &&
	          strcmp(iox2_node_errmsg(n2),
	                 "open service \"iox2://x\": iox2: invalid service name: iox2: invalid service name \"iox2://x\": the prefix \"iox2://\" is reserved") == 0,
	      "name: %d %s", rc, iox2_node_errmsg(n2));
	iox2_event_spec_init(&want, "ev/none");
	rc = iox2_event_service(n2, &want, IOX2_OPEN, &s2);
	CHECK(rc == IOX2_E_SERVICE_NOT_EXIST && strcmp(iox2_node_errmsg(n2), "open service \"ev/none\": iox2: service does not exist") == 0,
	      "missing: %d %s", rc, iox2_node_errmsg(n2));
	iox2_event_spec_init(&want, "ev/basic");
	rc = iox2_event_service(n2, &want, IOX2_OPEN, &s2);
	CHECK(rc == IOX2_OK, "open: %s", iox2_node_errmsg(n2));
	iox2_node_close(n2);
	iox2_node_close(n); /* closes the listener and the service, removes it */
}

static void test_deadline(void) {
	iox2_node *n = mknode();
	iox2_event_spec spec;
	iox2_event_spec_init(&spec, "ev/deadline");
	spec.deadline_ns = 2000000;
	iox2_service *s;
	int rc = iox2_event_service(n, &spec, IOX2_CREATE, &s);
	CHECK(rc == IOX2_OK, "create: %s", iox2_node_errmsg(n));
	iox2_notifier *nt;
	rc = iox2_notifier_create(s, IOX2_UNSET, &nt);
	CHECK(rc == IOX2_OK, "notifier: %s", iox2_node_errmsg(n));
	usleep(10000);
	rc = iox2_notifier_notify(nt, NULL);
	CHECK(rc == IOX2_E_MISSED_DEADLINE && strstr(iox2_node_errmsg(n), "since the previous notification, deadline 2ms"),
	      "deadline: %d %s", rc, iox2_node_errmsg(n));
	rc = iox2_notifier_notify(nt, NULL);
	CHECK(rc == IOX2_OK, "in time: %d %s", rc, iox2_node_errmsg(n));
	iox2_node_close(n);
}

typedef struct wake_arg {
	uint64_t got;
	int rc;
	int64_t waited;
} wake_arg;

static void *listen_thread(void *p) {
	wake_arg *a = p;
	iox2_node *n = mknode();
	iox2_event_spec spec;
	iox2_event_spec_init(&spec, "ev/wake");
	iox2_service *s;
	iox2_listener *l;
	a->rc = iox2_event_service(n, &spec, IOX2_OPEN_OR_CREATE, &s);
	if (a->rc == IOX2_OK)
		a->rc = iox2_listener_create(s, &l);
	if (a->rc == IOX2_OK) {
		int64_t t0 = now_ns();
		a->rc = iox2_listener_wait_one(l, IOX2_FOREVER, &a->got);
		a->waited = now_ns() - t0;
	}
	iox2_node_close(n);
	return NULL;
}

static void test_wake(void) {
	iox2_node *n = mknode();
	iox2_event_spec spec;
	iox2_event_spec_init(&spec, "ev/wake");
	iox2_service *s;
	int rc = iox2_event_service(n, &spec, IOX2_OPEN_OR_CREATE, &s);
	CHECK(rc == IOX2_OK, "create: %s", iox2_node_errmsg(n));
	wake_arg a = {0};
	pthread_t th;
	pthread_create(&th, NULL, listen_thread, &a);
	iox2_notifier *nt;
	rc = iox2_notifier_create(s, 17, &nt);
	CHECK(rc == IOX2_OK, "notifier: %s", iox2_node_errmsg(n));
	/* Until the listener exists, then let it fall asleep. */
	size_t k = 0;
	for (int i = 0; i < 1000 && k == 0; i++) {
		usleep(1000);
		iox2_notifier_notify_id(nt, 0, &k);
	}
	pthread_join(th, NULL);
	CHECK(a.rc == IOX2_OK && a.got == 0, "woken: rc %d id %llu", a.rc, (unsigned long long)a.got);
	iox2_node_close(n);
}

/* test_fd: an event loop polls the node's doorbell (iox2_node_fd). */
static void test_fd(void) {
	iox2_node *n = mknode(), *n2 = mknode();
	iox2_event_spec spec;
	iox2_event_spec_init(&spec, "ev/fd");
	iox2_service *s, *s2;
	iox2_listener *l;
	iox2_notifier *nt;
	int rc = iox2_event_service(n, &spec, IOX2_CREATE, &s);
	rc |= iox2_listener_create(s, &l);
	rc |= iox2_event_service(n2, &spec, IOX2_OPEN, &s2);
	rc |= iox2_notifier_create(s2, 9, &nt);
	CHECK(rc == IOX2_OK, "setup: %s / %s", iox2_node_errmsg(n), iox2_node_errmsg(n2));
	int fd = iox2_node_fd(n);
	CHECK(fd >= 0, "fd %d", fd);
	uint64_t id;
	rc = iox2_listener_wait_one(l, 0, &id);
	CHECK(rc == IOX2_E_TIMEOUT, "empty try: %d", rc);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	CHECK(poll(&p, 1, 0) == 0, "readable before any notification");
	rc = iox2_notifier_notify(nt, NULL);
	CHECK(rc == IOX2_OK, "notify: %s", iox2_node_errmsg(n2));
	CHECK(poll(&p, 1, 1000) == 1, "the doorbell did not turn readable");
	rc = iox2_listener_wait_one(l, 0, &id);
	CHECK(rc == IOX2_OK && id == 9, "after poll: rc %d id %llu", rc, (unsigned long long)id);
	CHECK(poll(&p, 1, 0) == 0, "still readable after the try consumed the doorbell");
	iox2_node_close(n2);
	iox2_node_close(n);
}

int main(void) {
	iox2_config_default(&cfg);
	if (getenv("IOX2C_ROOT"))
		cfg.root = getenv("IOX2C_ROOT");
	if (getenv("IOX2C_SHM"))
		cfg.shm_dir = getenv("IOX2C_SHM");
	if (getenv("IOX2C_PREFIX"))
		cfg.prefix = getenv("IOX2C_PREFIX");
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_basic();
	test_deadline();
	test_wake();
	test_fd();
	if (fails) {
		printf("%d failures\n", fails);
		return 1;
	}
	printf("PASS\n");
	return 0;
}
