package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
	"github.com/iox2go/iox2go/runtime/shm"
)

type openMode int

const (
	modeCreate openMode = iota
	modeOpen
	modeOpenOrCreate
)

func (m openMode) String() string {
	return [...]string{"create", "open", "open or create"}[m]
}

// serviceSpec is what a pattern-specific builder hands to the core.
type serviceSpec struct {
	name    string
	pattern Pattern
	caps    protocol.DynCaps // of a service this spec creates
	// capsOf returns the capacities of an existing service, from its
	// static config: the builder's values are only minimums when opening.
	capsOf func(sc *StaticConfig) protocol.DynCaps
	attrs  []Attribute // defined on create
	reqs   []Attribute // required on open
	// newStatic fills the pattern-specific part of a new static config.
	newStatic func(sc *StaticConfig)
	// verify checks an existing service against the builder; it returns a
	// *ServiceError-compatible sentinel and detail.
	verify func(sc *StaticConfig) (error, string)
	// limits checks the QoS of a static config, the one this spec creates
	// or one that another process wrote, against the limits of cfg's
	// ports (see footprint): ErrServiceCorrupted for a value out of its
	// range, ErrResourceLimit for a combination that exceeds a limit. It
	// runs before anything of the service is created or mapped.
	limits func(sc *StaticConfig, cfg *Config) (error, string)
}

// port is a publisher, subscriber or other port of a service.
type port interface {
	// maintain is called by the node's dispatcher in each round of the
	// service (after every change of its ports and connections): it
	// connects to new peers (delivering history), drops vanished ones,
	// maps new connections and reclaims returned chunks. It must not
	// block: done is false when it could not run now (the port's mutex is
	// held), and the round is retried soon. wake asks the round to wake
	// the port's waiters: its connections changed (a new one may hold
	// samples, a vanished server may end a response stream).
	maintain() (done, wake bool)
	// waitpoint is the port's waitpoint (receiving ports), or nil.
	waitpoint() *waitpoint
	closePort() error
}

// serviceCore is an open service: the static config, the mapped dynamic
// config, the ports created through it, and its waitpoint in the node's
// doorbell, whose token its node slot holds while the node waits for
// changes: every change (bump) then runs a round of the service in the
// node's dispatcher (round).
type serviceCore struct {
	node   *Node
	name   string
	hash   string
	static *StaticConfig
	dyn    *dynamic
	tag    string
	slot   int // our node slot in dyn
	wp     *waitpoint

	mu     sync.Mutex
	ports  map[port]struct{}
	closed bool

	// roundMu is held by a round (and a liveness sweep) of the service in
	// the dispatcher; stopped, set by close once the ports are closed,
	// ends them. retry re-posts a round that could not maintain a port.
	roundMu    sync.Mutex
	stopped    bool          // guarded by roundMu
	retry      *time.Timer   // guarded by roundMu
	retryDelay time.Duration // guarded by roundMu
	wake       []*waitpoint  // scratch of a round; guarded by roundMu

	// sweep asks the next round for a liveness sweep of the service: a
	// receiver has mapped a connection of a draining (dead) sender, whose
	// files the sweep may now remove (see sweepSoon).
	sweep atomic.Bool

	// users is read-held by every service method that touches the dynamic
	// segment from outside a port (port creation, the port counts), from
	// its check of closed to its last use of the segment; close takes it
	// once, after setting closed, so that it never unmaps the segment under
	// such a method. See enter.
	users sync.RWMutex
}

// enter makes the dynamic segment safe to use until the matching exit: it
// fails with a *ServiceError wrapping ErrClosed (and then needs no exit)
// once the service, or the node it was opened through, is closed. Methods
// that hold it must not call each other: a read lock is not reentrant
// once close waits for it.
func (s *serviceCore) enter(op string) error {
	s.users.RLock()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		s.users.RUnlock()
		return &ServiceError{Op: op, Service: s.name, Err: ErrClosed}
	}
	return nil
}

// exit ends what a successful enter began.
func (s *serviceCore) exit() { s.users.RUnlock() }

// countActive counts the active slots of one of the service's port arrays
// (d.pubs or d.subs, chosen by subs); 0 once the service is closed.
func (s *serviceCore) countActive(subs bool) int {
	if s.enter("count ports") != nil {
		return 0
	}
	defer s.exit()
	if subs {
		return countActive(s.dyn.Subs)
	}
	return countActive(s.dyn.Pubs)
}

