package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
	"github.com/iox2go/iox2go/runtime/shm"
)

// NodeBuilder configures a Node. The zero value is ready to use.
type NodeBuilder struct {
	name   string
	config *Config
	signal bool
}

// NewNodeBuilder returns a builder for a node with no name and the
// configuration that FindConfig finds (the file named by $IOX2GO_CONFIG,
// else the first of ConfigSearchPaths, else DefaultConfig).
func NewNodeBuilder() *NodeBuilder { return &NodeBuilder{} }

// Name sets the node's name: up to 128 ASCII bytes, not unique, may be empty.
func (b *NodeBuilder) Name(name string) *NodeBuilder { b.name = name; return b }

// Config sets the configuration (and so the domain) of the node and of
// everything built through it. It wins over any configuration file: with
// it, Create reads no file.
func (b *NodeBuilder) Config(c *Config) *NodeBuilder { b.config = c; return b }

// SignalHandling sets whether the node turns SIGINT and SIGTERM into errors
// (iceoryx2's HandleTerminationRequests). It is off by default: a node
// leaves the program's signals alone, and a program that never asks dies
// on Ctrl-C as any Go program does (the next node's cleanup removes what it
// left).
//
// With true, from Create until the node is closed the process catches both
// signals, and Wait, WaitContext and the blocking waits of the node's ports
// return ErrNodeInterrupted after SIGINT and ErrNodeTerminationRequest
// after SIGTERM, from then on. Catching is one-shot: after the first signal
// the process's own behaviour is back, so a second Ctrl-C kills a program
// whose shutdown hangs. It is back too, signal or not, once the last node
// and WaitSet that asked are closed. The program's own signal.Notify
// channels are not affected.
//
// The alternative, without it: ctx, stop := signal.NotifyContext(
// context.Background(), os.Interrupt, syscall.SIGTERM), and ctx passed to
// WaitContext and the blocking waits, which then return ctx.Err().
func (b *NodeBuilder) SignalHandling(on bool) *NodeBuilder { b.signal = on; return b }

// Node is a process's entry point into a domain: it owns the services and
// ports created through it, proves its process is alive to everyone else,
// and cleans up after dead nodes. It is safe for concurrent use.
//
// A Node must be closed; Close closes every service and port created
// through it and removes the node's files.
type Node struct {
	name   string
	id     ID
	config *Config
	shm    shm.Provider
	dir    string // <Root>/nodes/<Prefix><id>: details and service tags
	lock   *shm.Lock
	signal bool       // SignalHandling(true): the waits return the signal errors
	sig    *signalSub // the subscription when signal; released by Close
	live   *liveness  // watches the peer nodes of the open services (liveness.go)

	// bell is the node's doorbell, its waitpoints and its dispatcher
	// goroutine (bell.go).
	bell *nodeBell

	mu       sync.Mutex
	services map[*serviceCore]struct{}
	closed   bool
	closing  chan struct{} // closed by Close: ends Waits in progress
}

// NodeDetails is what a node records about itself for others to read.
type NodeDetails struct {
	Name string `json:"name"`
	ID   string `json:"id"`
	PID  int    `json:"pid"` // as the node's own PID namespace numbers it
	// PIDNamespace names the PID namespace of the node's process as
	// /proc/self/ns/pid does ("pid:[4026531836]"); "" when unknown. PID
	// names the node's process only to readers in the same namespace: the
	// others' liveness checks of the node fall back to the sweep (see
	// Config.LivenessSweepInterval).
	PIDNamespace string    `json:"pid_namespace,omitempty"`
	Executable   string    `json:"executable"`
	Created      time.Time `json:"created"`
	Version      string    `json:"version"`
}

