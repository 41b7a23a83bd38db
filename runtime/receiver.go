package runtime

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
	"github.com/iox2go/iox2go/runtime/shm"
)

func trailingZeros(x uint64) int { return bits.TrailingZeros64(x) }

// receiver is the data path shared by every port that receives: a
// connection from each sender found in one array of port slots of the
// dynamic config, and a read-only mapping of each sender's data segment. A
// subscriber is a receiver from the publishers; a server is a receiver of
// requests from the clients, and a client a receiver of responses from the
// servers.
type receiver struct {
	core *serviceCore
	id   ID

	// The port's own slot (standalone receivers, i.e. subscribers, release
	// it in closePort).
	own  []protocol.PortSlot
	slot int

	mu     *sync.Mutex // the port's; shared with its sender part, if any
	closed bool

	// wp is the port's waitpoint, whose word W is its own slot's wake;
	// src is what a WaitSet needs of it.
	wp  *waitpoint
	src *waitSource

	peers     []protocol.PortSlot // the senders' slots
	elem      TypeInfo
	header    TypeInfo
	slice     bool
	layout    protocol.ConnLayout // of every connection this receiver has
	wantTable uint64              // request table length of the senders' segments

	bufSize int // subscriber: queue capacity
	histReq int // subscriber: history request

	maxBorrowed     int // in all
	connMaxBorrowed int // from one connection
	borrowed        int

	conns   []*recvConn // by sender slot
	expired []*recvConn // connections of vanished senders, drained first
	seen    uint32
	changed bool   // a connection was mapped or expired since maintain last looked
	next    int    // round-robin start among conns
	dropped uint64 // values from a queue that named no valid chunk
	stale   uint64 // responses to an earlier request of the same slot, given back unread
}

// recvConn is the receiver's side of a connection from one sender.
type recvConn struct {
	peer      ID
	slot      int // the sender's slot
	conn      *connection
	data      shm.Segment
	base      unsafe.Pointer
	layout    protocol.DataLayout
	table     []atomic.Uint64 // the sender's request table (a client's), read-only
	borrowed  []uint64        // bitset over chunks we hold
	nBorrowed int
	expired   bool // the sender is gone
	lingering bool // the port closed while samples were held: only data is mapped
}

func (c *recvConn) has(i uint32) bool { return c.borrowed[i>>6]&(1<<(i&63)) != 0 }

// empty reports whether every submission queue of c is empty; may be
// stale under concurrency.
func (c *recvConn) empty() bool {
	for _, q := range c.conn.channels {
		if !q.IsEmpty() {
			return false
		}
	}
	return true
}

type receiverOpts struct {
	core                         *serviceCore
	id                           ID
	mu                           *sync.Mutex
	peers                        []protocol.PortSlot
	elem, header                 TypeInfo
	slice                        bool
	layout                       protocol.ConnLayout
	wantTable                    int
	maxBorrowed, connMaxBorrowed int
}

func newReceiver(o receiverOpts) *receiver {
	return &receiver{core: o.core, id: o.id, mu: o.mu, peers: o.peers, elem: o.elem, header: o.header,
		slice: o.slice, layout: o.layout, wantTable: uint64(o.wantTable),
		maxBorrowed: o.maxBorrowed, connMaxBorrowed: o.connMaxBorrowed, conns: make([]*recvConn, len(o.peers))}
}

// update opens connections that senders made to us and expires those of
// vanished senders. Must be called with r.mu held.
func (r *receiver) update() {
	d := r.core.dyn
	cur := d.changeCount()
	if cur == r.seen {
		return
	}
	r.seen = cur
	for i := range r.peers {
		// A draining sender is dead but may have samples for us in a
		// connection we have not mapped yet: we still connect to it.
		pi, draining, ok := protocol.SnapshotReceivable(&r.peers[i])
		c := r.conns[i]
		if c != nil && (!ok || pi.ID != c.peer) {
			r.conns[i] = nil
			r.expire(c)
			r.changed = true
			c = nil
		}
		if ok && c == nil && pi.ID != r.id {
			c = r.connect(i, pi, draining)
			r.conns[i] = c
			r.changed = r.changed || c != nil
		}
		if c != nil && draining {
			// Its node died: what is queued stays readable, and the
			// connection is dropped once the cleanup frees the slot.
			c.expired = true
		}
	}
}

