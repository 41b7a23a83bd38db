/* robot_api.c uses every function of the generated robot.iox2.api.h as a
 * C program would; templates/compile_test.go compiles it (gcc -c, and g++
 * as C++) to check the generated signatures. It is not run. */
#include <stdio.h>

#include "robot.iox2.api.h"

static int imu(iox2_node *node) {
	iox2_service *svc = NULL;
	iox2_publisher *pub = NULL;
	iox2_subscriber *sub = NULL;
	robot_Imu *m = NULL;
	iox2_sample_mut *out = NULL;
	const robot_Imu *in = NULL;
	const iox2_sample *sample = NULL;
	size_t delivered = 0;
	int rc = robot_Imu_service(node, IOX2_OPEN_OR_CREATE, &svc);
	if (rc != IOX2_OK) return rc;
	if ((rc = robot_Imu_publisher_create(svc, &pub)) != IOX2_OK) return rc;
	if ((rc = robot_Imu_subscriber_create(svc, &sub)) != IOX2_OK) return rc;
	if ((rc = robot_Imu_publisher_loan(pub, &m, &out)) != IOX2_OK) return rc;
	m->stamp_ns = 1;
	m->mode = robot_Mode_ACTIVE;
	m->points.len = 1;
	m->points.data[0].x = 2.5;
	if ((rc = iox2_sample_mut_send(out, &delivered)) != IOX2_OK) return rc;
	if ((rc = robot_Imu_publisher_loan_uninit(pub, &m, &out)) != IOX2_OK) return rc;
	iox2_sample_mut_release(out);
	if ((rc = robot_Imu_publisher_send_copy(pub, m, &delivered)) != IOX2_OK) return rc;
	while ((rc = robot_Imu_subscriber_receive(sub, &in, &sample)) == IOX2_OK && sample != NULL) {
		printf("%llu %s\n", (unsigned long long)in->stamp_ns, in->frame.data);
		iox2_sample_release(sample);
	}
	iox2_subscriber_close(sub);
	iox2_publisher_close(pub);
	return iox2_service_close(svc);
}

static int points(iox2_node *node) {
	iox2_pubsub_spec spec;
	iox2_publisher_options po;
	iox2_subscriber_options so;
	iox2_service *svc = NULL;
	iox2_publisher *pub = NULL;
	iox2_subscriber *sub = NULL;
	robot_Vec3 *v = NULL;
	robot_Stamp *stamp = NULL;
	iox2_sample_mut *out = NULL;
	const robot_Vec3 *in = NULL;
	const robot_Stamp *in_stamp = NULL;
	uint64_t len = 0;
	const iox2_sample *sample = NULL;
	int rc;
	robot_Points_service_spec(&spec);
	spec.max_subscribers = 4; /* a spec can be changed before use */
	if ((rc = iox2_pubsub_service(node, &spec, IOX2_CREATE, &svc)) != IOX2_OK) return rc;
	robot_Points_publisher_options(&po);
	robot_Points_subscriber_options(&so);
	if ((rc = iox2_publisher_create(svc, &po, &pub)) != IOX2_OK) return rc;
	if ((rc = robot_Points_subscriber_create(svc, &sub)) != IOX2_OK) return rc;
	if ((rc = robot_Points_publisher_loan(pub, 3, &v, &stamp, &out)) != IOX2_OK) return rc;
	v[2].z = 1;
	stamp->seq = 7;
	if ((rc = iox2_sample_mut_send(out, NULL)) != IOX2_OK) return rc;
	if ((rc = robot_Points_publisher_loan_uninit(pub, 1, &v, NULL, &out)) != IOX2_OK) return rc;
	iox2_sample_mut_release(out);
	if ((rc = robot_Points_subscriber_receive(sub, &in, &len, &in_stamp, &sample)) == IOX2_OK && sample != NULL) {
		printf("%llu %u %f\n", (unsigned long long)len, in_stamp->seq, in[len - 1].z);
		iox2_sample_release(sample);
	}
	return iox2_service_close(svc);
}

static void on_event(void *ctx, uint64_t id) {
	*(uint64_t *)ctx |= UINT64_C(1) << id;
}

