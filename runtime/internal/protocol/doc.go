// Package protocol is the single source of truth of iox2go's shared-memory
// protocol: the segment kinds and the protocol version, every struct laid in
// shared memory outside the ring and shm packages (the dynamic config's
// header, node and port slots, the data segment's header and chunk headers,
// the connection and event segments' headers, the request table's words),
// the port-slot states and the per-role meaning of a port slot's words, the
// pure layout computations with their validation of values read from shared
// memory, the operations on slots that are pure protocol, the static
// config's JSON and the naming of every file and segment (naming.go).
//
// The queues, pools and bitsets inside those segments are runtime/ring's;
// the 128-byte header that starts every segment and its publication are
// runtime/shm's. Everything process-local (senders, receivers, waitpoints,
// the dispatcher, cleanup orchestration) stays in package runtime.
//
// docs/PROTOCOL.md describes the protocol in prose; the C layout header
// lang/c/src/iox2go_layout.h is generated from this package's structs by
// TestCLayoutHeader (go test ./runtime/internal/protocol -run
// TestCLayoutHeader -update rewrites it), and the C library checks its own
// struct definitions against it at compile time.
package protocol
