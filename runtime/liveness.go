package runtime

// Liveness of peer nodes without polling (issue 12, point 5).
//
// A node watches every other node registered in the node slots of the
// services it has open (its peers). A peer whose process is in the node's
// PID namespace is watched through a pidfd: one goroutine per peer waits,
// parked in Go's netpoller (no OS thread), until the pidfd turns readable,
// which happens when the process ends; then the node cleans up after the
// peer at once (cleanupDeadNodeOf), which frees the peer's slots and bumps
// the services, so that the live ports drop it. A peer that cannot be
// watched so (another PID namespace, no pidfd_open, no readable record) is
// probed by a per-node sweep at Config.LivenessSweepInterval, whose timer
// runs only while such peers exist. See docs/ARCHITECTURE.md, "Liveness and
// cleanup".
//
// The seam into the rest is narrow: watchPeers(s) whenever service s's
// node slots may have changed (its discovery round: at open and after
// every bump), forget(s) once s no longer runs discovery rounds (its
// close), close() when the node closes.

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
)

// peerMode is how a node keeps track of the liveness of a peer.
type peerMode uint8

const (
	// peerLocal: a node of this process, which lives as long as we do.
	peerLocal peerMode = iota + 1
	// peerPidfd: watched by a goroutine waiting on a pidfd of its process.
	peerPidfd
	// peerSweep: probed by the sweep, at Config.LivenessSweepInterval.
	peerSweep
	// peerReaping: dead (its process ended), being cleaned up.
	peerReaping
	// peerGone: cleaned up; kept until no service of ours lists it.
	peerGone
)

func (m peerMode) String() string {
	switch m {
	case peerLocal:
		return "local"
	case peerPidfd:
		return "pidfd"
	case peerSweep:
		return "sweep"
	case peerReaping:
		return "reaping"
	case peerGone:
		return "gone"
	}
	return "new"
}

// peer is a node registered in at least one of our services.
type peer struct {
	id    ID
	refs  int // our services whose node slots listed it at their last look
	mode  peerMode
	pidfd *os.File // peerPidfd: the pidfd its watcher waits on
}

// liveness is a node's watch over its peers. Its methods are safe for
// concurrent use.
type liveness struct {
	node *Node
	// forceSweep treats every peer as one that cannot be watched through
	// a pidfd, as if it were in another PID namespace: for tests. It is
	// set before the node opens a service and never changed after.
	forceSweep bool

	mu     sync.Mutex
	closed bool
	peers  map[ID]*peer
	// seen holds, per open service, the peers that its node slots listed
	// at the last look, with the round of that look.
	seen   map[*serviceCore]map[ID]uint64
	round  uint64
	nsweep int         // peers in peerSweep
	timer  *time.Timer // the sweep's; nil until first needed
	armed  bool        // the timer is set, or its callback is about to run
	// wg counts the goroutines of the watch: pidfd watchers, reapers and
	// sweeps. close waits for them.
	wg sync.WaitGroup
}

func newLiveness(n *Node) *liveness {
	return &liveness{node: n, peers: map[ID]*peer{}, seen: map[*serviceCore]map[ID]uint64{}}
}

// watchPeers brings the watch up to date with the node slots of service s:
// it starts watching the peers that are new to the node and lets go of
// those that s listed before and no longer does (a peer is watched while
// any of our services lists it). Cheap when nothing changed: a scan of
// s's node slots and one map look-up per peer, no allocation.
//
// The caller keeps s's dynamic segment mapped for the call and does not
// call it after forget(s). It does not block: a peer found dead is
// cleaned up by a goroutine of its own.
func (l *liveness) watchPeers(s *serviceCore) {
	self := uint64(l.node.id)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	seen := l.seen[s]
	if seen == nil {
		seen = map[ID]uint64{}
		l.seen[s] = seen
	}
	l.round++
	for i := range s.dyn.Nodes {
		// SYNC POINT join-claim: a node slot is read as join and leave
		// write it; a stale read is corrected by the next bump.
		v := s.dyn.Nodes[i].ID.Load()
		if v == 0 || v == self {
			continue
		}
		id := ID(v)
		if _, ok := seen[id]; !ok {
			l.refLocked(id)
		}
		seen[id] = l.round
	}
	for id, r := range seen {
		if r != l.round {
			delete(seen, id)
			l.unrefLocked(id)
		}
	}
}

