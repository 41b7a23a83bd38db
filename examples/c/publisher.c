/* publisher.c: the publish-subscribe example of iceoryx2's README, in C, on
 * iox2go's C library. It publishes a TransmissionData sample on
 * "My/Funk/ServiceName" every -cycle-ms milliseconds (default 1000), zero-copy,
 * until it has sent -n samples (0: forever). Go subscribers
 * (examples/publish_subscribe/subscriber) and C ones (subscriber.c) read it.
 *
 * Build: make -C examples/c (see its Makefile). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <iox2go.h>
#include "transmission.iox2.api.h"

int main(int argc, char **argv) {
	long n = 0, cycle_ms = 1000;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "-n") == 0)
			n = strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "-cycle-ms") == 0)
			cycle_ms = strtol(argv[i + 1], NULL, 10);
	}

	iox2_node *node;
	if (iox2_node_create(NULL, "c-publisher", &node) != IOX2_OK) {
		fprintf(stderr, "publisher: %s\n", iox2_last_create_error());
		return 1;
	}
	iox2_service *service;
	iox2_publisher *pub;
	int rc = examples_MyFunkServiceName_service(node, IOX2_OPEN_OR_CREATE, &service);
	if (rc == IOX2_OK)
		rc = examples_MyFunkServiceName_publisher_create(service, &pub);
	if (rc != IOX2_OK) {
		fprintf(stderr, "publisher: %s\n", iox2_node_errmsg(node));
		iox2_node_close(node);
		return 1;
	}

	for (long counter = 0; n == 0 || counter < n; counter++) {
		struct timespec ts = {cycle_ms / 1000, (cycle_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		examples_TransmissionData *d;
		iox2_sample_mut *s;
		if ((rc = examples_MyFunkServiceName_publisher_loan_uninit(pub, &d, &s)) != IOX2_OK)
			break;
		d->x = (int32_t)counter;
		d->y = (int32_t)counter * 3;
		d->funky = (double)counter * 812.12;
		size_t receivers;
		if ((rc = iox2_sample_mut_send(s, &receivers)) != IOX2_OK)
			break;
		printf("send sample %ld to %zu subscriber(s)\n", counter, receivers);
		fflush(stdout);
	}
	if (rc != IOX2_OK)
		fprintf(stderr, "publisher: %s\n", iox2_node_errmsg(node));
	printf("exit\n");
	iox2_node_close(node);
	return rc == IOX2_OK ? 0 : 1;
}
