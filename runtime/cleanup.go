package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/internal/futex"
	"github.com/iox2go/iox2go/runtime/internal/protocol"
	"github.com/iox2go/iox2go/runtime/ring"
	"github.com/iox2go/iox2go/runtime/shm"
)

// CleanupState reports what a cleanup did: what became of every node that
// was dead when it looked, and how many corrupted services it removed.
//
// Every node in Nodes has exactly one outcome, and the five counts add up
// to len(Nodes). A node that another cleaner removed first is not a
// failure: it is gone, as the caller wanted.
type CleanupState struct {
	Cleanups        int // dead nodes whose resources this cleanup removed
	CleanedByOthers int // dead nodes that another cleaner removed first (CleanupDoneByOther)
	InProgress      int // dead nodes that another cleaner was still cleaning when this cleanup stopped waiting (CleanupInProgress)
	// Draining counts the dead nodes whose senders had delivered samples
	// that a live receiver had still not mapped when this cleanup stopped
	// waiting (CleanupDraining): their files stay until it has, or is
	// gone, or the drain's bound passed (see docs/ARCHITECTURE.md,
	// "Liveness and cleanup"); a later cleanup removes them.
	Draining       int
	FailedCleanups int // dead nodes that could not be cleaned: an error, see Nodes (CleanupFailed)
	// CorruptServices counts the corrupted services that no node held and
	// that the cleanup removed (see ListCorruptServices).
	CorruptServices int
	// Nodes lists the dead nodes with their outcome, in the order the
	// outcomes were settled (those that another cleaner held come last).
	Nodes []NodeCleanup
}

// Complete reports whether every node that was dead when the cleanup
// looked is gone: none is still being cleaned by another cleaner and none
// failed.
func (s CleanupState) Complete() bool {
	return s.InProgress == 0 && s.Draining == 0 && s.FailedCleanups == 0
}

// Err returns nil when the cleanup is complete, else an error that names
// every dead node left and why (the nodes' Err, joined).
func (s CleanupState) Err() error {
	var errs []error
	for _, n := range s.Nodes {
		if n.Err != nil {
			errs = append(errs, n.Err)
		}
	}
	return errors.Join(errs...)
}

// NodeCleanup is what a cleanup did with one dead node.
type NodeCleanup struct {
	ID      ID
	Outcome CleanupOutcome
	// Cleaner is who held the node's cleaner lock (CleanupInProgress):
	// its process and node, zero where it did not record them (an older
	// iox2go, or a cleaner that had only just taken the lock).
	Cleaner Cleaner
	// Err says what went wrong (CleanupFailed, wrapping the system error,
	// e.g. fs.ErrPermission) or wraps ErrCleanupInProgress; nil otherwise.
	Err error
}

// CleanupOutcome is what became of a dead node in a cleanup.
type CleanupOutcome int

const (
	// CleanupDone: this cleanup removed the node's resources.
	CleanupDone CleanupOutcome = iota + 1
	// CleanupDoneByOther: another cleaner (another process, or another
	// goroutine of this one, such as a node's watch over its peers)
	// removed them, while this cleanup waited for it or just before.
	CleanupDoneByOther
	// CleanupInProgress: another cleaner still held the node's cleaner lock
	// when this cleanup stopped waiting (see CleanupDeadNodes); the node's
	// files may still exist. NodeCleanup.Cleaner says who.
	CleanupInProgress
	// CleanupFailed: an error stopped the cleanup (permissions, I/O);
	// NodeCleanup.Err says which. A later cleanup tries again.
	CleanupFailed
	// CleanupDraining: the node's senders had delivered samples that a
	// live receiver had still not mapped when this cleanup stopped
	// waiting; they stay readable for it until it has, closes or dies,
	// at most 4 × Config.CreationTimeout from the first cleanup that
	// found them (see docs/ARCHITECTURE.md, "Liveness and cleanup"). A
	// later cleanup removes the node. NodeCleanup.Err wraps
	// ErrCleanupInProgress.
	CleanupDraining
)

func (o CleanupOutcome) String() string {
	switch o {
	case CleanupDone:
		return "removed"
	case CleanupDoneByOther:
		return "removed by another cleaner"
	case CleanupInProgress:
		return "being cleaned by another cleaner"
	case CleanupFailed:
		return "failed"
	case CleanupDraining:
		return "kept for receivers"
	}
	return "CleanupOutcome(" + strconv.Itoa(int(o)) + ")"
}

