/* peer.c: the C implementation of the conformance suite's peer protocol
 * (conformance/doc.go): one role of a scenario, played with the C library
 * (<iox2go.h>) and the generated payload header robot.iox2.h.
 *
 *   peer <root> <shm-dir> <prefix> <role> [key=value ...]
 *
 * It prints exactly what the Go peer (conformance.RunPeer) prints, and
 * checks every field of what it receives the same way. Built by the suite
 * with -std=c11 -Wall -Wextra -Werror (and once with
 * -fsanitize=address,undefined).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iox2go.h"
#include "../../../examples/gen/robot/robot.iox2.h"

/* Exit statuses (as the Go peer's). */
enum { EXIT_OK_ = 0, EXIT_FAIL = 1, EXIT_ERROR = 2, EXIT_STDIN_EOF = 3, EXIT_USAGE = 64 };

/* The canonical layout texts, where the generated header has them. */
#ifdef robot_Imu_LAYOUT
#define IMU_LAYOUT robot_Imu_LAYOUT
#else
#define IMU_LAYOUT ""
#endif
#ifdef robot_Vec3_LAYOUT
#define VEC3_LAYOUT robot_Vec3_LAYOUT
#else
#define VEC3_LAYOUT ""
#endif
#ifdef robot_Stamp_LAYOUT
#define STAMP_LAYOUT robot_Stamp_LAYOUT
#else
#define STAMP_LAYOUT ""
#endif
#ifdef robot_PlanRequest_LAYOUT
#define PLANREQ_LAYOUT robot_PlanRequest_LAYOUT
#else
#define PLANREQ_LAYOUT ""
#endif
#ifdef robot_PlanResponse_LAYOUT
#define PLANRESP_LAYOUT robot_PlanResponse_LAYOUT
#else
#define PLANRESP_LAYOUT ""
#endif

static const iox2_type_info imu_ti = {robot_Imu_TYPE_NAME, robot_Imu_SIZE, robot_Imu_ALIGN, robot_Imu_LAYOUT_HASH, IMU_LAYOUT};
static const iox2_type_info vec3_ti = {robot_Vec3_TYPE_NAME, robot_Vec3_SIZE, robot_Vec3_ALIGN, robot_Vec3_LAYOUT_HASH, VEC3_LAYOUT};
static const iox2_type_info stamp_ti = {robot_Stamp_TYPE_NAME, robot_Stamp_SIZE, robot_Stamp_ALIGN, robot_Stamp_LAYOUT_HASH, STAMP_LAYOUT};
static const iox2_type_info planreq_ti = {robot_PlanRequest_TYPE_NAME, robot_PlanRequest_SIZE, robot_PlanRequest_ALIGN,
                                          robot_PlanRequest_LAYOUT_HASH, PLANREQ_LAYOUT};
static const iox2_type_info planresp_ti = {robot_PlanResponse_TYPE_NAME, robot_PlanResponse_SIZE, robot_PlanResponse_ALIGN,
                                           robot_PlanResponse_LAYOUT_HASH, PLANRESP_LAYOUT};

static const iox2_attribute imu_attrs[] = {
	{robot_Imu_SERVICE_ATTRIBUTE_0_KEY, robot_Imu_SERVICE_ATTRIBUTE_0_VALUE},
	{robot_Imu_SERVICE_ATTRIBUTE_1_KEY, robot_Imu_SERVICE_ATTRIBUTE_1_VALUE},
};
static const iox2_attribute points_attrs[] = {
	{robot_Points_SERVICE_ATTRIBUTE_0_KEY, robot_Points_SERVICE_ATTRIBUTE_0_VALUE},
};
static const iox2_attribute alarm_attrs[] = {
	{robot_Alarm_SERVICE_ATTRIBUTE_0_KEY, robot_Alarm_SERVICE_ATTRIBUTE_0_VALUE},
};
static const iox2_attribute plan_attrs[] = {
	{robot_Plan_SERVICE_ATTRIBUTE_0_KEY, robot_Plan_SERVICE_ATTRIBUTE_0_VALUE},
};

/* ------------------------------------------------------------------------
 * The run: arguments, output, nodes.
 */
#define MAX_ARGS 32
#define MAX_NODES 8

static struct {
	const char *role;
	const char *keys[MAX_ARGS];
	const char *values[MAX_ARGS];
	int nargs;
	iox2_config cfg;
	iox2_node *nodes[MAX_NODES];
	int nnodes;
	char node_name[64];
} run;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void close_nodes(void)
{
	while (run.nnodes > 0) {
		run.nnodes--;
		iox2_node_close(run.nodes[run.nnodes]);
	}
}

static void finish(int code)
{
	close_nodes();
	exit(code);
}

