package main

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/iox2go/iox2go/runtime/ring"
)

// zeroCopyName is the design's own floor: the data path of iox2go-pubsub
// without the runtime around it.
const zeroCopyName = "zerocopy-bare"

func init() {
	Register(zeroCopyName, "the data path of iox2go-pubsub without the runtime: per direction one /dev/shm file with 4 chunks laid out as the runtime's (a 48-byte header, the payload after it, a 64-byte stride), the chunk's index through a ring.Queue of capacity 1 with safe overflow (an exchanged slot), the payload written and checked in place, the chunk given back through a completion queue that the sender drains when 3 are in flight; no ports, no locks, no bookkeeping. What the design costs; iox2go-pubsub above it is what the runtime's code costs", func() Mechanism { return new(zeroCopyBare) })
}

const (
	// As iox2go-pubsub's services: 1 subscriber x (buffer 1 + 2 borrowed)
	// plus 1 loan, and the sender drains the completion queue before a
	// push that would put a 4th chunk in flight.
	bareChunks    = 4
	bareLimit     = 3
	bareHeader    = 48 // the runtime's ChunkHeader
	bareHdrLength = 16 // offset of the header's length word
)

// bareDir is one direction of zerocopy-bare, as one side sees it: the
// sender (of a2b in A, of b2a in B) creates its file, the receiver opens it.
type bareDir struct {
	shm    *shmFile
	queue  *ring.Queue // chunk indices, sender to receiver
	compl  *ring.Queue // chunk indices, receiver to sender
	chunks []byte
	stride int
	size   int

	// The sender's: its free chunks and how many are in flight.
	free     []uint64
	inFlight int
}

type zeroCopyBare struct {
	out, in bareDir
	waiter  Waiter
}

// bareLayout returns the offsets of the two queues' and the chunks' memory
// in a direction's file, the chunk stride and the file's size.
func bareLayout(size int) (qOff, cOff, chunksOff, stride, total int) {
	q := ring.QueueMemorySize(1)
	c := ring.QueueMemorySize(bareChunks)
	stride = (bareHeader + size + 63) &^ 63
	chunksOff = q + c // both multiples of 128
	return 0, q, chunksOff, stride, chunksOff + bareChunks*stride
}

func (m *zeroCopyBare) Setup(cfg Config) error {
	m.waiter = NewWaiter(cfg)
	out, in := ".a2b", ".b2a"
	if cfg.Role == RoleB {
		out, in = in, out
	}
	if err := m.out.create(cfg.ShmPath(".zc"+out), cfg.Size); err != nil {
		return err
	}
	return m.in.open(cfg, cfg.ShmPath(".zc"+in), cfg.Size)
}

func (d *bareDir) create(path string, size int) error {
	qOff, cOff, chunksOff, _, total := bareLayout(size)
	var err error
	d.shm, err = createShm(path, total, func(mem []byte) {
		// Errors are impossible here: the sizes come from QueueMemorySize.
		ring.NewQueue(mem[qOff:cOff], 1)
		ring.NewQueue(mem[cOff:chunksOff], bareChunks)
	})
	if err != nil {
		return err
	}
	return d.attach(size, true)
}

func (d *bareDir) open(cfg Config, path string, size int) error {
	var err error
	if d.shm, err = openShm(path, cfg.Timeout); err != nil {
		return err
	}
	return d.attach(size, false)
}

// attach makes the handles of an initialized file: the sender's gets the
// free list.
func (d *bareDir) attach(size int, sender bool) error {
	qOff, cOff, chunksOff, stride, total := bareLayout(size)
	mem := d.shm.mem
	if len(mem) != total {
		return fmt.Errorf("%w: %s has %d bytes, want %d", ErrCorrupt, d.shm.path, len(mem), total)
	}
	var err1, err2 error
	d.queue, err1 = ring.AttachQueue(mem[qOff:cOff], 1)
	d.compl, err2 = ring.AttachQueue(mem[cOff:chunksOff], bareChunks)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	d.chunks, d.stride, d.size = mem[chunksOff:], stride, size
	if sender {
		for i := bareChunks - 1; i >= 0; i-- {
			d.free = append(d.free, uint64(i))
		}
	}
	return nil
}

func (d *bareDir) chunk(i uint64) []byte {
	return d.chunks[int(i)*d.stride : (int(i)+1)*d.stride]
}

// reclaim takes back the chunks the receiver gave back.
func (d *bareDir) reclaim() {
	for {
		i, ok := d.compl.Pop()
		if !ok {
			return
		}
		if i < bareChunks {
			d.free = append(d.free, i)
			d.inFlight--
		}
	}
}

func (m *zeroCopyBare) Send(seq uint64) error {
	d := &m.out
	if len(d.free) == 0 {
		d.reclaim()
		if len(d.free) == 0 {
			return fmt.Errorf("zerocopy-bare: no free chunk")
		}
	}
	i := d.free[len(d.free)-1]
	d.free = d.free[:len(d.free)-1]
	c := d.chunk(i)
	binary.LittleEndian.PutUint64(c[0:], seq)                        // header: sequence
	binary.LittleEndian.PutUint64(c[bareHdrLength:], uint64(d.size)) // header: length
	Stamp(c[bareHeader:bareHeader+d.size], seq)
	if d.inFlight >= bareLimit {
		d.reclaim()
	}
	if old, over := d.queue.PushOverflow(i); over && old < bareChunks {
		d.free = append(d.free, old)
		d.inFlight--
	}
	d.inFlight++
	return nil
}

func (m *zeroCopyBare) Receive() (uint64, error) {
	d := &m.in
	m.waiter.Reset()
	for n := 1; ; n++ {
		if i, ok := d.queue.Pop(); ok {
			if i >= bareChunks {
				return 0, fmt.Errorf("%w: chunk index %d", ErrCorrupt, i)
			}
			c := d.chunk(i)
			length := binary.LittleEndian.Uint64(c[bareHdrLength:])
			if length != uint64(d.size) {
				return 0, fmt.Errorf("%w: length %d, want %d", ErrCorrupt, length, d.size)
			}
			seq, err := Check(c[bareHeader : bareHeader+int(length)])
			d.compl.Push(i)
			return seq, err
		}
		if n%pollEvery == 0 {
			if err := m.waiter.Poll(); err != nil {
				return 0, err
			}
		}
	}
}

func (m *zeroCopyBare) Close() error {
	return errors.Join(m.out.shm.close(), m.in.shm.close())
}
