package futex

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestNowIsMonotonic(t *testing.T) {
	a := Now()
	time.Sleep(time.Millisecond)
	b := Now()
	if b-a < int64(time.Millisecond) {
		t.Fatalf("Now advanced %dns over a sleep of 1ms", b-a)
	}
}

// TestNowIsClockMonotonic: Now reads the clock that other processes (and
// the C library) read as CLOCK_MONOTONIC, not a clock of this process.
func TestNowIsClockMonotonic(t *testing.T) {
	mono := func() int64 {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
			t.Fatal(err)
		}
		return ts.Nano()
	}
	for range 100 {
		before := mono()
		now := Now()
		after := mono()
		if now < before || now > after {
			t.Fatalf("Now = %d, not between CLOCK_MONOTONIC readings %d and %d", now, before, after)
		}
	}
}

func BenchmarkNow(b *testing.B) {
	for b.Loop() {
		Now()
	}
}

// BenchmarkClockGettimeSyscall is what Now cost before it read the
// runtime's clock: clock_gettime(2) as a system call.
func BenchmarkClockGettimeSyscall(b *testing.B) {
	var ts unix.Timespec
	for b.Loop() {
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	}
}
