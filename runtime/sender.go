package runtime

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/ring"
	"github.com/iox2go/iox2go/runtime/shm"
)

// Backpressure is what a publisher does, when safe overflow is off, with a
// subscriber whose queue is full.
type Backpressure int

const (
	// RetryUntilDelivered waits until the subscriber makes room or goes away
	// (iceoryx2's default).
	RetryUntilDelivered Backpressure = iota
	// DiscardData skips that subscriber for this sample.
	DiscardData
)

func (b Backpressure) String() string {
	switch b {
	case RetryUntilDelivered:
		return "retry_until_delivered"
	case DiscardData:
		return "discard_data"
	}
	return fmt.Sprintf("Backpressure(%d)", int(b))
}

// Chunk states, publisher-local.
const (
	chunkFree   = 0
	chunkLoaned = 1
	chunkSent   = 2
)

// publisher is the untyped core of a publisher port. All of its state except
// the data segment is local to the process; subscribers only read the chunks
// and give them back through the completion queues.
type publisher struct {
	svc  *pubSubCore
	id   ID
	slot int

	mu     sync.Mutex
	closed bool

	data   shm.Segment
	base   unsafe.Pointer // start of the data segment mapping
	layout dataLayout
	pool   *ring.Pool

	refs     []uint32 // per chunk: loan + connections + history holding it
	state    []uint8  // per chunk: chunkFree, chunkLoaned, chunkSent
	loans    int
	maxLoans int

	history []uint32 // ring of the newest sent chunks, oldest at hHead
	hHead   int
	hLen    int

	conns     []*pubConn // by subscriber slot
	seen      uint32     // change count last acted on
	seq       uint64
	strategy  Backpressure
	maxSlice  uint64
	overflows uint64 // samples taken back from full queues (safe overflow)
	discarded uint64 // deliveries skipped by DiscardData
}

// pubConn is the sender's side of a connection to one subscriber.
//
// Every chunk in flight on a connection is in its submission queue, held by
// the subscriber, or in its completion queue, so n <= limit (the queue's
// capacity plus the subscriber's max borrowed samples) as long as the
// publisher drains the completion queue before a push that would exceed
// it. That keeps the completion queue, whose capacity is limit, from ever
// overflowing, and the pool, sized for limit per subscriber, from running
// dry.
type pubConn struct {
	sub      ID
	conn     *connection
	name     string
	inflight []uint64 // bitset over chunks delivered and not yet given back
	n        int      // chunks in inflight
	limit    int
}

func (c *pubConn) mark(i uint32)     { c.inflight[i>>6] |= 1 << (i & 63); c.n++ }
func (c *pubConn) has(i uint32) bool { return c.inflight[i>>6]&(1<<(i&63)) != 0 }
func (c *pubConn) unmark(i uint32)   { c.inflight[i>>6] &^= 1 << (i & 63); c.n-- }

type publisherOpts struct {
	maxLoans int
	strategy Backpressure
	maxSlice int
}