// openService creates, opens or opens-or-creates a service. It fails with
// ErrClosed when the node is closed, before or while it opens.
func openService(node *Node, spec *serviceSpec, mode openMode) (*serviceCore, error) {
	op := mode.String()
	if node == nil {
		return nil, &ServiceError{Op: op, Service: spec.name, Err: ErrClosed, Detail: "nil node"}
	}
	if node.isClosed() {
		return nil, &ServiceError{Op: op, Service: spec.name, Err: ErrClosed, Detail: "the node is closed"}
	}
	s, err := openServiceOf(node, spec, mode)
	if err != nil && !errors.Is(err, ErrClosed) && node.isClosed() {
		// The node was closed while we opened: its directory, where the
		// service tags go, may have gone from under us.
		return nil, &ServiceError{Op: op, Service: spec.name, Err: ErrClosed, Detail: "the node was closed: " + err.Error()}
	}
	return s, err
}

// openServiceOf is openService on a node that was open when it began.
func openServiceOf(node *Node, spec *serviceSpec, mode openMode) (*serviceCore, error) {
	op := mode.String()
	if _, err := NewServiceName(spec.name); err != nil {
		return nil, &ServiceError{Op: op, Service: spec.name, Err: ErrInvalidServiceName, Detail: err.Error()}
	}
	if err := validateAttributes(spec.attrs, false); err != nil {
		return nil, &ServiceError{Op: op, Service: spec.name, Err: ErrInvalidAttribute, Detail: err.Error()}
	}
	if err := validateAttributes(spec.reqs, true); err != nil {
		return nil, &ServiceError{Op: op, Service: spec.name, Err: ErrInvalidAttribute, Detail: err.Error()}
	}
	cfg := node.config
	hash := serviceHash(spec.name, spec.pattern)
	path := cfg.staticPath(hash)
	deadline := time.Now().Add(4 * cfg.CreationTimeout)
	backoff := 100 * time.Microsecond
	var lastErr error
	for {
		if time.Now().After(deadline) {
			return nil, &ServiceError{Op: op, Service: spec.name, Err: ErrServiceInFlux, Detail: fmt.Sprint(lastErr)}
		}
		sc, err := readStatic(path, hash)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if mode == modeOpen {
				return nil, &ServiceError{Op: op, Service: spec.name, Err: ErrServiceNotExist}
			}
			s, err := createService(node, spec, hash)
			if err == nil {
				return s, nil
			}
			if errors.Is(err, fs.ErrExist) && mode == modeOpenOrCreate {
				lastErr = err
				continue // another process created it first: open it
			}
			if errors.Is(err, fs.ErrExist) {
				return nil, &ServiceError{Op: op, Service: spec.name, Err: ErrServiceExists}
			}
			return nil, &ServiceError{Op: op, Service: spec.name, Err: errOr(err, ErrServiceCorrupted), Detail: err.Error()}
		case err != nil:
			return nil, &ServiceError{Op: op, Service: spec.name, Err: errOr(err, ErrServiceCorrupted), Detail: err.Error()}
		}
		if mode == modeCreate {
			return nil, &ServiceError{Op: op, Service: spec.name, Err: ErrServiceExists}
		}
		if err, detail := verifyCommon(sc, spec); err != nil {
			return nil, &ServiceError{Op: op, Service: spec.name, Err: err, Detail: detail}
		}
		if err, detail := spec.verify(sc); err != nil {
			return nil, &ServiceError{Op: op, Service: spec.name, Err: err, Detail: detail}
		}
		// The static config was written by another process: its QoS must
		// not make this one allocate more than its limits allow.
		if err, detail := spec.limits(sc, cfg); err != nil {
			return nil, &ServiceError{Op: op, Service: spec.name, Err: err, Detail: detail}
		}
		s, err := joinService(node, spec, sc)
		if err == nil {
			return s, nil
		}
		var destroying errDestroying
		switch {
		case errors.As(err, &destroying):
			cleanupNode(cfg, cfg.filesProvider(), destroying.destroyer, node.id)
		case errors.Is(err, shm.ErrNotExist), errors.Is(err, shm.ErrNotInitialized):
			// The static config outlived its dynamic segment: the service is
			// being removed, or its remover died. Clean up after dead nodes
			// and look again. Unless live nodes have it open: then its
			// segments are not where we look, and the service is theirs.
			if holders := cleanupOrphanStatic(cfg, node.shm, path, hash, sc.UID); len(holders) > 0 {
				return nil, &ServiceError{Op: op, Service: spec.name, Err: ErrServiceCorrupted, Detail: fmt.Sprintf(
					"its dynamic segment %s does not exist in %s, yet live nodes %v have the service open: its shared memory is %s, or was removed under them",
					cfg.dynamicName(hash, sc.UID), shmPlace(cfg), holders, shmElsewhere(cfg))}
			}
		default:
			return nil, &ServiceError{Op: op, Service: spec.name, Err: errOr(err, ErrServiceCorrupted), Detail: err.Error()}
		}
		lastErr = err
		time.Sleep(backoff)
		if backoff < 10*time.Millisecond {
			backoff *= 2
		}
	}
}

