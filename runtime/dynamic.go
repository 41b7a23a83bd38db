package runtime

import (
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/internal/futex"
	"github.com/iox2go/iox2go/runtime/shm"
)

// Segment kinds and the layout version of every segment this runtime
// creates. A change to any shared struct below bumps layoutVersion.
const (
	kindDynamic    uint32 = 1
	kindData       uint32 = 2
	kindConnection uint32 = 3
	kindEvent      uint32 = 4
	// 4: a queue of capacity 1 is an exchanged slot (ring "ixQ" v2);
	// 5: a dead sender's port slot may be draining (slotDraining);
	// 6: node slots and receiving ports' slots have a wake word, the
	// event segment's futex words are one wake word (the doorbells).
	layoutVersion uint32 = 6
)

// dynHeader follows the shm.Header of a service's dynamic config segment.
// The segment is the registry of the nodes that have the service open and of
// its ports. Its size is fixed by the capacities in the static config.
type dynHeader struct {
	// destroyer is 0 while the service lives. The node that removes the
	// last node slot sets it to its own ID before it deletes the service's
	// files, so that anyone can finish the job if that node dies.
	// Written by leaving nodes (CAS), read by joining nodes.
	destroyer atomic.Uint64
	_         [120]byte // own cache line: written rarely, read on join

	// changes counts port registrations, removals and new connections. Every
	// port compares it with the value it last acted on: one atomic load
	// tells it whether there is anything to discover. Whoever changes it
	// then rings the nodes whose slots are armed (bump).
	// Written by any port (Add), read by every port on every loan/send/receive.
	changes atomic.Uint32
	_       [124]byte // own cache line: read on the hot path

	// lastNotification is the CLOCK_MONOTONIC time, in nanoseconds, of the
	// latest notification of an event service that has a deadline (set to
	// the time the service was first opened, as iceoryx2 starts from the
	// service's creation time). Swapped by every Notify of every notifier
	// of the service; unused by other patterns.
	lastNotification atomic.Int64
	_                [120]byte // own cache line: written on notify

	// Capacities, written by the creator before the segment is published and
	// never changed. Openers compare them with the static config.
	maxNodes       uint32
	maxPublishers  uint32
	maxSubscribers uint32
	pattern        uint32
	_              [112]byte
}

// nodeSlot holds the ID of a node that has the service open, or 0.
// Claimed by the joining node (CAS 0 -> id), cleared by it or by whoever
// cleans up after it (CAS id -> 0).
type nodeSlot struct {
	id atomic.Uint64
	// wake is the token of the node's waitpoint for this service (one per
	// open handle) while the node waits for changes of the service, else
	// 0. Stored by the node's dispatcher before each round of the
	// service, taken (Swap) by bump, which rings the node with it.
	wake atomic.Uint64
}

// Port slot states.
const (
	slotFree   = 0 // not visible; fields may be being set up by the owner
	slotActive = 2 // fields valid, files exist
	// slotDraining is a sender (publisher, client, server) whose node
	// died while a live receiver had not yet mapped a connection that
	// holds samples for it. Receivers still connect to it (and treat the
	// connection as expired at once: the sender is gone); senders, the
	// port counts and the listings treat it as gone. Its data segment and
	// those connections exist until every such receiver has mapped them
	// (set attached) or is gone; then the cleanup of the dead node
	// removes them and frees the slot (see removePortsOf).
	slotDraining = 3
)

// portSlot describes one port of the service. A node claims a slot by CAS of
// node from 0 to its ID (so that a slot claimed by a node that then died is
// always attributable to it), writes id (which names the port's files) and
// the pattern-specific fields, creates the files, then stores state active.
// Removal stores state free, then id 0, then node 0 (making it claimable);
// the cleanup of a dead sender may first leave it draining (slotDraining).
// A reader takes a snapshot that is valid only if state and id are the same
// before and after it read the other fields (a receiver's snapshot also
// takes active turning draining); a port ID is never reused.
type portSlot struct {
	state atomic.Uint64
	id    atomic.Uint64
	node  atomic.Uint64
	a     atomic.Uint64 // subscriber: buffer size; publisher: max slice length
	b     atomic.Uint64 // subscriber: history request
	c     atomic.Uint64
	// drainBy is the CLOCK_MONOTONIC time (futex.Now) until which a
	// draining slot's files are kept for receivers that have not mapped
	// them (see slotDraining). Written by the cleaner that makes the slot
	// draining, before the state; read by later cleaners.
	drainBy atomic.Int64
	// wake is the receiving port's word W of the sleep handshake (see
	// waitpoint): the token of the port's waitpoint while a goroutine of
	// its process sleeps on it (or is about to), else 0. Stored by the
	// port's process (W-arm, W-clear); taken by a sender that published
	// data for the port (W-claim), which then rings the port's node.
	// Used by subscribers, servers (requests) and clients (responses).
	wake atomic.Uint64
}