// Cleaner identifies who cleans up a dead node: the process and, when the
// cleanup runs for a node (Node.CleanupDeadNodes, the node's watch over
// its peers, a node's creation or close), that node. CleanupDeadNodes with a
// Config, and iox2 clean, run without a node.
type Cleaner struct {
	PID  int // 0 when unknown
	Node ID  // 0 when unknown or none
}

func (c Cleaner) String() string {
	switch {
	case c.PID == 0:
		return "an unknown cleaner"
	case c.Node == 0:
		return fmt.Sprintf("pid %d", c.PID)
	}
	return fmt.Sprintf("pid %d (node %s)", c.PID, c.Node)
}

// cleanerWait bounds how long CleanupDeadNodes waits, in all, for other
// cleaners to finish the dead nodes they hold. A cleaner normally needs
// milliseconds; it may wait up to CreationTimeout itself for a service
// segment whose creator died, and a loaded machine stretches all of it:
// four creation timeouts leave room for that. A cleaner that dies drops its
// lock at once, so only a live but stuck one (stopped, say) reaches the
// bound.
func cleanerWait(cfg *Config) time.Duration { return 4 * cfg.CreationTimeout }

// CleanupDeadNodes removes everything that the dead nodes of cfg's domain
// left behind: their ports (the chunks their subscribers held go back to the
// publishers' pools), their services if they were the last node, their
// files. A cleanup that a crash interrupted resumes where it stopped.
//
// The contract: when CleanupDeadNodes returns, every node that was dead
// when it was called is gone, or the returned state names it (in Nodes)
// with the reason: still being cleaned by another cleaner, and by whom;
// kept because its senders delivered samples that a live receiver has not
// mapped yet (CleanupDraining); or an error. Complete reports whether all
// are gone; Err names those left.
// Only one cleaner works on a dead node at a time (it holds the node's
// cleaner lock, an flock that the kernel drops if the cleaner dies). When
// another cleaner holds it (another process, or in this process a node's
// watch over its peers), CleanupDeadNodes first cleans the other dead
// nodes, then waits for that cleaner, in all for up to 4 ×
// Config.CreationTimeout (2 s by default): a node that the other cleaner
// removed meanwhile counts as CleanupDoneByOther, not as a failure; a node
// that it left dead (it failed, or died) is cleaned here. A draining node is
// waited for the same way, for up to Config.CreationTimeout: its receivers
// normally map what it sent within a discovery round, so that only a
// receiver that does not run for that long (a stopped process, a goroutine
// that holds the port) leaves it CleanupDraining; what it sent stays
// readable for that receiver until the drain's own bound, 4 ×
// CreationTimeout. Nodes that die
// while CleanupDeadNodes runs may or may not be cleaned; nodes whose lock
// file cannot be read (permissions) are not judged dead, as in ListNodes.
//
// It then removes the corrupted services of the domain that no node holds
// (see ListCorruptServices): nobody can open them, and they would make
// every later creation of their name fail with ErrServiceCorrupted.
//
// A nil cfg stands for FindConfig's configuration; when the configuration
// file is invalid, for DefaultConfig (CleanupDeadNodes cannot report the
// error; a node could not be created with that file anyway).
//
// A node's creation and close (with Config.CleanupDeadNodesOnCreation and
// CleanupDeadNodesOnDestruction) clean up the same way but do not wait for
// other cleaners.
func CleanupDeadNodes(cfg *Config) CleanupState {
	return cleanupDeadNodes(foundConfigOr(cfg), 0, true)
}

// CleanupDeadNodes removes what dead nodes of the node's domain left
// behind, as the function CleanupDeadNodes does, with n as the cleaner.
func (n *Node) CleanupDeadNodes() CleanupState { return cleanupDeadNodes(n.config, n.id, true) }

