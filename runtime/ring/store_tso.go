//go:build amd64 && !race

package ring

import (
	"sync/atomic"
	"unsafe"
)

// plainStores: storeRelease is a plain store, which is no full barrier.
const plainStores = true

// storeRelease stores v into w with release semantics: every load and store
// before it in program order is visible to a process that loads v from w.
//
// On amd64 (TSO: stores become visible in program order, and no store passes
// an earlier load) an ordinary aligned 8-byte MOV is such a store, and the
// Go compiler keeps stores in program order with respect to each other and
// to atomic operations. sync/atomic's Store is an XCHG instead: a full
// barrier that waits until the store owns its cache line, about as long as
// a cache-line transfer when the peer has just read the line. Push only
// needs release (its partner is the consumer's atomic load, Q6), so it uses
// this. Under the race detector, and on other architectures, it is
// atomic.Store (store_seqcst.go).
//
// A release store orders nothing after it: a load that follows it in
// program order may be satisfied before the store is visible to other
// cores (x86's store buffer). A producer that must see what the consumer
// wrote after the push (a Dekker handshake, such as the runtime's wake word
// W) calls Fence between the two when PublishIsFence is false.
func storeRelease(w *atomic.Uint64, v uint64) {
	*(*uint64)(unsafe.Pointer(w)) = v
}
