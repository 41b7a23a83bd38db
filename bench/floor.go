package main

import (
	"sync/atomic"
	"unsafe"
)

// floorName is the yardstick: the harness always measures it first (and
// again last), whatever -mechanisms says.
const floorName = "floor"

func init() {
	Register(floorName, "two processes ping-pong one 8-byte word on one shared cache line (MAP_SHARED /dev/shm file, busy-waiting); the cost of moving a cache line between the two cores, the floor of any shared-memory IPC", func() Mechanism { return new(floor) })
}

// floorLine is the whole shared segment of the floor: one word, alone on
// its own 128-byte line (two 64-byte lines, against adjacent-line prefetch).
type floorLine struct {
	// word holds seq<<1 | from, where from is 0 when A wrote it and 1 when
	// B did. A and B both write it, strictly in turn.
	word atomic.Uint64
	_    [120]byte
}

// floor ping-pongs one word on one cache line. It ignores Config.Size: the
// payload is the 8-byte seq itself.
type floor struct {
	shm    *shmFile
	line   *floorLine
	me     uint64 // the "from" bit of this side's writes
	waiter Waiter
}

func (f *floor) Setup(cfg Config) error {
	size := int(unsafe.Sizeof(floorLine{}))
	var err error
	if cfg.Role == RoleA {
		// Seq 0 from B: nothing for either side to receive yet. The file's
		// zero fill would read as "seq 0 from A", the end of a run.
		f.shm, err = createShm(cfg.ShmPath(".floor"), size, func(mem []byte) {
			(*floorLine)(unsafe.Pointer(&mem[0])).word.Store(1)
		})
	} else {
		f.shm, err = openShm(cfg.ShmPath(".floor"), cfg.Timeout)
		f.me = 1
	}
	if err != nil {
		return err
	}
	if len(f.shm.mem) < size {
		return ErrCorrupt
	}
	f.line = (*floorLine)(unsafe.Pointer(&f.shm.mem[0]))
	f.waiter = NewWaiter(cfg)
	return nil
}

func (f *floor) Send(seq uint64) error {
	// SYNC POINT floor: publishes seq; paired with the peer's Load in Receive.
	f.line.word.Store(seq<<1 | f.me)
	return nil
}

func (f *floor) Receive() (uint64, error) {
	f.waiter.Reset()
	for i := 1; ; i++ {
		// SYNC POINT floor: paired with the peer's Store in Send. The
		// turns alternate, so a word from the peer is always a new one.
		if w := f.line.word.Load(); w&1 != f.me {
			return w >> 1, nil
		}
		if i%pollEvery == 0 {
			if err := f.waiter.Poll(); err != nil {
				return 0, err
			}
		}
	}
}

func (f *floor) Close() error {
	f.line = nil
	return f.shm.close()
}
