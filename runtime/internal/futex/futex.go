// Package futex wraps the Linux futex(2) calls on words that live in shared
// memory, so that a process can sleep until another process changes a word.
//
// The calls use the shared (non-private) futex operations: the kernel keys
// the wait queue by the physical page, so a waiter and a waker in different
// processes that map the same segment meet.
package futex

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	opWait = 0 // FUTEX_WAIT, shared
	opWake = 1 // FUTEX_WAKE, shared
)

// Wait sleeps while *addr == val, for at most timeout (forever if timeout < 0).
// It returns early, without error, on a wake-up, a changed value, a signal or
// a spurious wake-up: callers re-check their condition in a loop.
func Wait(addr *atomic.Uint32, val uint32, timeout time.Duration) {
	var tsp unsafe.Pointer
	var ts unix.Timespec
	if timeout >= 0 {
		ts = unix.NsecToTimespec(int64(timeout))
		tsp = unsafe.Pointer(&ts)
	}
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), opWait, uintptr(val), uintptr(tsp), 0, 0)
}

// Wake wakes up to n waiters sleeping on addr and returns how many woke.
func Wake(addr *atomic.Uint32, n int) int {
	r, _, _ := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), opWake, uintptr(n), 0, 0, 0)
	return int(r)
}

// WakeAll wakes every waiter sleeping on addr.
func WakeAll(addr *atomic.Uint32) int { return Wake(addr, 1<<31-1) }