static const char *code_name(int code)
{
	switch (code) {
	case IOX2_OK: return "OK";
	case IOX2_E_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
	case IOX2_E_NO_MEMORY: return "NO_MEMORY";
	case IOX2_E_OS: return "OS";
	case IOX2_E_TIMEOUT: return "TIMEOUT";
	case IOX2_E_CLOSED: return "CLOSED";
	case IOX2_E_PERMISSION: return "PERMISSION";
	case IOX2_E_INVALID_SERVICE_NAME: return "INVALID_SERVICE_NAME";
	case IOX2_E_INVALID_NODE_NAME: return "INVALID_NODE_NAME";
	case IOX2_E_INVALID_ATTRIBUTE: return "INVALID_ATTRIBUTE";
	case IOX2_E_INVALID_QOS: return "INVALID_QOS";
	case IOX2_E_INVALID_TYPE: return "INVALID_TYPE";
	case IOX2_E_RESOURCE_LIMIT: return "RESOURCE_LIMIT";
	case IOX2_E_SERVICE_NOT_EXIST: return "SERVICE_NOT_EXIST";
	case IOX2_E_SERVICE_EXISTS: return "SERVICE_EXISTS";
	case IOX2_E_INCOMPATIBLE_PATTERN: return "INCOMPATIBLE_PATTERN";
	case IOX2_E_INCOMPATIBLE_TYPES: return "INCOMPATIBLE_TYPES";
	case IOX2_E_INCOMPATIBLE_QOS: return "INCOMPATIBLE_QOS";
	case IOX2_E_INCOMPATIBLE_ATTRIBUTES: return "INCOMPATIBLE_ATTRIBUTES";
	case IOX2_E_VERSION_MISMATCH: return "VERSION_MISMATCH";
	case IOX2_E_SERVICE_CORRUPTED: return "SERVICE_CORRUPTED";
	case IOX2_E_SERVICE_IN_FLUX: return "SERVICE_IN_FLUX";
	case IOX2_E_EXCEEDS_MAX_NODES: return "EXCEEDS_MAX_NODES";
	case IOX2_E_EXCEEDS_MAX_PUBLISHERS: return "EXCEEDS_MAX_PUBLISHERS";
	case IOX2_E_EXCEEDS_MAX_SUBSCRIBERS: return "EXCEEDS_MAX_SUBSCRIBERS";
	case IOX2_E_BUFFER_SIZE_EXCEEDS_MAX: return "BUFFER_SIZE_EXCEEDS_MAX";
	case IOX2_E_HISTORY_REQUEST_EXCEEDS: return "HISTORY_REQUEST_EXCEEDS";
	case IOX2_E_EXCEEDS_MAX_NOTIFIERS: return "EXCEEDS_MAX_NOTIFIERS";
	case IOX2_E_EXCEEDS_MAX_LISTENERS: return "EXCEEDS_MAX_LISTENERS";
	case IOX2_E_EXCEEDS_MAX_CLIENTS: return "EXCEEDS_MAX_CLIENTS";
	case IOX2_E_EXCEEDS_MAX_SERVERS: return "EXCEEDS_MAX_SERVERS";
	case IOX2_E_EXCEEDS_MAX_LOANS: return "EXCEEDS_MAX_LOANS";
	case IOX2_E_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
	case IOX2_E_EXCEEDS_MAX_BORROWS: return "EXCEEDS_MAX_BORROWS";
	case IOX2_E_SAMPLE_NOT_OWNED: return "SAMPLE_NOT_OWNED";
	case IOX2_E_UNABLE_TO_DELIVER: return "UNABLE_TO_DELIVER";
	case IOX2_E_CONNECTION_CORRUPTED: return "CONNECTION_CORRUPTED";
	case IOX2_E_SLICE_LENGTH_EXCEEDS_LIMIT: return "SLICE_LENGTH_EXCEEDS_LIMIT";
	case IOX2_E_EVENT_ID_OUT_OF_BOUNDS: return "EVENT_ID_OUT_OF_BOUNDS";
	case IOX2_E_MISSED_DEADLINE: return "MISSED_DEADLINE";
	case IOX2_E_EXCEEDS_MAX_ACTIVE_REQUESTS: return "EXCEEDS_MAX_ACTIVE_REQUESTS";
	case IOX2_E_ACTIVE_REQUESTS_EXCEED_MAX: return "ACTIVE_REQUESTS_EXCEED_MAX";
	case IOX2_E_STREAM_ENDED: return "STREAM_ENDED";
	}
	return "UNKNOWN";
}

/* error prints the error line of code (the detail from node, or from the
 * last failed node creation) and ends the role. */
static void error_exit(int code, const iox2_node *node)
{
	const char *msg = node ? iox2_node_errmsg(node) : iox2_last_create_error();
	if (msg == NULL || *msg == '\0')
		msg = iox2_errstr(code);
	printf("error %s ", code_name(code));
	for (const char *c = msg; *c; c++)
		putchar(*c == '\n' ? ' ' : *c);
	putchar('\n');
	fflush(stdout);
	finish(EXIT_ERROR);
}

#define CHECK(node, expr)                          \
	do {                                       \
		int rc_ = (expr);                  \
		if (rc_ != IOX2_OK)                \
			error_exit(rc_, (node));   \
	} while (0)