func newPublisher(svc *pubSubCore, o publisherOpts) (*publisher, error) {
	q := &svc.qos
	if o.maxLoans < 1 || o.maxSlice < 1 {
		return nil, &ServiceError{Op: "create publisher", Service: svc.core.name, Err: ErrInvalidQoS,
			Detail: fmt.Sprintf("max loaned samples %d and max slice length %d must be at least 1", o.maxLoans, o.maxSlice)}
	}
	node := svc.core.node
	cfg := node.config
	p := &publisher{svc: svc, id: newID(), maxLoans: o.maxLoans, strategy: o.strategy, maxSlice: uint64(o.maxSlice)}
	d := svc.core.dyn
	p.slot = claim(d.pubs, p.id, node.id)
	if p.slot < 0 {
		return nil, &ServiceError{Op: "create publisher", Service: svc.core.name, Err: ErrExceedsMaxPublishers,
			Detail: fmt.Sprintf("the service supports %d", q.MaxPublishers)}
	}
	n := uint64(q.MaxSubscribers*(q.SubscriberMaxBufferSize+q.SubscriberMaxBorrowedSamples) + q.HistorySize + o.maxLoans)
	p.layout = newDataLayout(svc.payload.Size, svc.payload.Align, p.maxSlice, n, svc.header)
	seg, err := node.shm.Create(cfg.dataName(p.id), p.layout.size)
	if err != nil {
		release(&d.pubs[p.slot], node.id)
		return nil, &ServiceError{Op: "create publisher", Service: svc.core.name, Err: errOr(err, ErrOutOfMemory), Detail: err.Error()}
	}
	p.data = seg
	b := seg.Bytes()
	p.base = unsafe.Pointer(&b[0])
	h := dataHeaderOf(b)
	l := &p.layout
	*h = dataHeader{chunkStride: l.stride, numChunks: l.numChunks, chunksOffset: l.chunksOff, payloadOff: l.payloadOff,
		payloadSize: l.payloadSize, elemSize: l.elemSize, poolOffset: l.poolOff, publisher: uint64(p.id),
		headerOff: l.headerOff, headerSize: l.headerSize}
	p.pool, err = ring.NewPool(b[l.poolOff:l.chunksOff], uint32(n), true)
	if err != nil {
		p.removeFiles()
		release(&d.pubs[p.slot], node.id)
		return nil, fmt.Errorf("iox2: create publisher: %w", err)
	}
	// SYNC POINT publish: paired with the subscribers' OpenReady.
	shm.Publish(seg, kindData, layoutVersion)
	p.refs = make([]uint32, n)
	p.state = make([]uint8, n)
	p.history = make([]uint32, q.HistorySize)
	p.conns = make([]*pubConn, q.MaxSubscribers)
	slot := &d.pubs[p.slot]
	slot.a.Store(p.maxSlice)
	activate(slot)
	d.bump()
	p.mu.Lock()
	p.update()
	p.mu.Unlock()
	if err := svc.core.addPort(p); err != nil {
		p.closePort()
		return nil, err
	}
	return p, nil
}

// chunk returns the address of chunk i's header.
func (p *publisher) chunk(i uint32) *ChunkHeader {
	return (*ChunkHeader)(unsafe.Add(p.base, p.layout.chunksOff+uint64(i)*p.layout.stride))
}

func (p *publisher) payload(i uint32) unsafe.Pointer {
	return unsafe.Add(p.base, p.layout.chunksOff+uint64(i)*p.layout.stride+p.layout.payloadOff)
}

func (p *publisher) userHeader(i uint32) unsafe.Pointer {
	return unsafe.Add(p.base, p.layout.chunksOff+uint64(i)*p.layout.stride+p.layout.headerOff)
}

// loan takes a free chunk. Must be called with p.mu held.
func (p *publisher) loan() (uint32, error) {
	if p.closed {
		return 0, ErrClosed
	}
	if p.loans >= p.maxLoans {
		return 0, ErrExceedsMaxLoans
	}
	p.update()
	i, ok := p.pool.Get()
	if !ok {
		p.reclaim()
		if i, ok = p.pool.Get(); !ok {
			return 0, ErrOutOfMemory
		}
	}
	if i >= uint32(len(p.state)) || p.state[i] != chunkFree {
		// Our own pool handed out a chunk in use: the segment was written
		// by someone else. Refuse rather than corrupt a sample.
		return 0, fmt.Errorf("%w: free list of publisher %v returned chunk %d in use", ErrConnectionCorrupted, p.id, i)
	}
	p.state[i] = chunkLoaned
	p.refs[i] = 1
	p.loans++
	return i, nil
}

// unloan gives back a loaned chunk without sending it. Must be called
// with p.mu held.
func (p *publisher) unloan(i uint32) {
	if p.state[i] == chunkLoaned {
		p.state[i] = chunkSent
		p.loans--
		p.deref(i)
	}
}

