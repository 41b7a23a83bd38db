package runtime

import (
	"sync"
	"time"
)

// The liveness sweep: every sweepInterval, while some service that the
// node has open is also open in another node, the node's dispatcher
// probes the liveness of those nodes and cleans up after dead ones (so
// that the chunks a dead subscriber held return to the publishers' pools,
// and a dead publisher's slot goes, without anyone calling anything).
// While the node's services have no other node, no timer runs.
//
// SEAM (issue 12, helper w-live): this timer is the interim fallback that
// replaced the every-fourth-wake-up sweep of the old per-service
// discovery goroutines. Pidfds of the peer processes replace it where the
// kernel gives them; what stays is the timer for peers without one. The
// entry points are peersChanged (a service round saw who is registered)
// and sweepRound (the dispatcher runs a due sweep).

// sweepInterval is the period of the liveness sweep: four discovery
// intervals, the cadence of the old per-service sweep (200 ms by default).
func sweepInterval(cfg *Config) time.Duration { return 4 * cfg.DiscoveryInterval }

// sweeper arms the node's sweep timer.
type sweeper struct {
	mu    sync.Mutex
	timer *time.Timer
	armed bool
}

// peersChanged is called after a round of service s (in the dispatcher)
// and when s opens: if another node has s open, a sweep is due within an
// interval.
func (n *Node) peersChanged(s *serviceCore) {
	if s.hasPeers() {
		n.armSweep()
	}
}

// armSweep starts the sweep timer unless it runs.
func (n *Node) armSweep() {
	sw := &n.sweeper
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.armed || n.isClosed() {
		return
	}
	sw.armed = true
	if sw.timer == nil {
		sw.timer = time.AfterFunc(sweepInterval(n.config), n.bell.postSweep)
	} else {
		sw.timer.Reset(sweepInterval(n.config))
	}
}

// stopSweep stops the timer for good (the node closes).
func (n *Node) stopSweep() {
	sw := &n.sweeper
	sw.mu.Lock()
	if sw.timer != nil {
		sw.timer.Stop()
	}
	sw.armed = true // never again
	sw.mu.Unlock()
}

// sweepRound runs in the dispatcher when the timer fired: it sweeps every
// open service and arms the timer again if some still has other nodes.
func (n *Node) sweepRound() {
	n.sweeper.mu.Lock()
	n.sweeper.armed = false
	n.sweeper.mu.Unlock()
	n.mu.Lock()
	svcs := make([]*serviceCore, 0, len(n.services))
	for s := range n.services {
		svcs = append(svcs, s)
	}
	n.mu.Unlock()
	// Each peer node is probed once per sweep, however many services it
	// shares with us; only a service with a dead (or vanished) node is
	// cleaned up.
	states := map[ID]NodeState{}
	peers := false
	for _, s := range svcs {
		if s.sweepLiveness(states) {
			peers = true
		}
	}
	if peers {
		n.armSweep()
	}
}