const dynHeaderOffset = shm.HeaderSize

func dynamicSize(maxNodes, maxPubs, maxSubs int) int {
	return dynHeaderOffset + int(unsafe.Sizeof(dynHeader{})) +
		align(maxNodes*int(unsafe.Sizeof(nodeSlot{})), 64) +
		(maxPubs+maxSubs)*int(unsafe.Sizeof(portSlot{}))
}

func align(n, a int) int { return (n + a - 1) &^ (a - 1) }

// dynamic is a process-local handle on a dynamic config segment.
type dynamic struct {
	cfg   *Config // the domain, whose doorbells bump rings; nil: none
	seg   shm.Segment
	hdr   *dynHeader
	nodes []nodeSlot
	pubs  []portSlot
	subs  []portSlot
}

type dynCaps struct{ nodes, pubs, subs int }

func (c dynCaps) valid() bool {
	const max = 1 << 16
	return c.nodes >= 1 && c.pubs >= 0 && c.subs >= 0 && c.nodes <= max && c.pubs <= max && c.subs <= max
}

// layDynamic lays the dynamic config structs over seg, with the capacities
// that the caller knows from the static config (never those in the
// segment). cfg is the domain whose nodes bump rings (nil: none).
func layDynamic(seg shm.Segment, caps dynCaps, cfg *Config) (*dynamic, error) {
	b := seg.Bytes()
	if !caps.valid() || len(b) != dynamicSize(caps.nodes, caps.pubs, caps.subs) {
		return nil, fmt.Errorf("%w: dynamic config %s has %d bytes, expected %d",
			ErrServiceCorrupted, seg.Name(), len(b), dynamicSize(caps.nodes, caps.pubs, caps.subs))
	}
	d := &dynamic{cfg: cfg, seg: seg, hdr: (*dynHeader)(unsafe.Pointer(&b[dynHeaderOffset]))}
	off := dynHeaderOffset + int(unsafe.Sizeof(dynHeader{}))
	d.nodes = unsafe.Slice((*nodeSlot)(unsafe.Pointer(&b[off])), caps.nodes)
	off += align(caps.nodes*int(unsafe.Sizeof(nodeSlot{})), 64)
	if caps.pubs > 0 {
		d.pubs = unsafe.Slice((*portSlot)(unsafe.Pointer(&b[off])), caps.pubs)
	}
	off += caps.pubs * int(unsafe.Sizeof(portSlot{}))
	if caps.subs > 0 {
		d.subs = unsafe.Slice((*portSlot)(unsafe.Pointer(&b[off])), caps.subs)
	}
	return d, nil
}

// createDynamic creates and publishes a dynamic config with the creating
// node already registered in its first node slot.
func createDynamic(cfg *Config, p shm.Provider, name string, caps dynCaps, pattern Pattern, creator ID) (*dynamic, error) {
	seg, err := p.Create(name, dynamicSize(caps.nodes, caps.pubs, caps.subs))
	if err != nil {
		return nil, err
	}
	d, err := layDynamic(seg, caps, cfg)
	if err != nil {
		seg.Close()
		p.Remove(name)
		return nil, err
	}
	d.hdr.maxNodes = uint32(caps.nodes)
	d.hdr.maxPublishers = uint32(caps.pubs)
	d.hdr.maxSubscribers = uint32(caps.subs)
	d.hdr.pattern = uint32(pattern)
	d.nodes[0].id.Store(uint64(creator))
	// SYNC POINT publish: makes every store above visible to an opener;
	// paired with shm.OpenReady's load of the ready word.
	shm.Publish(seg, kindDynamic, layoutVersion)
	return d, nil
}