static int alarm(iox2_node *node) {
	iox2_service *svc = NULL;
	iox2_notifier *n = NULL;
	iox2_listener *l = NULL;
	uint64_t seen = 0, id = 0;
	int rc;
	if ((rc = robot_Alarm_service(node, IOX2_OPEN_OR_CREATE, &svc)) != IOX2_OK) return rc;
	if ((rc = robot_Alarm_notifier_create(svc, &n)) != IOX2_OK) return rc;
	if ((rc = robot_Alarm_listener_create(svc, &l)) != IOX2_OK) return rc;
	if ((rc = iox2_notifier_notify(n, NULL)) != IOX2_OK) return rc;
	if ((rc = iox2_notifier_notify_id(n, robot_ALARM_COLLISION, NULL)) != IOX2_OK) return rc;
	if ((rc = iox2_listener_wait_one(l, 0, &id)) != IOX2_OK) return rc;
	if ((rc = iox2_listener_wait_all(l, 0, on_event, &seen, NULL)) != IOX2_OK) return rc;
	return iox2_service_close(svc);
}

static int plan(iox2_node *node) {
	iox2_service *svc = NULL;
	iox2_client *client = NULL;
	iox2_server *server = NULL;
	robot_PlanRequest *req = NULL;
	iox2_request_mut *rm = NULL;
	iox2_pending_response *pending = NULL;
	const robot_PlanRequest *got = NULL;
	iox2_active_request *active = NULL;
	robot_PlanResponse *resp = NULL;
	iox2_response_mut *wm = NULL;
	const robot_PlanResponse *answer = NULL;
	const iox2_response *r = NULL;
	robot_PlanResponse copy;
	int rc;
	if ((rc = robot_Plan_service(node, IOX2_OPEN_OR_CREATE, &svc)) != IOX2_OK) return rc;
	if ((rc = robot_Plan_client_create(svc, &client)) != IOX2_OK) return rc;
	if ((rc = robot_Plan_server_create(svc, &server)) != IOX2_OK) return rc;
	if ((rc = robot_Plan_client_loan(client, &req, &rm)) != IOX2_OK) return rc;
	req->goal.x = 10;
	if ((rc = iox2_request_mut_send(rm, &pending)) != IOX2_OK) return rc;
	if ((rc = robot_Plan_client_loan_uninit(client, &req, &rm)) != IOX2_OK) return rc;
	iox2_request_mut_release(rm);
	if ((rc = robot_Plan_server_receive(server, &got, &active)) != IOX2_OK || active == NULL) return rc;
	if ((rc = robot_Plan_active_request_loan(active, &resp, &wm)) != IOX2_OK) return rc;
	resp->step = 1;
	resp->waypoint = got->goal;
	if ((rc = iox2_response_mut_send(wm)) != IOX2_OK) return rc;
	if ((rc = robot_Plan_active_request_loan_uninit(active, &resp, &wm)) != IOX2_OK) return rc;
	iox2_response_mut_release(wm);
	memset(&copy, 0, sizeof copy);
	copy.step = 2;
	if ((rc = robot_Plan_active_request_send_copy(active, &copy)) != IOX2_OK) return rc;
	iox2_active_request_close(active);
	while ((rc = robot_Plan_pending_response_receive(pending, &answer, &r)) == IOX2_OK && r != NULL) {
		printf("%u\n", answer->step);
		iox2_response_release(r);
	}
	iox2_pending_response_close(pending);
	if ((rc = robot_Plan_client_send_copy(client, got, &pending)) != IOX2_OK) return rc;
	iox2_pending_response_close(pending);
	return iox2_service_close(svc);
}

int main(void) {
	iox2_node *node = NULL;
	const iox2_type_info *ti = robot_Imu_type_info();
	int rc;
	printf("%s %llu %s\n%s", ti->name, (unsigned long long)ti->size, ti->layout_hash, ti->layout);
	if ((rc = iox2_node_create(NULL, "robot-api", &node)) != IOX2_OK) {
		fprintf(stderr, "%s\n", iox2_last_create_error());
		return 1;
	}
	if ((rc = imu(node)) != IOX2_OK || (rc = points(node)) != IOX2_OK || (rc = alarm(node)) != IOX2_OK || (rc = plan(node)) != IOX2_OK)
		fprintf(stderr, "%s\n", iox2_node_errmsg(node));
	iox2_node_close(node);
	return rc == IOX2_OK ? 0 : 1;
}
