package runtime

import (
	"fmt"
	"math/bits"
	"sync"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/shm"
)

func trailingZeros(x uint64) int { return bits.TrailingZeros64(x) }

// subscriber is the untyped core of a subscriber port.
type subscriber struct {
	svc  *pubSubCore
	id   ID
	slot int

	mu     sync.Mutex
	closed bool

	bufSize     int
	histReq     int
	maxBorrowed int
	borrowed    int

	conns   []*subConn // by publisher slot
	expired []*subConn // connections of vanished publishers, drained first
	seen    uint32
	next    int    // round-robin start among conns
	dropped uint64 // values from a queue that named no valid chunk
}

// subConn is the receiver's side of a connection to one publisher.
type subConn struct {
	pub       ID
	conn      *connection
	data      shm.Segment
	base      unsafe.Pointer
	layout    dataLayout
	borrowed  []uint64 // bitset over chunks we hold
	nBorrowed int
}

func (c *subConn) has(i uint32) bool { return c.borrowed[i>>6]&(1<<(i&63)) != 0 }

type subscriberOpts struct {
	bufSize, histReq int
	histSet          bool
}

func newSubscriber(svc *pubSubCore, o subscriberOpts) (*subscriber, error) {
	q := &svc.qos
	op := "create subscriber"
	if o.bufSize < 1 {
		return nil, &ServiceError{Op: op, Service: svc.core.name, Err: ErrInvalidQoS, Detail: fmt.Sprintf("buffer size %d must be at least 1", o.bufSize)}
	}
	if o.bufSize > q.SubscriberMaxBufferSize {
		return nil, &ServiceError{Op: op, Service: svc.core.name, Err: ErrBufferSizeExceedsMax,
			Detail: fmt.Sprintf("requested %d, the service allows %d", o.bufSize, q.SubscriberMaxBufferSize)}
	}
	if !o.histSet {
		o.histReq = min(q.HistorySize, o.bufSize)
	}
	if o.histReq < 0 || o.histReq > q.HistorySize || o.histReq > o.bufSize {
		return nil, &ServiceError{Op: op, Service: svc.core.name, Err: ErrHistoryRequestExceeds,
			Detail: fmt.Sprintf("requested %d, the service keeps %d and the buffer holds %d", o.histReq, q.HistorySize, o.bufSize)}
	}
	node := svc.core.node
	d := svc.core.dyn
	s := &subscriber{svc: svc, id: newID(), bufSize: o.bufSize, histReq: o.histReq,
		maxBorrowed: q.SubscriberMaxBorrowedSamples, conns: make([]*subConn, q.MaxPublishers)}
	s.slot = claim(d.subs, s.id, node.id)
	if s.slot < 0 {
		return nil, &ServiceError{Op: op, Service: svc.core.name, Err: ErrExceedsMaxSubscribers,
			Detail: fmt.Sprintf("the service supports %d", q.MaxSubscribers)}
	}
	slot := &d.subs[s.slot]
	slot.a.Store(uint64(s.bufSize))
	slot.b.Store(uint64(s.histReq))
	// From here on, every Send of every publisher reaches us: a publisher
	// checks the change counter on every send and connects first.
	activate(slot)
	d.bump()
	s.mu.Lock()
	s.update()
	s.mu.Unlock()
	if err := svc.core.addPort(s); err != nil {
		s.closePort()
		return nil, err
	}
	return s, nil
}

// update opens connections that publishers made to us and expires those of
// vanished publishers. Must be called with s.mu held.
func (s *subscriber) update() {
	d := s.svc.core.dyn
	cur := d.changeCount()
	if cur == s.seen {
		return
	}
	s.seen = cur
	for i := range d.pubs {
		pi, ok := snapshot(&d.pubs[i])
		c := s.conns[i]
		if c != nil && (!ok || pi.id != c.pub) {
			s.conns[i] = nil
			s.expire(c)
			c = nil
		}
		if ok && c == nil {
			s.conns[i] = s.connect(pi)
		}
	}
}

func (s *subscriber) connect(pi portInfo) *subConn {
	node := s.svc.core.node
	cfg := node.config
	l := newConnLayout(uint32(s.bufSize), uint32(s.bufSize+s.maxBorrowed))
	conn, err := openConnection(node.shm, cfg.connName(pi.id, s.id), pi.id, s.id, l)
	if err != nil {
		// Not created yet (the publisher bumps the change counter when it
		// is), or garbage: either way, nothing to receive from it now.
		return nil
	}
	data, err := shm.OpenReady(node.shm, cfg.dataName(pi.id), kindData, layoutVersion, false, cfg.CreationTimeout)
	if err != nil {
		conn.seg.Close()
		return nil
	}
	dl, err := readDataLayout(data, s.svc.payload.Size, s.svc.header.Size)
	if err != nil || dl.payloadOff%s.svc.payload.Align != 0 {
		conn.seg.Close()
		data.Close()
		return nil
	}
	return &subConn{pub: pi.id, conn: conn, data: data, base: unsafe.Pointer(&data.Bytes()[0]), layout: dl,
		borrowed: make([]uint64, (dl.numChunks+63)/64)}
}