// forget lets go of the peers of service s, which is closing: its
// discovery rounds have ended.
func (l *liveness) forget(s *serviceCore) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id := range l.seen[s] {
		l.unrefLocked(id)
	}
	delete(l.seen, s)
}

// close stops the watch: it closes every pidfd (which ends the watchers),
// stops the sweep's timer and waits for the goroutines of the watch,
// among them a cleanup of a dead peer in progress.
func (l *liveness) close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	if l.timer != nil {
		l.timer.Stop()
	}
	for _, p := range l.peers {
		if p.pidfd != nil {
			p.pidfd.Close()
			p.pidfd = nil
		}
	}
	clear(l.peers)
	clear(l.seen)
	l.mu.Unlock()
	l.wg.Wait()
}

// refLocked counts one more service of ours that lists peer id, and
// starts watching it if it is new. l.mu is held.
func (l *liveness) refLocked(id ID) {
	if p := l.peers[id]; p != nil {
		p.refs++
		return
	}
	p := &peer{id: id, refs: 1}
	l.peers[id] = p
	l.startLocked(p)
}

// unrefLocked counts one service of ours less that lists peer id; at none,
// it stops watching it. l.mu is held.
func (l *liveness) unrefLocked(id ID) {
	p := l.peers[id]
	if p == nil {
		return
	}
	if p.refs--; p.refs > 0 {
		return
	}
	delete(l.peers, id)
	if p.pidfd != nil {
		// Makes its watcher's wait return; the watcher sees that the peer
		// is no longer ours and ends.
		p.pidfd.Close()
		p.pidfd = nil
	}
	l.setModeLocked(p, peerGone)
}

// startLocked decides how to watch new peer p and starts doing so. The
// pidfd is opened before the peer's lock is probed: if the peer's process
// had ended and its pid been reused before the pidfd was opened, the probe
// finds the lock free and the peer is cleaned up now; if the lock is held,
// the pidfd refers to the process that holds it (the one that created the
// node), and it turns readable when that process ends. l.mu is held.
func (l *liveness) startLocked(p *peer) {
	cfg := l.node.config
	det, err := readNodeDetails(cfg, p.id)
	if err != nil {
		// No record yet, or none any more, or not ours to read.
		if st := nodeState(cfg, p.id); st == NodeDead || st == NodeMissing {
			l.reapLocked(p, false)
			return
		}
		l.setModeLocked(p, peerSweep)
		return
	}
	ns := ownPIDNamespace()
	if l.forceSweep || ns == "" || det.PIDNamespace != ns || det.PID <= 0 {
		l.setModeLocked(p, peerSweep)
		return
	}
	if det.PID == os.Getpid() {
		// A node of this process (the pid is unique in the namespace
		// while its process lives), unless its lock is free: then it is
		// a dead node of an earlier process that had our pid.
		if nodeState(cfg, p.id) == NodeAlive {
			l.setModeLocked(p, peerLocal)
			return
		}
		l.reapLocked(p, false)
		return
	}
	f, err := openPidfd(det.PID)
	if errors.Is(err, unix.ESRCH) {
		l.reapLocked(p, false) // its process is gone
		return
	}
	if err != nil {
		// ENOSYS (before Linux 5.3), EPERM (seccomp), EMFILE, or a pidfd
		// that the netpoller does not take.
		l.setModeLocked(p, peerSweep)
		return
	}
	if st := nodeState(cfg, p.id); st == NodeDead || st == NodeMissing {
		f.Close()
		l.reapLocked(p, false)
		return
	}
	p.pidfd = f
	l.setModeLocked(p, peerPidfd)
	l.wg.Add(1)
	go l.watch(p, f)
}

