package protocol

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/internal/futex"
	"github.com/iox2go/iox2go/runtime/shm"
)

// DynHeader follows the shm.Header of a service's dynamic config segment.
// The segment is the registry of the nodes that have the service open and of
// its ports. Its size is fixed by the capacities in the static config:
//
//	shm.Header | DynHeader | [maxNodes]NodeSlot (padded to 64 bytes) |
//	[maxPublishers]PortSlot | [maxSubscribers]PortSlot
//
// The "publishers" are the publishers, notifiers or clients of the service,
// the "subscribers" its subscribers, listeners or servers.
type DynHeader struct {
	// Destroyer is 0 while the service lives. The node that removes the
	// last node slot sets it to its own ID before it deletes the service's
	// files, so that anyone can finish the job if that node dies.
	// Written by leaving nodes (CAS), read by joining nodes.
	Destroyer atomic.Uint64
	_         [120]byte // own cache line: written rarely, read on join

	// Changes counts port registrations, removals and new connections. Every
	// port compares it with the value it last acted on: one atomic load
	// tells it whether there is anything to discover. Whoever changes it
	// then rings the nodes whose slots are armed (bump).
	// Written by any port (Add), read by every port on every loan/send/receive.
	Changes atomic.Uint32
	_       [124]byte // own cache line: read on the hot path

	// LastNotification is the CLOCK_MONOTONIC time, in nanoseconds, of the
	// latest notification of an event service that has a deadline (set to
	// the time the service was first opened, as iceoryx2 starts from the
	// service's creation time). Swapped by every Notify of every notifier
	// of the service; unused by other patterns.
	LastNotification atomic.Int64
	_                [120]byte // own cache line: written on notify

	// Capacities, written by the creator before the segment is published and
	// never changed. Openers compare them with the static config.
	MaxNodes       uint32
	MaxPublishers  uint32
	MaxSubscribers uint32
	Pattern        uint32
	_              [112]byte
}

// NodeSlot holds the ID of a node that has the service open, or 0.
// Claimed by the joining node (CAS 0 -> id), cleared by it or by whoever
// cleans up after it (CAS id -> 0).
type NodeSlot struct {
	ID atomic.Uint64
	// Wake is the token of the node's waitpoint for this service (one per
	// open handle) while the node waits for changes of the service, else
	// 0. Stored by the node's dispatcher before each round of the
	// service, taken (Swap) by bump, which rings the node with it.
	Wake atomic.Uint64
}

// Port slot states.
const (
	SlotFree   = 0 // not visible; fields may be being set up by the owner
	SlotActive = 2 // fields valid, files exist
	// SlotDraining is a sender (publisher, client, server) whose node
	// died while a live receiver had not yet mapped a connection that
	// holds samples for it. Receivers still connect to it (and treat the
	// connection as expired at once: the sender is gone); senders, the
	// port counts and the listings treat it as gone. Its data segment and
	// those connections exist until every such receiver has mapped them
	// (set attached) or is gone; then the cleanup of the dead node
	// removes them and frees the slot.
	SlotDraining = 3
)

// PortSlot describes one port of the service. A node claims a slot by CAS of
// Node from 0 to its ID (so that a slot claimed by a node that then died is
// always attributable to it), writes ID (which names the port's files) and
// the role's words (see the Set* methods), creates the files, then stores
// state active. Removal stores state free, then ID 0, then Node 0 (making it
// claimable); the cleanup of a dead sender may first leave it draining
// (SlotDraining). A reader takes a snapshot that is valid only if state and
// ID are the same before and after it read the other fields (a receiver's
// snapshot also takes active turning draining); a port ID is never reused.
type PortSlot struct {
	State atomic.Uint64
	ID    atomic.Uint64
	Node  atomic.Uint64
	// The three role words: what they mean depends on the port's role
	// (see PublisherSlot, SubscriberSlot, ClientSlot, ServerSlot); a
	// notifier and a listener leave them 0. Written by the owner between
	// claim and activate, never changed while the slot is active.
	roleA atomic.Uint64
	roleB atomic.Uint64
	roleC atomic.Uint64
	// DrainBy is the CLOCK_MONOTONIC time (futex.Now) until which a
	// draining slot's files are kept for receivers that have not mapped
	// them (see SlotDraining). Written by the cleaner that makes the slot
	// draining, before the state; read by later cleaners.
	DrainBy atomic.Int64
	// Wake is the receiving port's word W of the sleep handshake (see
	// waitpoint in package runtime): the token of the port's waitpoint
	// while a goroutine of its process sleeps on it (or is about to), else
	// 0. Stored by the port's process (W-arm, W-clear); taken by a sender
	// that published data for the port (W-claim), which then rings the
	// port's node. Used by subscribers, servers (requests) and clients
	// (responses).
	Wake atomic.Uint64
}

