package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/iox2go/iox2go/internal/rawio"
	"github.com/iox2go/iox2go/runtime/internal/protocol"
)

// The waiting model (docs/ARCHITECTURE.md, "Waiting and waking"): every
// wait of the runtime parks a goroutine on a Go channel of a waitpoint,
// and every wake-up that crosses a process boundary is an 8-byte token
// written into the doorbell of the node that owns the waitpoint: a FIFO
// in the node's directory, read by one dispatcher goroutine per node
// through Go's network poller (so a parked wait holds no OS thread).
//
//	sender (any process)                       receiving node (process R)
//	push data; t := W.Swap(0) if W != 0   ──▶  bell FIFO ──▶ dispatcher ──▶ waitpoint t
//	                                           (in-process: no FIFO, the   ├─ blocked receivers (channels)
//	                                            waitpoint fires at once)   └─ attached WaitSets (channels)
//
// A token names a waitpoint of the node: its index in the node's table
// plus one in the low 32 bits and the generation of the index in the high
// 32 bits, so that a token that outlives its waitpoint (a late ring, a
// peer's garbage) finds nothing or a newer waitpoint and costs at most a
// spurious wake-up: pending data always lives in shared memory, and every
// waiter re-checks it.

// bellName is the doorbell FIFO's name in the node's directory.
const bellName = protocol.BellName

// bellPipeSize is the capacity that a node asks for its doorbell (best
// effort, F_SETPIPE_SZ; the default is 64 KiB). The pipe holds at most one
// token per claim of an armed word (see waitpoint), i.e. per armed
// waitpoint of the node, plus one per service that the node has open: 1
// MiB is 131,072 of them.
const bellPipeSize = 1 << 20

// kickToken is what a node writes into its own doorbell to make its
// dispatcher look at its local queue. It names no waitpoint (index
// 2^32-1 is never allocated).
const kickToken = ^uint64(0)

// maxPeerBells bounds the doorbells of other processes' nodes that a
// process keeps open: beyond it, the least recently rung half is closed
// (and opened again when rung).
const maxPeerBells = 1024

// --- Nodes of this process -------------------------------------------------

// liveNodes is the process-wide registry of the open nodes of this process,
// by ID: a ring to one of them needs no system call.
var liveNodes struct {
	mu sync.RWMutex
	m  map[ID]*Node
}

func registerNode(n *Node) {
	liveNodes.mu.Lock()
	if liveNodes.m == nil {
		liveNodes.m = map[ID]*Node{}
	}
	liveNodes.m[n.id] = n
	liveNodes.mu.Unlock()
}

func unregisterNode(n *Node) {
	liveNodes.mu.Lock()
	delete(liveNodes.m, n.id)
	liveNodes.mu.Unlock()
}

func liveNode(id ID) *Node {
	liveNodes.mu.RLock()
	n := liveNodes.m[id]
	liveNodes.mu.RUnlock()
	return n
}

// ringNode delivers token t to node id of cfg's domain: directly when the node
// lives in this process, else through its doorbell. It reports false only
// when the doorbell is full (the caller then restores its claim, so that
// the next waker tries again); a node that is gone, or has no doorbell, is
// not an error: there is nobody to wake.
func ringNode(cfg *Config, id ID, t uint64) bool {
	if id == 0 || t == 0 {
		return true
	}
	if n := liveNode(id); n != nil {
		n.deliver(t)
		return true
	}
	if cfg == nil {
		return true
	}
	return peerBells.ring(cfg, id, t)
}

// claimAndRing is the waker's half of the sleep handshake on shared word w
// of a port of node (SYNC POINT W-claim): after the data is published, a
// waker that finds w armed takes the token with a Swap, so that exactly one
// waker rings per arming, and rings the node. The caller has loaded w and
// found it non-zero (the common case, a receiver that is awake, costs it
// that load only). node is read after the claim: a slot reused by another
// port in between names the new port's node, whose token we then hold.
func claimAndRing(cfg *Config, w *atomic.Uint64, node *atomic.Uint64) {
	// SYNC POINT W-claim: paired with the sleeper's store of its token
	// (W-arm) before it re-checks its queues.
	t := w.Swap(0)
	if t == 0 {
		return // another waker claimed it
	}
	// SYNC POINT W-slot-node: the port's node, read after the claim;
	// paired with the slot's claim (CAS of node) before its owner armed.
	if !ringNode(cfg, ID(node.Load()), t) {
		// The doorbell is full: put the token back, the next waker rings.
		// SYNC POINT W-restore: paired with the next waker's W-claim; fails
		// harmlessly if the sleeper armed again or cleared it meanwhile.
		w.CompareAndSwap(0, t)
	}
}

