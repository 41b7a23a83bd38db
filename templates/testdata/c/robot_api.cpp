// robot_api.cpp uses iox2go.hpp with the generated robot.iox2.api.h as a
// C++ program would; templates/compile_test.go compiles it (g++ -std=c++17
// -c) to check the wrapper and its fit with the generated functions. It is
// not run.
#include <cstdio>
#include <vector>

#include "robot.iox2.api.h"
#include <iox2go.hpp>

static void imu(iox2go::Node &node) {
	iox2go::Service svc(node, robot_Imu_service, IOX2_OPEN_OR_CREATE);
	iox2go::Publisher<robot_Imu> pub(svc, robot_Imu_publisher_create);
	iox2go::Subscriber<robot_Imu> sub(svc, robot_Imu_subscriber_create);
	{
		auto s = pub.loan();
		s->stamp_ns = 1;
		s->mode = robot_Mode_FAULT;
		s.send();
	}
	robot_Imu copy{};
	pub.send_copy(copy);
	pub.loan_uninit(); // released unsent
	while (sub.wait(0))
		while (auto s = sub.receive())
			std::printf("%llu %llu\n", static_cast<unsigned long long>(s->stamp_ns), static_cast<unsigned long long>(s.sequence()));
}

static void points(iox2go::Node &node) {
	iox2_pubsub_spec spec;
	robot_Points_service_spec(&spec);
	iox2go::Service svc(node, spec, IOX2_OPEN_OR_CREATE);
	iox2_publisher_options o;
	robot_Points_publisher_options(&o);
	o.max_slice_len = 16;
	iox2go::Publisher<robot_Vec3, robot_Stamp> pub(svc, o);
	iox2go::Subscriber<robot_Vec3, robot_Stamp> sub(svc);
	auto s = pub.loan(3);
	for (robot_Vec3 &v : s)
		v.x = 1;
	s.user_header()->seq = 9;
	std::size_t n = s.send();
	(void)n;
	if (auto r = sub.receive()) {
		double sum = 0;
		for (const robot_Vec3 &v : r)
			sum += v.x;
		std::printf("%u %f %llu\n", r.user_header()->seq, sum, static_cast<unsigned long long>(r.len()));
	}
}

static void alarm(iox2go::Node &node) {
	iox2go::Service svc(node, robot_Alarm_service, IOX2_OPEN_OR_CREATE);
	iox2go::Notifier notifier(svc, robot_Alarm_notifier_create);
	auto other = iox2go::Notifier::with_default_event_id(svc, robot_ALARM_COLLISION);
	iox2go::Notifier plain(svc);
	iox2go::Listener listener(svc, robot_Alarm_listener_create);
	notifier.notify();
	other.notify(robot_ALARM_OVERHEAT);
	plain.notify();
	if (auto id = listener.wait_one(0))
		std::printf("event %llu\n", static_cast<unsigned long long>(*id));
	std::vector<uint64_t> ids;
	listener.wait_all(1000000, [&ids](uint64_t id) { ids.push_back(id); });
	const auto count = [](uint64_t) {};
	listener.wait_all(0, count);
}

static void plan(iox2go::Node &node) {
	iox2go::Service svc(node, robot_Plan_service, IOX2_OPEN_OR_CREATE);
	iox2go::Client<robot_PlanRequest, robot_PlanResponse> client(svc, robot_Plan_client_create);
	iox2go::Server<robot_PlanRequest, robot_PlanResponse> server(svc, robot_Plan_server_create);
	auto req = client.loan();
	req->goal.x = 3;
	iox2go::PendingResponse<robot_PlanResponse> pending = req.send();
	if (server.wait(IOX2_FOREVER)) {
		if (auto active = server.receive()) {
			auto resp = active.loan();
			resp->step = 1;
			resp->waypoint = active->goal;
			resp.send();
			robot_PlanResponse last{};
			active.send_copy(last);
		} // the stream ends here
	}
	for (;;) {
		if (auto r = pending.receive()) {
			std::printf("step %u\n", r->step);
			continue;
		}
		if (pending.ended() || pending.wait(1000000) != iox2go::Wait::ready)
			break;
	}
	robot_PlanRequest goal{};
	auto again = client.send_copy(goal);
	again.set_disconnect_hint();
}

int main() {
	try {
		iox2go::Node node("robot-api-cpp");
		imu(node);
		points(node);
		alarm(node);
		plan(node);
	} catch (const iox2go::error &e) {
		std::fprintf(stderr, "%s (code %d: %s)\n", e.what(), e.code(), iox2_errstr(e.code()));
		return 1;
	}
	return 0;
}
