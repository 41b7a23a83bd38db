package conformance

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/ring"
	"github.com/iox2go/iox2go/runtime/shm"
)

// The driver plays a hostile process: it maps a connection segment of two
// peers and writes into its queues what no well-behaved port writes. The
// geometry is the protocol's (docs/PROTOCOL.md, "Connection segments"):
// the segment header (shm.HeaderSize bytes), the connection header
// (sender, receiver, submission capacity, completion capacity, number of
// channels, ...), then from byte 256 the submission queues, each on
// 128-byte lines, then the completion queue.
const (
	connSenderOff   = shm.HeaderSize
	connReceiverOff = shm.HeaderSize + 8
	connSubCapOff   = shm.HeaderSize + 16
	connCompCapOff  = shm.HeaderSize + 20
	connChannelsOff = shm.HeaderSize + 24
	connQueuesOff   = 256
	// Within a queue: the read position at 128, the write position at 256.
	queueReadOff  = 128
	queueWriteOff = 256
)

// garbage are values that name no chunk of any data segment: a low byte
// that is not zero, offsets before the chunks and far beyond any segment.
var garbage = []uint64{0, 1, 0xff, ^uint64(0), 1 << 63, 0xffff_ffff_ff00}

type connMap struct {
	b                []byte
	subCap, compCap  uint32
	channels         uint32
	subSize, compOff int
	name             string
}

func align128(n int) int { return (n + 127) &^ 127 }

// mapConnection maps the connection from port from to port to.
func (h *harness) mapConnection(from, to string) *connMap {
	h.t.Helper()
	name := filepath.Join(h.cfg.ShmDir, h.cfg.Prefix+from+"_"+to+".connection")
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		h.t.Fatalf("hostile: %v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		h.t.Fatal(err)
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		h.t.Fatalf("hostile: mmap %s: %v", name, err)
	}
	h.t.Cleanup(func() { syscall.Munmap(b) })
	if len(b) < connQueuesOff {
		h.t.Fatalf("hostile: %s has %d bytes", name, len(b))
	}
	le := binary.LittleEndian
	fromID, _ := strconv.ParseUint(from, 16, 64)
	toID, _ := strconv.ParseUint(to, 16, 64)
	if s, r := le.Uint64(b[connSenderOff:]), le.Uint64(b[connReceiverOff:]); s != fromID || r != toID {
		h.t.Fatalf("hostile: %s joins %016x to %016x, want %s to %s (the layout changed?)", name, s, r, from, to)
	}
	c := &connMap{b: b, name: name, subCap: le.Uint32(b[connSubCapOff:]), compCap: le.Uint32(b[connCompCapOff:]),
		channels: le.Uint32(b[connChannelsOff:])}
	c.subSize = align128(ring.QueueMemorySize(c.subCap))
	c.compOff = connQueuesOff + int(c.channels)*c.subSize
	if c.subSize == 0 || c.compOff+ring.QueueMemorySize(c.compCap) > len(b) {
		h.t.Fatalf("hostile: %s: geometry %+v does not fit %d bytes", name, *c, len(b))
	}
	return c
}

func (c *connMap) queue(h *harness, off int, capacity uint32) *ring.Queue {
	h.t.Helper()
	q, err := ring.AttachQueue(c.b[off:off+ring.QueueMemorySize(capacity)], capacity)
	if err != nil {
		h.t.Fatalf("hostile: %s: %v", c.name, err)
	}
	return q
}

// pushGarbage pushes the garbage values into q as its producer would.
func pushGarbage(h *harness, q *ring.Queue) {
	h.t.Helper()
	n := q.Len()
	for _, v := range garbage {
		if !q.Push(v) {
			h.t.Fatalf("hostile: the queue is full before %#x", v)
		}
	}
	if got := q.Len(); got != n+len(garbage) {
		h.t.Fatalf("hostile: the queue holds %d values after %d pushes onto %d", got, len(garbage), n)
	}
}

func (c *connMap) word(off int) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&c.b[off]))
}

// survives reads the rest of a victim's output: the lines in want (in
// order), then "ok"; or at any point an error line with code
// CONNECTION_CORRUPTED (the victim reported the damage) and exit status 2.
// Any other outcome, a crash above all, fails. It reports whether the
// victim went on.
func survives(p *proc, want ...string) bool {
	p.h.t.Helper()
	for _, w := range append(want, "ok") {
		l, ok := p.next()
		if ok && strings.HasPrefix(l, "error CONNECTION_CORRUPTED ") {
			p.h.t.Logf("%s reported: %s", p.im.name, l)
			p.exit(2)
			return false
		}
		if !ok || l != w {
			p.h.t.Fatalf("want the line\n    %s\n%s", w, p.transcript())
		}
	}
	p.exit(0)
	return true
}