// --- Doorbells of other processes -------------------------------------------

// peerBells caches, per process, the write ends of other processes' node
// doorbells, opened once (O_WRONLY|O_NONBLOCK) and closed when the node is
// gone (a write fails with EPIPE: nobody reads) or the cache overflows.
var peerBells = &bellCache{m: map[ID]*peerBell{}}

type bellCache struct {
	mu    sync.RWMutex
	m     map[ID]*peerBell
	clock atomic.Uint64
}

type peerBell struct {
	fd   int
	used atomic.Uint64 // clock of the last ring
}

// ring writes t into the doorbell of node id; false when it is full.
func (c *bellCache) ring(cfg *Config, id ID, t uint64) bool {
	c.mu.RLock()
	if b := c.m[id]; b != nil {
		// (used and clock only rank the doorbells for eviction: no
		// ordering is needed, a stale value evicts the wrong one first.)
		b.used.Store(c.clock.Add(1))
		// Under the read lock: eviction (write lock) cannot close fd now.
		err := writeToken(b.fd, t)
		c.mu.RUnlock()
		return c.written(id, b, err)
	}
	c.mu.RUnlock()
	fd, err := openPeerBell(filepath.Join(cfg.nodeDir(id), bellName))
	if err != nil {
		return true // gone (ENOENT, ENXIO: nobody reads), or not a doorbell
	}
	c.mu.Lock()
	b := c.m[id]
	if b == nil {
		b = &peerBell{fd: fd}
		c.m[id] = b
		if len(c.m) > maxPeerBells {
			c.evictLocked()
		}
	} else {
		unix.Close(fd) // another goroutine opened it first
	}
	b.used.Store(c.clock.Add(1))
	err = writeToken(b.fd, t)
	c.mu.Unlock()
	return c.written(id, b, err)
}

// written handles the outcome of a write of a token to b.
func (c *bellCache) written(id ID, b *peerBell, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, syscall.EAGAIN):
		return false
	}
	// EPIPE (no reader: the node is gone) or worse: forget the doorbell.
	c.mu.Lock()
	if c.m[id] == b {
		delete(c.m, id)
		unix.Close(b.fd)
	}
	c.mu.Unlock()
	return true
}

// evictLocked closes the least recently rung half of the cache. Must be
// called with c.mu held for writing.
func (c *bellCache) evictLocked() {
	var n int
	var sum uint64
	for _, b := range c.m {
		sum += b.used.Load() / uint64(len(c.m))
		n++
	}
	for id, b := range c.m {
		if b.used.Load() <= sum {
			delete(c.m, id)
			unix.Close(b.fd)
		}
	}
}

// openPeerBell opens the doorbell FIFO at path for writing. It refuses
// anything that is not a FIFO (a file planted under the name would
// otherwise receive our tokens).
func openPeerBell(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		unix.Close(fd)
		return -1, syscall.EINVAL
	}
	return fd, nil
}

// writeToken writes t into the pipe fd in one write (8 bytes <= PIPE_BUF:
// atomic, never interleaved with another writer's token). The write is a
// raw system call (internal/rawio says why): every doorbell is open
// O_NONBLOCK, so it never sleeps (a full pipe answers EAGAIN).
func writeToken(fd int, t uint64) error {
	if _, e := rawio.Write(uintptr(fd), (*[8]byte)(unsafe.Pointer(&t))[:]); e != 0 {
		return e
	}
	return nil
}

// --- A node's doorbell and dispatcher ----------------------------------------

// nodeBell is a node's doorbell, its table of waitpoints and its
// dispatcher goroutine.
type nodeBell struct {
	node *Node
	f    *os.File // the FIFO (read by the dispatcher); nil for Config.InProcess

	// The table of waitpoints: a token's index selects one, its
	// generation must match.
	tmu  sync.RWMutex
	wps  []*waitpoint
	gens []uint32
	free []uint32

	// The local queue: service waitpoints whose rounds the dispatcher is
	// to run, posted by this process (a ring of a service token, a retry,
	// a sweep request). kick wakes an in-process node's dispatcher; a node with a
	// FIFO writes kickToken into it instead.
	qmu     sync.Mutex
	queue   []*waitpoint
	kick    chan struct{}
	quit    chan struct{} // closed by close (in-process: ends the dispatcher)
	stopped bool          // guarded by qmu
	done    chan struct{}
}

