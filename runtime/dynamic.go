package runtime

import (
	"fmt"
	"time"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
	"github.com/iox2go/iox2go/runtime/shm"
)

// dynamic is a process-local handle on a dynamic config segment: the
// protocol's structs laid over it, and the domain whose doorbells bump
// rings.
type dynamic struct {
	cfg *Config // nil: none
	seg shm.Segment
	protocol.Dynamic
}

// layDynamic lays the dynamic config structs over seg, with the capacities
// that the caller knows from the static config (never those in the
// segment). cfg is the domain whose nodes bump rings (nil: none).
func layDynamic(seg shm.Segment, caps protocol.DynCaps, cfg *Config) (*dynamic, error) {
	pd, err := protocol.LayDynamic(seg.Bytes(), seg.Name(), caps)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrServiceCorrupted, err)
	}
	return &dynamic{cfg: cfg, seg: seg, Dynamic: pd}, nil
}

// createDynamic creates and publishes a dynamic config with the creating
// node already registered in its first node slot.
func createDynamic(cfg *Config, p shm.Provider, name string, caps protocol.DynCaps, pattern Pattern, creator ID) (*dynamic, error) {
	seg, err := p.Create(name, protocol.DynamicSize(caps.Nodes, caps.Pubs, caps.Subs))
	if err != nil {
		return nil, err
	}
	d, err := layDynamic(seg, caps, cfg)
	if err != nil {
		seg.Close()
		p.Remove(name)
		return nil, err
	}
	d.Init(caps, uint32(pattern), creator)
	// SYNC POINT publish: makes every store above visible to an opener;
	// paired with shm.OpenReady's load of the ready word.
	shm.Publish(seg, protocol.KindDynamic, protocol.Version)
	return d, nil
}

func openDynamic(cfg *Config, p shm.Provider, name string, caps protocol.DynCaps, pattern Pattern, timeout time.Duration) (*dynamic, error) {
	seg, err := shm.OpenReady(p, name, protocol.KindDynamic, protocol.Version, true, timeout)
	if err != nil {
		return nil, err
	}
	d, err := layDynamic(seg, caps, cfg)
	if err != nil {
		seg.Close()
		return nil, err
	}
	if !d.Matches(caps, uint32(pattern)) {
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
	slot, who, mine := d.Join(id)
	switch {
	case slot >= 0:
		return slot, nil
	case who == 0:
		return -1, ErrExceedsMaxNodes
	}
	return -1, errDestroying{destroyer: who, mine: mine}
}

// leave removes the registration of node id in node slot slot (every
// registration of id when slot is allAt, as a cleaner does); see
// protocol.Dynamic.Leave.
func (d *dynamic) leave(id ID, slot int) (last bool) { return d.Leave(id, slot) }

// allAt is the slot argument of leave that removes every registration.
const allAt = protocol.AllSlots

// nodeIDs returns the registered nodes; may be stale under concurrency.
func (d *dynamic) nodeIDs() []ID {
	return d.NodeIDs()
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
	d.Hdr.Changes.Add(1)
	for i := range d.Nodes {
		ns := &d.Nodes[i]
		// SYNC POINT node-claim: paired with node-arm. The Swap makes
		// exactly one bump ring per arming; the node's ID is read after
		// it, so a slot that changed hands in between rings its new owner.
		if ns.Wake.Load() == 0 {
			continue
		}
		t := ns.Wake.Swap(0)
		if t == 0 {
			continue
		}
		if !ringNode(d.cfg, ID(ns.ID.Load()), t) {
			// SYNC POINT node-restore: doorbell full: the next bump rings;
			// paired with its node-claim.
			ns.Wake.CompareAndSwap(0, t)
		}
	}
}

// changeCount is the hot-path check: one atomic load.
func (d *dynamic) changeCount() uint32 {
	// SYNC POINT changes: paired with bump.
	return d.Hdr.Changes.Load()
}