// errOr returns the sentinel of ours that err wraps; else err itself if it
// carries an errno (an error of the operating system that no sentinel
// covers: no space left, a read-only file system, a directory that is not
// one, ...), so that errors.Is finds the errno and the error says where;
// else def.
func errOr(err, def error) error {
	for _, s := range []error{ErrClosed, ErrPermission, ErrExceedsMaxNodes, ErrServiceCorrupted, ErrVersionMismatch, ErrResourceLimit} {
		if errors.Is(err, s) {
			return s
		}
	}
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, shm.ErrPermission) {
		return ErrPermission
	}
	if errors.Is(err, shm.ErrVersionMismatch) {
		return ErrVersionMismatch
	}
	if errno := syscall.Errno(0); errors.As(err, &errno) {
		return err
	}
	return def
}

func verifyCommon(sc *StaticConfig, spec *serviceSpec) (error, string) {
	if sc.Version != protocol.VersionString {
		if strings.Contains(sc.Version, ".") {
			// Before protocol 7 the field held the runtime's release.
			return ErrVersionMismatch, fmt.Sprintf("the service was created by iox2go %s (protocol version 6 or older), this process speaks protocol version %s", sc.Version, protocol.VersionString)
		}
		return ErrVersionMismatch, fmt.Sprintf("the service uses protocol version %s, this process speaks %s", sc.Version, protocol.VersionString)
	}
	if sc.Pattern != spec.pattern.String() || sc.Name != spec.name {
		return ErrIncompatiblePattern, fmt.Sprintf("requested %s %q, found %s %q", spec.pattern, spec.name, sc.Pattern, sc.Name)
	}
	for _, r := range spec.reqs {
		found := false
		for _, a := range sc.Attributes {
			if a.Key == r.Key && (r.Value == "" || a.Value == r.Value) {
				found = true
				break
			}
		}
		if !found {
			if r.Value == "" {
				return ErrIncompatibleAttributes, fmt.Sprintf("required key %q, service has %s", r.Key, fmtAttrs(sc.Attributes))
			}
			return ErrIncompatibleAttributes, fmt.Sprintf("required %s=%s, service has %s", r.Key, r.Value, fmtAttrs(sc.Attributes))
		}
	}
	return nil, ""
}

func fmtAttrs(as []Attribute) string {
	if len(as) == 0 {
		return "no attributes"
	}
	s := ""
	for i, a := range as {
		if i > 0 {
			s += ", "
		}
		s += a.Key + "=" + a.Value
	}
	return "{" + s + "}"
}

func createService(node *Node, spec *serviceSpec, hash string) (*serviceCore, error) {
	cfg := node.config
	uid := newID().String()
	sc := &StaticConfig{
		Version:    protocol.VersionString,
		Name:       spec.name,
		Pattern:    spec.pattern.String(),
		Hash:       hash,
		UID:        uid,
		Attributes: append([]Attribute{}, spec.attrs...),
	}
	spec.newStatic(sc)
	if err, detail := spec.limits(sc, cfg); err != nil {
		return nil, fmt.Errorf("%w: %s", err, detail)
	}
	// The tag comes first: if we die anywhere after this line, whoever
	// cleans up after us finds it and removes what we created.
	tag := node.tagPath(hash, uid)
	if err := writeJSONFile(tag, struct{}{}, cfg.FileMode); err != nil {
		return nil, err
	}
	dname := cfg.dynamicName(hash, uid)
	d, err := createDynamic(cfg, node.shm, dname, spec.caps, spec.pattern, node.id)
	if err != nil {
		os.Remove(tag)
		return nil, err
	}
	if err := writeStatic(cfg.staticPath(hash), node.dir, sc, cfg.FileMode); err != nil {
		d.close()
		node.shm.Remove(dname)
		os.Remove(tag)
		return nil, err
	}
	return startService(node, spec.name, hash, sc, d, tag, 0)
}