// expire keeps c readable until it is drained and nothing of it is borrowed.
func (s *subscriber) expire(c *subConn) {
	if c.nBorrowed == 0 && c.conn.submission.IsEmpty() {
		c.close()
		return
	}
	s.expired = append(s.expired, c)
}

func (c *subConn) close() {
	c.conn.seg.Close()
	c.data.Close()
}

// receive takes the next sample. It returns the connection, chunk and
// number of payload elements, or a nil connection when there is none. Must
// be called with s.mu held.
func (s *subscriber) receive() (*subConn, uint32, uint64, error) {
	if s.closed {
		return nil, 0, 0, ErrClosed
	}
	if s.borrowed >= s.maxBorrowed {
		return nil, 0, 0, ErrExceedsMaxBorrows
	}
	s.update()
	for k := 0; k < len(s.expired); k++ {
		c := s.expired[k]
		if i, n, ok := s.pop(c); ok {
			return c, i, n, nil
		}
		if c.nBorrowed == 0 {
			c.close()
			s.expired = append(s.expired[:k], s.expired[k+1:]...)
			k--
		}
	}
	n := len(s.conns)
	for k := 0; k < n; k++ {
		j := (s.next + k) % n
		c := s.conns[j]
		if c == nil {
			continue
		}
		if i, k, ok := s.pop(c); ok {
			s.next = (j + 1) % n
			return c, i, k, nil
		}
	}
	return nil, 0, 0, nil
}

// pop takes the next valid chunk from c's queue. Values that name no chunk,
// or a chunk we already hold, come from a buggy or hostile process: they
// are counted and dropped.
//
// The number of elements of a slice sample is read once, here, and checked
// against the publisher's segment: a later write by the publisher cannot
// make a Sample reach past its chunk.
func (s *subscriber) pop(c *subConn) (uint32, uint64, bool) {
	for {
		v, ok := c.conn.submission.Pop()
		if !ok {
			return 0, 0, false
		}
		i, ok := c.layout.decode(v)
		if !ok || c.has(i) {
			s.dropped++
			continue
		}
		n := uint64(1)
		if s.svc.slice {
			n = c.chunk(i).Length
			if n > c.layout.payloadSize/c.layout.elemSize {
				s.dropped++
				c.conn.completion.Push(v) // not ours to keep
				continue
			}
		}
		c.borrowed[i>>6] |= 1 << (i & 63)
		c.nBorrowed++
		s.borrowed++
		return i, n, true
	}
}

// release gives chunk i back to c's publisher. Must be called with s.mu
// held.
func (s *subscriber) release(c *subConn, i uint32) {
	if !s.closed && c.has(i) {
		c.borrowed[i>>6] &^= 1 << (i & 63)
		c.nBorrowed--
		s.borrowed--
		// The queue has room for everything the connection can have in
		// flight; if it is full, the publisher is gone or broken and the
		// chunk is reclaimed when the connection is dropped.
		c.conn.completion.Push(c.layout.encode(i))
	}
}

func (s *subscriber) hasSamples() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, ErrClosed
	}
	s.update()
	for _, c := range s.expired {
		if !c.conn.submission.IsEmpty() {
			return true, nil
		}
	}
	for _, c := range s.conns {
		if c != nil && !c.conn.submission.IsEmpty() {
			return true, nil
		}
	}
	return false, nil
}

func (c *subConn) chunk(i uint32) *ChunkHeader {
	return (*ChunkHeader)(unsafe.Add(c.base, c.layout.chunksOff+uint64(i)*c.layout.stride))
}

func (c *subConn) payload(i uint32) unsafe.Pointer {
	return unsafe.Add(c.base, c.layout.chunksOff+uint64(i)*c.layout.stride+c.layout.payloadOff)
}

func (c *subConn) userHeader(i uint32) unsafe.Pointer {
	return unsafe.Add(c.base, c.layout.chunksOff+uint64(i)*c.layout.stride+c.layout.headerOff)
}

func (s *subscriber) maintain() {
	if !s.mu.TryLock() {
		return
	}
	if !s.closed {
		s.update()
	}
	s.mu.Unlock()
}

func (s *subscriber) closePort() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	d := s.svc.core.dyn
	release(&d.subs[s.slot], s.svc.core.node.id)
	d.bump()
	for i, c := range s.conns {
		if c != nil {
			c.close()
			s.conns[i] = nil
		}
	}
	for _, c := range s.expired {
		c.close()
	}
	s.expired = nil
	s.mu.Unlock()
	s.svc.core.removePort(s)
	return nil
}
