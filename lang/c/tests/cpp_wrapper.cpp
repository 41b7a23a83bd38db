// cpp_wrapper.cpp runs the C++ wrapper (iox2go.hpp) with the generated robot
// API through every pattern in one process, two nodes of a domain given on
// the command line, and checks what arrives: TestCppWrapper (lang/c) builds
// it with g++ -std=c++17 -Wall -Wextra -Werror and runs it. It prints "ok",
// or the first failure and exits 1.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "robot.iox2.api.h"
#include <iox2go.hpp>

#define CHECK(cond)                                                                   \
	do {                                                                              \
		if (!(cond)) {                                                                \
			std::fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);       \
			std::exit(1);                                                             \
		}                                                                             \
	} while (0)

static void imu(iox2go::Node &a, iox2go::Node &b) {
	iox2go::Service out(a, robot_Imu_service, IOX2_CREATE);
	iox2go::Service in(b, robot_Imu_service, IOX2_OPEN);
	iox2go::Publisher<robot_Imu> pub(out, robot_Imu_publisher_create);
	iox2go::Subscriber<robot_Imu> sub(in, robot_Imu_subscriber_create);
	for (int i = 0; i < 3; i++) {
		auto s = pub.loan();
		s->stamp_ns = 100 + i;
		s->mode = robot_Mode_FAULT;
		std::snprintf(s->frame.data, sizeof s->frame.data, "imu%d", i);
		s->frame.len = std::strlen(s->frame.data);
		s->points.len = 2;
		s->points.data[1].z = 0.5 * i;
		CHECK(s.send() == 1);
	}
	{
		auto unsent = pub.loan_uninit(); // released by its destructor
		(void)unsent;
	}
	CHECK(sub.wait(1000000000));
	for (int i = 0; i < 3; i++) {
		auto s = sub.receive();
		CHECK(s);
		CHECK(s->stamp_ns == uint64_t(100 + i));
		CHECK(s->mode == robot_Mode_FAULT);
		CHECK(std::string(s->frame.data, s->frame.len) == "imu" + std::to_string(i));
		CHECK(s->points.len == 2 && s->points.data[1].z == 0.5 * i);
		CHECK(s.sequence() == uint64_t(i));
	}
	CHECK(!sub.receive());
}

static void points(iox2go::Node &a, iox2go::Node &b) {
	iox2go::Service out(a, robot_Points_service, IOX2_CREATE);
	iox2go::Service in(b, robot_Points_service, IOX2_OPEN);
	iox2_publisher_options o;
	robot_Points_publisher_options(&o);
	o.max_slice_len = 16;
	iox2go::Publisher<robot_Vec3, robot_Stamp> pub(out, o);
	iox2go::Subscriber<robot_Vec3, robot_Stamp> sub(in);
	auto s = pub.loan(3);
	double x = 1;
	for (robot_Vec3 &v : s)
		v.x = x++;
	s.user_header()->seq = 9;
	CHECK(s.send() == 1);
	auto r = sub.receive();
	CHECK(r);
	CHECK(r.len() == 3 && r.user_header()->seq == 9);
	double sum = 0;
	for (const robot_Vec3 &v : r)
		sum += v.x;
	CHECK(sum == 6);
}

static void alarm(iox2go::Node &a, iox2go::Node &b) {
	iox2go::Service svc(a, robot_Alarm_service, IOX2_CREATE);
	iox2go::Service other(b, robot_Alarm_service, IOX2_OPEN);
	iox2go::Listener listener(other, robot_Alarm_listener_create);
	iox2go::Notifier notifier(svc, robot_Alarm_notifier_create);
	CHECK(notifier.notify() == 1);
	auto id = listener.wait_one(1000000000);
	CHECK(id && *id == robot_ALARM_OVERHEAT);
	notifier.notify(robot_ALARM_COLLISION);
	std::vector<uint64_t> ids;
	listener.wait_all(1000000000, [&ids](uint64_t i) { ids.push_back(i); });
	CHECK(ids.size() == 1 && ids[0] == robot_ALARM_COLLISION);
	CHECK(!listener.wait_one(0));
}

static void plan(iox2go::Node &a, iox2go::Node &b) {
	iox2go::Service svc(a, robot_Plan_service, IOX2_CREATE);
	iox2go::Service other(b, robot_Plan_service, IOX2_OPEN);
	iox2go::Server<robot_PlanRequest, robot_PlanResponse> server(svc, robot_Plan_server_create);
	iox2go::Client<robot_PlanRequest, robot_PlanResponse> client(other, robot_Plan_client_create);
	auto req = client.loan();
	req->goal.x = 3;
	auto pending = req.send();
	CHECK(server.wait(1000000000));
	{
		auto active = server.receive();
		CHECK(active);
		CHECK(active->goal.x == 3);
		for (uint32_t step = 1; step <= 3; step++) {
			auto resp = active.loan();
			resp->step = step;
			resp->waypoint = active->goal;
			resp.send();
		}
	} // the stream ends here
	uint32_t want = 1;
	for (;;) {
		if (auto r = pending.receive()) {
			CHECK(r->step == want && r->waypoint.x == 3);
			want++;
			continue;
		}
		if (pending.ended() || pending.wait(1000000000) != iox2go::Wait::ready)
			break;
	}
	CHECK(want == 4);
	CHECK(pending.ended());
}

static void mismatch(iox2go::Node &a) {
	iox2_pubsub_spec spec;
	robot_Imu_service_spec(&spec);
	spec.payload = *robot_Stamp_type_info(); // not the service's type
	try {
		iox2go::Service svc(a, spec, IOX2_OPEN);
		CHECK(!"opened a service with another payload type");
	} catch (const iox2go::error &e) {
		CHECK(e.code() == IOX2_E_INCOMPATIBLE_TYPES);
		CHECK(std::strstr(e.what(), "robot::Stamp") != nullptr);
	}
}

int main(int argc, char **argv) {
	if (argc != 4) {
		std::fprintf(stderr, "usage: cpp_wrapper <root> <shm-dir> <prefix>\n");
		return 2;
	}
	iox2_config cfg;
	iox2_config_default(&cfg);
	cfg.root = argv[1];
	cfg.shm_dir = argv[2];
	cfg.prefix = argv[3];
	try {
		iox2go::Node a("cpp-a", &cfg), b("cpp-b", &cfg);
		imu(a, b);
		points(a, b);
		alarm(a, b);
		plan(a, b);
		iox2go::Service keep(b, robot_Imu_service, IOX2_CREATE);
		mismatch(a);
	} catch (const iox2go::error &e) {
		std::fprintf(stderr, "FAIL: %s (code %d: %s)\n", e.what(), e.code(), iox2_errstr(e.code()));
		return 1;
	}
	std::printf("ok\n");
	return 0;
}
