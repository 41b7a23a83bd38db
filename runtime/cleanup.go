package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/internal/futex"
	"github.com/iox2go/iox2go/runtime/ring"
	"github.com/iox2go/iox2go/runtime/shm"
)

// CleanupState reports what a cleanup did.
type CleanupState struct {
	Cleanups int // dead nodes whose resources were removed
	// FailedCleanups counts the dead nodes that could not be cleaned
	// (yet): another process is cleaning them, permissions, or a sender of
	// theirs delivered samples that a live receiver has not mapped yet
	// (those stay until it has; see docs/ARCHITECTURE.md, "Liveness and
	// cleanup").
	FailedCleanups int
	// CorruptServices counts the corrupted services that no node held and
	// that the cleanup removed (see ListCorruptServices).
	CorruptServices int
}

// CleanupDeadNodes removes everything that the dead nodes of cfg's domain
// left behind: their ports (the chunks their subscribers held go back to the
// publishers' pools), their services if they were the last node, their
// files. A cleanup that a crash interrupted resumes where it stopped.
// A node that another process is cleaning at the moment is skipped.
//
// It then removes the corrupted services of the domain that no node holds
// (see ListCorruptServices): nobody can open them, and they would make
// every later creation of their name fail with ErrServiceCorrupted.
//
// A nil cfg stands for FindConfig's configuration; when the configuration
// file is invalid, for DefaultConfig (CleanupDeadNodes cannot report the
// error; a node could not be created with that file anyway).
func CleanupDeadNodes(cfg *Config) CleanupState {
	cfg = foundConfigOr(cfg)
	p := cfg.provider()
	var st CleanupState
	for _, id := range listNodeIDs(cfg) {
		switch cleanupNode(cfg, p, id) {
		case cleaned:
			st.Cleanups++
		case failed, draining:
			st.FailedCleanups++
		}
	}
	removeStaleLockTemps(cfg)
	st.CorruptServices = removeCorruptServices(cfg, p)
	return st
}

// CleanupDeadNodes removes what dead nodes of the node's domain left behind.
func (n *Node) CleanupDeadNodes() CleanupState { return CleanupDeadNodes(n.config) }

// listNodeIDs returns the IDs of the domain's nodes, from their lock files.
func listNodeIDs(cfg *Config) []ID {
	ents, err := os.ReadDir(cfg.nodesDir())
	if err != nil {
		return nil
	}
	var ids []ID
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, cfg.Prefix) {
			continue
		}
		rest := name[len(cfg.Prefix):]
		idStr, ok := strings.CutSuffix(rest, ".lock")
		if !ok {
			// A node directory without a lock file: the lock was removed
			// last by a cleaner that then died, or never renamed in place.
			if fi, err := e.Info(); err == nil && fi.IsDir() {
				if id, err := parseID(rest); err == nil {
					if _, err := os.Stat(cfg.nodeLockPath(id)); errors.Is(err, os.ErrNotExist) {
						ids = append(ids, id)
					}
				}
			}
			continue
		}
		if id, err := parseID(idStr); err == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

func parseID(s string) (ID, error) {
	if len(s) != 16 {
		return 0, strconv.ErrSyntax
	}
	v, err := strconv.ParseUint(s, 16, 64)
	return ID(v), err
}

// removeStaleLockTemps removes the temporary lock files of nodes that died
// while being created (a live creator holds the lock on its temp file).
func removeStaleLockTemps(cfg *Config) {
	matches, _ := filepath.Glob(filepath.Join(cfg.nodesDir(), cfg.Prefix+"*.lock.tmp"))
	for _, m := range matches {
		if st, err := shm.Probe(m); err == nil && st == shm.Dead {
			os.Remove(m)
		}
	}
}

type cleanupResult int

const (
	notDead cleanupResult = iota
	cleaned
	failed
	// draining: the node's cleanup waits for live receivers to map what
	// its senders delivered (see slotDraining); it counts as not cleaned
	// (yet).
	draining
)

// NodeState is the liveness of a node as seen from another process.
type NodeState int

const (
	NodeAlive        NodeState = iota // its process holds the node's lock
	NodeDead                          // its files exist, nobody holds the lock
	NodeInaccessible                  // its files cannot be read (permissions)
	NodeMissing                       // no such node
)

func (s NodeState) String() string {
	return [...]string{"alive", "dead", "inaccessible", "missing"}[s]
}