static void failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failf(const char *fmt, ...)
{
	va_list ap;
	fputs("fail ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	finish(EXIT_FAIL);
}

static const char *arg(const char *key)
{
	for (int i = 0; i < run.nargs; i++)
		if (strcmp(run.keys[i], key) == 0)
			return run.values[i];
	return NULL;
}

static long long num(const char *key, long long def)
{
	const char *v = arg(key);
	if (v == NULL)
		return def;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0')
		failf("argument %s=\"%s\" is not a number", key, v);
	return n;
}

static bool flag(const char *key) { return num(key, 0) != 0; }

static int64_t timeout_ns(void) { return (int64_t)num("timeout_ms", 10000) * 1000000; }

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

static iox2_node *new_node(void)
{
	if (run.nnodes == MAX_NODES)
		failf("more than %d nodes", MAX_NODES);
	iox2_node *n = NULL;
	CHECK(NULL, iox2_node_create(&run.cfg, run.node_name, &n));
	run.nodes[run.nnodes++] = n;
	return n;
}

/* hold prints "hold" and waits for a line on standard input. Meanwhile a
 * port that has work to do while idle (a publisher: connect to new
 * subscribers, deliver their history) gets pump called whenever its node's
 * doorbell rings, and every few milliseconds. */
typedef void (*pump_fn)(void *ctx);

static void hold(iox2_node *node, pump_fn pump, void *ctx)
{
	out("hold");
	for (;;) {
		struct pollfd fds[2] = {{.fd = 0, .events = POLLIN}, {.fd = node ? iox2_node_fd(node) : -1, .events = POLLIN}};
		int n = poll(fds, pump ? 2 : 1, pump ? 5 : -1);
		if (n < 0 && errno != EINTR)
			failf("poll: %s", strerror(errno));
		if (n > 0 && fds[0].revents) {
			char c;
			ssize_t r;
			while ((r = read(0, &c, 1)) == 1 && c != '\n') {
			}
			if (r <= 0)
				finish(EXIT_STDIN_EOF);
			return;
		}
		if (pump) {
			pump(ctx);
			if (n > 0 && fds[1].revents)
				sleep_ns(1000000); /* a doorbell the pump did not consume: do not spin */
		}
	}
}

/* ------------------------------------------------------------------------
 * Payloads: the same functions of the sequence number as the Go peer's
 * (conformance/payload.go).
 */
static const char full_frame[] = "0123456789abcdefghijklmnopqrstuv";

static void imu_frame(uint64_t seq, char *buf, size_t size)
{
	if (seq % 5 == 4)
		snprintf(buf, size, "%s", full_frame);
	else
		snprintf(buf, size, "imu%" PRIu64, seq);
}

static int16_t imu_raw(uint64_t seq, int i, int j)
{
	return (int16_t)((int64_t)((seq * 7 + (uint64_t)(i * 4 + j)) % 30000) - 15000);
}

static robot_Vec3 vec3(double x, double y, double z)
{
	robot_Vec3 v = {x, y, z};
	return v;
}

static robot_Vec3 imu_point(uint64_t seq, int k)
{
	return vec3((double)seq + (double)k, 0.5 * (double)k, -(double)k - 0.5);
}

static void fill_imu(robot_Imu *p, uint64_t seq)
{
	static const robot_Mode modes[3] = {robot_Mode_IDLE, robot_Mode_ACTIVE, robot_Mode_FAULT};
	char frame[64];
	memset(p, 0, sizeof *p);
	p->stamp_ns = UINT64_C(1000000000) + seq * 1000 + 7;
	p->mode = modes[seq % 3];
	p->calibrated = seq % 2 == 1;
	imu_frame(seq, frame, sizeof frame);
	size_t n = strlen(frame);
	memcpy(p->frame.data, frame, n);
	p->frame.terminator = 0;
	p->frame.len = n;
	p->accel = vec3((double)seq + 0.5, -(double)seq - 0.25, 9.75);
	p->gyro = vec3(0.125 * (double)seq, -0.5, 2 * (double)seq);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 4; j++)
			p->raw[i][j] = imu_raw(seq, i, j);
	p->status = (uint8_t)(seq * 13 % 256);
	p->temperature = 20.5 + (double)seq;
	p->points.len = seq % 65;
	for (int k = 0; k < (int)p->points.len; k++)
		p->points.data[k] = imu_point(seq, k);
}

static bool vec3_eq(robot_Vec3 a, robot_Vec3 b) { return a.x == b.x && a.y == b.y && a.z == b.z; }

static uint64_t frame_len(const iox2_String_32 *s) { return s->len < 32 ? s->len : 32; }
static uint64_t points_len(const iox2_Seq_robot_Vec3_64 *s) { return s->len < 64 ? s->len : 64; }

/* check_imu compares p with fill_imu(seq) field by field; NULL if equal,
 * else what differs (in a static buffer). */
static const char *check_imu(const robot_Imu *p, uint64_t seq)
{
	static char why[256];
	robot_Imu w;
	fill_imu(&w, seq);
	why[0] = '\0';
	if (p->stamp_ns != w.stamp_ns)
		snprintf(why, sizeof why, "stamp_ns %" PRIu64, p->stamp_ns);
	else if (p->mode != w.mode)
		snprintf(why, sizeof why, "mode %u", (unsigned)p->mode);
	else if (p->calibrated != w.calibrated)
		snprintf(why, sizeof why, "calibrated %d", (int)p->calibrated);
	else if (frame_len(&p->frame) != w.frame.len || memcmp(p->frame.data, w.frame.data, w.frame.len) != 0)
		snprintf(why, sizeof why, "frame \"%.*s\"", (int)frame_len(&p->frame), p->frame.data);
	else if (!vec3_eq(p->accel, w.accel) || !vec3_eq(p->gyro, w.gyro))
		snprintf(why, sizeof why, "accel or gyro");
	else if (memcmp(p->raw, w.raw, sizeof w.raw) != 0)
		snprintf(why, sizeof why, "raw");
	else if (p->status != w.status || p->temperature != w.temperature)
		snprintf(why, sizeof why, "status %u temperature %.3f", (unsigned)p->status, p->temperature);
	else if (p->points.len != w.points.len)
		snprintf(why, sizeof why, "points len %" PRIu64, p->points.len);
	else
		for (uint64_t k = 0; k < w.points.len; k++)
			if (!vec3_eq(p->points.data[k], w.points.data[k])) {
				snprintf(why, sizeof why, "points[%" PRIu64 "]", k);
				break;
			}
	if (why[0] == '\0')
		return NULL;
	static char msg[300];
	snprintf(msg, sizeof msg, "imu sample %" PRIu64 ": %s", seq, why);
	return msg;
}

static const char *mode_name(robot_Mode m, char *buf, size_t size)
{
	switch (m) {
	case robot_Mode_IDLE: return "IDLE";
	case robot_Mode_ACTIVE: return "ACTIVE";
	case robot_Mode_FAULT: return "FAULT";
	}
	snprintf(buf, size, "Mode(%u)", (unsigned)m);
	return buf;
}