// Garbage in a subscriber's submission queue: the subscriber drops it (or
// reports a corrupted connection) and receives the next valid sample.
func scenHostileSubmission(h *harness, a, b impl) {
	sub := h.start(b, "imu-sub", "n=1", "rounds=2", "history=0")
	subID := sub.ready()
	pub := h.start(a, "imu-pub", "n=1", "rounds=2", "linger=1")
	pubID := pub.ready()
	pub.expectLine("sent seq=0 delivered=1")
	pub.expectLine("hold")
	sub.expectLine(WantImuLine(0, pubID))
	sub.expectLine("hold")
	c := h.mapConnection(pubID, subID)
	pushGarbage(h, c.queue(h, connQueuesOff, c.subCap))
	resume(pub)
	pub.expectLine("sent seq=1 delivered=1")
	resume(sub)
	survives(sub, WantImuLine(1, pubID))
	pub.goAhead()
	pub.done()
}

// Garbage in a publisher's completion queue (what its subscriber gives
// back): the publisher ignores it (or reports a corrupted connection) and
// goes on sending.
func scenHostileCompletion(h *harness, a, b impl) {
	sub := h.start(b, "imu-sub", "n=3", "rounds=2", "history=0")
	subID := sub.ready()
	pub := h.start(a, "imu-pub", "n=3", "rounds=2", "linger=1")
	pubID := pub.ready()
	for seq := range 3 {
		pub.expectLine(fmt.Sprintf("sent seq=%d delivered=1", seq))
	}
	pub.expectLine("hold")
	for seq := range uint64(3) {
		sub.expectLine(WantImuLine(seq, pubID))
	}
	sub.expectLine("hold")
	c := h.mapConnection(pubID, subID)
	pushGarbage(h, c.queue(h, c.compOff, c.compCap))
	resume(pub)
	var want []string
	for seq := 3; seq < 6; seq++ {
		want = append(want, fmt.Sprintf("sent seq=%d delivered=1", seq))
	}
	want = append(want, "hold")
	for _, w := range want {
		l, ok := pub.next()
		if ok && strings.HasPrefix(l, "error CONNECTION_CORRUPTED ") {
			h.t.Logf("%s reported: %s", a.name, l)
			pub.exit(2)
			sub.stdin.Close()
			sub.exit(exitStdinEOF)
			return
		}
		if !ok || l != w {
			h.t.Fatalf("want the line\n    %s\n%s", w, pub.transcript())
		}
	}
	resume(sub)
	for seq := uint64(3); seq < 6; seq++ {
		sub.expectLine(WantImuLine(seq, pubID))
	}
	sub.done()
	resume(pub)
	pub.done()
}

// The read and write positions of a subscriber's submission queue set to
// values no queue can have: neither side crashes or hangs; whatever the
// subscriber still receives is a whole, valid sample.
func scenHostilePositions(h *harness, a, b impl) {
	sub := h.start(b, "imu-sub", "wait=1", "drain=1", "rounds=2", "history=0")
	subID := sub.ready()
	pub := h.start(a, "imu-pub", "n=1", "rounds=2", "linger=1")
	pubID := pub.ready()
	pub.expectLine("sent seq=0 delivered=1")
	pub.expectLine("hold")
	sub.goAhead()
	sub.expectLine(WantImuLine(0, pubID))
	sub.expectLine("hold")
	c := h.mapConnection(pubID, subID)
	r := c.word(connQueuesOff + queueReadOff).Load()
	c.word(connQueuesOff + queueWriteOff).Store(r + 1<<40)
	resume(pub)
	pubAlive := true
	l := pub.expect("")
	switch {
	case strings.HasPrefix(l, "sent seq=1 delivered="):
		pub.expectLine("hold")
	case strings.HasPrefix(l, "error CONNECTION_CORRUPTED "):
		h.t.Logf("%s reported: %s", a.name, l)
		pub.exit(2)
		pubAlive = false
	default:
		h.t.Fatalf("unexpected line %q\n%s", l, pub.transcript())
	}
	resume(sub)
	for {
		l, ok := sub.next()
		if !ok {
			h.t.Fatalf("no ok\n%s", sub.transcript())
		}
		if l == "ok" {
			sub.exit(0)
			break
		}
		if strings.HasPrefix(l, "error CONNECTION_CORRUPTED ") {
			h.t.Logf("%s reported: %s", b.name, l)
			sub.exit(2)
			break
		}
		if l != WantImuLine(0, pubID) && l != WantImuLine(1, pubID) {
			h.t.Fatalf("unexpected line %q\n%s", l, sub.transcript())
		}
	}
	if pubAlive {
		resume(pub)
		pub.done()
	}
}
