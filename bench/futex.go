package main

import (
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func init() {
	Register("futex", "payload in shared memory (written in place, like zero copy), the receiver sleeps in FUTEX_WAIT on a shared word and the sender calls FUTEX_WAKE: the cost of a blocking cross-process wake-up, the yardstick for events", func() Mechanism { return new(futexPair) })
}

// futexHeader starts the futex mechanism's segment; the a2b payload follows
// at offset futexPayloadOffset, the b2a payload one aligned payload later.
type futexHeader struct {
	// a2b counts the payloads A sent; written by A (Add), read by B and
	// waited on by B. b2a is the same in the other direction.
	a2b atomic.Uint32
	_   [124]byte // a2b and b2a have different writers: separate 128-byte lines
	b2a atomic.Uint32
	_   [124]byte
}

const futexPayloadOffset = int(unsafe.Sizeof(futexHeader{}))

// The shared (not private) futex operations: the kernel keys the wait queue
// by the page, so a waiter and a waker in different processes meet.
const (
	futexWait = 0 // FUTEX_WAIT
	futexWake = 1 // FUTEX_WAKE
)

// futexPollInterval is how long one FUTEX_WAIT sleeps at most before the
// receiver polls its Waiter; a wake-up ends the sleep at once.
const futexPollInterval = 100 * time.Millisecond

// futexPair sends a payload written in place in shared memory and wakes the
// receiver, which sleeps without spinning.
type futexPair struct {
	shm       *shmFile
	hdr       *futexHeader
	out, in   *atomic.Uint32 // the counter this side adds to and the one it waits on
	outP, inP []byte         // the payloads this side writes and reads
	seen      uint32         // the last value of *in this side consumed
	sleep     unix.Timespec  // futexPollInterval; a field, so that no call allocates it
	waiter    Waiter
}

func (f *futexPair) Setup(cfg Config) error {
	stride := (cfg.Size + 127) &^ 127
	size := futexPayloadOffset + 2*stride
	var err error
	if cfg.Role == RoleA {
		f.shm, err = createShm(cfg.ShmPath(".futex"), size, nil)
	} else {
		f.shm, err = openShm(cfg.ShmPath(".futex"), cfg.Timeout)
	}
	if err != nil {
		return err
	}
	if len(f.shm.mem) != size {
		return fmt.Errorf("%s: %d bytes, want %d", f.shm.path, len(f.shm.mem), size)
	}
	f.hdr = (*futexHeader)(unsafe.Pointer(&f.shm.mem[0]))
	a2bP := f.shm.mem[futexPayloadOffset : futexPayloadOffset+cfg.Size]
	b2aP := f.shm.mem[futexPayloadOffset+stride : futexPayloadOffset+stride+cfg.Size]
	if cfg.Role == RoleA {
		f.out, f.in, f.outP, f.inP = &f.hdr.a2b, &f.hdr.b2a, a2bP, b2aP
	} else {
		f.out, f.in, f.outP, f.inP = &f.hdr.b2a, &f.hdr.a2b, b2aP, a2bP
	}
	f.sleep = unix.NsecToTimespec(int64(futexPollInterval))
	f.waiter = NewWaiter(cfg)
	return nil
}

func (f *futexPair) Send(seq uint64) error {
	Stamp(f.outP, seq)
	// SYNC POINT futex: publishes the payload written above; paired with
	// the peer's Load in Receive. This passes the payload to the peer.
	f.out.Add(1)
	// Always wake: this is the cost a notifier pays without a waiter flag.
	_, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(f.out)), futexWake, 1, 0, 0, 0)
	if errno != 0 {
		return fmt.Errorf("FUTEX_WAKE: %w", errno)
	}
	return nil
}

func (f *futexPair) Receive() (uint64, error) {
	f.waiter.Reset()
	for {
		// SYNC POINT futex: paired with the peer's Add in Send; the
		// payload it published is readable after this load.
		v := f.in.Load()
		if v != f.seen {
			f.seen = v
			return Check(f.inP)
		}
		// Sleeps only while *in is still v: a Send between the Load and
		// the sleep makes FUTEX_WAIT return EAGAIN, so no wake-up is lost.
		_, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(f.in)), futexWait, uintptr(v), uintptr(unsafe.Pointer(&f.sleep)), 0, 0)
		switch errno {
		case 0, unix.EAGAIN, unix.EINTR:
		case unix.ETIMEDOUT:
			if err := f.waiter.Poll(); err != nil {
				return 0, err
			}
		default:
			return 0, fmt.Errorf("FUTEX_WAIT: %w", errno)
		}
	}
}

func (f *futexPair) Close() error {
	f.hdr, f.in, f.out, f.inP, f.outP = nil, nil, nil, nil, nil
	return f.shm.close()
}