// setModeLocked sets p's mode, counts the peers to sweep, and arms the
// sweep's timer while there are some (and only then). l.mu is held.
func (l *liveness) setModeLocked(p *peer, m peerMode) {
	if p.mode == peerSweep {
		l.nsweep--
	}
	p.mode = m
	if m == peerSweep {
		l.nsweep++
		l.armLocked()
	}
	if l.nsweep == 0 && l.armed && l.timer.Stop() {
		l.armed = false // else its callback runs and finds nothing to do
	}
}

// armLocked sets the sweep's timer if a peer is to be swept and it is not
// set. l.mu is held.
func (l *liveness) armLocked() {
	if l.closed || l.armed || l.nsweep == 0 {
		return
	}
	l.armed = true
	iv := l.node.config.LivenessSweepInterval
	if l.timer == nil {
		l.timer = time.AfterFunc(iv, l.sweep)
		return
	}
	l.timer.Reset(iv)
}

// reapLocked marks p dead and cleans up after it in a goroutine of its
// own (the caller must not block). l.mu is held.
func (l *liveness) reapLocked(p *peer, exited bool) {
	l.setModeLocked(p, peerReaping)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.reap(p, exited)
	}()
}

// watch waits until peer p's process ends, parked in the netpoller on its
// pidfd f, and then cleans up after p. It also ends when f is closed: p is
// no longer ours, or the node closes.
func (l *liveness) watch(p *peer, f *os.File) {
	defer l.wg.Done()
	exited := waitPidfd(f)
	l.mu.Lock()
	if l.closed || l.peers[p.id] != p || p.pidfd != f {
		l.mu.Unlock()
		return // let go of: whoever did closed f
	}
	p.pidfd = nil
	f.Close()
	if !exited {
		// The wait failed without f being closed: the sweep takes over.
		l.setModeLocked(p, peerSweep)
		l.mu.Unlock()
		return
	}
	l.setModeLocked(p, peerReaping)
	l.mu.Unlock()
	l.reap(p, true)
}

// reap cleans up after dead peer p in every service of ours that lists it.
// If p's cleanup cannot be finished now (another cleaner holds it, its
// senders' samples still drain, an error), the sweep retries. exited says
// that p's pidfd reported the end of its process: a lock that still looks
// held then is given a moment to be dropped.
func (l *liveness) reap(p *peer, exited bool) {
	pause := time.Millisecond
	for try := 0; ; try++ {
		if l.cleanupPeer(p) {
			return
		}
		if !exited || try == 6 || nodeState(l.node.config, p.id) != NodeAlive {
			break
		}
		time.Sleep(pause)
		pause *= 2
	}
	l.mu.Lock()
	if !l.closed && l.peers[p.id] == p && p.mode == peerReaping {
		l.setModeLocked(p, peerSweep)
	}
	l.mu.Unlock()
}

// cleanupPeer cleans up after peer p (if it is dead) in every service of
// ours that lists it, and reports whether none lists it any more (then the
// watch lets go of p). It does not wait for another cleaner.
func (l *liveness) cleanupPeer(p *peer) (settled bool) {
	n := l.node
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return true
	}
	var svcs []*serviceCore
	for s, seen := range l.seen {
		if _, ok := seen[p.id]; ok {
			svcs = append(svcs, s)
		}
	}
	l.mu.Unlock()
	if len(svcs) == 0 {
		cleanupNode(n.config, n.config.filesProvider(), p.id, n.id)
		return true
	}
	settled = true
	var left []*serviceCore // that no longer list p
	for _, s := range svcs {
		if s.enter("clean up dead node") != nil {
			left = append(left, s) // closing: forget lets go of its peers
			continue
		}
		cleanupDeadNodeOf(n.config, n.shm, s.dyn, p.id, n.id)
		if slotsList(s.dyn, p.id) {
			settled = false
		} else {
			left = append(left, s)
		}
		s.exit()
	}
	l.mu.Lock()
	for _, s := range left {
		if seen := l.seen[s]; seen != nil {
			if _, ok := seen[p.id]; ok {
				delete(seen, p.id)
				l.unrefLocked(p.id)
			}
		}
	}
	if settled && l.peers[p.id] == p {
		l.setModeLocked(p, peerGone)
	}
	l.mu.Unlock()
	return settled
}