// send delivers loaned chunk i to every connected subscriber and returns how
// many got it. Must be called with p.mu held.
func (p *publisher) send(i uint32, length uint64) (int, error) {
	if p.closed {
		return 0, ErrClosed
	}
	if p.state[i] != chunkLoaned {
		return 0, ErrSampleNotOwned
	}
	p.state[i] = chunkSent
	p.loans--
	p.update()
	h := p.chunk(i)
	h.Sequence = p.seq
	h.Publisher = uint64(p.id)
	h.Length = length
	p.seq++
	v := p.layout.encode(i)
	delivered := 0
	for _, c := range p.conns {
		if c == nil {
			continue
		}
		if c.n >= c.limit {
			p.reclaimConn(c)
		}
		if p.svc.qos.EnableSafeOverflow {
			if old, over := c.conn.submission.PushOverflow(v); over {
				p.overflows++
				p.giveBack(c, old)
			}
		} else if !c.conn.submission.Push(v) {
			if p.strategy == DiscardData || !p.retry(c, v) {
				p.discarded++
				continue
			}
		}
		c.mark(i)
		p.refs[i]++
		delivered++
	}
	if len(p.history) > 0 {
		if p.hLen == len(p.history) {
			old := p.history[p.hHead]
			p.history[p.hHead] = i
			p.hHead = (p.hHead + 1) % len(p.history)
			p.deref(old)
		} else {
			p.history[(p.hHead+p.hLen)%len(p.history)] = i
			p.hLen++
		}
		p.refs[i]++
	}
	p.deref(i) // the loan's reference
	return delivered, nil
}

// retry waits, without holding up the discovery of other ports for long,
// until c's queue has room for v or c's subscriber is gone.
func (p *publisher) retry(c *pubConn, v uint64) bool {
	d := p.svc.core.dyn
	for n := 0; ; n++ {
		p.reclaimConn(c)
		if c.conn.submission.Push(v) {
			return true
		}
		if n%64 == 63 {
			if d.changeCount() != p.seen {
				p.update()
				if !p.connected(c) {
					return false
				}
			}
			time.Sleep(10 * time.Microsecond)
		} else {
			runtime.Gosched()
		}
	}
}

func (p *publisher) connected(c *pubConn) bool {
	for _, x := range p.conns {
		if x == c {
			return true
		}
	}
	return false
}

// deref drops one reference to chunk i and frees it when none is left.
func (p *publisher) deref(i uint32) {
	if p.refs[i] == 0 {
		return
	}
	p.refs[i]--
	if p.refs[i] == 0 {
		p.state[i] = chunkFree
		p.pool.Put(i)
	}
}

// giveBack handles value v that came back from connection c (from its
// completion queue, or taken back from its submission queue on overflow).
// A value that does not name a chunk in flight on c is ignored: a subscriber
// cannot make us free a chunk twice.
func (p *publisher) giveBack(c *pubConn, v uint64) {
	i, ok := p.layout.decode(v)
	if !ok || !c.has(i) {
		return
	}
	c.unmark(i)
	p.deref(i)
}

// reclaimConn takes back every chunk that c's subscriber released.
func (p *publisher) reclaimConn(c *pubConn) {
	for {
		v, ok := c.conn.completion.Pop()
		if !ok {
			return
		}
		p.giveBack(c, v)
	}
}

// reclaim takes back the released chunks of every connection.
func (p *publisher) reclaim() {
	for _, c := range p.conns {
		if c != nil {
			p.reclaimConn(c)
		}
	}
}

// update connects to new subscribers (delivering history) and drops the
// connections of vanished ones. Must be called with p.mu held. The common
// case is one atomic load.
func (p *publisher) update() {
	d := p.svc.core.dyn
	cur := d.changeCount()
	if cur == p.seen {
		return
	}
	p.seen = cur
	created := false
	for i := range d.subs {
		pi, ok := snapshot(&d.subs[i])
		c := p.conns[i]
		if c != nil && (!ok || pi.id != c.sub) {
			p.dropConn(i)
			c = nil
		}
		if ok && c == nil {
			if p.connect(i, pi) == nil {
				created = true
			}
		}
	}
	if created {
		d.bump()
	}
}

