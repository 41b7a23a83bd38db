package futex

import (
	"errors"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sysFutexWaitv is the number of futex_waitv(2) on every Linux architecture
// that has it (it was added to the generic table in 5.16).
const sysFutexWaitv = 449

// Flags of a futex_waitv entry.
const (
	size32  = 0x02 // FUTEX2_SIZE_U32: the only size the kernel supports
	private = 0x80 // FUTEX2_PRIVATE: the word is not shared with other processes
)

// MaxWords is the largest number of words one WaitV call takes
// (FUTEX_WAITV_MAX).
const MaxWords = 128

const opWakePrivate = opWake | 128 // FUTEX_WAKE | FUTEX_PRIVATE_FLAG

// Word is one entry of a WaitV call: the kernel's struct futex_waitv, byte
// for byte (val u64, uaddr u64, flags u32, __reserved u32).
type Word struct {
	val      uint64
	addr     uint64
	flags    uint32
	reserved uint32
}

// A compile error here means Word no longer matches struct futex_waitv.
var _ [24 - unsafe.Sizeof(Word{})]byte
var _ [unsafe.Sizeof(Word{}) - 24]byte

// Shared returns the entry "sleep while *addr == val" for a word that other
// processes may change (in a shared mapping); its wakers call Wake.
//
// The address is kept as a number, invisible to the garbage collector: the
// caller keeps the memory alive (and mapped) until WaitV returns.
func Shared(addr *atomic.Uint32, val uint32) Word {
	return Word{val: uint64(val), addr: uint64(uintptr(unsafe.Pointer(addr))), flags: size32}
}

// Private returns the entry "sleep while *addr == val" for a word of this
// process only; its wakers call WakePrivate (a private waiter and a shared
// waker do not meet: the kernel keys them differently).
func Private(addr *atomic.Uint32, val uint32) Word {
	return Word{val: uint64(val), addr: uint64(uintptr(unsafe.Pointer(addr))), flags: size32 | private}
}

// WakePrivate wakes every waiter of a process-local word waited on with a
// Private entry.
func WakePrivate(addr *atomic.Uint32) int {
	r, _, _ := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), opWakePrivate, 1<<31-1, 0, 0, 0)
	return int(r)
}

// ErrUnsupported reports a kernel without futex_waitv (before Linux 5.16),
// or a seccomp filter that hides it.
var ErrUnsupported = errors.New("futex_waitv(2) is not available: blocking waits need Linux 5.16 or later (or a seccomp profile that allows syscall 449)")

var (
	probeOnce sync.Once
	probeErr  error
)

// Supported reports whether futex_waitv works here: nil, or ErrUnsupported.
// It probes the kernel once, with an empty list of words, which a kernel
// that has the call rejects with EINVAL.
func Supported() error {
	probeOnce.Do(func() {
		_, _, e := unix.Syscall6(sysFutexWaitv, 0, 0, 0, 0, uintptr(unix.CLOCK_MONOTONIC), 0)
		if e == unix.ENOSYS || e == unix.EPERM {
			probeErr = ErrUnsupported
		}
	})
	return probeErr
}

// NoDeadline is the deadline of a WaitV that only a wake-up ends.
const NoDeadline = -1

// WaitV sleeps while every word of ws still holds its value, until one of
// them is woken or the absolute CLOCK_MONOTONIC time deadline (nanoseconds,
// see Now; NoDeadline for none) passes. It returns the index of the word
// that was woken, or -1 when it returned for another reason: a word that
// did not hold its value, the deadline, a signal. Like Wait, callers
// re-check their conditions in a loop. It fails only with ErrUnsupported
// or when ws is empty or longer than MaxWords.
func WaitV(ws []Word, deadline int64) (int, error) {
	if len(ws) == 0 || len(ws) > MaxWords {
		return -1, unix.EINVAL
	}
	var tsp unsafe.Pointer
	var ts unix.Timespec
	if deadline >= 0 {
		ts = unix.NsecToTimespec(deadline)
		tsp = unsafe.Pointer(&ts)
	}
	r, _, e := unix.Syscall6(sysFutexWaitv, uintptr(unsafe.Pointer(&ws[0])), uintptr(len(ws)), 0,
		uintptr(tsp), uintptr(unix.CLOCK_MONOTONIC), 0)
	switch e {
	case 0:
		return int(r), nil
	case unix.ENOSYS, unix.EPERM:
		return -1, ErrUnsupported
	case unix.EINVAL, unix.EFAULT:
		return -1, e
	}
	return -1, nil // EAGAIN, ETIMEDOUT, EINTR
}

// Now returns the CLOCK_MONOTONIC time in nanoseconds: the clock of WaitV's
// deadline. Unlike the monotonic reading in a time.Time, it is the same
// clock in every process of the machine (time since boot).
func Now() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}
