package futex

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestWaitReturnsOnWake(t *testing.T) {
	var w atomic.Uint32
	done := make(chan struct{})
	go func() {
		for w.Load() == 0 {
			Wait(&w, 0, -1)
		}
		close(done)
	}()
	time.Sleep(10 * time.Millisecond)
	w.Store(1)
	WakeAll(&w)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("waiter did not wake up")
	}
}

func TestWaitHonoursTimeout(t *testing.T) {
	// Wait may return early on a signal (the Go runtime preempts with
	// SIGURG) or spuriously, as documented, so the test waits as callers
	// do: in a loop until the deadline. It checks that each Wait sleeps
	// (a handful of calls cover 50ms, not thousands) and that a Wait
	// returns once its timeout passes.
	var w atomic.Uint32
	start := time.Now()
	calls := 0
	for time.Since(start) < 50*time.Millisecond {
		Wait(&w, 0, 20*time.Millisecond)
		calls++
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Waits with a 20ms timeout took %v to cover 50ms", d)
	}
	if calls > 50 {
		t.Fatalf("%d Waits of 20ms to cover 50ms: Wait does not sleep", calls)
	}
}

func TestWaitReturnsAtOnceOnChangedValue(t *testing.T) {
	var w atomic.Uint32
	w.Store(5)
	start := time.Now()
	Wait(&w, 4, time.Second)
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("Wait on a changed value blocked for %v", d)
	}
}
