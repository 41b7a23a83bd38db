// Package futex held the runtime's futex(2) and futex_waitv(2) calls, with
// which listeners, WaitSets and discovery once slept on words in shared
// memory. Every wait now parks a goroutine in Go's network poller instead
// (see runtime/bell.go), so that a blocked wait holds no OS thread; what is
// left is the clock that shared memory uses for deadlines.
package futex

import "golang.org/x/sys/unix"

// Now returns the CLOCK_MONOTONIC time in nanoseconds. Unlike the monotonic
// reading in a time.Time, it is the same clock in every process of the
// machine (time since boot), so that a deadline stored in shared memory by
// one process means the same to every other.
func Now() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}
