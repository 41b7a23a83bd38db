package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/shm"
)

// CleanupState reports what a cleanup did.
type CleanupState struct {
	Cleanups       int // dead nodes whose resources were removed
	FailedCleanups int // dead nodes that could not be cleaned (yet)
}

// CleanupDeadNodes removes everything that the dead nodes of cfg's domain
// left behind: their ports (the chunks their subscribers held go back to the
// publishers' pools), their services if they were the last node, their
// files. A cleanup that a crash interrupted resumes where it stopped.
// A node that another process is cleaning at the moment is skipped.
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
		case failed:
			st.FailedCleanups++
		}
	}
	removeStaleLockTemps(cfg)
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
		return failed
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
	deadPubs := removePortsOf(cfg, p, d, id)
	if d.hdr.pattern == uint32(PatternEvent) {
		notifyDeadNotifiers(cfg, p, d, hash, uid, deadPubs)
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
// removed.
//
// In a request-response service every port (client or server) both sends
// and receives: each has a data segment and connections from and to it.
func removePortsOf(cfg *Config, p shm.Provider, d *dynamic, id ID) (pubs int) {
	event := d.hdr.pattern == uint32(PatternEvent)
	reqres := d.hdr.pattern == uint32(PatternRequestResponse)
	changed := false
	for i := range d.pubs {
		s := &d.pubs[i]
		if s.node.Load() != uint64(id) {
			continue
		}
		if pid := ID(s.id.Load()); pid != 0 && !event {
			p.Remove(cfg.dataName(pid))
			removeConnections(cfg, p, pid, 0)
			if reqres {
				removeConnections(cfg, p, 0, pid)
			}
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
				p.Remove(cfg.dataName(sid)) // a server's responses
				removeConnections(cfg, p, sid, 0)
				removeConnections(cfg, p, 0, sid)
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
	return pubs
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
			removePortsOf(cfg, p, d, id)
			d.leave(id, true) // never the last: the caller is registered
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