func openDynamic(cfg *Config, p shm.Provider, name string, caps dynCaps, pattern Pattern, timeout time.Duration) (*dynamic, error) {
	seg, err := shm.OpenReady(p, name, kindDynamic, layoutVersion, true, timeout)
	if err != nil {
		return nil, err
	}
	d, err := layDynamic(seg, caps, cfg)
	if err != nil {
		seg.Close()
		return nil, err
	}
	h := d.hdr
	if h.maxNodes != uint32(caps.nodes) || h.maxPublishers != uint32(caps.pubs) ||
		h.maxSubscribers != uint32(caps.subs) || h.pattern != uint32(pattern) {
		seg.Close()
		return nil, fmt.Errorf("%w: dynamic config %s disagrees with the static config", ErrServiceCorrupted, name)
	}
	return d, nil
}

func (d *dynamic) close() { d.seg.Close() }

// errDestroying reports a service whose last node is removing it.
type errDestroying struct {
	destroyer ID
	// mine: backing off made the joiner the last node; it must remove the
	// service itself (the first remover saw the joiner and stood down).
	mine bool
}

func (e errDestroying) Error() string {
	return fmt.Sprintf("service is being removed by node %v", e.destroyer)
}

// join registers node id and returns its node slot. It fails with
// ErrExceedsMaxNodes when every node slot is taken and with errDestroying
// when the service is being removed.
func (d *dynamic) join(id ID) (int, error) {
	slot := -1
	for i := range d.nodes {
		// SYNC POINT join-claim: paired with leave's scan of node slots.
		if d.nodes[i].id.CompareAndSwap(0, uint64(id)) {
			slot = i
			break
		}
	}
	if slot < 0 {
		return -1, ErrExceedsMaxNodes
	}
	// SYNC POINT join-check (Dekker with leave): the claim above happens
	// before this load; leave's CAS of destroyer happens before its rescan.
	// So either we see the destroyer or the destroyer sees our slot.
	if who := d.hdr.destroyer.Load(); who != 0 {
		mine := d.leave(id, slot)
		return -1, errDestroying{destroyer: ID(who), mine: mine}
	}
	return slot, nil
}

// leave removes the registration of node id in node slot slot (every
// registration of id when slot is allAt, as a cleaner does; idempotent, so
// that a cleaner can resume it) and reports whether it was the last node,
// in which case the caller must delete the service's files and then the
// dynamic segment. A node that has a service open twice has two slots:
// each handle leaves its own, whose wake word holds that handle's token.
func (d *dynamic) leave(id ID, slot int) (last bool) {
	for i := range d.nodes {
		ns := &d.nodes[i]
		if slot != allAt && i != slot || ns.id.Load() != uint64(id) {
			continue
		}
		// Nobody rings a node that left (a stale token would only cost
		// it a spurious look, but the slot's next owner stores its own).
		// SYNC POINT node-leave: before the slot turns free (the CAS
		// below); paired with bump's node-claim.
		ns.wake.Store(0)
		ns.id.CompareAndSwap(uint64(id), 0)
	}
	if !d.empty() {
		return false
	}
	// SYNC POINT leave-mark: paired with join-check.
	if !d.hdr.destroyer.CompareAndSwap(0, uint64(id)) {
		// Someone else is removing the service, or a crashed remover was us.
		return d.hdr.destroyer.Load() == uint64(id)
	}
	if !d.empty() {
		// A node joined between our scan and our mark; it will see the mark
		// or we saw it: let it live.
		d.hdr.destroyer.CompareAndSwap(uint64(id), 0)
		return false
	}
	return true
}

// allAt is the slot argument of leave that removes every registration.
const allAt = -1

func (d *dynamic) empty() bool {
	for i := range d.nodes {
		if d.nodes[i].id.Load() != 0 {
			return false
		}
	}
	return true
}

// nodeIDs returns the registered nodes; may be stale under concurrency.
func (d *dynamic) nodeIDs() []ID {
	var ids []ID
	for i := range d.nodes {
		if v := d.nodes[i].id.Load(); v != 0 {
			ids = append(ids, ID(v))
		}
	}
	return ids
}

// bump records a change of ports or connections and rings every node
// whose slot is armed (its dispatcher then runs the service's round: the
// node's ports connect, deliver history, map, expire; its waiters wake).
func (d *dynamic) bump() {
	// SYNC POINT changes: publishes every slot and connection write before
	// it; paired with the ports' load of changes. Dekker with the node's
	// arming (node-arm in serviceCore.round): the Add comes before the
	// loads of the wake words below, the node's store of its token before
	// its ports' loads of changes. So either the node's round sees this
	// change or we see the node armed.
	d.hdr.changes.Add(1)
	for i := range d.nodes {
		ns := &d.nodes[i]
		// SYNC POINT node-claim: paired with node-arm. The Swap makes
		// exactly one bump ring per arming; the node's ID is read after
		// it, so a slot that changed hands in between rings its new owner.
		if ns.wake.Load() == 0 {
			continue
		}
		t := ns.wake.Swap(0)
		if t == 0 {
			continue
		}
		if !ringNode(d.cfg, ID(ns.id.Load()), t) {
			// SYNC POINT node-restore: doorbell full: the next bump rings;
			// paired with its node-claim.
			ns.wake.CompareAndSwap(0, t)
		}
	}
}

