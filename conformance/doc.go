// Package conformance holds the two implementations of the protocol
// (docs/PROTOCOL.md) together: the Go runtime and the C library of lang/c.
// Its tests run the same scenarios with every pairing of the two, each side
// in a process of its own.
//
// # The peer protocol
//
// Every side of a scenario is a peer process that plays one role. A peer is
// either the Go implementation (this package's RunPeer, which the test
// binary runs when re-executed with IOX2CONF_PEER=1) or the C one
// (lang/c/tests/peer.c, built against <iox2go.h> and the generated payload
// header examples/gen/robot/robot.iox2.h). Both obey the same command line,
// print the same lines and stop at the same points:
//
//	peer <root> <shm-dir> <prefix> <role> [key=value ...]
//
// <root>, <shm-dir> and <prefix> are the domain (Config.Root, ShmDir,
// Prefix). Standard output gets one line per event, its words separated by
// single spaces, values as key=value; doubles are printed with three
// decimals ("%.3f" in both languages), port IDs as 16 hex digits:
//
//	ready id=<port>            a port of the role exists (one line per port)
//	hold                       waiting for a line on standard input
//	sent seq=<n> delivered=<k> a sample was sent
//	recv seq=<n> ...           a sample was received and every field checked
//	kept seq=<n>               a sample held across the hold still reads right
//	waiting                    about to block in a wait
//	event id=<n>               an event arrived
//	notified id=<n> listeners=<k>
//	sent req=<r> id=<request id>  request r of a client was sent
//	request id=<request id> goal=<x,y,z> client=<port>
//	responded id=<request id> n=<k>
//	resp req=<r> step=<i> waypoint=<x,y,z> server=<port>
//	end req=<r> n=<k>          the response stream of request r ended after k responses
//	opened i=<n>               a service was opened (roles open and nodes)
//	error <CODE> <message>     a call failed; the peer exits with status 2
//	fail <message>             the peer saw something wrong; exit status 1
//	ok                         the role is done; exit status 0
//
// <CODE> names the error as the C library's IOX2_E_* constant does, without
// the prefix (EXCEEDS_MAX_PUBLISHERS, INCOMPATIBLE_TYPES, ...); the Go peer
// maps the runtime's sentinel errors to the same names. <message> is the
// whole error text; the suite compares the part that says what differs
// ("requested ..., service has ...") across the implementations.
//
// Standard input carries the driver's go-aheads: at a hold the peer prints
// "hold" and reads one line; end of input ends the peer (status 3). A C
// port that holds keeps polling its node's doorbell: a publisher calls
// iox2_publisher_update_connections (connecting to new subscribers and
// delivering their history), a subscriber iox2_subscriber_wait with a
// timeout of 0 (mapping new publishers' connections), as the Go runtime's
// dispatcher does by itself.
//
// # The suite
//
// TestConformance runs every scenario of its table with every pairing of
// the implementations (Go with Go, Go with C both ways, C with C);
// TestConformanceSanitized runs them again with the C library and peer
// built with -fsanitize=address,undefined. The driver checks each line
// against the one it expects, and after each scenario that nothing of the
// domain is left in the shared-memory directory or under the root. It also
// plays the hostile process: it maps a connection segment of two peers and
// writes garbage into its queues (hostile_test.go). TestStaticParserReplay
// and TestStaticParserLibFuzzer fuzz the C library's static-config parser
// (lang/c/tests/fuzz_static.c). A missing C compiler or make skips the C
// side with a message; a missing clang skips the libFuzzer run.
//
// # Roles
//
// All roles use the services of examples/idl/robot.idl with the settings
// the IDL declares (the generated Go builders; the same values, from the
// generated header's macros, in C), opened with open-or-create.
//
//	imu-pub    n= pubs= wait= rounds= linger= forever= interval_us=
//	           robot/imu: creates pubs publishers (default 1), holds first
//	           if wait=1, sends samples 0..n-1 with the first (rounds=r:
//	           r times n samples, holding between rounds; forever=1: until
//	           killed), holds after if linger=1.
//	imu-sub    n= buffer= history= wait= rounds= drain= keep= timeout_ms= linger=
//	           robot/imu: a subscriber (buffer 8, history request 2 unless
//	           given); per round receives n samples, or with drain=1 what
//	           is queued. keep=k keeps the first k samples borrowed; after
//	           the rounds it holds, checks them again ("kept"), releases
//	           them and drains the queue.
//	points-pub n= wait= linger=      robot/points: slices of Vec3 with a Stamp user header
//	points-sub n= wait= drain= timeout_ms= linger=
//	alarm-listen n= timeout_ms=      robot/alarm: waits for n distinct event ids
//	alarm-notify ids=a,b wait= linger=
//	plan-server requests= steps= linger=   robot/plan: answers each request with steps responses
//	plan-client requests= steps= timeout_ms=
//	open       svc=imu|points|alarm|plan, opened with one deviation:
//	           type=vec3, history=<n>, require=<key>:<value>, header=none,
//	           slice=0, swap=1 (request and response types swapped),
//	           notifiers=<n>; prints "opened i=0" or the error.
//	nodes      k= max_nodes= linger=  k nodes each open service conf/nodes (payload Imu)
//
// The payload values are functions of the sequence number (FillImu,
// FillPoints, the plan's goals and waypoints), so that the receiver checks
// every field, and the driver checks the printed line against the one it
// expects.
package conformance
