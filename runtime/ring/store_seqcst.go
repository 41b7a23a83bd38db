//go:build !amd64 || race

package ring

import "sync/atomic"

// storeRelease stores v into w with (at least) release semantics; see
// store_tso.go. Here it is a sequentially consistent atomic.Store: on
// weakly ordered architectures a plain store is not a release, and the race
// detector only sees synchronization through sync/atomic.
func storeRelease(w *atomic.Uint64, v uint64) { w.Store(v) }

// plainStores: storeRelease is sequentially consistent here.
const plainStores = false
