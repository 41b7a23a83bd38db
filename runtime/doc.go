// Package runtime is iox2go: zero-copy, lock-free inter-process
// communication between processes of one host, over shared memory, in the
// spirit of iceoryx2. Import it as iox2:
//
//	import iox2 "github.com/iox2go/iox2go/runtime"
//
// A process creates a Node, opens services through it and creates ports on
// the services:
//
//   - publish-subscribe: PublishSubscribe[T] (or PublishSubscribeSlice[T])
//     gives a service with publishers, which loan a sample in shared memory,
//     write it in place and send it, and subscribers, which receive it in
//     place, zero-copy;
//   - request-response: RequestResponse[Req, Resp] gives clients, whose
//     requests reach every server, and servers, which stream any number of
//     responses back to the client that asked;
//   - events: Event gives notifiers and listeners; a listener can block
//     (without spinning) until notified, alone or in a WaitSet with other
//     listeners, deadlines and intervals.
//
// Payload types are fixed-layout Go types without pointers. The iox2gen
// generator (cmd/iox2gen) produces them, and typed service constructors,
// from an IDL file, together with C and Rust definitions of the same bytes.
//
//	node, err := iox2.NewNodeBuilder().Name("camera").Create()
//	if err != nil { ... }
//	defer node.Close()
//	svc, err := iox2.PublishSubscribe[Frame](node, "camera/front").HistorySize(1).OpenOrCreate()
//	pub, err := svc.Publisher()
//	s, err := pub.Loan()
//	s.Payload().Seq = 42
//	n, err := s.Send() // n subscribers got it
//
// Processes find each other through files under Config.Root and segments in
// Config.ShmDir, named with Config.Prefix: two configurations that differ in
// any of the three never see each other. Everything a process creates is
// removed when its node closes, and by whoever next creates a node or opens
// a service when the process died. The hot path (loan, send, receive,
// release) allocates nothing.
//
// Signals are the program's: a node leaves SIGINT and SIGTERM alone, and a
// program that does nothing about them dies on Ctrl-C as any Go program
// does. To shut down cleanly, either build the node (or a WaitSet) with
// SignalHandling(true), so that its waits return ErrNodeInterrupted or
// ErrNodeTerminationRequest, or catch them with signal.NotifyContext and
// pass the context to Node.WaitContext and the blocking waits.
//
// Errors are values: compare them with errors.Is against the Err* sentinels,
// and use errors.As with *ServiceError for the details of a failed open.
//
// docs/API.md, docs/ARCHITECTURE.md and docs/IDL.md in the repository
// describe the API, how it works, and the IDL.
package runtime