// cleanupDeadNodes is CleanupDeadNodes for cleaner node self (0 for none);
// it waits for other cleaners if wait is set.
func cleanupDeadNodes(cfg *Config, self ID, wait bool) CleanupState {
	p := cfg.filesProvider()
	var st CleanupState
	var left []unfinished // held by another cleaner, or draining
	for _, id := range listNodeIDs(cfg) {
		r, err := cleanupNode(cfg, p, id, self)
		if r == busyElsewhere || r == draining {
			left = append(left, unfinished{id, r, err})
			continue
		}
		st.add(id, r, err, Cleaner{})
	}
	if len(left) > 0 && wait {
		left = waitForCleaners(cfg, p, left, self, &st)
	}
	for _, u := range left {
		if u.r == draining {
			st.add(u.id, draining, u.err, Cleaner{})
			continue
		}
		holder := readCleaner(cfg.cleanerPath(u.id))
		st.add(u.id, busyElsewhere, fmt.Errorf("iox2: clean up dead node %s: %w: its cleaner lock is held by %s", u.id, ErrCleanupInProgress, holder), holder)
	}
	removeStaleLockTemps(cfg)
	removeStaleCleanerLocks(cfg)
	st.CorruptServices = removeCorruptServices(cfg, p)
	return st
}

// unfinished is a dead node that a cleanup could not finish yet: r is
// busyElsewhere or draining, err the error that came with it.
type unfinished struct {
	id  ID
	r   cleanupResult
	err error
}

// waitForCleaners waits until the dead nodes left, which other cleaners
// hold or whose senders drain, are gone or cleaned here, or until it gives
// up on them: on a held node after cleanerWait, on a draining one after
// CreationTimeout (its receivers normally map what it sent within a
// discovery round; waiting longer would only wait for its drain's bound,
// 4 × CreationTimeout, to pass, and then remove what a slow receiver was
// still to get). It records the outcomes in st and returns the nodes given
// up on.
//
// It polls: a cleaner that dies drops its flock without any event to wait
// for, and a blocking flock could not be given up at the deadline. The
// poll backs off to 10 ms, a small delay next to a cleanup's work.
func waitForCleaners(cfg *Config, p shm.Provider, left []unfinished, self ID, st *CleanupState) []unfinished {
	start := time.Now()
	heldUntil, drainUntil := start.Add(cleanerWait(cfg)), start.Add(cfg.CreationTimeout)
	pause := 100 * time.Microsecond
	var gaveUp []unfinished
	for {
		now := time.Now()
		next := left[:0]
		for _, u := range left {
			if u.r == draining && !now.Before(drainUntil) || u.r != draining && !now.Before(heldUntil) {
				gaveUp = append(gaveUp, u)
				continue
			}
			next = append(next, u)
		}
		if left = next; len(left) == 0 {
			return gaveUp
		}
		time.Sleep(pause)
		pause = min(2*pause, 10*time.Millisecond)
		next = left[:0]
		for _, u := range left {
			switch ns := nodeState(cfg, u.id); ns {
			case NodeMissing:
				// The other cleaner removes the node's lock file last and
				// releases the cleaner lock after that: a node without
				// files is done, even while the lock is still held.
				st.add(u.id, cleanedByOther, nil, Cleaner{})
			case NodeDead:
				r, err := cleanupNode(cfg, p, u.id, self)
				switch r {
				case busyElsewhere, draining:
					next = append(next, unfinished{u.id, r, err})
				case notDead:
					// Its state changed between two looks: look again.
					next = append(next, u)
				default:
					st.add(u.id, r, err, Cleaner{})
				}
			default:
				st.add(u.id, failed, fmt.Errorf("iox2: clean up dead node %s: its lock file %s is %s now", u.id, cfg.nodeLockPath(u.id), ns), Cleaner{})
			}
		}
		left = next
	}
}

// add records the outcome r of dead node id.
func (s *CleanupState) add(id ID, r cleanupResult, err error, holder Cleaner) {
	n := NodeCleanup{ID: id, Err: err}
	switch r {
	case notDead:
		return
	case cleaned:
		s.Cleanups++
		n.Outcome = CleanupDone
	case cleanedByOther:
		s.CleanedByOthers++
		n.Outcome = CleanupDoneByOther
	case busyElsewhere:
		s.InProgress++
		n.Outcome, n.Cleaner = CleanupInProgress, holder
	case draining:
		s.Draining++
		n.Outcome = CleanupDraining
	case failed:
		s.FailedCleanups++
		n.Outcome = CleanupFailed
	}
	s.Nodes = append(s.Nodes, n)
}

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
		idStr, ok := strings.CutSuffix(rest, protocol.SuffixLock)
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
	matches, _ := filepath.Glob(filepath.Join(cfg.nodesDir(), cfg.Prefix+"*"+protocol.SuffixLock+protocol.SuffixTmp))
	for _, m := range matches {
		if st, err := shm.Probe(m); err == nil && st == shm.Dead {
			os.Remove(m)
		}
	}
}