func nodeState(cfg *Config, id ID) NodeState {
	st, err := shm.Probe(cfg.nodeLockPath(id))
	switch {
	case err != nil && (errors.Is(err, os.ErrPermission) || errors.Is(err, shm.ErrPermission)):
		return NodeInaccessible
	case err != nil:
		return NodeInaccessible
	case st == shm.Alive:
		return NodeAlive
	case st == shm.Dead:
		return NodeDead
	}
	if _, err := os.Stat(cfg.nodeDir(id)); err == nil {
		return NodeDead // directory left by an interrupted cleanup
	}
	return NodeMissing
}

// cleanupNode removes the resources of node id if it is dead.
func cleanupNode(cfg *Config, p shm.Provider, id ID) cleanupResult {
	if nodeState(cfg, id) != NodeDead {
		return notDead
	}
	cpath := cfg.cleanerPath(id)
	cl, err := shm.AcquireLock(cpath, cfg.FileMode)
	if err != nil {
		return failed // another process is cleaning it, or no permission
	}
	defer func() {
		os.Remove(cpath)
		cl.Release()
	}()
	// Someone may have finished the job between our probe and our lock.
	if nodeState(cfg, id) != NodeDead {
		return notDead
	}
	dir := cfg.nodeDir(id)
	tags, _ := filepath.Glob(filepath.Join(dir, "*.svc"))
	ok := true
	for _, t := range tags {
		hash, rest, found := strings.Cut(strings.TrimSuffix(filepath.Base(t), ".svc"), "_")
		uid, _, _ := strings.Cut(rest, "_")
		if !found {
			os.Remove(t)
			continue
		}
		if cleanupServiceOfNode(cfg, p, hash, uid, id) {
			os.Remove(t)
		} else {
			ok = false
		}
	}
	if !ok {
		// A live receiver has not yet mapped what one of the node's
		// senders delivered to it: the node stays, dead, until it has
		// (or is gone), and the next cleanup finishes.
		return draining
	}
	os.RemoveAll(dir)
	os.Remove(cfg.nodeLockPath(id))
	return cleaned
}

// cleanupServiceOfNode removes dead node id's ports from incarnation uid of
// the service with hash, and the service itself if id was its last node.
// It reports whether the tag can go.
func cleanupServiceOfNode(cfg *Config, p shm.Provider, hash, uid string, id ID) bool {
	dname := cfg.dynamicName(hash, uid)
	d, err := openDynamicAny(p, dname, cfg)
	if errors.Is(err, shm.ErrNotExist) || errors.Is(err, shm.ErrNotInitialized) {
		// Never finished creating, or already removed: remove what is left.
		p.Remove(dname)
		cleanupOrphanStatic(cfg, p, cfg.staticPath(hash), hash, uid)
		return true
	}
	if err != nil {
		// Garbage: nobody can use it. Remove it and the static config.
		p.Remove(dname)
		destroyService(cfg, p, hash, uid)
		return true
	}
	defer d.close()
	deadPubs, pending := removePortsOf(cfg, p, d, id)
	if d.hdr.pattern == uint32(PatternEvent) {
		notifyDeadNotifiers(cfg, p, d, hash, uid, deadPubs)
	}
	if pending {
		// The node stays registered (so the service, which a live
		// receiver holds anyway, stays too) and its tag stays: the
		// next cleanup of the node looks again.
		return false
	}
	if d.leave(id, true) {
		destroyService(cfg, p, hash, uid)
	} else if who := d.hdr.destroyer.Load(); who == uint64(id) {
		destroyService(cfg, p, hash, uid)
	}
	return true
}