/* print_imu prints the line of a received robot::Imu (Go: ImuLine). */
static void print_imu(const robot_Imu *p, uint64_t hdr_seq, uint64_t from)
{
	char mode[32], last[96] = "-";
	uint64_t n = points_len(&p->points);
	if (n > 0) {
		const robot_Vec3 *v = &p->points.data[n - 1];
		snprintf(last, sizeof last, "%.3f,%.3f,%.3f", v->x, v->y, v->z);
	}
	out("recv seq=%" PRIu64 " from=%016" PRIx64 " stamp_ns=%" PRIu64 " mode=%s calibrated=%d frame=%.*s"
	    " accel=%.3f,%.3f,%.3f gyro=%.3f,%.3f,%.3f raw=%d,%d,%d,%d,%d,%d,%d,%d status=%u temperature=%.3f points=%" PRIu64
	    " last=%s",
	    hdr_seq, from, p->stamp_ns, mode_name(p->mode, mode, sizeof mode), p->calibrated ? 1 : 0,
	    (int)frame_len(&p->frame), p->frame.data, p->accel.x, p->accel.y, p->accel.z, p->gyro.x, p->gyro.y, p->gyro.z,
	    p->raw[0][0], p->raw[0][1], p->raw[0][2], p->raw[0][3], p->raw[1][0], p->raw[1][1], p->raw[1][2], p->raw[1][3],
	    (unsigned)p->status, p->temperature, n, last);
}

static const int points_lens[6] = {1, 7, 1000, 1024, 3, 64};

static uint64_t points_count(uint64_t seq) { return (uint64_t)points_lens[seq % 6]; }

static robot_Vec3 points_elem(uint64_t seq, uint64_t i)
{
	return vec3((double)seq * 10000 + (double)i, -(double)i, 0.25 * (double)i);
}

static robot_Stamp points_stamp(uint64_t seq)
{
	robot_Stamp s;
	memset(&s, 0, sizeof s);
	s.stamp_ns = UINT64_C(2000000000) + seq * 100 + 3;
	s.seq = (uint32_t)seq;
	s.sensor_id = 42;
	return s;
}

static robot_Vec3 plan_goal(int r)
{
	double f = (double)(r + 1);
	return vec3(f, -2 * f, 0.5 * f);
}

static robot_Vec3 plan_waypoint(robot_Vec3 g, int i)
{
	double f = (double)(i + 1);
	return vec3(g.x * f, g.y * f, g.z * f + 0.125);
}

/* ------------------------------------------------------------------------
 * Services, as robot.idl declares them (the generated Go builders).
 */
static iox2_service *open_imu(iox2_node *node)
{
	iox2_pubsub_spec spec;
	iox2_pubsub_spec_init(&spec, robot_Imu_SERVICE_NAME, &imu_ti);
	spec.history_size = robot_Imu_SERVICE_HISTORY_SIZE;
	spec.subscriber_max_buffer_size = robot_Imu_SERVICE_SUBSCRIBER_MAX_BUFFER_SIZE;
	spec.attributes = imu_attrs;
	spec.num_attributes = robot_Imu_SERVICE_ATTRIBUTE_COUNT;
	iox2_service *svc = NULL;
	CHECK(node, iox2_pubsub_service(node, &spec, IOX2_OPEN_OR_CREATE, &svc));
	return svc;
}

static iox2_service *open_points(iox2_node *node)
{
	iox2_pubsub_spec spec;
	iox2_pubsub_spec_init(&spec, robot_Points_SERVICE_NAME, &vec3_ti);
	spec.slice = robot_Points_SERVICE_SLICE;
	spec.user_header = &stamp_ti;
	spec.subscriber_max_buffer_size = robot_Points_SERVICE_SUBSCRIBER_MAX_BUFFER_SIZE;
	spec.enable_safe_overflow = robot_Points_SERVICE_ENABLE_SAFE_OVERFLOW ? 1 : 0;
	spec.attributes = points_attrs;
	spec.num_attributes = robot_Points_SERVICE_ATTRIBUTE_COUNT;
	iox2_service *svc = NULL;
	CHECK(node, iox2_pubsub_service(node, &spec, IOX2_OPEN_OR_CREATE, &svc));
	return svc;
}

static iox2_service *open_alarm(iox2_node *node)
{
	iox2_event_spec spec;
	iox2_event_spec_init(&spec, robot_Alarm_SERVICE_NAME);
	spec.max_notifiers = robot_Alarm_SERVICE_MAX_NOTIFIERS;
	spec.max_listeners = robot_Alarm_SERVICE_MAX_LISTENERS;
	spec.event_id_max_value = robot_Alarm_SERVICE_EVENT_ID_MAX_VALUE;
	spec.notifier_dead_event = robot_Alarm_SERVICE_NOTIFIER_DEAD_EVENT;
	spec.attributes = alarm_attrs;
	spec.num_attributes = robot_Alarm_SERVICE_ATTRIBUTE_COUNT;
	iox2_service *svc = NULL;
	CHECK(node, iox2_event_service(node, &spec, IOX2_OPEN_OR_CREATE, &svc));
	return svc;
}

static iox2_service *open_plan(iox2_node *node)
{
	iox2_reqres_spec spec;
	iox2_reqres_spec_init(&spec, robot_Plan_SERVICE_NAME, &planreq_ti, &planresp_ti);
	spec.max_active_requests_per_client = robot_Plan_SERVICE_MAX_ACTIVE_REQUESTS_PER_CLIENT;
	spec.max_response_buffer_size = robot_Plan_SERVICE_MAX_RESPONSE_BUFFER_SIZE;
	spec.max_servers = robot_Plan_SERVICE_MAX_SERVERS;
	spec.max_clients = robot_Plan_SERVICE_MAX_CLIENTS;
	spec.attributes = plan_attrs;
	spec.num_attributes = robot_Plan_SERVICE_ATTRIBUTE_COUNT;
	iox2_service *svc = NULL;
	CHECK(node, iox2_reqres_service(node, &spec, IOX2_OPEN_OR_CREATE, &svc));
	return svc;
}

/* ------------------------------------------------------------------------
 * Roles.
 */

/* pump_publisher lets an idle publisher look at its service: connect to
 * new subscribers (delivering their history) and drop vanished ones, as the
 * Go runtime's dispatcher does by itself. */