func joinService(node *Node, spec *serviceSpec, sc *StaticConfig) (*serviceCore, error) {
	cfg := node.config
	tag := node.tagPath(sc.Hash, sc.UID)
	if err := writeJSONFile(tag, struct{}{}, cfg.FileMode); err != nil {
		return nil, err
	}
	d, err := openDynamic(cfg, node.shm, cfg.dynamicName(sc.Hash, sc.UID), spec.capsOf(sc), spec.pattern, cfg.CreationTimeout)
	if err != nil {
		os.Remove(tag)
		return nil, err
	}
	if cfg.CleanupDeadNodesOnOpen {
		cleanupDeadNodesOf(cfg, node.shm, d, node.id)
	}
	slot, err := d.join(node.id)
	if err != nil {
		var destroying errDestroying
		if errors.As(err, &destroying) && destroying.mine {
			// The remover saw our claim and stood down; we left last.
			destroyService(cfg, node.shm, sc.Hash, sc.UID)
		}
		d.close()
		os.Remove(tag)
		return nil, err
	}
	d.bump() // the other nodes start watching us at once (liveness.go)
	return startService(node, spec.name, sc.Hash, sc, d, tag, slot)
}

func startService(node *Node, name, hash string, sc *StaticConfig, d *dynamic, tag string, slot int) (*serviceCore, error) {
	s := &serviceCore{
		node: node, name: name, hash: hash, static: sc, dyn: d, tag: tag, slot: slot,
		ports: map[port]struct{}{},
	}
	// Under roundMu: once registered, the waitpoint's token can reach the
	// dispatcher (a ring, a post), whose round reads s.wp under roundMu.
	s.roundMu.Lock()
	s.wp = node.bell.newWaitpoint(nil, s)
	s.roundMu.Unlock()
	if err := node.addService(s); err != nil {
		s.wp.close()
		s.leave()
		return nil, err
	}
	// From here on, every change of the service rings the node. (A change
	// before this point concerns no port of ours: we have none yet, and
	// each port looks at the service when it is created.)
	s.arm()
	node.live.watchPeers(s)
	return s, nil
}

// arm stores the service's token in our node slot: the next bump rings
// the node, whose dispatcher runs a round.
func (s *serviceCore) arm() {
	// SYNC POINT node-arm: before the ports' loads of changes in the round
	// that follows; paired with bump's Add of changes and its Swap of the
	// wake word (node-claim). Either the round sees the change or the bump
	// sees the token.
	s.dyn.Nodes[s.slot].Wake.Store(s.wp.token)
}

// round is what a change of the service makes the node's dispatcher do:
// arm again, let every port of the service react (connect to new peers and
// deliver them history, drop vanished ones, map new connections, reclaim
// returned chunks), run a liveness sweep if one was asked for, and wake
// the waiters of the receiving ports whose connections changed (a new
// connection may hold samples pushed before its receiver armed for it; a
// vanished server may end a response stream). It replaces the
// per-service discovery goroutine and its timer: nothing runs while
// nothing changes.
func (s *serviceCore) round() {
	s.roundMu.Lock()
	defer s.roundMu.Unlock()
	if s.stopped {
		return
	}
	s.arm()
	skipped := false
	wake := s.wake[:0]
	s.mu.Lock()
	for p := range s.ports {
		done, w := p.maintain()
		if !done {
			skipped = true
		}
		if wp := p.waitpoint(); w && wp != nil {
			wake = append(wake, wp)
		}
	}
	s.mu.Unlock()
	if s.sweep.Swap(false) {
		cleanupDeadNodesOf(s.node.config, s.node.shm, s.dyn, s.node.id)
	}
	for i, wp := range wake {
		wp.fire() // (a closed one has no waiters left)
		wake[i] = nil
	}
	s.wake = wake
	if skipped {
		s.retryLater()
	} else {
		s.retryDelay = 0
	}
	// The node slots may have changed: the node's watch over its peers
	// (liveness.go) starts or ends watching the service's other nodes.
	s.node.live.watchPeers(s)
}