// removePortsOf frees node id's port slots and deletes their files. Live
// ports of the other nodes see the change and drop their connections. It
// returns the number of publishers (notifiers, for an event service) it
// removed, and whether some are left draining.
//
// In a request-response service every port (client or server) both sends
// and receives: each has a data segment and connections from and to it.
//
// A dead sender's slot is freed and its files deleted only when no live
// receiver still needs them (retireSender): a receiver that has not mapped
// a connection holding samples for it would lose them, although each Send
// reported it reached. Such a sender's slot is left draining instead and
// pending is set; a later call (the next cleanup of the node) finishes.
func removePortsOf(cfg *Config, p shm.Provider, d *dynamic, id ID) (pubs int, pending bool) {
	event := d.hdr.pattern == uint32(PatternEvent)
	reqres := d.hdr.pattern == uint32(PatternRequestResponse)
	changed := false
	// retire removes the files of sender slot s (port sid, sending to the
	// receivers in slots) and reports true if nobody needs them any more;
	// else it leaves the slot draining. A slot that never turned active
	// has no receiver; one that drained for drainTimeout is given up.
	retire := func(s *portSlot, sid ID, receivers []portSlot) bool {
		if sid == 0 {
			return true
		}
		st := s.state.Load()
		all := st == slotFree || st == slotDraining && drainExpired(s)
		if retireSender(cfg, p, sid, receivers, all) {
			return true
		}
		pending = true
		if drain(s, id, futex.Now()+int64(drainTimeout(cfg))) {
			changed = true
		}
		return false
	}
	for i := range d.pubs {
		s := &d.pubs[i]
		if s.node.Load() != uint64(id) {
			continue
		}
		pid := ID(s.id.Load())
		if reqres && pid != 0 {
			removeConnections(cfg, p, 0, pid) // the servers' responses to it
		}
		if !event && !retire(s, pid, d.subs) {
			continue
		}
		if s.state.Load() == slotActive {
			pubs++
		}
		release(s, id)
		changed = true
	}
	for i := range d.subs {
		s := &d.subs[i]
		if s.node.Load() != uint64(id) {
			continue
		}
		if sid := ID(s.id.Load()); sid != 0 {
			switch {
			case event:
				p.Remove(cfg.eventName(sid)) // a listener's event segment
			case reqres:
				removeConnections(cfg, p, 0, sid) // the clients' requests to it
				if !retire(s, sid, d.pubs) {      // its responses
					continue
				}
			default:
				removeConnections(cfg, p, 0, sid)
			}
		}
		release(s, id)
		changed = true
	}
	if changed {
		d.bump()
	}
	return pubs, pending
}

// retireSender deletes the connections of dead sender sid that no live
// receiver needs (all of them with all) and, if none is left, its data
// segment; it reports whether none is left. receivers are the slots of the
// ports it sends to.
func retireSender(cfg *Config, p shm.Provider, sid ID, receivers []portSlot, all bool) bool {
	names, _ := p.List(cfg.Prefix + sid.String() + "_")
	done := true
	for _, n := range names {
		if !strings.HasSuffix(n, ".connection") {
			continue
		}
		if !all && connectionNeeded(cfg, p, n, sid, receivers) {
			done = false
			continue
		}
		p.Remove(n)
	}
	if done {
		p.Remove(cfg.dataName(sid))
	}
	return done
}

// drainTimeout bounds how long a dead sender's files are kept for a live
// receiver that does not map them (a stopped process, or one that cannot
// map them): four times the longest that a closing sender waits for its
// receivers to do the same (awaitReceivers). A receiver maps them within
// a wake-up of its discovery goroutine, so only a stuck one reaches it.
func drainTimeout(cfg *Config) time.Duration { return 4 * cfg.CreationTimeout }

// connectionNeeded reports whether connection name, from dead sender sid,
// holds samples that a live receiver has not yet mapped: it is published,
// not attached, one of its submission queues is not empty, and its
// receiver is still in one of receivers, active, in a node that is not
// known dead. Anything unreadable (never published, garbage) is not
// needed: no receiver could read it either.
//
// The answer only ever turns from true to false: attached is set once,
// queues that nobody has mapped do not fill, and a port ID is never
// reused.
func connectionNeeded(cfg *Config, p shm.Provider, name string, sid ID, receivers []portSlot) bool {
	seg, err := shm.OpenReady(p, name, kindConnection, layoutVersion, false, 0)
	if err != nil {
		return false
	}
	defer seg.Close()
	b := seg.Bytes()
	if len(b) < shm.HeaderSize+int(unsafe.Sizeof(connHeader{})) {
		return false
	}
	h := connHeaderOf(b)
	// SYNC POINT attached: paired with the receiver's store in connect.
	if h.attached.Load() != 0 || h.sender != uint64(sid) {
		return false
	}
	l := newConnLayout(h.channels, h.submissionCap, h.completionCap)
	if !l.valid() || l.size != len(b) {
		return false
	}
	empty := true
	for ch := range int(l.channels) {
		q, err := ring.AttachQueue(l.sub(b, ch), l.subCap)
		if err != nil {
			return false
		}
		if !q.IsEmpty() {
			empty = false
			break
		}
	}
	if empty {
		return false
	}
	rid := ID(h.receiver)
	for i := range receivers {
		if pi, ok := snapshot(&receivers[i]); ok && pi.id == rid {
			switch nodeState(cfg, pi.node) {
			case NodeDead, NodeMissing:
				return false
			}
			return true
		}
	}
	return false
}