func (p *publisher) connLayoutFor(bufSize int) connLayout {
	return newConnLayout(uint32(bufSize), uint32(bufSize+p.svc.qos.SubscriberMaxBorrowedSamples))
}

// subscriberBuffer derives a subscriber's buffer size and history request
// from its slot, clamped to what the service allows (the slot is written
// by another process).
func subscriberBuffer(q *PubSubQoS, pi portInfo) (buf, hist int) {
	buf = int(min(max(pi.a, 1), uint64(q.SubscriberMaxBufferSize)))
	hist = int(min(pi.b, uint64(q.HistorySize), uint64(buf)))
	return buf, hist
}

func (p *publisher) connect(slot int, pi portInfo) error {
	node := p.svc.core.node
	buf, hist := subscriberBuffer(&p.svc.qos, pi)
	name := node.config.connName(p.id, pi.id)
	l := p.connLayoutFor(buf)
	conn, err := createConnection(node.shm, name, p.id, pi.id, l)
	if errors.Is(err, shm.ErrExist) {
		// Left over from an earlier connection to the same subscriber that
		// we dropped while its file was still being removed.
		node.shm.Remove(name)
		conn, err = createConnection(node.shm, name, p.id, pi.id, l)
	}
	if err != nil {
		return err
	}
	c := &pubConn{sub: pi.id, conn: conn, name: name, inflight: make([]uint64, (p.layout.numChunks+63)/64),
		limit: buf + p.svc.qos.SubscriberMaxBorrowedSamples}
	p.conns[slot] = c
	// History for the late joiner: the newest hist samples, oldest first.
	for k := max(p.hLen-hist, 0); k < p.hLen; k++ {
		i := p.history[(p.hHead+k)%len(p.history)]
		if conn.submission.Push(p.layout.encode(i)) {
			c.mark(i)
			p.refs[i]++
		}
	}
	return nil
}

// dropConn forgets the connection in slot: every chunk it had in flight
// comes back to the pool, whatever the subscriber did with it.
func (p *publisher) dropConn(slot int) {
	c := p.conns[slot]
	p.conns[slot] = nil
	for w, bits := range c.inflight {
		for bits != 0 {
			b := uint32(w*64) + uint32(trailingZeros(bits))
			bits &= bits - 1
			p.deref(b)
		}
	}
	c.conn.seg.Close()
	p.svc.core.node.shm.Remove(c.name)
}

// maintain is called by the discovery goroutine.
func (p *publisher) maintain() {
	if !p.mu.TryLock() {
		return // the owner is in loan or send, which do the same work
	}
	if !p.closed {
		p.update()
		p.reclaim()
	}
	p.mu.Unlock()
}

func (p *publisher) closePort() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	d := p.svc.core.dyn
	node := p.svc.core.node
	// Files first, slot last: if we die in between, the slot still names
	// the port, and the cleanup of our dead node finds what is left.
	// Subscribers keep their mappings of both, so the samples they hold or
	// have queued stay readable.
	for i, c := range p.conns {
		if c != nil {
			p.conns[i] = nil
			c.conn.seg.Close()
			node.shm.Remove(c.name)
		}
	}
	p.removeFiles()
	release(&d.pubs[p.slot], node.id)
	d.bump()
	p.mu.Unlock()
	p.svc.core.removePort(p)
	return nil
}

// removeFiles unmaps and removes the data segment. Subscribers that still
// hold samples keep their own mappings: the memory lives until the last
// of them unmaps it.
func (p *publisher) removeFiles() {
	if p.data != nil {
		p.data.Close()
		p.svc.core.node.shm.Remove(p.svc.core.node.config.dataName(p.id))
		p.data = nil
	}
}

// freeChunks reports how many chunks are in the free list; may be stale.
func (p *publisher) freeChunks() int { return p.pool.Len() }