// openBell creates the node's doorbell (unless in-process) and starts its
// dispatcher. It runs before the node is visible to any peer: no slot
// names the node yet.
func openBell(n *Node) error {
	b := &nodeBell{node: n, kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	if !n.config.InProcess {
		f, err := makeBell(filepath.Join(n.dir, bellName), n.config.FileMode)
		if err != nil {
			return err
		}
		b.f = f
	}
	n.bell = b
	go b.dispatch()
	return nil
}

// makeBell creates the FIFO at path and opens it for reading and writing
// (so that it never reports EOF, and never blocks: reads park in the
// poller).
func makeBell(path string, mode os.FileMode) (*os.File, error) {
	if err := unix.Mkfifo(path, uint32(mode&0o777)); err != nil {
		return nil, &os.PathError{Op: "mkfifo", Path: path, Err: err}
	}
	os.Chmod(path, mode&0o777) // the umask may have taken bits away
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		os.Remove(path)
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, bellPipeSize) // best effort
	return os.NewFile(uintptr(fd), path), nil
}

// close stops the dispatcher and waits for it. The FIFO itself goes with
// the node's directory.
func (b *nodeBell) close() {
	b.qmu.Lock()
	if b.stopped {
		b.qmu.Unlock()
		return
	}
	b.stopped = true
	b.qmu.Unlock()
	close(b.quit)
	if b.f != nil {
		b.f.Close() // ends the dispatcher's read
	}
	<-b.done
}

// dispatch is the node's dispatcher goroutine: it reads tokens and fires
// the waitpoints they name, and runs the rounds of the local queue.
func (b *nodeBell) dispatch() {
	defer close(b.done)
	if b.f == nil {
		for {
			select {
			case <-b.kick:
				b.runQueue()
			case <-b.quit:
				return
			}
		}
	}
	// The FIFO is read with raw system calls (internal/rawio; it is
	// non-blocking, a read never sleeps), through the netpoller: rc.Read
	// parks the goroutine while the pipe is empty.
	rc, err := b.f.SyscallConn()
	if err != nil {
		return
	}
	var buf [4096]byte
	have, n := 0, 0
	var errno syscall.Errno
	read := func(fd uintptr) bool { // made once: no allocation per read
		n, errno = rawio.Read(fd, buf[have:])
		return errno != syscall.EAGAIN
	}
	for {
		err := rc.Read(read)
		if err != nil || errno != 0 || n == 0 {
			return // closed (a FIFO open for writing by its reader never reports its end)
		}
		have += n
		k := have &^ 7
		for i := 0; i < k; i += 8 {
			b.dispatchToken(*(*uint64)(unsafe.Pointer(&buf[i])))
		}
		have = copy(buf[:], buf[k:have])
		b.runQueue()
	}
}

// dispatchToken handles a token read from the doorbell.
func (b *nodeBell) dispatchToken(t uint64) {
	if t == kickToken {
		return // the caller runs the queue after each read
	}
	b.deliver(t, true)
}

// deliver hands token t to its waitpoint: a port's fires at once (in the
// caller's goroutine: it only wakes channels), a service's is queued for
// the dispatcher, which runs the service's round. A stale token is
// ignored. inDispatcher says that the dispatcher itself calls: it runs
// its queue next, and needs no kick.
func (b *nodeBell) deliver(t uint64, inDispatcher bool) {
	wp := b.lookup(t)
	if wp == nil {
		return
	}
	if wp.svc != nil {
		b.enqueue(wp, !inDispatcher)
		return
	}
	wp.fire()
}

// post queues service waitpoint wp for a round in the dispatcher (once:
// it is not queued again before its round begins).
func (b *nodeBell) post(wp *waitpoint) { b.enqueue(wp, true) }

func (b *nodeBell) enqueue(wp *waitpoint, kick bool) {
	// SYNC POINT queued: one queue entry per waitpoint; paired with
	// runQueue's store of false before the round, so that a post during
	// the round queues another.
	if !wp.queued.CompareAndSwap(false, true) {
		return
	}
	b.qmu.Lock()
	if b.stopped {
		b.qmu.Unlock()
		return
	}
	b.queue = append(b.queue, wp)
	first := len(b.queue) == 1
	b.qmu.Unlock()
	if first && kick {
		b.wakeDispatcher()
	}
}