// removeConnections deletes the connection segments from sender `from` (if
// not 0) or to receiver `to` (if not 0).
func removeConnections(cfg *Config, p shm.Provider, from, to ID) {
	if from != 0 {
		names, _ := p.List(cfg.Prefix + from.String() + "_")
		for _, n := range names {
			if strings.HasSuffix(n, ".connection") {
				p.Remove(n)
			}
		}
		return
	}
	names, _ := p.List(cfg.Prefix)
	suffix := "_" + to.String() + ".connection"
	for _, n := range names {
		if strings.HasSuffix(n, suffix) {
			p.Remove(n)
		}
	}
}

// cleanupDeadNodesOf cleans up after the dead nodes registered in d.
//
// A registered node that has no files at all any more was cleaned up
// without this service (its tag lost): its ports and registration here are
// removed directly.
func cleanupDeadNodesOf(cfg *Config, p shm.Provider, d *dynamic) {
	for _, id := range d.nodeIDs() {
		if cleanupNode(cfg, p, id) == notDead && nodeState(cfg, id) == NodeMissing {
			if _, pending := removePortsOf(cfg, p, d, id); !pending {
				d.leave(id, true) // never the last: the caller is registered
			}
		}
	}
}

// cleanupOrphanStatic removes a static config whose dynamic segment is gone
// and whose incarnation no live node has open.
func cleanupOrphanStatic(cfg *Config, p shm.Provider, path, hash, uid string) {
	sc, err := readStatic(path, hash)
	if err != nil || sc.UID != uid {
		return
	}
	if _, err := openDynamicAny(p, cfg.dynamicName(hash, uid), cfg); errors.Is(err, shm.ErrNotExist) {
		os.Remove(path)
	}
}

// openDynamicAny opens a dynamic config whose capacities the caller does not
// know (a cleaner): it takes them from the header and checks them against
// the segment's size.
func openDynamicAny(p shm.Provider, name string, cfg *Config) (*dynamic, error) {
	seg, err := shm.OpenReady(p, name, kindDynamic, layoutVersion, true, cfg.CreationTimeout)
	if err != nil {
		return nil, err
	}
	b := seg.Bytes()
	if len(b) < dynHeaderOffset+int(unsafe.Sizeof(dynHeader{})) {
		seg.Close()
		return nil, ErrServiceCorrupted
	}
	h := (*dynHeader)(unsafe.Pointer(&b[dynHeaderOffset]))
	caps := dynCaps{int(h.maxNodes), int(h.maxPublishers), int(h.maxSubscribers)}
	if !caps.valid() {
		seg.Close()
		return nil, ErrServiceCorrupted
	}
	d, err := layDynamic(seg, caps)
	if err != nil {
		seg.Close()
		return nil, err
	}
	return d, nil
}

// CorruptService is a service of a domain that no process can open: its
// static config cannot be decoded or does not describe the service it is
// named after, or its dynamic segment has a bad header (magic, layout
// version, kind, size or capacities that disagree with the static config),
// or the dynamic segment is gone. Every open, and every creation, of its
// name fails (with ErrServiceCorrupted) until its files are removed.
//
// A service whose static config was written by another iox2go version is
// never reported (that version may read it), nor one whose dynamic segment
// is not published yet: its creator may still be at work.
type CorruptService struct {
	Hash    string   // names the service's files
	Name    string   // from the static config; "" when it cannot be decoded
	Pattern string   // likewise
	Reason  string   // what is wrong
	Files   []string // the static config and the dynamic segment(s), as paths
	// HeldBy lists the nodes (in any state) whose directory records that
	// they have the service open, or are creating or opening it. A service
	// that a node holds is left alone: that node may be creating it, or
	// use it still. A dead node's cleanup removes its hold.
	HeldBy []ID
}

