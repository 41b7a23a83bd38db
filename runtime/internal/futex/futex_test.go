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
	var w atomic.Uint32
	start := time.Now()
	Wait(&w, 0, 20*time.Millisecond)
	if d := time.Since(start); d < 15*time.Millisecond || d > 2*time.Second {
		t.Fatalf("Wait with a 20ms timeout returned after %v", d)
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