// Create creates the node: it takes the node's liveness lock, writes its
// details and (with Config.CleanupDeadNodesOnCreation) removes what dead
// nodes of the domain left behind. Without a Config set on the builder it
// uses FindConfig's, and fails with its error when the configuration file
// is invalid.
func (b *NodeBuilder) Create() (*Node, error) {
	if err := validateASCII(b.name, MaxNodeNameLength, true); err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrInvalidNodeName, b.name, err)
	}
	cfg := b.config
	if cfg == nil {
		var err error
		if cfg, _, err = FindConfig(); err != nil {
			return nil, err
		}
	}
	cfg = cfg.clone()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{
		name:     b.name,
		id:       newID(),
		config:   cfg,
		shm:      cfg.provider(),
		signal:   b.signal,
		services: map[*serviceCore]struct{}{},
		closing:  make(chan struct{}),
	}
	n.live = newLiveness(n)
	for _, dir := range []struct{ key, path string }{
		{"Root", cfg.Root}, {"Root", cfg.nodesDir()}, {"Root", cfg.servicesDir()}, {"ShmDir", cfg.ShmDir},
	} {
		if err := ensureDir(dir.path, cfg.FileMode); err != nil {
			return nil, fmt.Errorf("iox2: create node: %s: %w", dir.key, err)
		}
	}
	// The lock is taken under a temporary name and then renamed, so that
	// nobody ever sees the lock file of a live node unlocked.
	lockPath := cfg.nodeLockPath(n.id)
	tmp := lockPath + protocol.SuffixTmp
	lk, err := shm.AcquireLock(tmp, cfg.FileMode)
	if err != nil {
		return nil, fmt.Errorf("iox2: create node: %w", err)
	}
	if err := os.Rename(tmp, lockPath); err != nil {
		lk.Release()
		os.Remove(tmp)
		return nil, fmt.Errorf("iox2: create node: %w", err)
	}
	n.lock = lk
	n.dir = cfg.nodeDir(n.id)
	if err := os.Mkdir(n.dir, 0o700|fs.ModeDir); err != nil {
		n.removeFiles()
		return nil, fmt.Errorf("iox2: create node: %w", err)
	}
	os.Chmod(n.dir, dirMode(cfg.FileMode))
	exe, _ := os.Executable()
	det := NodeDetails{Name: n.name, ID: n.id.String(), PID: os.Getpid(), PIDNamespace: ownPIDNamespace(),
		Executable: exe, Created: time.Now().UTC(), Version: Version}
	if err := writeJSONFile(filepath.Join(n.dir, protocol.NodeDetailsName), det, cfg.FileMode); err != nil {
		n.removeFiles()
		return nil, fmt.Errorf("iox2: create node: %w", err)
	}
	// The doorbell exists before any service slot names the node, so
	// that every peer that sees the node can ring it.
	if err := openBell(n); err != nil {
		n.removeFiles()
		return nil, fmt.Errorf("iox2: create node: doorbell: %w", err)
	}
	registerNode(n)
	if n.signal {
		n.sig = subscribeSignals()
	}
	if cfg.CleanupDeadNodesOnCreation {
		cleanupDeadNodes(cfg, n.id, false)
	}
	return n, nil
}

// ensureDir creates dir if needed. With a group file mode (0660), the
// directories it creates are group-writable and set-group-ID, so that
// every member of the group can create and remove files in them and the
// files belong to the group. A directory that exists is left as it is;
// anything else there is an error wrapping syscall.ENOTDIR.
func ensureDir(dir string, mode os.FileMode) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o755|fs.ModeDir); err != nil {
		return err
	}
	if mode&0o060 == 0o060 {
		// Fails harmlessly when another member of the group won the race
		// to create it.
		os.Chmod(dir, dirMode(mode)|os.ModeSetgid)
	}
	return nil
}

// dirMode gives directories the search bits that go with the file mode.
func dirMode(file os.FileMode) os.FileMode {
	m := file & 0o777
	for _, bit := range []os.FileMode{0o400, 0o040, 0o004} {
		if m&bit != 0 {
			m |= bit >> 2 // r -> x
		}
	}
	return m | 0o700
}