static void pump_publisher(void *ctx)
{
	iox2_publisher_update_connections(ctx);
}

/* pump_subscriber lets an idle subscriber map the connections of new
 * publishers (a wait of 0 looks at the service and takes nothing), so that
 * what they send stays readable after they close, as with a Go
 * subscriber, whose dispatcher maps them by itself. */
static void pump_subscriber(void *ctx)
{
	iox2_subscriber_wait(ctx, 0);
}

static void role_imu_pub(void)
{
	iox2_node *node = new_node();
	iox2_service *svc = open_imu(node);
	iox2_publisher_options o;
	iox2_publisher_options_init(&o);
	o.max_loaned_samples = robot_Imu_SERVICE_PUBLISHER_MAX_LOANED_SAMPLES;
	iox2_publisher *pubs[4];
	long long npubs = num("pubs", 1);
	if (npubs < 1 || npubs > 4)
		failf("pubs=%lld: 1 to 4", npubs);
	for (int i = 0; i < npubs; i++) {
		CHECK(node, iox2_publisher_create(svc, &o, &pubs[i]));
		out("ready id=%016" PRIx64, iox2_publisher_id(pubs[i]));
	}
	if (flag("wait"))
		hold(node, pump_publisher, pubs[0]);
	uint64_t n = (uint64_t)num("n", 1);
	bool forever = flag("forever");
	int64_t interval = num("interval_us", 0) * 1000;
	uint64_t seq = 0;
	long long rounds = num("rounds", 1);
	for (long long round = 0; round < rounds; round++) {
		if (round > 0)
			hold(node, pump_publisher, pubs[0]);
		for (uint64_t end = seq + n; forever || seq < end; seq++) {
			iox2_sample_mut *s = NULL;
			CHECK(node, iox2_publisher_loan(pubs[0], 1, &s));
			fill_imu(iox2_sample_mut_payload(s), seq);
			size_t k = 0;
			CHECK(node, iox2_sample_mut_send(s, &k));
			out("sent seq=%" PRIu64 " delivered=%zu", seq, k);
			if (interval > 0)
				sleep_ns(interval);
		}
	}
	if (flag("linger"))
		hold(node, pump_publisher, pubs[0]);
	for (int i = 0; i < npubs; i++)
		CHECK(node, iox2_publisher_close(pubs[i]));
	CHECK(node, iox2_service_close(svc));
}

#define MAX_KEEP 16

static void role_imu_sub(void)
{
	iox2_node *node = new_node();
	iox2_service *svc = open_imu(node);
	iox2_subscriber_options o;
	iox2_subscriber_options_init(&o);
	o.buffer_size = num("buffer", robot_Imu_SERVICE_SUBSCRIBER_BUFFER_SIZE);
	o.history_request = num("history", robot_Imu_SERVICE_SUBSCRIBER_HISTORY_REQUEST);
	iox2_subscriber *sub = NULL;
	CHECK(node, iox2_subscriber_create(svc, &o, &sub));
	out("ready id=%016" PRIx64, iox2_subscriber_id(sub));
	if (flag("wait"))
		hold(node, pump_subscriber, sub);
	long long keep = num("keep", 0);
	if (keep < 0 || keep > MAX_KEEP)
		failf("keep=%lld: 0 to %d", keep, MAX_KEEP);
	const iox2_sample *kept[MAX_KEEP];
	int nkept = 0;
	long long n = num("n", 1);
	long long rounds = num("rounds", 1);
	bool drain = flag("drain");
	int64_t deadline = now_ns() + timeout_ns();
	for (long long round = 0; round < rounds + (keep > 0 ? 1 : 0); round++) {
		bool keep_round = keep > 0 && round == rounds;
		if (keep_round) {
			hold(node, pump_subscriber, sub);
			for (int i = 0; i < nkept; i++) {
				uint64_t seq = iox2_sample_sequence(kept[i]);
				const char *why = check_imu(iox2_sample_payload(kept[i]), seq);
				if (why)
					failf("kept %s", why);
				out("kept seq=%" PRIu64, seq);
				iox2_sample_release(kept[i]);
			}
			keep = 0; /* what the drain receives is released */
		} else if (round > 0) {
			hold(node, pump_subscriber, sub);
		}
		for (long long got = 0; drain || keep_round || got < n;) {
			const iox2_sample *s = NULL;
			CHECK(node, iox2_subscriber_receive(sub, &s));
			if (s == NULL) {
				if (drain || keep_round)
					break;
				int64_t left = deadline - now_ns();
				if (left <= 0)
					failf("timed out after %lld of %lld samples", got, n);
				int rc = iox2_subscriber_wait(sub, left);
				if (rc != IOX2_OK && rc != IOX2_E_TIMEOUT)
					error_exit(rc, node);
				continue;
			}
			uint64_t seq = iox2_sample_sequence(s);
			const robot_Imu *p = iox2_sample_payload(s);
			const char *why = check_imu(p, seq);
			if (why)
				failf("%s", why);
			print_imu(p, seq, iox2_sample_publisher(s));
			if (nkept < keep)
				kept[nkept++] = s;
			else
				iox2_sample_release(s);
			got++;
		}
	}
	if (flag("linger"))
		hold(node, pump_subscriber, sub);
	CHECK(node, iox2_subscriber_close(sub));
	CHECK(node, iox2_service_close(svc));
}