// The role views of a port slot's words.
type (
	// PublisherSlot: roleA is the most elements of a sample (1 unless the
	// payload is a slice).
	PublisherSlot struct{ MaxSliceLen uint64 }
	// SubscriberSlot: roleA is the subscriber's buffer size (the capacity
	// it asks of its connections' submission queues), roleB how many
	// samples of history it asks for.
	SubscriberSlot struct{ BufferSize, HistoryRequest uint64 }
	// ClientSlot: roleA is the client's most active requests (its request
	// slots: the channels of its response connections).
	ClientSlot struct{ MaxActiveRequests uint64 }
	// ServerSlot: roleA is the most elements of a response.
	ServerSlot struct{ MaxSliceLen uint64 }
)

// SetPublisher writes a publisher's words; between Claim and Activate.
func (s *PortSlot) SetPublisher(v PublisherSlot) { s.roleA.Store(v.MaxSliceLen) }

// SetSubscriber writes a subscriber's words; between Claim and Activate.
func (s *PortSlot) SetSubscriber(v SubscriberSlot) {
	s.roleA.Store(v.BufferSize)
	s.roleB.Store(v.HistoryRequest)
}

// SetClient writes a client's words; between Claim and Activate.
func (s *PortSlot) SetClient(v ClientSlot) { s.roleA.Store(v.MaxActiveRequests) }

// SetServer writes a server's words; between Claim and Activate.
func (s *PortSlot) SetServer(v ServerSlot) { s.roleA.Store(v.MaxSliceLen) }

// PortInfo is a consistent snapshot of an active port slot. Its role words
// are read with the views of the role that the reader knows the slot has.
type PortInfo struct {
	ID, Node            ID
	roleA, roleB, roleC uint64
}

// Publisher reads the snapshot as a publisher's slot.
func (p PortInfo) Publisher() PublisherSlot { return PublisherSlot{MaxSliceLen: p.roleA} }

// Subscriber reads the snapshot as a subscriber's slot.
func (p PortInfo) Subscriber() SubscriberSlot {
	return SubscriberSlot{BufferSize: p.roleA, HistoryRequest: p.roleB}
}

// Client reads the snapshot as a client's slot.
func (p PortInfo) Client() ClientSlot { return ClientSlot{MaxActiveRequests: p.roleA} }

// Server reads the snapshot as a server's slot.
func (p PortInfo) Server() ServerSlot { return ServerSlot{MaxSliceLen: p.roleA} }

// DynHeaderOffset is the offset of the DynHeader in the segment.
const DynHeaderOffset = shm.HeaderSize

// NodeSlotsAlign is the alignment of the port slots that follow the node
// slots.
const NodeSlotsAlign = 64

// MaxDynCapacity bounds every capacity of a dynamic config.
const MaxDynCapacity = 1 << 16

// DynamicSize is the size of a dynamic config segment.
func DynamicSize(maxNodes, maxPubs, maxSubs int) int {
	return DynHeaderOffset + int(unsafe.Sizeof(DynHeader{})) +
		Align(maxNodes*int(unsafe.Sizeof(NodeSlot{})), NodeSlotsAlign) +
		(maxPubs+maxSubs)*int(unsafe.Sizeof(PortSlot{}))
}

// Align rounds n up to a multiple of a, a power of two.
func Align(n, a int) int { return (n + a - 1) &^ (a - 1) }

// DynCaps are the capacities of a dynamic config, from the static config.
type DynCaps struct{ Nodes, Pubs, Subs int }

// Valid reports whether every capacity is in range.
func (c DynCaps) Valid() bool {
	return c.Nodes >= 1 && c.Pubs >= 0 && c.Subs >= 0 &&
		c.Nodes <= MaxDynCapacity && c.Pubs <= MaxDynCapacity && c.Subs <= MaxDynCapacity
}

// Dynamic is the dynamic config's structs laid over a mapped segment.
type Dynamic struct {
	Hdr   *DynHeader
	Nodes []NodeSlot
	Pubs  []PortSlot
	Subs  []PortSlot
}

