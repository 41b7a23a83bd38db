/* subscriber.c: the publish-subscribe example of iceoryx2's README, in C, on
 * iox2go's C library. It prints every TransmissionData sample published on
 * "My/Funk/ServiceName" (by examples/publish_subscribe/publisher in Go, or
 * by publisher.c), reading it in place in shared memory, until it has
 * received -n samples (0: forever). It sleeps while nothing arrives.
 *
 * Build: make -C examples/c (see its Makefile). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iox2go.h>
#include "transmission.iox2.api.h"

int main(int argc, char **argv) {
	long n = 0;
	if (argc == 3 && strcmp(argv[1], "-n") == 0)
		n = strtol(argv[2], NULL, 10);

	iox2_node *node;
	if (iox2_node_create(NULL, "c-subscriber", &node) != IOX2_OK) {
		fprintf(stderr, "subscriber: %s\n", iox2_last_create_error());
		return 1;
	}
	iox2_service *service;
	iox2_subscriber *sub;
	int rc = examples_MyFunkServiceName_service(node, IOX2_OPEN_OR_CREATE, &service);
	if (rc == IOX2_OK)
		rc = examples_MyFunkServiceName_subscriber_create(service, &sub);
	if (rc != IOX2_OK) {
		fprintf(stderr, "subscriber: %s\n", iox2_node_errmsg(node));
		iox2_node_close(node);
		return 1;
	}
	printf("subscriber ready to receive data!\n");
	fflush(stdout);

	long received = 0;
	while (n == 0 || received < n) {
		/* Sleeps on the node's doorbell until a sample is there. */
		if ((rc = iox2_subscriber_wait(sub, IOX2_FOREVER)) != IOX2_OK)
			break;
		const examples_TransmissionData *d;
		const iox2_sample *s;
		while ((n == 0 || received < n) &&
		       (rc = examples_MyFunkServiceName_subscriber_receive(sub, &d, &s)) == IOX2_OK && s != NULL) {
			printf("received: TransmissionData { x: %d, y: %d, funky: %.2f }\n", d->x, d->y, d->funky);
			fflush(stdout);
			iox2_sample_release(s);
			received++;
		}
		if (rc != IOX2_OK)
			break;
	}
	if (rc != IOX2_OK)
		fprintf(stderr, "subscriber: %s\n", iox2_node_errmsg(node));
	printf("exit\n");
	iox2_node_close(node); /* closes the subscriber and the service too */
	return rc == IOX2_OK ? 0 : 1;
}
