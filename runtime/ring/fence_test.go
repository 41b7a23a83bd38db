package ring

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// storeBuffering runs the store-buffering litmus test for up to n rounds
// or d: one side publishes x with storeRelease (as Push does) and then
// loads y, the other swaps y (as a sleeper arms its wake word) and then
// loads x. It returns the rounds run and how often both loads saw 0: the
// outcome a Dekker handshake must exclude (the sender misses the token and
// the sleeper misses the element). The two sides leave a barrier together
// each round, so that their stores and loads overlap in time.
func storeBuffering(n int, d time.Duration, fence bool) (rounds, both int) {
	var x, y, arrive, done, r2 atomic.Uint64
	var stop atomic.Bool
	var f Fence
	var wg sync.WaitGroup
	barrier := func(i uint64) bool {
		arrive.Add(1)
		for spins := 0; arrive.Load() < 2*i; spins++ {
			if stop.Load() {
				return false
			}
			if spins%1024 == 1023 {
				runtime.Gosched() // two cores busy with other work: let the peer run
			}
		}
		return !stop.Load()
	}
	wg.Add(1)
	go func() { // the sleeper
		defer wg.Done()
		runtime.LockOSThread()
		for i := uint64(1); barrier(i); i++ {
			y.Swap(1)
			r2.Store(x.Load())
			done.Store(i)
		}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	deadline := time.Now().Add(d)
	for i := uint64(1); i <= uint64(n) && time.Now().Before(deadline); i++ {
		barrier(i)
		storeRelease(&x, 1)
		if fence {
			f.Full()
		}
		r1 := y.Load()
		for done.Load() != i {
			runtime.Gosched()
		}
		rounds++
		if r1 == 0 && r2.Load() == 0 {
			both++
		}
		x.Store(0)
		y.Store(0)
	}
	stop.Store(true)
	wg.Wait()
	return rounds, both
}

// A producer that pushes with a release store and then loads a word that
// the consumer swapped (the runtime's wake word W) needs a Fence between
// the two: without it x86 may satisfy the load before the store is visible
// (store buffering), and both sides miss each other. With it, never.
func TestFenceOrdersStoreBeforeLoad(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two threads running at once")
	}
	// At most a second each: the check is statistical, the bound keeps it
	// cheap on a loaded machine.
	if rounds, both := storeBuffering(200000, time.Second, true); both != 0 {
		t.Fatalf("with the fence, %d of %d rounds had both loads miss the other side's store", both, rounds)
	}
	// Informational: how often the unfenced order misbehaves here (on
	// amd64 without the race detector storeRelease is a plain MOV).
	rounds, both := storeBuffering(200000, time.Second, false)
	t.Logf("without the fence: %d of %d rounds had both loads miss (plain stores: %v)", both, rounds, plainStores)
}
