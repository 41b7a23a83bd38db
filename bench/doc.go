// Command bench measures the one-way latency of inter-process communication
// mechanisms with the protocol of iceoryx2's benchmarks, then the one-way
// throughput of some of them, and writes the results as tables, JSON and an
// SVG plot of the latencies.
//
//	go run ./bench -out docs/bench        # what make bench does; about a minute and a half
//	go run ./bench -quick -out /tmp/b     # smoke run, a second or two
//	go run ./bench -mechanisms futex,pipe -sizes 64,1M -budget 10s
//	go run ./bench -list                  # the mechanisms and what they measure
//
// # Protocol
//
// Process A (this program) re-executes itself as process B. A pins its
// thread to one CPU and B to another (runtime.LockOSThread, then
// sched_setaffinity; with a single CPU neither is pinned and a note says
// so). For each mechanism and payload size, both processes set up the
// mechanism's two channels a2b and b2a, then play ping-pong: A sends seq on
// a2b and waits for it on b2a, B echoes. Receivers busy-wait, except where
// the mechanism measures blocking (sockets and pipes block in read(2), the
// futex mechanism in FUTEX_WAIT). After a warm-up, A times every round trip
// with the runtime's monotonic clock, until it has -iters of them or -budget
// has passed, and reports median, p99 (nearest rank) and max of the one-way
// latency, which is half a round trip. A timestamp costs about 20 ns here and
// is inside every round trip; results.md states its cost.
//
// The first and the last measurement of every run is the floor: the same two
// processes ping-pong one word on one shared cache line. Moving a cache line
// between two vCPUs of a shared virtual machine costs about 60 ns for some
// process pairs and about 200 ns for others, fixed at launch; so every figure
// comes with its ratio to the floor of its own run, and figures of different
// runs are compared through those ratios only. The other ratios are to
// uds-stream (the copying baseline) and to futex (the blocking wake-up, the
// yardstick for event mechanisms) at the same size.
//
// # Throughput mode
//
// After the latencies, the mechanisms of -stream (by default iox2go-pubsub,
// pipe, uds-stream, nats-pubsub, gateway-pubsub and gateway-embedded-pubsub;
// those that implement Streamer) are measured one way:
// A sends 8-byte samples (-stream-size; the payload is the seq) on a2b as
// fast as the mechanism takes them, for -stream-budget or -stream-count
// samples, then seq 0; B receives as fast as it can, checks that the seqs
// come in order, and reports how many it received and the time from the
// first arrival to the arrival of seq 0. samples/s = received / that time;
// lost = sent - received. All three default mechanisms are lossless: a full
// pipe or socket blocks the writer, and iox2go-pubsub streams with safe
// overflow off, a subscriber buffer of 4096 and RetryUntilDelivered.
//
// # Several subscribers
//
// iox2go-pubsub-2sub and iox2go-pubsub-8sub are iox2go-pubsub with 2 and 8
// subscribers of a2b in B, polled in turn; B answers on b2a when the last
// of them has the sample, so the round trip includes the delivery to all of
// them. Their rows carry the ratio to iox2go-pubsub (one subscriber).
//
// # Go and C processes
//
// With -pairs (default go-c,c-c), the mechanisms that the C peer
// lang/c/bench/pingpong.c has (iox2go-pubsub, on the C library of
// lang/c) are also measured between two more pairs of processes: Go↔C (A
// this program, B the C peer) and C↔C (A and B both the C peer; A times
// with clock_gettime(CLOCK_MONOTONIC) and writes its round trips to a file
// that this program reads and summarizes like its own). The C peer speaks
// process B's protocol on its standard input and output (peer.go) and has
// the floor too, so each pair measures its own floor first and last. At
// each size the three pairs take turns, each row between two short floors
// of its pair. The program builds the library (make -C lang/c) and the
// peer (gcc -O2) first; without a C compiler it prints why and leaves the
// C rows out. results.md gets a section "Go and C processes" with the
// ratios of the C pairs to Go↔Go.
//
// # Across hosts
//
// nats-pubsub (two nats.go connections to a NATS server, by default a
// process of its own that A starts, with -nats-server in-a inside A),
// gateway-pubsub (two iox2go domains, a gateway process each, through the
// same server) and gateway-embedded-pubsub (the same with each gateway in
// its domain's bench process) measure the gateway of issue 14 against
// plain NATS; their
// receivers block, and results.md has a section with the ratios. Over
// NATS the throughput mode may lose samples (counted).
//
// # Adding a mechanism
//
// Write one file in this package with a type that implements Mechanism and
// register it from an init function:
//
//	func init() {
//		Register("iox2go-pubsub", "iox2go publish-subscribe, loan/send/receive in place", func() Mechanism { return new(pubsub) })
//	}
//
// Setup gets a Config: the role (A creates, B opens, concurrently; each side
// waits up to Config.Timeout for the other), a unique Prefix and a private
// Dir for its resources' names, and the payload size. Send stamps the payload
// with Stamp (seq in the first 8 bytes, byte(seq) in the last) and sends it;
// Receive waits, checks the payload with Check and returns its seq; a busy
// wait calls Reset on a Waiter when it starts and Poll every pollEvery spins,
// so that it stops when the peer dies or stalls. Close removes everything.
// Send and Receive must not allocate. A mechanism that has something to say
// about a run (say, that it cut a payload) implements Noter. The in-process
// conformance test (TestMechanisms) then runs the new mechanism too.
//
// # Outputs
//
// results.md (the latency table, the tables of the Go and C processes,
// the multi-subscriber table, the throughput table, the run's date, Go
// version, CPU model, kernel and pinning, and what each mechanism
// measures), results.json (the same,
// machine-readable, with min and mean as well) and latency.svg (the median
// latency against the payload size, log-log, one line per mechanism, the
// floor dashed; no throughput). The progress and the table also go to the standard output.
//
// # Clean-up
//
// A kills B when it fails (B also gets SIGKILL when A dies: PR_SET_PDEATHSIG)
// and, on return or on SIGINT, SIGTERM or SIGHUP, removes the run's directory
// and every /dev/shm file whose name starts with the run's prefix
// (iox2go-bench-<pid of A>-). B exits when A's commands end.
//
// Exit status: 0 on success, 1 when a measurement fails, 2 on misuse.
package main