// removeStaleCleanerLocks removes the cleaner lock files that nobody holds
// and whose node is gone. A cleaner removes its lock file last, after the
// node's files; one killed in between (or right after it took the lock
// for a node that another cleaner had just finished) leaves it behind, and
// no later cleanup of that node would look at it again. Nodes that peers
// watch through pidfds are cleaned up by those peers at once, and a test
// that kills them in a row kills cleaners at work. A cleaner that opens
// such a file while it goes finds the node gone all the same.
func removeStaleCleanerLocks(cfg *Config) {
	matches, _ := filepath.Glob(filepath.Join(cfg.nodesDir(), cfg.Prefix+"*.cleaner"))
	for _, m := range matches {
		idStr := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), cfg.Prefix), protocol.SuffixCleaner)
		id, err := parseID(idStr)
		if err != nil || nodeState(cfg, id) != NodeMissing {
			continue
		}
		if st, err := shm.Probe(m); err == nil && st == shm.Dead {
			os.Remove(m)
		}
	}
}

type cleanupResult int

const (
	notDead        cleanupResult = iota // not dead when probed: alive, missing or inaccessible
	cleaned                             // cleaned by this cleaner
	cleanedByOther                      // dead when probed, gone once the cleaner lock was held
	busyElsewhere                       // another cleaner holds the node's cleaner lock
	failed                              // an error; see the error returned with it
	// draining: the node's cleanup waits for live receivers to map what
	// its senders delivered (see protocol.SlotDraining); the node stays, dead, and
	// a later cleanup finishes it.
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

// cleanupNode removes the resources of node id if it is dead, as cleaner
// self (0 for none): for each of its service tags, its ports' slots and the
// service if it was the last node (cleanupServiceOfNode), then the files of
// every port that its journal records (removeJournaledPorts), then its
// directory and lock. p is cfg.filesProvider(): a dead node's segments are
// files. It never waits for another cleaner: it returns busyElsewhere when
// one holds the node's cleaner lock. The error says what went wrong when it
// returns failed.
func cleanupNode(cfg *Config, p shm.Provider, id, self ID) (cleanupResult, error) {
	if nodeState(cfg, id) != NodeDead {
		return notDead, nil
	}
	cpath := cfg.cleanerPath(id)
	cl, err := shm.AcquireLock(cpath, cfg.FileMode)
	if errors.Is(err, shm.ErrLocked) {
		return busyElsewhere, nil
	}
	if err != nil {
		return failed, fmt.Errorf("iox2: clean up dead node %s: take its cleaner lock: %w", id, err)
	}
	defer func() {
		os.Remove(cpath)
		cl.Release()
	}()
	recordCleaner(cpath, self)
	// Someone may have finished the job between our probe and our lock.
	switch nodeState(cfg, id) {
	case NodeDead:
	case NodeMissing:
		return cleanedByOther, nil
	default:
		return notDead, nil
	}
	dir := cfg.nodeDir(id)
	owns := journaledPorts(dir)
	tags, _ := filepath.Glob(filepath.Join(dir, "*.svc"))
	var left []string
	for _, t := range tags {
		hash, rest, found := strings.Cut(strings.TrimSuffix(filepath.Base(t), protocol.SuffixServiceTag), "_")
		uid, _, _ := strings.Cut(rest, "_")
		if !found {
			os.Remove(t)
			continue
		}
		if cleanupServiceOfNode(cfg, p, hash, uid, id, owns) {
			os.Remove(t)
		} else {
			left = append(left, filepath.Base(t))
		}
	}
	if len(left) > 0 {
		// A live receiver has not yet mapped what one of the node's
		// senders delivered to it: the node stays, dead, until it has
		// (or is gone, or the drain's bound passed), and the next cleanup
		// finishes.
		return draining, fmt.Errorf("iox2: clean up dead node %s: %w: its senders delivered samples that live receivers have not mapped yet (services %s); they are kept until mapped, at most 4 × the creation timeout", id, ErrCleanupInProgress, strings.Join(left, ", "))
	}
	if !removeJournaledPorts(cfg, p, dir) {
		return failed, fmt.Errorf("iox2: clean up dead node %s: the files of its ports are not all removed yet", id)
	}
	if err := os.RemoveAll(dir); err != nil {
		return failed, fmt.Errorf("iox2: clean up dead node %s: %w", id, err)
	}
	if err := os.Remove(cfg.nodeLockPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return failed, fmt.Errorf("iox2: clean up dead node %s: %w", id, err)
	}
	return cleaned, nil
}

// cleanerRecord is the content of a cleaner lock file: who holds it.
type cleanerRecord struct {
	PID  int    `json:"pid"`
	Node string `json:"node,omitempty"`
}

// recordCleaner writes who holds the cleaner lock of path (this process,
// and node self unless 0) into the file, so that a cleanup that finds the
// lock held can say by whom. It is best effort: a cleanup does not depend
// on it.
func recordCleaner(path string, self ID) {
	rec := cleanerRecord{PID: os.Getpid()}
	if self != 0 {
		rec.Node = self.String()
	}
	b, _ := json.Marshal(rec)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return
	}
	f.Write(b)
	f.Close()
}