// connect maps the connection from the sender in slot and its data
// segment, and sets the connection's attached word. For a draining
// (dead) sender it also asks the service's next round for a liveness
// sweep (sweepSoon), which removes the sender's files once every receiver
// has attached; a receiver that can never map them (a data segment that
// is not valid) attaches all the same, so that it does not keep them.
func (r *receiver) connect(slot int, pi protocol.PortInfo, draining bool) *recvConn {
	node := r.core.node
	cfg := node.config
	conn, err := openConnection(node.shm, cfg.connName(pi.ID, r.id), pi.ID, r.id, r.layout)
	if err != nil {
		// Not created yet (the sender bumps the change counter when it
		// is), or garbage: either way, nothing to receive from it now.
		return nil
	}
	giveUp := func() *recvConn {
		if draining {
			// SYNC POINT attached: nothing to wait for; paired with the
			// cleaner's load in connectionNeeded.
			conn.hdr.Attached.Store(1)
			r.core.sweepSoon()
		}
		conn.seg.Close()
		return nil
	}
	data, err := shm.OpenReady(node.shm, cfg.dataName(pi.ID), protocol.KindData, protocol.Version, false, cfg.CreationTimeout)
	if err != nil {
		return giveUp()
	}
	dl, err := readDataLayout(data, r.elem.Size, r.header.Size, r.wantTable)
	if err != nil || dl.PayloadOff%max(r.elem.Align, 1) != 0 {
		data.Close()
		return giveUp()
	}
	c := &recvConn{peer: pi.ID, slot: slot, conn: conn, data: data, base: unsafe.Pointer(&data.Bytes()[0]), layout: dl,
		borrowed: make([]uint64, (dl.NumChunks+63)/64)}
	if dl.TableLen > 0 {
		c.table = unsafe.Slice((*atomic.Uint64)(unsafe.Add(c.base, dl.TableOff)), dl.TableLen)
	}
	// SYNC POINT attached: both mappings exist; paired with the sender's
	// load in awaitReceivers and a cleaner's in connectionNeeded.
	conn.hdr.Attached.Store(1)
	if draining {
		c.expired = true
		r.core.sweepSoon()
	}
	return c
}

// expire keeps c readable until it is drained and nothing of it is borrowed.
func (r *receiver) expire(c *recvConn) {
	c.expired = true
	if c.nBorrowed == 0 && c.empty() {
		c.close()
		return
	}
	r.expired = append(r.expired, c)
}

func (c *recvConn) close() {
	c.conn.seg.Close()
	c.data.Close()
}

// sweepExpired closes the expired connections that are drained and hold
// nothing. Must be called with r.mu held.
func (r *receiver) sweepExpired() {
	k := 0
	for _, c := range r.expired {
		if c.nBorrowed == 0 && c.empty() {
			c.close()
			continue
		}
		r.expired[k] = c
		k++
	}
	clear(r.expired[k:])
	r.expired = r.expired[:k]
}

// receive takes the next chunk from channel 0 of any connection. It returns
// the connection, chunk and number of payload elements, or a nil
// connection when there is none. Must be called with r.mu held.
func (r *receiver) receive() (*recvConn, uint32, uint64, error) {
	if r.closed {
		return nil, 0, 0, ErrClosed
	}
	if r.borrowed >= r.maxBorrowed {
		return nil, 0, 0, ErrExceedsMaxBorrows
	}
	r.update()
	if len(r.expired) == 0 && len(r.conns) == 1 {
		// The common case of one publisher: no expired connection to
		// drain first, no round robin.
		c := r.conns[0]
		if c == nil || c.nBorrowed >= r.connMaxBorrowed {
			return nil, 0, 0, nil
		}
		if i, k, ok := r.pop(c, 0, 0); ok {
			return c, i, k, nil
		}
		return nil, 0, 0, nil
	}
	for k := 0; k < len(r.expired); k++ {
		c := r.expired[k]
		if c.nBorrowed < r.connMaxBorrowed {
			if i, n, ok := r.pop(c, 0, 0); ok {
				return c, i, n, nil
			}
		}
		if c.nBorrowed == 0 && c.empty() {
			c.close()
			r.expired = append(r.expired[:k], r.expired[k+1:]...)
			k--
		}
	}
	n := len(r.conns)
	j := r.next
	for range n {
		if j >= n {
			j = 0
		}
		c := r.conns[j]
		j++
		if c == nil || c.nBorrowed >= r.connMaxBorrowed {
			continue
		}
		if i, k, ok := r.pop(c, 0, 0); ok {
			r.next = j
			return c, i, k, nil
		}
	}
	return nil, 0, 0, nil
}

