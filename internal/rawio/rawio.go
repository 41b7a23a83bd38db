// Package rawio reads and writes non-blocking descriptors with raw system
// calls: unix.RawSyscall, without the scheduler's entersyscall and
// exitsyscall.
//
// A counted system call (syscall.Syscall, what os.File and net.Conn use)
// made after the process was idle first wakes the runtime's sysmon
// thread, which waits while every P is idle: a futex wake-up and a thread
// scheduled on another CPU for every message of a ping-pong
// (docs/BENCHMARKS.md, "Raw system calls on the message path"). A raw
// call skips that, and is safe only where the call cannot sleep in the
// kernel: a descriptor opened O_NONBLOCK (the doorbell FIFOs), or one
// that Go keeps non-blocking (sockets). Callers wait for readiness in the
// netpoller (syscall.RawConn's Read and Write) when a call answers
// EAGAIN.
package rawio

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Read reads into p with one read(2), retried on EINTR. It returns the
// bytes read (0 on an error) and the error number: EAGAIN when there is
// nothing to read yet.
func Read(fd uintptr, p []byte) (int, syscall.Errno) {
	return call(unix.SYS_READ, fd, p)
}

// Write writes p with one write(2), retried on EINTR. It returns the
// bytes written (0 on an error) and the error number: EAGAIN when there
// is no room yet.
func Write(fd uintptr, p []byte) (int, syscall.Errno) {
	return call(unix.SYS_WRITE, fd, p)
}

func call(trap, fd uintptr, p []byte) (int, syscall.Errno) {
	for {
		n, _, e := unix.RawSyscall(trap, fd, uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
		switch e {
		case 0:
			return int(n), 0
		case syscall.EINTR:
			continue
		}
		return 0, e
	}
}