// ListCorruptServices returns the corrupted services of cfg's domain,
// sorted by hash. CleanupDeadNodes removes those that no node holds.
// A nil cfg stands for FindConfig's configuration; FindConfig's error (an
// invalid configuration file) is returned.
func ListCorruptServices(cfg *Config) ([]CorruptService, error) {
	cfg, ents, err := serviceEntries(cfg)
	if err != nil || len(ents) == 0 {
		return nil, err
	}
	p := cfg.provider()
	holders, _ := serviceHolders(cfg)
	var out []CorruptService
	for _, e := range ents {
		hash, ok := staticHash(cfg, e.Name())
		if !ok {
			continue
		}
		if c := judgeService(cfg, p, hash); c != nil {
			c.HeldBy = holders[hash]
			out = append(out, c.CorruptService)
		}
	}
	return out, nil
}

// corruptService is a CorruptService with what its removal checks again.
type corruptService struct {
	CorruptService
	static   []byte   // the static config as judged; nil when there was none
	dynamics []string // the segment names of Files
}

// staticHash returns the service hash of a file name of the services
// directory, and whether it is a static config of cfg's domain.
func staticHash(cfg *Config, name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, cfg.Prefix)
	if !ok {
		return "", false
	}
	hash, ok := strings.CutSuffix(rest, ".service")
	if !ok || len(hash) != 32 || strings.Trim(hash, "0123456789abcdef") != "" {
		return "", false
	}
	return hash, true
}

// serviceHolders returns, per service hash, the nodes whose directory has a
// tag of the service (tagPath): the nodes that have the service open or
// are creating or opening it. A node writes its tag before it creates or
// opens anything of the service and removes it after it let go of
// everything. complete is false when a node directory could not be read:
// then any service may be held.
func serviceHolders(cfg *Config) (holders map[string][]ID, complete bool) {
	holders = map[string][]ID{}
	ents, err := os.ReadDir(cfg.nodesDir())
	if errors.Is(err, os.ErrNotExist) {
		return holders, true
	}
	if err != nil {
		return holders, false
	}
	complete = true
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), cfg.Prefix)
		if !ok || !e.IsDir() {
			continue
		}
		id, err := parseID(rest)
		if err != nil {
			continue
		}
		tags, err := os.ReadDir(filepath.Join(cfg.nodesDir(), e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue // the node went away
		}
		if err != nil {
			complete = false
			continue
		}
		for _, t := range tags {
			if !strings.HasSuffix(t.Name(), ".svc") {
				continue
			}
			hash, _, _ := strings.Cut(t.Name(), "_")
			if hs := holders[hash]; len(hs) == 0 || hs[len(hs)-1] != id {
				holders[hash] = append(hs, id)
			}
		}
	}
	return holders, complete
}

// judgeService returns the service with hash if it is corrupted, else nil.
//
// It never waits: a dynamic segment that is not published yet is not
// corrupted, whatever the creation timeout (a creator publishes the
// segment before it writes the static config, so a service with a static
// config and an unpublished segment is a mystery, left alone).
func judgeService(cfg *Config, p shm.Provider, hash string) *corruptService {
	path := cfg.staticPath(hash)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil // gone, or not ours to read
	}
	c := &corruptService{CorruptService: CorruptService{Hash: hash}, static: b}
	sc, reason := decodeStatic(b, hash)
	if sc != nil {
		c.Name, c.Pattern = sc.Name, sc.Pattern
		if sc.Version != Version {
			return nil // another version's service: not ours to judge
		}
	}
	if reason != "" {
		// The static config is garbage: its incarnation is unknown, so
		// every dynamic segment of the service goes with it. (A creator
		// that is making one right now holds the service: see
		// removeCorrupt.)
		c.Reason = "static config: " + reason
		c.Files = append(c.Files, path)
		names, _ := p.List(cfg.Prefix + hash + "_")
		for _, n := range names {
			if strings.HasSuffix(n, ".dynamic") {
				c.dynamics = append(c.dynamics, n)
				c.Files = append(c.Files, filepath.Join(cfg.ShmDir, n))
			}
		}
		return c
	}
	pattern, caps, _ := staticShape(sc)
	dname := cfg.dynamicName(hash, sc.UID)
	d, err := openDynamic(p, dname, caps, pattern, 0)
	switch {
	case err == nil:
		d.close()
		return nil
	case errors.Is(err, shm.ErrNotExist):
		c.Reason = "static config without its dynamic segment " + dname
		c.Files = []string{path}
		return c
	case errors.Is(err, ErrServiceCorrupted), errors.Is(err, shm.ErrCorrupt),
		errors.Is(err, shm.ErrVersionMismatch), errors.Is(err, shm.ErrWrongKind):
		c.Reason = "dynamic segment: " + err.Error()
		c.Files = []string{path, filepath.Join(cfg.ShmDir, dname)}
		c.dynamics = []string{dname}
		return c
	}
	return nil // not published yet, no permission, ...: not corrupted
}