// receiveOn takes the next chunk of request requestID from channel ch of
// any connection (a client's pending response). The caller checks the
// borrow limits. Must be called with r.mu held.
func (r *receiver) receiveOn(ch int, requestID uint64) (*recvConn, uint32, uint64) {
	r.update()
	for _, c := range r.expired {
		if i, n, ok := r.pop(c, ch, requestID); ok {
			return c, i, n
		}
	}
	for _, c := range r.conns {
		if c == nil {
			continue
		}
		if i, n, ok := r.pop(c, ch, requestID); ok {
			return c, i, n
		}
	}
	return nil, 0, 0
}

// pop takes the next valid chunk from channel ch of c. Values that name no
// chunk, or a chunk we already hold, come from a buggy or hostile process:
// they are counted and dropped. With requestID set, a chunk of another
// request (a response to an earlier request of the same client slot, sent
// before its server noticed that the request was given up) is given back
// unread.
//
// The number of elements of a slice payload is read once, here, and
// checked against the sender's segment: a later write by the sender cannot
// make a sample reach past its chunk.
func (r *receiver) pop(c *recvConn, ch int, requestID uint64) (uint32, uint64, bool) {
	q := c.conn.channels[ch]
	for {
		v, ok := q.Pop()
		if !ok {
			return 0, 0, false
		}
		i, ok := c.layout.Decode(v)
		if !ok || c.has(i) {
			r.dropped++
			continue
		}
		h := c.chunk(i)
		n := uint64(1)
		if r.slice {
			n = h.Length
			if n > c.layout.MaxLen {
				r.dropped++
				c.conn.completion.Push(v) // not ours to keep
				continue
			}
		}
		if requestID != 0 && h.RequestID != requestID {
			r.stale++
			c.conn.completion.Push(v)
			continue
		}
		c.borrowed[i>>6] |= 1 << (i & 63)
		c.nBorrowed++
		r.borrowed++
		return i, n, true
	}
}

// drainChannel gives back, unread, everything queued in channel ch of
// every connection. Must be called with r.mu held.
func (r *receiver) drainChannel(ch int) {
	drain := func(c *recvConn) {
		if ch >= len(c.conn.channels) {
			return
		}
		for {
			v, ok := c.conn.channels[ch].Pop()
			if !ok {
				return
			}
			if i, ok := c.layout.Decode(v); ok && !c.has(i) {
				c.conn.completion.Push(v)
			}
		}
	}
	for _, c := range r.expired {
		drain(c)
	}
	for _, c := range r.conns {
		if c != nil {
			drain(c)
		}
	}
}

// release gives chunk i back to c's sender. Must be called with r.mu held.
func (r *receiver) release(c *recvConn, i uint32) {
	if r.closed {
		// The connection is closed; its data segment is mapped until the
		// last sample held from it is released.
		if c.has(i) {
			c.borrowed[i>>6] &^= 1 << (i & 63)
			c.nBorrowed--
			r.borrowed--
			if c.nBorrowed == 0 && c.lingering {
				c.data.Close()
			}
		}
		return
	}
	if c.has(i) {
		c.borrowed[i>>6] &^= 1 << (i & 63)
		c.nBorrowed--
		r.borrowed--
		// The queue has room for everything the connection can have in
		// flight; if it is full, the sender is gone or broken and the
		// chunk is reclaimed when the connection is dropped.
		c.conn.completion.Push(c.layout.Encode(i))
	}
}

