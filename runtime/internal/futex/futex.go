// Package futex held the runtime's futex(2) and futex_waitv(2) calls, with
// which listeners, WaitSets and discovery once slept on words in shared
// memory. Every wait now parks a goroutine in Go's network poller instead
// (see runtime/bell.go), so that a blocked wait holds no OS thread; what is
// left is the clock that shared memory uses for deadlines.
package futex

import _ "unsafe" // go:linkname

// Now returns the CLOCK_MONOTONIC time in nanoseconds. Unlike the monotonic
// reading in a time.Time, it is the same clock in every process of the
// machine (time since boot), so that a deadline stored in shared memory by
// one process means the same to every other (the C library reads
// CLOCK_MONOTONIC too).
//
// It is the Go runtime's own clock, read through the vDSO: a WaitSet's
// round and a notifier with a deadline read it on every wake-up and send,
// where clock_gettime(2) as a system call (golang.org/x/sys/unix) cost
// about half a microsecond on a VM.
func Now() int64 { return nanotime() }

// nanotime is the runtime's CLOCK_MONOTONIC reading (on Linux,
// clock_gettime(CLOCK_MONOTONIC) through the vDSO), which the runtime
// keeps linkable for this use (go.dev/issue/67401).
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64