// retryLater posts another round soon: a port's mutex was held (its owner
// is in a call, which may not look at the change itself, e.g. a Loan).
// The delay doubles from 1 ms to 100 ms while it keeps happening. Must be
// called with roundMu held.
func (s *serviceCore) retryLater() {
	s.retryDelay = min(max(2*s.retryDelay, time.Millisecond), 100*time.Millisecond)
	if s.retry == nil {
		s.retry = time.AfterFunc(s.retryDelay, func() { s.node.bell.post(s.wp) })
	} else {
		s.retry.Reset(s.retryDelay)
	}
}

// sweepSoon asks for a liveness sweep of the service now: the dispatcher
// runs a round with it.
func (s *serviceCore) sweepSoon() {
	s.sweep.Store(true)
	s.node.bell.post(s.wp)
}

func (s *serviceCore) addPort(p port) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.ports[p] = struct{}{}
	return nil
}

func (s *serviceCore) removePort(p port) {
	s.mu.Lock()
	delete(s.ports, p)
	s.mu.Unlock()
}

// close closes the service's ports and leaves the service; the last node
// to leave removes it. Idempotent.
func (s *serviceCore) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	// Wait for the port creations and counts in progress: they entered
	// before closed was set and use the segment until they exit (a creation
	// that registers too late closes its port itself). Every later one sees
	// closed and fails without touching the segment.
	s.users.Lock()
	s.users.Unlock()
	s.mu.Lock()
	ports := make([]port, 0, len(s.ports))
	for p := range s.ports {
		ports = append(ports, p)
	}
	s.mu.Unlock()
	// Ports first, while the rounds still run: a closing sender may wait
	// for a receiver of this service to map what it sent
	// (sender.awaitReceivers), and that receiver's maintain does it.
	var errs []error
	for _, p := range ports {
		errs = append(errs, p.closePort())
	}
	// No round from here on (one in progress ends first): nobody rings us
	// for this service any more, and its token turns stale.
	s.roundMu.Lock()
	s.stopped = true
	if s.retry != nil {
		s.retry.Stop()
	}
	s.roundMu.Unlock()
	// SYNC POINT node-disarm: nobody rings us for this service any more
	// (a bump that claimed the token first rings a stale one); paired with
	// bump's node-claim.
	s.dyn.Nodes[s.slot].Wake.CompareAndSwap(s.wp.token, 0)
	s.wp.close()
	s.node.live.forget(s) // no watchPeers(s) after this
	if s.dyn.HasDraining() {
		// Our receivers are gone: the dead senders that waited for them
		// may be finished now, before we leave (and perhaps remove the
		// service).
		cleanupDeadNodesOf(s.node.config, s.node.shm, s.dyn, s.node.id)
	}
	s.leave()
	s.node.removeService(s)
	return errors.Join(errs...)
}

func (s *serviceCore) leave() {
	cfg := s.node.config
	if s.dyn.leave(s.node.id, s.slot) {
		destroyService(cfg, s.node.shm, s.hash, s.static.UID)
	} else {
		s.dyn.bump() // w-live: the other nodes stop watching us for this service
	}
	s.dyn.close()
	os.Remove(s.tag)
}

// destroyService removes a service whose last node has left: first the
// static config (so that nobody opens it any more), then the dynamic
// segment. Both steps are idempotent.
func destroyService(cfg *Config, p shm.Provider, hash, uid string) {
	path := cfg.staticPath(hash)
	if sc, err := readStatic(path, hash); err == nil && sc.UID == uid {
		os.Remove(path)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		// A corrupted static config with our hash: it cannot be opened by
		// anyone, so it goes too.
		os.Remove(path)
	}
	p.Remove(cfg.dynamicName(hash, uid))
}

// shmPlace says where cfg's nodes keep their segments, for errors.
func shmPlace(cfg *Config) string {
	if cfg.InProcess {
		return "this process's memory (Config.InProcess)"
	}
	return cfg.ShmDir
}

// shmElsewhere says, for errors, where the segments of a service of cfg's
// domain are when they are not where cfg's nodes look.
func shmElsewhere(cfg *Config) string {
	if cfg.InProcess {
		return "in " + cfg.ShmDir + " (nodes without Config.InProcess) or in the memory of another process"
	}
	return "in the memory of their process (nodes with Config.InProcess) or in another ShmDir"
}