// LayDynamic lays the dynamic config structs over b, a mapped segment
// named name, with the capacities that the caller knows from the static
// config (never those in the segment). It fails when the size is not the
// one those capacities give.
func LayDynamic(b []byte, name string, caps DynCaps) (Dynamic, error) {
	if !caps.Valid() || len(b) != DynamicSize(caps.Nodes, caps.Pubs, caps.Subs) {
		return Dynamic{}, fmt.Errorf("dynamic config %s has %d bytes, expected %d",
			name, len(b), DynamicSize(caps.Nodes, caps.Pubs, caps.Subs))
	}
	d := Dynamic{Hdr: (*DynHeader)(unsafe.Pointer(&b[DynHeaderOffset]))}
	off := DynHeaderOffset + int(unsafe.Sizeof(DynHeader{}))
	d.Nodes = unsafe.Slice((*NodeSlot)(unsafe.Pointer(&b[off])), caps.Nodes)
	off += Align(caps.Nodes*int(unsafe.Sizeof(NodeSlot{})), NodeSlotsAlign)
	if caps.Pubs > 0 {
		d.Pubs = unsafe.Slice((*PortSlot)(unsafe.Pointer(&b[off])), caps.Pubs)
	}
	off += caps.Pubs * int(unsafe.Sizeof(PortSlot{}))
	if caps.Subs > 0 {
		d.Subs = unsafe.Slice((*PortSlot)(unsafe.Pointer(&b[off])), caps.Subs)
	}
	return d, nil
}

// Init writes the capacities and the pattern, and registers the creator
// in the first node slot; before the segment is published.
func (d *Dynamic) Init(caps DynCaps, pattern uint32, creator ID) {
	d.Hdr.MaxNodes = uint32(caps.Nodes)
	d.Hdr.MaxPublishers = uint32(caps.Pubs)
	d.Hdr.MaxSubscribers = uint32(caps.Subs)
	d.Hdr.Pattern = pattern
	d.Nodes[0].ID.Store(uint64(creator))
}

// Matches reports whether the capacities and pattern in the header are
// the ones the opener expects from the static config.
func (d *Dynamic) Matches(caps DynCaps, pattern uint32) bool {
	h := d.Hdr
	return h.MaxNodes == uint32(caps.Nodes) && h.MaxPublishers == uint32(caps.Pubs) &&
		h.MaxSubscribers == uint32(caps.Subs) && h.Pattern == pattern
}

// Empty reports whether no node slot is taken; may be stale under
// concurrency.
func (d *Dynamic) Empty() bool {
	for i := range d.Nodes {
		if d.Nodes[i].ID.Load() != 0 {
			return false
		}
	}
	return true
}

// NodeIDs returns the registered nodes; may be stale under concurrency.
func (d *Dynamic) NodeIDs() []ID {
	var ids []ID
	for i := range d.Nodes {
		if v := d.Nodes[i].ID.Load(); v != 0 {
			ids = append(ids, ID(v))
		}
	}
	return ids
}

// HasDraining reports whether a port slot is draining; may be stale under
// concurrency.
func (d *Dynamic) HasDraining() bool {
	for _, slots := range [][]PortSlot{d.Pubs, d.Subs} {
		for i := range slots {
			if slots[i].State.Load() == SlotDraining {
				return true
			}
		}
	}
	return false
}

// Claim takes a free slot in slots for port id of node, or returns -1.
func Claim(slots []PortSlot, id, node ID) int {
	for i := range slots {
		s := &slots[i]
		// SYNC POINT slot-claim: paired with Release's store of Node.
		if s.Node.CompareAndSwap(0, uint64(node)) {
			s.roleA.Store(0)
			s.roleB.Store(0)
			s.roleC.Store(0)
			// SYNC POINT W-claimed-slot: no token of the slot's previous
			// port survives; before the slot turns active (slot-active).
			s.Wake.Store(0)
			s.ID.Store(uint64(id))
			return i
		}
	}
	return -1
}

// Activate makes a claimed slot visible to the other ports.
func Activate(s *PortSlot) {
	// SYNC POINT slot-active: publishes ID, Node and the role words;
	// paired with Snapshot's loads.
	s.State.Store(SlotActive)
}

// Release frees slot s if it still belongs to node (idempotent, so that a
// cleaner can resume it).
func Release(s *PortSlot, node ID) {
	if s.Node.Load() != uint64(node) {
		return
	}
	s.State.Store(SlotFree)
	s.ID.Store(0)
	// SYNC POINT slot-release: the slot is claimable from here; paired with
	// Claim's CAS.
	s.Node.CompareAndSwap(uint64(node), 0)
}