// wakeDispatcher makes the dispatcher look at the local queue. A full
// FIFO needs no kick: the dispatcher is busy reading it and runs the
// queue after every read.
func (b *nodeBell) wakeDispatcher() {
	if b.f == nil {
		select {
		case b.kick <- struct{}{}:
		default:
		}
		return
	}
	if rc, err := b.f.SyscallConn(); err == nil {
		rc.Write(func(fd uintptr) bool {
			writeToken(int(fd), kickToken)
			return true
		})
	}
}

// runQueue runs the rounds of the queued services. Only the dispatcher
// calls it.
func (b *nodeBell) runQueue() {
	for {
		b.qmu.Lock()
		if len(b.queue) == 0 {
			b.qmu.Unlock()
			return
		}
		wp := b.queue[0]
		b.queue[0] = nil
		b.queue = b.queue[1:]
		if len(b.queue) == 0 {
			b.queue = b.queue[:0:0]
		}
		b.qmu.Unlock()
		// SYNC POINT queued: cleared before the round (paired with
		// enqueue's CAS): a ring during the round queues it again.
		wp.queued.Store(false)
		wp.svc.round()
	}
}

// lookup returns the live waitpoint that t names, or nil.
func (b *nodeBell) lookup(t uint64) *waitpoint {
	idx, gen := uint32(t)-1, uint32(t>>32)
	b.tmu.RLock()
	var wp *waitpoint
	if int64(idx) < int64(len(b.wps)) && b.gens[idx] == gen {
		wp = b.wps[idx]
	}
	b.tmu.RUnlock()
	return wp
}

// newWaitpoint registers a waitpoint in the node's table. w is the port's
// shared word (nil for a service's waitpoint, whose word is its node slot's).
func (b *nodeBell) newWaitpoint(w *atomic.Uint64, svc *serviceCore) *waitpoint {
	wp := &waitpoint{bell: b, w: w, svc: svc, done: make(chan struct{})}
	b.tmu.Lock()
	var idx uint32
	if k := len(b.free); k > 0 {
		idx = b.free[k-1]
		b.free = b.free[:k-1]
	} else {
		idx = uint32(len(b.wps))
		b.wps = append(b.wps, nil)
		b.gens = append(b.gens, 0)
	}
	b.wps[idx] = wp
	wp.idx = idx
	wp.token = uint64(b.gens[idx])<<32 | uint64(idx+1)
	b.tmu.Unlock()
	return wp
}

// removeWaitpoint frees wp's index; its token turns stale.
func (b *nodeBell) removeWaitpoint(wp *waitpoint) {
	b.tmu.Lock()
	if b.wps[wp.idx] == wp {
		b.wps[wp.idx] = nil
		b.gens[wp.idx]++
		b.free = append(b.free, wp.idx)
	}
	b.tmu.Unlock()
}

// --- Waitpoints ---------------------------------------------------------------

// waitpoint is a process-local place to wait: one per receiving port (and
// one per open service, for discovery). Its receivers sleep on channels
// that fire pokes; its shared word W, in the port's slot or segment, tells
// the senders of every process whether anyone sleeps here.
//
// The handshake (Dekker, with the sender's W-claim in claimAndRing): a
// sleeper stores the token in W (W-arm), then re-checks its queues, and
// sleeps only if they are empty; a sender publishes its data, then loads
// W and, if it is armed, claims and rings. Go's atomics are sequentially
// consistent, so either the sleeper sees the data or the sender sees the
// token. W is cleared by the claim, or by the last sleeper to leave
// (sleepers counts every armed waiter of the process, blocked receivers
// and sleeping WaitSets: clearing W while another still sleeps would lose
// its wake-up).
type waitpoint struct {
	bell  *nodeBell
	idx   uint32
	token uint64
	svc   *serviceCore // a service's waitpoint: its rings run the service's round

	queued atomic.Bool // a service's: in the dispatcher's queue

	// lastWait is how long, in ns, the last blocking wait on this
	// waitpoint that got something took (see spinFor): the next one spins
	// before it parks only when that was less than spinFor.
	lastWait atomic.Int64

	mu       sync.Mutex
	w        *atomic.Uint64  // the shared word; nil once the port closed (it may be unmapped)
	sleepers int             // armed waiters
	chans    []chan struct{} // poked by fire: blocked receivers, attached WaitSets
	spare    []chan struct{} // reusable channels of blocked receivers
	closed   bool
	done     chan struct{} // closed by close
}

// spins reports whether a blocking wait on wp should spin before it parks:
// whether the last wait that got something took less than spinFor (or
// there was none).
func (wp *waitpoint) spins() bool { return wp.lastWait.Load() < int64(spinFor) }