// sweep probes the peers that cannot be watched through a pidfd and cleans
// up after the dead ones; it runs on the sweep's timer, which it sets
// again while such peers are left.
func (l *liveness) sweep() {
	l.mu.Lock()
	l.armed = false
	if l.closed {
		l.mu.Unlock()
		return
	}
	var batch []*peer
	for _, p := range l.peers {
		if p.mode == peerSweep {
			batch = append(batch, p)
		}
	}
	l.wg.Add(1)
	l.mu.Unlock()
	defer l.wg.Done()
	for _, p := range batch {
		if st := nodeState(l.node.config, p.id); st == NodeAlive || st == NodeInaccessible {
			continue
		}
		l.cleanupPeer(p)
	}
	l.mu.Lock()
	l.armLocked()
	l.mu.Unlock()
}

// slotsList reports whether node id is registered in d; may be stale under
// concurrency.
func slotsList(d *dynamic, id ID) bool {
	for i := range d.Nodes {
		if d.Nodes[i].ID.Load() == uint64(id) {
			return true
		}
	}
	return false
}

// readNodeDetails reads the record of node id (details.json).
func readNodeDetails(cfg *Config, id ID) (*NodeDetails, error) {
	b, err := os.ReadFile(filepath.Join(cfg.nodeDir(id), protocol.NodeDetailsName))
	if err != nil {
		return nil, err
	}
	d := new(NodeDetails)
	if err := json.Unmarshal(b, d); err != nil {
		return nil, err
	}
	return d, nil
}

// ownPIDNamespace names the PID namespace of this process as
// /proc/self/ns/pid does ("pid:[4026531836]"); "" when /proc cannot tell.
var ownPIDNamespace = sync.OnceValue(func() string {
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return ns
})

// openPidfd opens a pidfd of process pid (pidfd_open, Linux 5.3), in
// non-blocking mode and registered with Go's netpoller, so that a wait for
// it parks a goroutine without an OS thread. ESRCH: no such process.
func openPidfd(pid int) (*os.File, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err == unix.EINVAL {
		// Linux 5.3 to 5.9 know no PIDFD_NONBLOCK; the netpoller wants a
		// non-blocking descriptor (it never reads the pidfd: poll only).
		if fd, err = unix.PidfdOpen(pid, 0); err == nil {
			if err = unix.SetNonblock(fd, true); err != nil {
				unix.Close(fd)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	// Only a descriptor that the netpoller took has deadlines: anything
	// else would hold an OS thread per wait, or not wait at all.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// waitPidfd waits, parked in the netpoller, until the process of pidfd f
// has ended (true) or f is closed (false).
func waitPidfd(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	exited := false
	err = rc.Read(func(fd uintptr) bool {
		// Called first before any wait, then after each readiness that
		// the netpoller reports: look for ourselves, so that neither a
		// process that had ended before the pidfd was registered nor a
		// spurious wake-up is taken wrongly.
		exited = pidfdReadable(int(fd))
		return exited
	})
	return err == nil && exited
}

// pidfdReadable reports whether pidfd fd is readable: its process ended.
func pidfdReadable(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(pfd, 0)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n > 0 && pfd[0].Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) != 0
	}
}