static void role_points_pub(void)
{
	iox2_node *node = new_node();
	iox2_service *svc = open_points(node);
	iox2_publisher_options o;
	iox2_publisher_options_init(&o);
	o.backpressure = IOX2_DISCARD_DATA; /* robot_Points_SERVICE_BACKPRESSURE */
	o.max_slice_len = robot_Points_SERVICE_MAX_SLICE_LEN;
	iox2_publisher *pub = NULL;
	CHECK(node, iox2_publisher_create(svc, &o, &pub));
	out("ready id=%016" PRIx64, iox2_publisher_id(pub));
	if (flag("wait"))
		hold(node, pump_publisher, pub);
	uint64_t n = (uint64_t)num("n", 1);
	for (uint64_t seq = 0; seq < n; seq++) {
		iox2_sample_mut *s = NULL;
		uint64_t len = points_count(seq);
		CHECK(node, iox2_publisher_loan(pub, len, &s));
		if (iox2_sample_mut_len(s) != len)
			failf("loaned %" PRIu64 " elements, asked for %" PRIu64, iox2_sample_mut_len(s), len);
		robot_Stamp *st = iox2_sample_mut_user_header(s);
		if (st == NULL)
			failf("a points sample without user header");
		*st = points_stamp(seq);
		robot_Vec3 *v = iox2_sample_mut_payload(s);
		for (uint64_t i = 0; i < len; i++)
			v[i] = points_elem(seq, i);
		size_t k = 0;
		CHECK(node, iox2_sample_mut_send(s, &k));
		out("sent seq=%" PRIu64 " delivered=%zu", seq, k);
	}
	if (flag("linger"))
		hold(node, pump_publisher, pub);
	CHECK(node, iox2_publisher_close(pub));
	CHECK(node, iox2_service_close(svc));
}

static void show_points(const iox2_sample *s)
{
	uint64_t seq = iox2_sample_sequence(s);
	const robot_Stamp *st = iox2_sample_user_header(s);
	if (st == NULL)
		failf("points sample %" PRIu64 " has no user header", seq);
	robot_Stamp want = points_stamp(seq);
	if (st->stamp_ns != want.stamp_ns || st->seq != want.seq || st->sensor_id != want.sensor_id)
		failf("points sample %" PRIu64 ": user header {%" PRIu64 " %" PRIu32 " %" PRIu32 "}", seq, st->stamp_ns, st->seq,
		      st->sensor_id);
	uint64_t len = iox2_sample_len(s);
	if (len != points_count(seq))
		failf("points sample %" PRIu64 ": %" PRIu64 " elements", seq, len);
	const robot_Vec3 *v = iox2_sample_payload(s);
	for (uint64_t i = 0; i < len; i++)
		if (!vec3_eq(v[i], points_elem(seq, i)))
			failf("points sample %" PRIu64 ": element %" PRIu64 " is %.3f,%.3f,%.3f", seq, i, v[i].x, v[i].y, v[i].z);
	char last[96] = "-";
	if (len > 0)
		snprintf(last, sizeof last, "%.3f,%.3f,%.3f", v[len - 1].x, v[len - 1].y, v[len - 1].z);
	out("recv seq=%" PRIu64 " from=%016" PRIx64 " len=%" PRIu64 " stamp_ns=%" PRIu64 " hdr_seq=%" PRIu32 " sensor_id=%" PRIu32
	    " last=%s",
	    seq, iox2_sample_publisher(s), len, st->stamp_ns, st->seq, st->sensor_id, last);
}

static void role_points_sub(void)
{
	iox2_node *node = new_node();
	iox2_service *svc = open_points(node);
	iox2_subscriber *sub = NULL;
	CHECK(node, iox2_subscriber_create(svc, NULL, &sub));
	out("ready id=%016" PRIx64, iox2_subscriber_id(sub));
	if (flag("wait"))
		hold(node, pump_subscriber, sub);
	bool drain = flag("drain");
	long long n = num("n", 1);
	int64_t deadline = now_ns() + timeout_ns();
	for (long long got = 0; drain || got < n;) {
		const iox2_sample *s = NULL;
		CHECK(node, iox2_subscriber_receive(sub, &s));
		if (s == NULL) {
			if (drain)
				break;
			int64_t left = deadline - now_ns();
			if (left <= 0)
				failf("timed out after %lld of %lld samples", got, n);
			int rc = iox2_subscriber_wait(sub, left);
			if (rc != IOX2_OK && rc != IOX2_E_TIMEOUT)
				error_exit(rc, node);
			continue;
		}
		show_points(s);
		iox2_sample_release(s);
		got++;
	}
	if (flag("linger"))
		hold(node, pump_subscriber, sub);
	CHECK(node, iox2_subscriber_close(sub));
	CHECK(node, iox2_service_close(svc));
}

static void role_alarm_listen(void)
{
	iox2_node *node = new_node();
	iox2_service *svc = open_alarm(node);
	iox2_listener *l = NULL;
	CHECK(node, iox2_listener_create(svc, &l));
	out("ready id=%016" PRIx64, iox2_listener_id(l));
	bool seen[robot_Alarm_SERVICE_EVENT_ID_MAX_VALUE + 1] = {false};
	long long want = num("n", 1), got = 0;
	int64_t deadline = now_ns() + timeout_ns();
	out("waiting");
	while (got < want) {
		int64_t left = deadline - now_ns();
		if (left <= 0)
			failf("timed out after %lld of %lld event ids", got, want);
		uint64_t id = 0;
		int rc = iox2_listener_wait_one(l, left, &id);
		if (rc == IOX2_E_TIMEOUT)
			continue;
		if (rc != IOX2_OK)
			error_exit(rc, node);
		if (id > robot_Alarm_SERVICE_EVENT_ID_MAX_VALUE)
			failf("event id %" PRIu64 " beyond the service's maximum", id);
		if (!seen[id]) {
			seen[id] = true;
			got++;
			out("event id=%" PRIu64, id);
		}
	}
	if (flag("linger"))
		hold(node, NULL, NULL);
	CHECK(node, iox2_listener_close(l));
	CHECK(node, iox2_service_close(svc));
}