// Drain turns active slot s of dead node into a draining one (see
// SlotDraining), whose files are kept until deadline (a futex.Now time)
// at most, and reports whether it changed it.
func Drain(s *PortSlot, node ID, deadline int64) bool {
	if s.Node.Load() != uint64(node) || s.State.Load() != SlotActive {
		return false
	}
	s.DrainBy.Store(deadline)
	// SYNC POINT slot-drain: publishes DrainBy; paired with
	// SnapshotReceivable's loads of State and the cleaners' in
	// DrainExpired. The bump that follows wakes the receivers to look.
	return s.State.CompareAndSwap(SlotActive, SlotDraining)
}

// DrainExpired reports whether draining slot s is past its deadline.
func DrainExpired(s *PortSlot) bool {
	// SYNC POINT slot-drain: paired with Drain's store.
	return futex.Now() > s.DrainBy.Load()
}

// Snapshot reads slot s; ok is false when it is not active (free, or
// draining: its port is dead) or changed while being read.
func Snapshot(s *PortSlot) (pi PortInfo, ok bool) {
	pi, draining, ok := SnapshotReceivable(s)
	return pi, ok && !draining
}

// SnapshotReceivable reads slot s as a receiver does: ok is true when it
// is active or draining (a dead sender whose samples are still to be
// mapped; draining is then set) and did not change port while being read.
// A slot that turns from active to draining while being read is read as
// draining.
func SnapshotReceivable(s *PortSlot) (pi PortInfo, draining, ok bool) {
	st := s.State.Load()
	id := s.ID.Load()
	if st != SlotActive && st != SlotDraining || id == 0 {
		return pi, false, false
	}
	pi = PortInfo{ID: ID(id), Node: ID(s.Node.Load()), roleA: s.roleA.Load(), roleB: s.roleB.Load(), roleC: s.roleC.Load()}
	st2 := s.State.Load()
	if st2 != SlotActive && st2 != SlotDraining || st2 < st || s.ID.Load() != id {
		return pi, false, false
	}
	return pi, st2 == SlotDraining, true
}

// AllSlots is the slot argument of Leave that removes every registration
// of a node.
const AllSlots = -1

// Join registers node id in a free node slot and returns it. It returns
// slot -1 with destroyer 0 when every node slot is taken, and slot -1 with
// the destroyer's ID when the service is being removed; mine is then set
// when backing off made the joiner the last node, which must then remove
// the service itself (the first remover saw the joiner and stood down).
func (d *Dynamic) Join(id ID) (slot int, destroyer ID, mine bool) {
	slot = -1
	for i := range d.Nodes {
		// SYNC POINT join-claim: paired with Leave's scan of node slots.
		if d.Nodes[i].ID.CompareAndSwap(0, uint64(id)) {
			slot = i
			break
		}
	}
	if slot < 0 {
		return -1, 0, false
	}
	// SYNC POINT join-check (Dekker with Leave): the claim above happens
	// before this load; Leave's CAS of Destroyer happens before its rescan.
	// So either we see the destroyer or the destroyer sees our slot.
	if who := d.Hdr.Destroyer.Load(); who != 0 {
		return -1, ID(who), d.Leave(id, slot)
	}
	return slot, 0, false
}

// Leave removes the registration of node id in node slot slot (every
// registration of id when slot is AllSlots, as a cleaner does; idempotent,
// so that a cleaner can resume it) and reports whether it was the last
// node, in which case the caller must delete the service's files and then
// the dynamic segment. A node that has a service open twice has two slots:
// each handle leaves its own, whose wake word holds that handle's token.
func (d *Dynamic) Leave(id ID, slot int) (last bool) {
	for i := range d.Nodes {
		ns := &d.Nodes[i]
		if slot != AllSlots && i != slot || ns.ID.Load() != uint64(id) {
			continue
		}
		// Nobody rings a node that left (a stale token would only cost
		// it a spurious look, but the slot's next owner stores its own).
		// SYNC POINT node-leave: before the slot turns free (the CAS
		// below); paired with bump's node-claim.
		ns.Wake.Store(0)
		ns.ID.CompareAndSwap(uint64(id), 0)
	}
	if !d.Empty() {
		return false
	}
	// SYNC POINT leave-mark: paired with join-check.
	if !d.Hdr.Destroyer.CompareAndSwap(0, uint64(id)) {
		// Someone else is removing the service, or a crashed remover was us.
		return d.Hdr.Destroyer.Load() == uint64(id)
	}
	if !d.Empty() {
		// A node joined between our scan and our mark; it will see the mark
		// or we saw it: let it live.
		d.Hdr.Destroyer.CompareAndSwap(uint64(id), 0)
		return false
	}
	return true
}
