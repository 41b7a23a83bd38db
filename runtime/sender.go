package runtime

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
	"github.com/iox2go/iox2go/runtime/ring"
	"github.com/iox2go/iox2go/runtime/shm"
)

// Backpressure is what a sender (publisher, client or server) does, when
// safe overflow is off, with a receiver whose queue is full.
type Backpressure int

const (
	// RetryUntilDelivered waits until the receiver makes room or goes away
	// (iceoryx2's default).
	RetryUntilDelivered Backpressure = iota
	// DiscardData skips that receiver for this sample.
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

// Chunk states, sender-local.
const (
	chunkFree   = 0
	chunkLoaned = 1
	chunkSent   = 2
)

// sender is the data path shared by every port that sends: a data segment
// with a pool of chunks, and a connection to each receiver found in one
// array of port slots of the dynamic config. A publisher is a sender to
// the subscribers; a client is a sender of requests to the servers, and a
// server a sender of responses to the clients.
//
// All of its state except the data segment is local to the process;
// receivers only read the chunks and give them back through the completion
// queues.
type sender struct {
	core *serviceCore
	id   ID
	op   string // "create publisher", ... for errors

	// The port's own slot (standalone senders, i.e. publishers, release it
	// in closePort; clients and servers do it themselves).
	own  []protocol.PortSlot
	slot int

	mu     *sync.Mutex // the port's; shared with its receiver part, if any
	closed bool

	barrier ring.Fence // see wake

	peers   []protocol.PortSlot // the receivers' slots
	connFor func(pi protocol.PortInfo) connSpec

	data   shm.Segment
	base   unsafe.Pointer // start of the data segment mapping
	layout protocol.DataLayout
	pool   *ring.Pool
	table  []atomic.Uint64 // a client's request table, in the data segment; nil otherwise

	// free is a local stack of free chunks in front of the pool: the pool
	// lives in the data segment and costs a compare-and-swap per Get and
	// Put, but only this sender (under mu) ever takes from it or gives
	// back to it, so a chunk freed on the hot path stays here until the
	// next loan. Its capacity is the number of chunks, so the pool is only
	// used for the chunks that have never been loaned.
	free []uint32

	// removed is set once the data segment's file is removed; the mapping
	// may outlive it while samples are on loan (see removeFiles).
	removed bool

	refs     []uint32 // per chunk: loan + connections + history (+ pending request) holding it
	state    []uint8  // per chunk: chunkFree, chunkLoaned, chunkSent
	loans    int
	maxLoans int

	history []uint32 // ring of the newest sent chunks, oldest at hHead
	hHead   int
	hLen    int

	conns        []*sendConn // by peer slot
	seen         uint32      // change count last acted on
	changed      bool        // a connection was made or dropped since maintain last looked
	seq          uint64
	strategy     Backpressure
	safeOverflow bool
	maxSlice     uint64
	overflows    uint64 // chunks taken back from full queues (safe overflow)
	discarded    uint64 // deliveries skipped by DiscardData, or to a receiver over its limit
	exclude      ID     // a receiver never connected to; 0: none

	// connErrs, by peer slot, is why the connection to the receiver there
	// could not be created at the last attempt (a full or read-only
	// directory); failing counts the entries with an error. While failing
	// is not zero, update retries them on every call, and send and sendTo
	// fail with the error: a receiver that exists when Send is called must
	// get the sample or Send must say why not.
	connErrs []connFailure
	failing  int
}

// connFailure is a receiver to which the sender could not connect, and why.
type connFailure struct {
	peer ID
	err  error
}

// connSpec is how a sender connects to one receiver: the connection's
// geometry, the most chunks that can be in flight on it, and how many
// history samples the receiver wants.
type connSpec struct {
	layout  protocol.ConnLayout
	limit   int
	history int
}

// sendConn is the sender's side of a connection to one receiver.
//
// Every chunk in flight on a connection is in one of its submission
// queues, held by the receiver, or in its completion queue, so n <= limit
// (the capacity of its submission queues plus what the receiver may hold
// from this connection) as long as the sender drains the completion queue
// before a push that would exceed it. That keeps the completion queue,
// whose capacity is limit, from ever overflowing, and the pool, sized for
// limit per receiver, from running dry.
type sendConn struct {
	peer     ID
	conn     *connection
	name     string
	inflight []uint64 // bitset over chunks delivered and not yet given back
	n        int      // chunks in inflight
	limit    int
	// wake and node are the receiver's word W and node, in its slot: after
	// a push, the sender loads wake, and rings node if it is armed.
	wake *atomic.Uint64
	node *atomic.Uint64
	// fence: the connection's queues publish with a plain store (see
	// ring.Queue.PublishIsFence), so the load of wake after a push needs
	// a Fence first.
	fence bool
}

func (c *sendConn) mark(i uint32)     { c.inflight[i>>6] |= 1 << (i & 63); c.n++ }
func (c *sendConn) has(i uint32) bool { return c.inflight[i>>6]&(1<<(i&63)) != 0 }
func (c *sendConn) unmark(i uint32)   { c.inflight[i>>6] &^= 1 << (i & 63); c.n-- }

// senderOpts configures a new sender.
type senderOpts struct {
	core         *serviceCore
	id           ID
	op           string
	mu           *sync.Mutex
	peers        []protocol.PortSlot
	connFor      func(pi protocol.PortInfo) connSpec
	elem, header TypeInfo
	maxSlice     int
	numChunks    int
	tableLen     int // request table entries; clients only
	maxLoans     int
	history      int
	safeOverflow bool
	strategy     Backpressure
	exclude      ID // a receiver never connected to (RawPublisherOptions.Exclude); 0: none
}

// newSender creates the sender's data segment. The caller has claimed the
// port's slot (so that a crash from here on leaves a slot that names the
// files) and activates it afterwards.
func newSender(o senderOpts) (*sender, error) {
	node := o.core.node
	cfg := node.config
	p := &sender{core: o.core, id: o.id, op: o.op, mu: o.mu, peers: o.peers, connFor: o.connFor,
		maxLoans: o.maxLoans, strategy: o.strategy, safeOverflow: o.safeOverflow, maxSlice: uint64(o.maxSlice), exclude: o.exclude}
	n := uint64(o.numChunks)
	p.layout = protocol.NewDataLayout(o.elem.Size, o.elem.Align, p.maxSlice, n, o.header.Size, o.header.Align, uint64(o.tableLen))
	// The journal entry comes first: if we die from here on, the cleanup
	// of our node finds the files, whatever happens to the slot.
	if err := node.journalPort(p.id, portSender); err != nil {
		return nil, journalErr(o.op, o.core.name, err)
	}
	seg, err := node.shm.Create(cfg.dataName(p.id), p.layout.Size)
	if err != nil {
		node.forgetPort(p.id, portSender)
		return nil, &ServiceError{Op: o.op, Service: o.core.name, Err: errOr(err, ErrOutOfMemory), Detail: err.Error()}
	}
	p.data = seg
	b := seg.Bytes()
	p.base = unsafe.Pointer(&b[0])
	l := &p.layout
	l.WriteHeader(protocol.DataHeaderOf(b), p.id)
	p.pool, err = ring.NewPool(b[l.PoolOff:l.PoolOff+uint64(ring.PoolMemorySize(uint32(n)))], uint32(n), true)
	if err != nil {
		p.removeFiles()
		node.forgetPort(p.id, portSender)
		return nil, fmt.Errorf("iox2: %s: %w", o.op, err)
	}
	if l.TableLen > 0 {
		p.table = unsafe.Slice((*atomic.Uint64)(unsafe.Add(p.base, l.TableOff)), l.TableLen)
	}
	// SYNC POINT publish: paired with the receivers' OpenReady.
	shm.Publish(seg, protocol.KindData, protocol.Version)
	p.refs = make([]uint32, n)
	p.free = make([]uint32, 0, n)
	p.state = make([]uint8, n)
	p.history = make([]uint32, o.history)
	p.conns = make([]*sendConn, len(o.peers))
	p.connErrs = make([]connFailure, len(o.peers))
	return p, nil
}

// chunk returns the address of chunk i's header.
func (p *sender) chunk(i uint32) *ChunkHeader {
	return (*ChunkHeader)(unsafe.Add(p.base, p.layout.ChunksOff+uint64(i)*p.layout.Stride))
}

func (p *sender) payload(i uint32) unsafe.Pointer {
	return unsafe.Add(p.base, p.layout.ChunksOff+uint64(i)*p.layout.Stride+p.layout.PayloadOff)
}

func (p *sender) userHeader(i uint32) unsafe.Pointer {
	return unsafe.Add(p.base, p.layout.ChunksOff+uint64(i)*p.layout.Stride+p.layout.HeaderOff)
}

// loan takes a free chunk. Must be called with p.mu held.
func (p *sender) loan() (uint32, error) {
	if p.closed {
		return 0, ErrClosed
	}
	if p.loans >= p.maxLoans {
		return 0, ErrExceedsMaxLoans
	}
	i, ok := p.getFree()
	if !ok {
		// Slow path: connections of vanished receivers give their chunks
		// back when dropped, then take back what receivers released. (The
		// fast path leaves discovery to send, which must do it anyway.)
		p.update()
		p.reclaim()
		if i, ok = p.getFree(); !ok {
			return 0, ErrOutOfMemory
		}
	}
	if i >= uint32(len(p.state)) || p.state[i] != chunkFree {
		// Our own pool handed out a chunk in use: the segment was written
		// by someone else. Refuse rather than corrupt a sample.
		return 0, fmt.Errorf("%w: free list of sender %v returned chunk %d in use", ErrConnectionCorrupted, p.id, i)
	}
	p.state[i] = chunkLoaned
	p.refs[i] = 1
	p.loans++
	return i, nil
}

// getFree takes a free chunk from the local stack, or else from the pool.
// Must be called with p.mu held.
func (p *sender) getFree() (uint32, bool) {
	if n := len(p.free); n > 0 {
		i := p.free[n-1]
		p.free = p.free[:n-1]
		return i, true
	}
	return p.pool.Get()
}

// unloan gives back a loaned chunk without sending it. Must be called
// with p.mu held.
func (p *sender) unloan(i uint32) {
	if p.closed {
		p.endLoanClosed(i)
		return
	}
	if p.state[i] == chunkLoaned {
		p.state[i] = chunkSent
		p.loans--
		p.deref(i)
	}
}

// stamp turns loaned chunk i into a sent one and writes its header. Must
// be called with p.mu held.
func (p *sender) stamp(i uint32, length, requestID uint64, channel uint32) error {
	if p.closed {
		p.endLoanClosed(i)
		return ErrClosed
	}
	if p.state[i] != chunkLoaned {
		return ErrSampleNotOwned
	}
	p.state[i] = chunkSent
	p.loans--
	h := p.chunk(i)
	h.Sequence = p.seq
	h.Publisher = uint64(p.id)
	h.Length = length
	h.RequestID = requestID
	protocol.SetChunkChannel(h, channel)
	p.seq++
	return nil
}

// send delivers loaned chunk i to every connected receiver and returns how
// many got it. It keeps the loan's reference when keep is set (a client's
// pending request holds its chunk). Must be called with p.mu held.
func (p *sender) send(i uint32, length, requestID uint64, channel uint32, keep bool) (int, error) {
	if err := p.stamp(i, length, requestID, channel); err != nil {
		return 0, err
	}
	p.update()
	if p.failing > 0 {
		p.deref(i) // the loan's reference: the sample goes back unsent
		return 0, p.connError("send", -1)
	}
	v := p.layout.Encode(i)
	delivered := 0
	for _, c := range p.conns {
		if c != nil && p.push(c, 0, v, nil) {
			c.mark(i)
			p.refs[i]++
			delivered++
			p.wake(c)
		}
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
	if !keep {
		p.deref(i) // the loan's reference
	}
	return delivered, nil
}

// discardIfFull is RawPublisher.DiscardIfFull.
func (p *sender) discardIfFull() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.safeOverflow || p.strategy != DiscardData || len(p.history) > 0 {
		return false
	}
	p.update()
	if p.failing > 0 {
		return false // a send reports the connection's error
	}
	n := 0
	for _, c := range p.conns {
		if c == nil {
			continue
		}
		if q := c.conn.channels[0]; q.Len() < q.Cap() {
			return false
		}
		n++
	}
	if n == 0 {
		return false
	}
	p.seq++
	p.discarded += uint64(n)
	return true
}

// sendTo delivers loaned chunk i on channel ch of the connection to the
// receiver in peer slot slot, if that is still peer, and reports whether
// it did. wanted, if not nil, is asked while a RetryUntilDelivered waits:
// the wait ends when it returns false. The loan's reference is dropped in
// every case. Must be called with p.mu held.
func (p *sender) sendTo(i uint32, length, requestID uint64, channel uint32, slot int, peer ID, wanted func() bool) (bool, error) {
	if err := p.stamp(i, length, requestID, channel); err != nil {
		return false, err
	}
	p.update()
	if slot >= 0 && slot < len(p.conns) && p.connErrs[slot].err != nil && p.connErrs[slot].peer == peer {
		p.deref(i)
		return false, p.connError("send", slot)
	}
	delivered := false
	if slot >= 0 && slot < len(p.conns) {
		if c := p.conns[slot]; c != nil && c.peer == peer && int(channel) < len(c.conn.channels) {
			v := p.layout.Encode(i)
			if p.push(c, int(channel), v, wanted) {
				c.mark(i)
				p.refs[i]++
				delivered = true
				p.wake(c)
			}
		}
	}
	p.deref(i)
	return delivered, nil
}

// wake is the sender's half of the sleep handshake with c's receiver, after
// a push to c: one load of the receiver's word W, which stays in the
// sender's cache while the receiver is busy (nobody writes it); only when
// the receiver sleeps (W holds its token) does the sender claim and ring.
func (p *sender) wake(c *sendConn) {
	// SYNC POINT W-check: after the push that published the data (ring
	// Q2); paired with the receiver's W-arm before its re-check. Either
	// the receiver sees the data or we see its token: a Dekker handshake,
	// which needs a full barrier on both sides between the store and the
	// load. The receiver's is its arming (a Swap); ours is the push when it
	// is an exchange, else the fence (a release store alone lets the load
	// below pass it: x86's store buffer).
	if c.fence {
		p.barrier.Full()
	}
	if c.wake.Load() != 0 {
		claimAndRing(p.core.node.config, c.wake, c.node)
	}
}

// push puts v into channel ch of c, following the safe-overflow setting or
// the backpressure strategy, and reports whether it is in.
func (p *sender) push(c *sendConn, ch int, v uint64, wanted func() bool) bool {
	q := c.conn.channels[ch]
	if c.n >= c.limit {
		p.reclaimConn(c)
		if c.n >= c.limit && p.overLimit(c, q) {
			p.discarded++
			return false
		}
	}
	if p.safeOverflow {
		if old, over := q.PushOverflow(v); over {
			p.overflows++
			p.giveBack(c, old)
		}
		return true
	}
	if q.Push(v) {
		return true
	}
	if p.strategy == DiscardData || !p.retry(c, q, v, wanted) {
		p.discarded++
		return false
	}
	return true
}

// overLimit reports whether the receiver of c, found with limit chunks or
// more in flight after a reclaim, breaks the protocol: it holds more than
// it may or does not give chunks back (a broken or hostile process, or a
// corrupted connection). Such a receiver gets nothing more, so that it
// cannot drain the pool that the other receivers share.
//
// The queue's length is read before a second reclaim: a receiver that
// follows the protocol has, at that moment, at most its queue's length
// plus its max borrowed samples in flight that it has not given back
// (what it gave back before the read, the second reclaim takes). So if the
// queue was not full, the second reclaim leaves fewer than limit; a
// receiver that released and received a sample between the first reclaim
// and the read is not mistaken for a broken one.
func (p *sender) overLimit(c *sendConn, q *ring.Queue) bool {
	l := q.Len()
	p.reclaimConn(c)
	return c.n > c.limit || c.n == c.limit && l < q.Cap()
}

// retry waits, without holding up the discovery of other ports for long,
// until q has room for v or c's receiver is gone (or no longer wants it).
func (p *sender) retry(c *sendConn, q *ring.Queue, v uint64, wanted func() bool) bool {
	d := p.core.dyn
	for n := 0; ; n++ {
		p.reclaimConn(c)
		// Never above the connection's limit: the completion queue has
		// room for limit+1 chunks (see connFor), the one above the limit
		// being a safe-overflow push whose element the receiver took first.
		if c.n < c.limit && q.Push(v) {
			return true
		}
		if n%64 == 63 {
			if d.changeCount() != p.seen {
				p.update()
				if !p.connected(c) {
					return false
				}
			}
			if wanted != nil && !wanted() {
				return false
			}
			time.Sleep(10 * time.Microsecond)
		} else {
			runtime.Gosched()
		}
	}
}

func (p *sender) connected(c *sendConn) bool {
	for _, x := range p.conns {
		if x == c {
			return true
		}
	}
	return false
}

// deref drops one reference to chunk i and frees it when none is left.
func (p *sender) deref(i uint32) {
	if p.refs[i] == 0 {
		return
	}
	p.refs[i]--
	if p.refs[i] == 0 {
		p.state[i] = chunkFree
		if len(p.free) < cap(p.free) {
			p.free = append(p.free, i)
		} else {
			p.pool.Put(i)
		}
	}
}

// giveBack handles value v that came back from connection c (from its
// completion queue, or taken back from a submission queue on overflow).
// A value that does not name a chunk in flight on c is ignored: a receiver
// cannot make us free a chunk twice.
func (p *sender) giveBack(c *sendConn, v uint64) {
	i, ok := p.layout.Decode(v)
	if !ok || !c.has(i) {
		return
	}
	c.unmark(i)
	p.deref(i)
}

// reclaimConn takes back every chunk that c's receiver released.
func (p *sender) reclaimConn(c *sendConn) {
	for {
		v, ok := c.conn.completion.Pop()
		if !ok {
			return
		}
		p.giveBack(c, v)
	}
}

// reclaim takes back the released chunks of every connection.
func (p *sender) reclaim() {
	for _, c := range p.conns {
		if c != nil {
			p.reclaimConn(c)
		}
	}
}

// inFlight reports whether chunk i is in flight on any connection, after
// taking back what the receivers released. Must be called with p.mu held.
func (p *sender) inFlight(i uint32) bool {
	p.update()
	found := false
	for _, c := range p.conns {
		if c != nil {
			p.reclaimConn(c)
			found = found || c.has(i)
		}
	}
	return found
}

// update connects to new receivers (delivering history) and drops the
// connections of vanished ones. Must be called with p.mu held. The common
// case is one atomic load; while a connection fails (see connErrs), every
// call tries again.
func (p *sender) update() {
	d := p.core.dyn
	cur := d.changeCount()
	if cur == p.seen && p.failing == 0 {
		return
	}
	p.seen = cur
	created := false
	for i := range p.peers {
		pi, ok := protocol.Snapshot(&p.peers[i])
		c := p.conns[i]
		if c != nil && (!ok || pi.ID != c.peer) {
			p.dropConn(i)
			p.changed = true
			c = nil
		}
		var err error
		if ok && c == nil && pi.ID != p.id && (p.exclude == 0 || pi.ID != p.exclude) {
			if err = p.connect(i, pi); err == nil {
				created = true
				p.changed = true
			}
		}
		p.setConnErr(i, pi.ID, err)
	}
	if created {
		d.bump()
	}
}

// setConnErr records the outcome of the last connection attempt to the
// receiver in slot (err nil: connected, or nothing to connect to).
func (p *sender) setConnErr(slot int, peer ID, err error) {
	f := &p.connErrs[slot]
	switch {
	case err == nil && f.err == nil:
		return
	case err == nil:
		p.failing--
		*f = connFailure{}
		return
	case f.err == nil:
		p.failing++
	}
	*f = connFailure{peer: peer, err: fmt.Errorf("connecting to port %v: %w", peer, err)}
}

// connError is the error of a failed connection, the one to the receiver in
// slot, or else the first one, for operation op; nil if none failed. Must
// be called with p.mu held.
func (p *sender) connError(op string, slot int) error {
	if slot < 0 {
		for k := range p.connErrs {
			if p.connErrs[k].err != nil {
				slot = k
				break
			}
		}
	}
	if slot < 0 || p.connErrs[slot].err == nil {
		return nil
	}
	return &ServiceError{Op: op, Service: p.core.name, Err: p.connErrs[slot].err}
}

func (p *sender) connect(slot int, pi protocol.PortInfo) error {
	node := p.core.node
	spec := p.connFor(pi)
	name := node.config.connName(p.id, pi.ID)
	conn, err := createConnection(node.shm, name, p.id, pi.ID, spec.layout)
	if errors.Is(err, shm.ErrExist) {
		// Left over from an earlier connection to the same receiver that
		// we dropped while its file was still being removed.
		node.shm.Remove(name)
		conn, err = createConnection(node.shm, name, p.id, pi.ID, spec.layout)
	}
	if err != nil {
		return err
	}
	c := &sendConn{peer: pi.ID, conn: conn, name: name, inflight: make([]uint64, (p.layout.NumChunks+63)/64),
		limit: spec.limit, wake: &p.peers[slot].Wake, node: &p.peers[slot].Node,
		fence: !conn.channels[0].PublishIsFence()}
	p.conns[slot] = c
	// History for the late joiner: the newest samples it asked for, oldest
	// first.
	pushed := false
	for k := max(p.hLen-spec.history, 0); k < p.hLen; k++ {
		i := p.history[(p.hHead+k)%len(p.history)]
		// hands chunk i to the receiver (ring Q2)
		if conn.submission.Push(p.layout.Encode(i)) {
			c.mark(i)
			p.refs[i]++
			pushed = true
		}
	}
	if pushed {
		p.wake(c)
	}
	return nil
}

// dropConn forgets the connection in slot: every chunk it had in flight
// comes back to the pool, whatever the receiver did with it.
func (p *sender) dropConn(slot int) {
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
	p.core.node.shm.Remove(c.name)
}

// maintainLocked connects, drops and reclaims; the service's rounds call
// it through the port's maintain. Must be called with p.mu held.
func (p *sender) maintainLocked() {
	if !p.closed {
		p.update()
		p.reclaim()
	}
}

// maintain is called by the service's rounds for a standalone sender (a
// publisher); not done when the owner holds the mutex (the round is
// retried).
func (p *sender) maintain() (done, wake bool) {
	if !p.mu.TryLock() {
		return false, false
	}
	p.maintainLocked()
	p.changed = false
	p.mu.Unlock()
	return true, false
}

// waitpoint: a publisher does not wait.
func (p *sender) waitpoint() *waitpoint { return nil }

// closeLocked removes the sender's connections and data segment, then its
// journal entry. Files first, journal entry and slot last (the caller
// releases the slot afterwards): if we die in between, the entry still
// names the files, and the cleanup of our dead node removes what is left.
// Receivers keep their mappings of both, so the chunks they hold or have
// queued stay readable. Must be called with p.mu held.
func (p *sender) closeLocked() {
	p.closed = true
	p.awaitReceivers()
	node := p.core.node
	for i, c := range p.conns {
		if c != nil {
			p.conns[i] = nil
			c.conn.seg.Close()
			node.shm.Remove(c.name)
		}
	}
	p.removeFiles()
	node.forgetPort(p.id, portSender)
}

// awaitReceivers waits, at most Config.CreationTimeout, until every
// receiver that has chunks in flight from us has mapped its connection and
// our data segment, so that removing the files loses nothing: a sample
// sent just before Close reaches a receiver that had not yet looked (the
// round that the connection's bump rings its node for maps the
// connection). A receiver that went away is not waited for. It polls (a
// closing sender is rare, and the wait short); no timer of anyone else's
// is involved. Must be called with p.mu held.
func (p *sender) awaitReceivers() {
	var deadline time.Time
	for {
		waiting := false
		for i, c := range p.conns {
			if c == nil {
				continue
			}
			// SYNC POINT attached: paired with the receiver's store in connect.
			if c.conn.hdr.Attached.Load() != 0 {
				continue
			}
			p.reclaimConn(c)
			if pi, ok := protocol.Snapshot(&p.peers[i]); c.n > 0 && ok && pi.ID == c.peer {
				waiting = true
				break
			}
		}
		if !waiting {
			return
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(p.core.node.config.CreationTimeout)
			p.core.dyn.bump() // ring the receivers' nodes once more: their rounds map
		} else if time.Now().After(deadline) {
			return
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// closePort closes a standalone sender (a publisher) and frees its slot.
func (p *sender) closePort() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closeLocked()
	d := p.core.dyn
	protocol.Release(&p.own[p.slot], p.core.node.id)
	d.bump()
	p.mu.Unlock()
	p.core.removePort(p)
	return nil
}

// removeFiles removes the data segment and unmaps it. Receivers that still
// hold chunks keep their own mappings: the memory lives until the last of
// them unmaps it. While samples are on loan, the mapping stays too: other
// goroutines may still be writing into them (a port closed under a
// concurrent Loan and Send), and the loan that ends last unmaps it
// (endLoanClosed). Must be called with p.mu held.
func (p *sender) removeFiles() {
	if p.data == nil {
		return
	}
	if !p.removed {
		p.core.node.shm.Remove(p.core.node.config.dataName(p.id))
		p.removed = true
	}
	if p.loans > 0 {
		return
	}
	p.data.Close()
	p.data = nil
	p.table = nil
}

// endLoanClosed ends loan i of a closed sender: the chunk is not sent and
// not given back (the segment is gone), and the last loan to end unmaps
// the segment. Must be called with p.mu held.
func (p *sender) endLoanClosed(i uint32) {
	if i < uint32(len(p.state)) && p.state[i] == chunkLoaned {
		p.state[i] = chunkFree
		p.loans--
	}
	p.removeFiles()
}

// freeChunks reports how many chunks are in the free list; may be stale.
func (p *sender) freeChunks() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.freeLocked()
}

// freeLocked is freeChunks with p.mu held.
func (p *sender) freeLocked() int { return p.pool.Len() + len(p.free) }