// changeCount is the hot-path check: one atomic load.
func (d *dynamic) changeCount() uint32 {
	// SYNC POINT changes: paired with bump.
	return d.hdr.changes.Load()
}

// claim takes a free slot in slots for port id of node, or returns -1.
func claim(slots []portSlot, id, node ID) int {
	for i := range slots {
		s := &slots[i]
		// SYNC POINT slot-claim: paired with release's store of node.
		if s.node.CompareAndSwap(0, uint64(node)) {
			s.a.Store(0)
			s.b.Store(0)
			s.c.Store(0)
			// SYNC POINT W-claimed-slot: no token of the slot's previous
			// port survives; before the slot turns active (slot-active).
			s.wake.Store(0)
			s.id.Store(uint64(id))
			return i
		}
	}
	return -1
}

// activate makes a claimed slot visible to the other ports.
func activate(s *portSlot) {
	// SYNC POINT slot-active: publishes id, node, a, b, c; paired with
	// snapshot's loads.
	s.state.Store(slotActive)
}

// release frees slot s if it still belongs to node (idempotent, so that a
// cleaner can resume it).
func release(s *portSlot, node ID) {
	if s.node.Load() != uint64(node) {
		return
	}
	s.state.Store(slotFree)
	s.id.Store(0)
	// SYNC POINT slot-release: the slot is claimable from here; paired with
	// claim's CAS.
	s.node.CompareAndSwap(uint64(node), 0)
}

// drain turns active slot s of dead node into a draining one (see
// slotDraining), whose files are kept until deadline (a futex.Now time)
// at most, and reports whether it changed it.
func drain(s *portSlot, node ID, deadline int64) bool {
	if s.node.Load() != uint64(node) || s.state.Load() != slotActive {
		return false
	}
	s.drainBy.Store(deadline)
	// SYNC POINT slot-drain: publishes drainBy; paired with
	// snapshotReceivable's loads of state and the cleaners' in
	// drainExpired. The bump that follows wakes the receivers to look.
	return s.state.CompareAndSwap(slotActive, slotDraining)
}

// drainExpired reports whether draining slot s is past its deadline.
func drainExpired(s *portSlot) bool {
	// SYNC POINT slot-drain: paired with drain's store.
	return futex.Now() > s.drainBy.Load()
}

// hasDraining reports whether a port slot is draining; may be stale under
// concurrency.
func (d *dynamic) hasDraining() bool {
	for _, slots := range [][]portSlot{d.pubs, d.subs} {
		for i := range slots {
			if slots[i].state.Load() == slotDraining {
				return true
			}
		}
	}
	return false
}

// portInfo is a consistent snapshot of an active port slot.
type portInfo struct {
	id, node ID
	a, b, c  uint64
}

// snapshot reads slot s; ok is false when it is not active (free, or
// draining: its port is dead) or changed while being read.
func snapshot(s *portSlot) (pi portInfo, ok bool) {
	pi, draining, ok := snapshotReceivable(s)
	return pi, ok && !draining
}

// snapshotReceivable reads slot s as a receiver does: ok is true when it
// is active or draining (a dead sender whose samples are still to be
// mapped; draining is then set) and did not change port while being read.
// A slot that turns from active to draining while being read is read as
// draining.
func snapshotReceivable(s *portSlot) (pi portInfo, draining, ok bool) {
	st := s.state.Load()
	id := s.id.Load()
	if st != slotActive && st != slotDraining || id == 0 {
		return pi, false, false
	}
	pi = portInfo{id: ID(id), node: ID(s.node.Load()), a: s.a.Load(), b: s.b.Load(), c: s.c.Load()}
	st2 := s.state.Load()
	if st2 != slotActive && st2 != slotDraining || st2 < st || s.id.Load() != id {
		return pi, false, false
	}
	return pi, st2 == slotDraining, true
}