// decodeStatic decodes static config b of the service with hash, as
// readStatic does, and checks that it describes a service of this hash
// with capacities a dynamic segment can have. reason says what is wrong
// with it; sc is set whenever b decodes.
func decodeStatic(b []byte, hash string) (sc *StaticConfig, reason string) {
	sc = new(StaticConfig)
	if err := json.Unmarshal(b, sc); err != nil {
		return nil, err.Error()
	}
	if sc.Hash != hash {
		return sc, fmt.Sprintf("it describes service hash %q", sc.Hash)
	}
	if sc.Version != Version {
		return sc, "" // another version's format: not judged
	}
	pattern, _, ok := staticShape(sc)
	if !ok {
		return sc, fmt.Sprintf("no valid %s section", sc.Pattern)
	}
	if serviceHash(sc.Name, pattern) != hash {
		return sc, fmt.Sprintf("it describes %s %q, which is not the service it is named after", sc.Pattern, sc.Name)
	}
	if len(sc.UID) != 16 || strings.Trim(sc.UID, "0123456789abcdef") != "" {
		return sc, fmt.Sprintf("invalid uid %q", sc.UID)
	}
	return sc, ""
}

// staticShape returns the pattern and the dynamic segment's capacities of
// the service sc describes; ok is false when sc has no valid ones.
func staticShape(sc *StaticConfig) (p Pattern, caps dynCaps, ok bool) {
	switch {
	case sc.Pattern == PatternPublishSubscribe.String() && sc.PublishSubscribe != nil:
		ps := sc.PublishSubscribe
		p, caps = PatternPublishSubscribe, dynCaps{nodes: ps.MaxNodes, pubs: ps.MaxPublishers, subs: ps.MaxSubscribers}
	case sc.Pattern == PatternEvent.String() && sc.Event != nil:
		es := sc.Event
		p, caps = PatternEvent, dynCaps{nodes: es.MaxNodes, pubs: es.MaxNotifiers, subs: es.MaxListeners}
	case sc.Pattern == PatternRequestResponse.String() && sc.RequestResponse != nil:
		rs := sc.RequestResponse
		p, caps = PatternRequestResponse, dynCaps{nodes: rs.MaxNodes, pubs: rs.MaxClients, subs: rs.MaxServers}
	default:
		return 0, dynCaps{}, false
	}
	return p, caps, caps.valid()
}

// removeCorruptServices removes the corrupted services of cfg's domain
// that no node holds and returns how many it removed. Only services that
// no node held when it began are examined: a healthy service always has a
// holder, so this costs a directory listing per node when nothing is wrong.
func removeCorruptServices(cfg *Config, p shm.Provider) int {
	holders, complete := serviceHolders(cfg)
	if !complete {
		return 0
	}
	ents, err := os.ReadDir(cfg.servicesDir())
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		hash, ok := staticHash(cfg, e.Name())
		if !ok || len(holders[hash]) > 0 {
			continue
		}
		if c := judgeService(cfg, p, hash); c != nil && removeCorrupt(cfg, p, c) {
			n++
		}
	}
	return n
}

// removeCorrupt removes the files of corrupted service c unless a node
// holds it now, and reports whether it did.
//
// The holders are looked up after c was judged, and every creator and
// opener writes its tag before it creates or opens anything: a dynamic
// segment that c lists and a creator is still making shows up as held
// here. The static config is removed only if it is still the one judged
// (a new incarnation has another uid), first, as destroyService does; the
// dynamic segments are named by their incarnation, never reused.
func removeCorrupt(cfg *Config, p shm.Provider, c *corruptService) bool {
	holders, complete := serviceHolders(cfg)
	if !complete || len(holders[c.Hash]) > 0 {
		return false
	}
	path := cfg.staticPath(c.Hash)
	if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, c.static) {
		os.Remove(path)
	}
	for _, n := range c.dynamics {
		p.Remove(n)
	}
	return true
}
