package ring

import (
	"math"
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
// the sleeper misses the element).
func storeBuffering(n int, d time.Duration, fence bool) (rounds, both int) {
	var x, y, start, done atomic.Uint64
	var f Fence
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the sleeper
		defer wg.Done()
		runtime.LockOSThread()
		for i := uint64(1); ; i++ {
			for start.Load() < i {
				runtime.Gosched()
			}
			if start.Load() == math.MaxUint64 {
				return
			}
			y.Swap(i)
			done.Store(i<<1 | min(x.Load(), 1))
		}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	deadline := time.Now().Add(d)
	for i := uint64(1); i <= uint64(n) && time.Now().Before(deadline); i++ {
		x.Store(0)
		y.Store(0)
		start.Store(i)
		storeRelease(&x, 1)
		if fence {
			f.Full()
		}
		r1 := y.Load()
		var r2 uint64
		for {
			v := done.Load()
			if v>>1 == i {
				r2 = v & 1
				break
			}
			runtime.Gosched()
		}
		rounds++
		if r1 == 0 && r2 == 0 {
			both++
		}
	}
	start.Store(math.MaxUint64)
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