static void role_alarm_notify(void)
{
	iox2_node *node = new_node();
	iox2_service *svc = open_alarm(node);
	iox2_notifier *n = NULL;
	CHECK(node, iox2_notifier_create(svc, robot_Alarm_SERVICE_DEFAULT_EVENT_ID, &n));
	out("ready id=%016" PRIx64, iox2_notifier_id(n));
	if (flag("wait"))
		hold(node, NULL, NULL);
	const char *ids = arg("ids");
	for (const char *p = ids ? ids : ""; *p;) {
		char *end;
		errno = 0;
		unsigned long long id = strtoull(p, &end, 10);
		if (errno != 0 || end == p || (*end != ',' && *end != '\0'))
			failf("ids: \"%s\" is not a list of numbers", ids);
		size_t k = 0;
		CHECK(node, iox2_notifier_notify_id(n, id, &k));
		out("notified id=%llu listeners=%zu", id, k);
		p = *end == ',' ? end + 1 : end;
	}
	if (flag("linger"))
		hold(node, NULL, NULL);
	CHECK(node, iox2_notifier_close(n));
	CHECK(node, iox2_service_close(svc));
}

static void f3(char *buf, size_t size, robot_Vec3 v) { snprintf(buf, size, "%.3f,%.3f,%.3f", v.x, v.y, v.z); }

static void role_plan_server(void)
{
	iox2_node *node = new_node();
	iox2_service *svc = open_plan(node);
	iox2_server_options o;
	iox2_server_options_init(&o);
	o.max_loaned_responses_per_request = robot_Plan_SERVICE_SERVER_MAX_LOANED_RESPONSES_PER_REQUEST;
	iox2_server *srv = NULL;
	CHECK(node, iox2_server_create(svc, &o, &srv));
	out("ready id=%016" PRIx64, iox2_server_id(srv));
	long long steps = num("steps", 3), requests = num("requests", 1);
	int64_t deadline = now_ns() + timeout_ns();
	for (long long r = 0; r < requests;) {
		iox2_active_request *req = NULL;
		CHECK(node, iox2_server_receive(srv, &req));
		if (req == NULL) {
			int64_t left = deadline - now_ns();
			if (left <= 0)
				failf("timed out after %lld requests", r);
			int rc = iox2_server_wait(srv, left);
			if (rc != IOX2_OK && rc != IOX2_E_TIMEOUT)
				error_exit(rc, node);
			continue;
		}
		const robot_PlanRequest *q = iox2_active_request_payload(req);
		robot_Vec3 goal = q->goal;
		char g[96];
		f3(g, sizeof g, goal);
		uint64_t id = iox2_active_request_id(req);
		out("request id=%" PRIu64 " goal=%s client=%016" PRIx64, id, g, iox2_active_request_client(req));
		for (int i = 0; i < steps; i++) {
			iox2_response_mut *m = NULL;
			CHECK(node, iox2_active_request_loan(req, 1, &m));
			robot_PlanResponse *resp = iox2_response_mut_payload(m);
			memset(resp, 0, sizeof *resp);
			resp->step = (uint32_t)i;
			resp->waypoint = plan_waypoint(goal, i);
			CHECK(node, iox2_response_mut_send(m));
		}
		iox2_active_request_close(req);
		out("responded id=%" PRIu64 " n=%lld", id, steps);
		r++;
	}
	if (flag("linger"))
		hold(node, NULL, NULL);
	CHECK(node, iox2_server_close(srv));
	CHECK(node, iox2_service_close(svc));
}

#define MAX_REQUESTS 8

static void role_plan_client(void)
{
	iox2_node *node = new_node();
	iox2_service *svc = open_plan(node);
	iox2_client *c = NULL;
	CHECK(node, iox2_client_create(svc, NULL, &c));
	out("ready id=%016" PRIx64, iox2_client_id(c));
	long long steps = num("steps", 3), requests = num("requests", 1);
	if (requests < 0 || requests > MAX_REQUESTS)
		failf("requests=%lld: 0 to %d", requests, MAX_REQUESTS);
	iox2_pending_response *pending[MAX_REQUESTS];
	for (int r = 0; r < requests; r++) {
		iox2_request_mut *q = NULL;
		CHECK(node, iox2_client_loan(c, 1, &q));
		robot_PlanRequest *p = iox2_request_mut_payload(q);
		memset(p, 0, sizeof *p);
		p->goal = plan_goal(r);
		CHECK(node, iox2_request_mut_send(q, &pending[r]));
		out("sent req=%d id=%" PRIu64, r, iox2_pending_response_request_id(pending[r]));
	}
	int64_t deadline = now_ns() + timeout_ns();
	for (int r = 0; r < requests; r++) {
		robot_Vec3 goal = plan_goal(r);
		int i = 0;
		for (;;) {
			const iox2_response *resp = NULL;
			int rc = iox2_pending_response_receive(pending[r], &resp);
			if (rc == IOX2_E_STREAM_ENDED)
				break;
			if (rc != IOX2_OK)
				error_exit(rc, node);
			if (resp == NULL) {
				int64_t left = deadline - now_ns();
				if (left <= 0)
					failf("request %d: timed out after %d responses", r, i);
				rc = iox2_pending_response_wait(pending[r], left);
				if (rc == IOX2_E_STREAM_ENDED)
					break;
				if (rc != IOX2_OK && rc != IOX2_E_TIMEOUT)
					error_exit(rc, node);
				continue;
			}
			const robot_PlanResponse *v = iox2_response_payload(resp);
			char w[96];
			f3(w, sizeof w, v->waypoint);
			if (v->step != (uint32_t)i || !vec3_eq(v->waypoint, plan_waypoint(goal, i)))
				failf("request %d: response %d is step %" PRIu32 " waypoint %s", r, i, v->step, w);
			out("resp req=%d step=%" PRIu32 " waypoint=%s server=%016" PRIx64, r, v->step, w, iox2_response_server(resp));
			iox2_response_release(resp);
			i++;
		}
		iox2_pending_response_close(pending[r]);
		if (i != steps)
			failf("request %d: %d responses, want %lld", r, i, steps);
		out("end req=%d n=%d", r, i);
	}
	CHECK(node, iox2_client_close(c));
	CHECK(node, iox2_service_close(svc));
}