// waited records how long a blocking wait on wp took to get something.
func (wp *waitpoint) waited(d time.Duration) { wp.lastWait.Store(int64(d)) }

// took records, for a wait that began at start, how long it took when it
// got something (ok): every way out of block that got something.
func (wp *waitpoint) took(ok bool, start time.Time) {
	if ok {
		wp.waited(time.Since(start))
	}
}

// fire wakes every waiter: a non-blocking send on each channel.
func (wp *waitpoint) fire() {
	wp.mu.Lock()
	for _, ch := range wp.chans {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	wp.mu.Unlock()
}

// wait registers a blocked receiver and arms W; the receiver then
// re-checks its queues, sleeps on the returned channel (and done), and
// calls unwait. It returns nil once the waitpoint is closed.
func (wp *waitpoint) wait() chan struct{} {
	wp.mu.Lock()
	if wp.closed {
		wp.mu.Unlock()
		return nil
	}
	var ch chan struct{}
	if k := len(wp.spare); k > 0 {
		ch = wp.spare[k-1]
		wp.spare = wp.spare[:k-1]
	} else {
		ch = make(chan struct{}, 1)
	}
	wp.chans = append(wp.chans, ch)
	wp.armLocked()
	wp.mu.Unlock()
	return ch
}

// unwait ends what wait began.
func (wp *waitpoint) unwait(ch chan struct{}) {
	wp.mu.Lock()
	wp.unsubscribeLocked(ch)
	select {
	case <-ch: // a poke that came too late
	default:
	}
	wp.spare = append(wp.spare, ch)
	wp.disarmLocked()
	wp.mu.Unlock()
}

// subscribe adds ch (a WaitSet's) to the channels that fire pokes.
func (wp *waitpoint) subscribe(ch chan struct{}) {
	wp.mu.Lock()
	wp.chans = append(wp.chans, ch)
	wp.mu.Unlock()
}

// unsubscribe removes ch.
func (wp *waitpoint) unsubscribe(ch chan struct{}) {
	wp.mu.Lock()
	wp.unsubscribeLocked(ch)
	wp.mu.Unlock()
}

func (wp *waitpoint) unsubscribeLocked(ch chan struct{}) {
	for i, c := range wp.chans {
		if c == ch {
			last := len(wp.chans) - 1
			wp.chans[i] = wp.chans[last]
			wp.chans[last] = nil
			wp.chans = wp.chans[:last]
			return
		}
	}
}

// arm counts one more sleeper (a WaitSet about to sleep) and stores the
// token in W; rearm stores it again for a sleeper that is counted already.
func (wp *waitpoint) arm() {
	wp.mu.Lock()
	wp.armLocked()
	wp.mu.Unlock()
}

func (wp *waitpoint) rearm() {
	wp.mu.Lock()
	if wp.w != nil {
		// SYNC POINT W-arm: see armLocked.
		wp.w.Store(wp.token)
	}
	wp.mu.Unlock()
}

// disarm ends what arm began.
func (wp *waitpoint) disarm() {
	wp.mu.Lock()
	wp.disarmLocked()
	wp.mu.Unlock()
}

func (wp *waitpoint) armLocked() {
	wp.sleepers++
	if wp.w != nil {
		// SYNC POINT W-arm: before the sleeper's re-check of its queues;
		// paired with the senders' load and Swap (W-claim) after they
		// published data.
		wp.w.Store(wp.token)
	}
}

func (wp *waitpoint) disarmLocked() {
	wp.sleepers--
	if wp.sleepers == 0 && wp.w != nil {
		// SYNC POINT W-clear: the last sleeper leaves; a sender's claim
		// that wins instead costs one spurious ring. Only a token of ours
		// is cleared (W never holds another).
		wp.w.CompareAndSwap(wp.token, 0)
	}
}

// close wakes every waiter for good: done is closed, W is cleared and
// forgotten (the caller unmaps it afterwards), and the index is freed.
// Must be called before the memory of W is unmapped. Idempotent.
func (wp *waitpoint) close() {
	wp.mu.Lock()
	if wp.closed {
		wp.mu.Unlock()
		return
	}
	wp.closed = true
	if wp.w != nil {
		// SYNC POINT W-clear: as in disarmLocked; nobody of ours sleeps
		// on W any more.
		wp.w.CompareAndSwap(wp.token, 0)
		wp.w = nil
	}
	close(wp.done)
	for _, ch := range wp.chans {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	wp.mu.Unlock()
	wp.bell.removeWaitpoint(wp)
}