// wakeSender wakes c's sender if it sleeps (a client waiting for the
// responses of a request whose chunk a server just gave back: the stream
// may have ended). Must be called with r.mu held.
func (r *receiver) wakeSender(c *recvConn) {
	if c.slot >= len(r.peers) {
		return
	}
	s := &r.peers[c.slot]
	// SYNC POINT W-check: after the release (completion push); paired with
	// the client's W-arm before its re-check of IsConnected.
	if s.Wake.Load() != 0 {
		claimAndRing(r.core.node.config, &s.Wake, &s.Node)
	}
}

// hasData reports whether channel ch of any connection has something
// queued. Must be called with r.mu held.
func (r *receiver) hasData(ch int) bool {
	r.update()
	for _, c := range r.expired {
		if ch < len(c.conn.channels) && !c.conn.channels[ch].IsEmpty() {
			return true
		}
	}
	for _, c := range r.conns {
		if c != nil && !c.conn.channels[ch].IsEmpty() {
			return true
		}
	}
	return false
}

func (r *receiver) hasSamples() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false, ErrClosed
	}
	return r.hasData(0), nil
}

func (c *recvConn) chunk(i uint32) *ChunkHeader {
	return (*ChunkHeader)(unsafe.Add(c.base, c.layout.ChunksOff+uint64(i)*c.layout.Stride))
}

func (c *recvConn) payload(i uint32) unsafe.Pointer {
	return unsafe.Add(c.base, c.layout.ChunksOff+uint64(i)*c.layout.Stride+c.layout.PayloadOff)
}

func (c *recvConn) userHeader(i uint32) unsafe.Pointer {
	return unsafe.Add(c.base, c.layout.ChunksOff+uint64(i)*c.layout.Stride+c.layout.HeaderOff)
}

// maintainLocked opens and expires connections. Must be called with r.mu
// held.
func (r *receiver) maintainLocked() {
	if !r.closed {
		r.update()
		r.sweepExpired()
	}
}

// maintain is called by the service's rounds for a standalone receiver (a
// subscriber); not done when the owner holds the mutex (the round is
// retried); wake when its connections changed.
func (r *receiver) maintain() (done, wake bool) {
	if !r.mu.TryLock() {
		return false, false
	}
	r.maintainLocked()
	wake = r.takeChanged()
	r.mu.Unlock()
	return true, wake
}

// takeChanged reports whether a connection was mapped or expired since
// the last call. Must be called with r.mu held.
func (r *receiver) takeChanged() bool {
	c := r.changed
	r.changed = false
	return c
}

// waitpoint returns the subscriber's waitpoint.
func (r *receiver) waitpoint() *waitpoint { return r.wp }

// closeLocked unmaps every connection. Must be called with r.mu held,
// after the port's slot is released.
func (r *receiver) closeLocked() {
	r.closed = true
	for i, c := range r.conns {
		if c != nil {
			c.closeOrLinger()
			r.conns[i] = nil
		}
	}
	for _, c := range r.expired {
		c.closeOrLinger()
	}
	r.expired = nil
}

// closeOrLinger closes c, or, while samples of it are still held, only its
// connection: the sender's data segment stays mapped, so that a held
// sample stays readable after its port (or service, or node) closed, and
// the release of the last one unmaps it (release).
func (c *recvConn) closeOrLinger() {
	if c.nBorrowed == 0 {
		c.close()
		return
	}
	c.conn.seg.Close()
	c.lingering = true
}

// closePort closes a standalone receiver (a subscriber) and frees its slot.
func (r *receiver) closePort() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	// Before the slot goes: the waitpoint forgets its word (which the
	// slot's next port owns) and wakes every waiter for good.
	r.wp.close()
	d := r.core.dyn
	protocol.Release(&r.own[r.slot], r.core.node.id)
	d.bump()
	r.closeLocked()
	r.mu.Unlock()
	r.core.removePort(r)
	return nil
}