// writeJSONFile writes v to path. On error (a full or read-only Root), it
// removes what it created and returns the error of the operating system,
// which names the path.
func writeJSONFile(path string, v any, mode os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	f.Chmod(mode)
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// Name returns the node's name.
func (n *Node) Name() string { return n.name }

// ID returns the node's unique ID.
func (n *Node) ID() ID { return n.id }

// Config returns the node's configuration. Do not modify it.
func (n *Node) Config() *Config { return n.config }

// Close closes every service and port created through the node, removes
// the node's files, then (with Config.CleanupDeadNodesOnDestruction) cleans
// up after dead nodes of the domain. It is idempotent.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	close(n.closing)
	svcs := make([]*serviceCore, 0, len(n.services))
	for s := range n.services {
		svcs = append(svcs, s)
	}
	n.mu.Unlock()
	// Catching signals ends first: a signal during the rest of Close is
	// the program's again (once no other node or WaitSet asked for them).
	n.sig.release()
	var errs []error
	for _, s := range svcs {
		errs = append(errs, s.close())
	}
	// Every service forgot its peers; this ends what is left (a cleanup
	// of a dead peer in progress) and waits for it.
	n.live.close()
	unregisterNode(n)
	n.bell.close()
	errs = append(errs, n.removeFiles())
	// As iceoryx2 with cleanup-dead-nodes-on-destruction: leave the domain
	// tidier than we found it.
	if n.config.CleanupDeadNodesOnDestruction {
		cleanupDeadNodes(n.config, n.id, false)
	}
	return errors.Join(errs...)
}

// removeFiles deletes the node's directory and then its lock file, the
// reverse of creation, and releases the lock.
func (n *Node) removeFiles() error {
	var err error
	if n.dir != "" {
		err = os.RemoveAll(n.dir)
	}
	if n.lock != nil {
		os.Remove(n.config.nodeLockPath(n.id))
		n.lock.Release()
		n.lock = nil
	}
	return err
}

// isClosed reports whether Close has begun.
func (n *Node) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

func (n *Node) addService(s *serviceCore) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	n.services[s] = struct{}{}
	return nil
}

// deliver hands a token rung by this process to the node (see ringNode).
func (n *Node) deliver(t uint64) { n.bell.deliver(t, false) }

func (n *Node) removeService(s *serviceCore) {
	n.mu.Lock()
	delete(n.services, s)
	n.mu.Unlock()
}

// tagPath is the crash journal entry that says the node has (or is
// creating) incarnation uid of the service with hash.
// Each open handle has a tag of its own (a node may open a service more
// than once), named <hash>_<uid>_<handle>.svc.
func (n *Node) tagPath(hash, uid string) string {
	return filepath.Join(n.dir, protocol.ServiceTagName(hash, uid, newID()))
}

// Wait sleeps for d. It is WaitContext with context.Background().
func (n *Node) Wait(d time.Duration) error { return n.WaitContext(context.Background(), d) }

// WaitContext sleeps for d, or less when the wait must end: it returns an
// error wrapping ErrClosed once the node is closed (a Close during the
// sleep ends it at once), ctx.Err() once ctx is done and, when the node
// handles signals (NodeBuilder.SignalHandling), ErrNodeInterrupted after
// SIGINT and ErrNodeTerminationRequest after SIGTERM; otherwise nil. So a
// loop `for node.Wait(d) == nil { ... }` ends cleanly, and one on
// node.WaitContext(ctx, d) with ctx from signal.NotifyContext ends on
// Ctrl-C without the node handling signals.
func (n *Node) WaitContext(ctx context.Context, d time.Duration) error {
	if err := n.waitErr(ctx); err != nil {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-n.sig.done():
	case <-n.closing:
	case <-ctx.Done():
	}
	return n.waitErr(ctx)
}

// waitErr is what WaitContext returns when it ends now: a pending signal
// (when the node handles signals), ErrClosed for a closed node, ctx's
// error, else nil.
func (n *Node) waitErr(ctx context.Context) error {
	if err := n.sig.pending(); err != nil {
		return err
	}
	select {
	case <-n.closing:
		return fmt.Errorf("iox2: wait: %w", ErrClosed)
	default:
	}
	return ctx.Err()
}