/* role_open opens a robot service with one deviation from what it is. */
static void role_open(void)
{
	iox2_node *node = new_node();
	const char *svc_name = arg("svc");
	iox2_service *svc = NULL;
	iox2_attribute req[1];
	int rc;
	if (svc_name == NULL)
		failf("open: no svc");
	if (strcmp(svc_name, "imu") == 0) {
		const char *type = arg("type");
		iox2_pubsub_spec spec;
		iox2_pubsub_spec_init(&spec, robot_Imu_SERVICE_NAME, type && strcmp(type, "vec3") == 0 ? &vec3_ti : &imu_ti);
		spec.history_size = num("history", IOX2_UNSET);
		const char *r = arg("require");
		static char key[64];
		if (r) {
			const char *colon = strchr(r, ':');
			if (colon == NULL || (size_t)(colon - r) >= sizeof key)
				failf("require=%s is not key:value", r);
			memcpy(key, r, (size_t)(colon - r));
			key[colon - r] = '\0';
			req[0].key = key;
			req[0].value = colon + 1;
			spec.required_attributes = req;
			spec.num_required_attributes = 1;
		}
		rc = iox2_pubsub_service(node, &spec, IOX2_OPEN, &svc);
	} else if (strcmp(svc_name, "points") == 0) {
		iox2_pubsub_spec spec;
		iox2_pubsub_spec_init(&spec, robot_Points_SERVICE_NAME, &vec3_ti);
		const char *slice = arg("slice"), *header = arg("header");
		spec.slice = !(slice && strcmp(slice, "0") == 0);
		spec.user_header = header && strcmp(header, "none") == 0 ? NULL : &stamp_ti;
		rc = iox2_pubsub_service(node, &spec, IOX2_OPEN, &svc);
	} else if (strcmp(svc_name, "alarm") == 0) {
		iox2_event_spec spec;
		iox2_event_spec_init(&spec, robot_Alarm_SERVICE_NAME);
		spec.max_notifiers = num("notifiers", IOX2_UNSET);
		rc = iox2_event_service(node, &spec, IOX2_OPEN, &svc);
	} else if (strcmp(svc_name, "plan") == 0) {
		iox2_reqres_spec spec;
		if (flag("swap"))
			iox2_reqres_spec_init(&spec, robot_Plan_SERVICE_NAME, &planresp_ti, &planreq_ti);
		else
			iox2_reqres_spec_init(&spec, robot_Plan_SERVICE_NAME, &planreq_ti, &planresp_ti);
		rc = iox2_reqres_service(node, &spec, IOX2_OPEN, &svc);
	} else {
		failf("open: unknown svc \"%s\"", svc_name);
		return;
	}
	if (rc != IOX2_OK)
		error_exit(rc, node);
	CHECK(node, iox2_service_close(svc));
	out("opened i=0");
}

/* role_nodes opens service conf/nodes from k nodes of this process. */
static void role_nodes(void)
{
	long long k = num("k", 1);
	if (k < 1 || k > MAX_NODES)
		failf("k=%lld: 1 to %d", k, MAX_NODES);
	for (int i = 0; i < k; i++) {
		iox2_node *node = new_node();
		iox2_pubsub_spec spec;
		iox2_pubsub_spec_init(&spec, "conf/nodes", &imu_ti);
		spec.max_nodes = num("max_nodes", 2);
		iox2_service *svc = NULL;
		CHECK(node, iox2_pubsub_service(node, &spec, IOX2_OPEN_OR_CREATE, &svc));
		out("opened i=%d", i);
	}
	if (flag("linger"))
		hold(run.nodes[0], NULL, NULL);
}

static const struct {
	const char *name;
	void (*fn)(void);
} roles[] = {
	{"imu-pub", role_imu_pub},
	{"imu-sub", role_imu_sub},
	{"points-pub", role_points_pub},
	{"points-sub", role_points_sub},
	{"alarm-listen", role_alarm_listen},
	{"alarm-notify", role_alarm_notify},
	{"plan-server", role_plan_server},
	{"plan-client", role_plan_client},
	{"open", role_open},
	{"nodes", role_nodes},
};

int main(int argc, char **argv)
{
	if (argc < 5) {
		out("fail usage: peer <root> <shm-dir> <prefix> <role> [key=value ...]");
		return EXIT_USAGE;
	}
	iox2_config_default(&run.cfg);
	run.cfg.root = argv[1];
	run.cfg.shm_dir = argv[2];
	run.cfg.prefix = argv[3];
	run.role = argv[4];
	snprintf(run.node_name, sizeof run.node_name, "conf-%s", run.role);
	for (int i = 5; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (eq == NULL || run.nargs == MAX_ARGS) {
			out("fail argument \"%s\" is not key=value", argv[i]);
			return EXIT_USAGE;
		}
		*eq = '\0';
		run.keys[run.nargs] = argv[i];
		run.values[run.nargs] = eq + 1;
		run.nargs++;
	}
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
		if (strcmp(roles[i].name, run.role) == 0) {
			roles[i].fn();
			while (run.nnodes > 0) {
				run.nnodes--;
				int rc = iox2_node_close(run.nodes[run.nnodes]);
				if (rc != IOX2_OK) {
					out("error %s %s", code_name(rc), iox2_errstr(rc));
					close_nodes();
					return EXIT_ERROR;
				}
			}
			out("ok");
			return EXIT_OK_;
		}
	}
	out("fail unknown role \"%s\"", run.role);
	return EXIT_USAGE;
}