// readCleaner returns who holds the cleaner lock of path, as its holder
// recorded it; zero fields where it did not (yet).
func readCleaner(path string) Cleaner {
	b, err := os.ReadFile(path)
	if err != nil {
		return Cleaner{}
	}
	var rec cleanerRecord
	if json.Unmarshal(b, &rec) != nil {
		return Cleaner{}
	}
	c := Cleaner{PID: rec.PID}
	if id, err := parseID(rec.Node); err == nil {
		c.Node = id
	}
	return c
}

// cleanupServiceOfNode removes dead node id's ports from incarnation uid of
// the service with hash, and the service itself if id was its last node.
// It reports whether the tag can go. owns tells which ports' files are the
// node's to delete (its journal: see removePortsOf).
func cleanupServiceOfNode(cfg *Config, p shm.Provider, hash, uid string, id ID, owns func(ID) bool) bool {
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
	deadPubs, pending := removePortsOf(cfg, p, d, id, owns)
	if d.Hdr.Pattern == uint32(PatternEvent) {
		notifyDeadNotifiers(cfg, p, d, hash, uid, deadPubs)
	}
	if pending {
		// The node stays registered (so the service, which a live
		// receiver holds anyway, stays too) and its tag stays: the
		// next cleanup of the node looks again.
		return false
	}
	if d.leave(id, allAt) {
		destroyService(cfg, p, hash, uid)
	} else if who := d.Hdr.Destroyer.Load(); who == uint64(id) {
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
// The slots say which ports were the node's, but any process of the domain
// can write them: a slot is only a claim. So removePortsOf deletes the
// files of a port only if owns(port) (the dead node's own journal names
// it: see journal.go), and never a connection to a dead receiver: that one
// is its live sender's, which removes it when it sees the receiver's slot
// go (sender.dropConn), or its dead sender's, whose own journal names it.
// A damaged slot that names a live port can thus make a cleaner free that
// slot, never delete the live port's files.
//
// A dead sender's slot is freed and its files deleted only when no live
// receiver still needs them (retireSender): a receiver that has not mapped
// a connection holding samples for it would lose them, although each Send
// reported it reached. Such a sender's slot is left draining instead and
// pending is set; a later call (the next cleanup of the node) finishes.
func removePortsOf(cfg *Config, p shm.Provider, d *dynamic, id ID, owns func(ID) bool) (pubs int, pending bool) {
	event := d.Hdr.Pattern == uint32(PatternEvent)
	reqres := d.Hdr.Pattern == uint32(PatternRequestResponse)
	changed := false
	// retire removes the files of sender slot s (port sid, sending to the
	// receivers in slots) and reports true if nobody needs them any more;
	// else it leaves the slot draining. A slot that never turned active
	// has no receiver; one that drained for drainTimeout is given up.
	retire := func(s *protocol.PortSlot, sid ID, receivers []protocol.PortSlot) bool {
		if sid == 0 || !owns(sid) {
			return true // no files, or none that are the node's
		}
		st := s.State.Load()
		all := st == protocol.SlotFree || st == protocol.SlotDraining && protocol.DrainExpired(s)
		if retireSender(cfg, p, sid, receivers, all) {
			return true
		}
		pending = true
		if protocol.Drain(s, id, futex.Now()+int64(drainTimeout(cfg))) {
			changed = true
		}
		return false
	}
	for i := range d.Pubs {
		s := &d.Pubs[i]
		if s.Node.Load() != uint64(id) {
			continue
		}
		pid := ID(s.ID.Load())
		if !event && !retire(s, pid, d.Subs) {
			continue
		}
		if s.State.Load() == protocol.SlotActive {
			pubs++
		}
		protocol.Release(s, id)
		changed = true
	}
	for i := range d.Subs {
		s := &d.Subs[i]
		if s.Node.Load() != uint64(id) {
			continue
		}
		if sid := ID(s.ID.Load()); sid != 0 {
			switch {
			case event:
				if owns(sid) {
					p.Remove(cfg.eventName(sid)) // a listener's event segment
				}
			case reqres:
				if !retire(s, sid, d.Pubs) { // its responses
					continue
				}
			}
		}
		protocol.Release(s, id)
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
func retireSender(cfg *Config, p shm.Provider, sid ID, receivers []protocol.PortSlot, all bool) bool {
	names, _ := p.List(protocol.ConnPrefix(cfg.Prefix, sid))
	done := true
	for _, n := range names {
		if !strings.HasSuffix(n, protocol.SuffixConnection) {
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
// receivers to do the same (awaitReceivers). A receiver maps them in the
// round that the draining's bump rings its node for, so only a stuck one
// reaches it.
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
func connectionNeeded(cfg *Config, p shm.Provider, name string, sid ID, receivers []protocol.PortSlot) bool {
	seg, err := shm.OpenReady(p, name, protocol.KindConnection, protocol.Version, false, 0)
	if err != nil {
		return false
	}
	defer seg.Close()
	b := seg.Bytes()
	if len(b) < shm.HeaderSize+int(unsafe.Sizeof(protocol.ConnHeader{})) {
		return false
	}
	h := protocol.ConnHeaderOf(b)
	// SYNC POINT attached: paired with the receiver's store in connect.
	if h.Attached.Load() != 0 || h.Sender != uint64(sid) {
		return false
	}
	l := protocol.NewConnLayout(h.Channels, h.SubmissionCap, h.CompletionCap)
	if !l.Valid() || l.Size != len(b) {
		return false
	}
	empty := true
	for ch := range int(l.Channels) {
		q, err := ring.AttachQueue(l.Sub(b, ch), l.SubCap)
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
	rid := ID(h.Receiver)
	for i := range receivers {
		if pi, ok := protocol.Snapshot(&receivers[i]); ok && pi.ID == rid {
			switch nodeState(cfg, pi.Node) {
			case NodeDead, NodeMissing:
				return false
			}
			return true
		}
	}
	return false
}

// cleanupDeadNodesOf cleans up after the dead nodes registered in d.
//
// A registered node that has no files at all any more was cleaned up
// without this service (its tag lost): its ports and registration here are
// removed directly.
//
// It never waits for another cleaner (it runs in a service's discovery
// goroutine, among others): a node that one holds is left to it.
func cleanupDeadNodesOf(cfg *Config, p shm.Provider, d *dynamic, self ID) {
	for _, id := range d.nodeIDs() {
		cleanupDeadNodeOf(cfg, p, d, id, self)
	}
}

// cleanupDeadNodeOf is cleanupDeadNodesOf for node id of d only (the
// node's peer watch calls it when a peer's process ended).
func cleanupDeadNodeOf(cfg *Config, p shm.Provider, d *dynamic, id, self ID) {
	r, _ := cleanupNode(cfg, cfg.filesProvider(), id, self)
	if (r == notDead || r == cleanedByOther) && nodeState(cfg, id) == NodeMissing {
		// No journal to go by: its cleanup removed its files (the
		// directory goes last), so only the slots are left.
		if _, pending := removePortsOf(cfg, p, d, id, ownsNothing); !pending {
			d.leave(id, allAt) // never the last: the caller is registered
		}
	}
}

// cleanupOrphanStatic removes a static config whose dynamic segment is gone
// from p and whose incarnation no live node has open. It returns the live
// nodes that have it open, if any, and then keeps the file: the segment is
// where p does not look (on the heap of a process whose node has
// Config.InProcess, or in another ShmDir), or was removed under them.
func cleanupOrphanStatic(cfg *Config, p shm.Provider, path, hash, uid string) (holders []ID) {
	sc, err := readStatic(path, hash)
	if err != nil || sc.UID != uid {
		return nil
	}
	d, err := openDynamicAny(p, cfg.dynamicName(hash, uid), cfg)
	if err == nil {
		d.close()
	}
	if !errors.Is(err, shm.ErrNotExist) {
		return nil
	}
	if holders = liveHolders(cfg, hash, uid); len(holders) == 0 {
		os.Remove(path)
	}
	return holders
}

// liveHolders returns the nodes that have a tag of incarnation uid of the
// service with hash (they have it open, or are opening it) and are not
// dead: alive, or of unknown state.
func liveHolders(cfg *Config, hash, uid string) []ID {
	tags, _ := filepath.Glob(filepath.Join(cfg.nodesDir(), cfg.Prefix+"*", hash+"_"+uid+"_*"+protocol.SuffixServiceTag))
	var ids []ID
	for _, t := range tags {
		rest, ok := strings.CutPrefix(filepath.Base(filepath.Dir(t)), cfg.Prefix)
		if !ok {
			continue
		}
		id, err := parseID(rest)
		if err != nil || (len(ids) > 0 && ids[len(ids)-1] == id) {
			continue
		}
		if st := nodeState(cfg, id); st == NodeAlive || st == NodeInaccessible {
			ids = append(ids, id)
		}
	}
	return ids
}

// openDynamicAny opens a dynamic config whose capacities the caller does not
// know (a cleaner): it takes them from the header and checks them against
// the segment's size.
func openDynamicAny(p shm.Provider, name string, cfg *Config) (*dynamic, error) {
	seg, err := shm.OpenReady(p, name, protocol.KindDynamic, protocol.Version, true, cfg.CreationTimeout)
	if err != nil {
		return nil, err
	}
	b := seg.Bytes()
	if len(b) < protocol.DynHeaderOffset+int(unsafe.Sizeof(protocol.DynHeader{})) {
		seg.Close()
		return nil, ErrServiceCorrupted
	}
	h := (*protocol.DynHeader)(unsafe.Pointer(&b[protocol.DynHeaderOffset]))
	caps := protocol.DynCaps{Nodes: int(h.MaxNodes), Pubs: int(h.MaxPublishers), Subs: int(h.MaxSubscribers)}
	if !caps.Valid() {
		seg.Close()
		return nil, ErrServiceCorrupted
	}
	d, err := layDynamic(seg, caps, cfg)
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
// A service whose static config has another protocol version is
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
	p := cfg.filesProvider()
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
	hash, ok := strings.CutSuffix(rest, protocol.SuffixService)
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
			if !strings.HasSuffix(t.Name(), protocol.SuffixServiceTag) {
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
		if sc.Version != protocol.VersionString {
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
			if strings.HasSuffix(n, protocol.SuffixDynamic) {
				c.dynamics = append(c.dynamics, n)
				c.Files = append(c.Files, filepath.Join(cfg.ShmDir, n))
			}
		}
		return c
	}
	pattern, caps, _ := staticShape(sc)
	dname := cfg.dynamicName(hash, sc.UID)
	d, err := openDynamic(cfg, p, dname, caps, pattern, 0)
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
	if sc.Version != protocol.VersionString {
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
func staticShape(sc *StaticConfig) (p Pattern, caps protocol.DynCaps, ok bool) {
	switch {
	case sc.Pattern == PatternPublishSubscribe.String() && sc.PublishSubscribe != nil:
		ps := sc.PublishSubscribe
		p, caps = PatternPublishSubscribe, protocol.DynCaps{Nodes: ps.MaxNodes, Pubs: ps.MaxPublishers, Subs: ps.MaxSubscribers}
	case sc.Pattern == PatternEvent.String() && sc.Event != nil:
		es := sc.Event
		p, caps = PatternEvent, protocol.DynCaps{Nodes: es.MaxNodes, Pubs: es.MaxNotifiers, Subs: es.MaxListeners}
	case sc.Pattern == PatternRequestResponse.String() && sc.RequestResponse != nil:
		rs := sc.RequestResponse
		p, caps = PatternRequestResponse, protocol.DynCaps{Nodes: rs.MaxNodes, Pubs: rs.MaxClients, Subs: rs.MaxServers}
	default:
		return 0, protocol.DynCaps{}, false
	}
	return p, caps, caps.Valid()
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
