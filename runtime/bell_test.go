package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fakePeerBell makes the doorbell FIFO of a node id of cfg's domain, as that
// node would, and returns its read end (raw, non-blocking).
func fakePeerBell(t *testing.T, cfg *Config, id ID) int {
	t.Helper()
	dir := cfg.nodeDir(id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, bellName)
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

func readTokens(fd int) []uint64 {
	var buf [4096]byte
	n, _ := unix.Read(fd, buf[:])
	var ts []uint64
	for i := 0; i+8 <= n; i += 8 {
		ts = append(ts, *(*uint64)(unsafe.Pointer(&buf[i])))
	}
	return ts
}

// TestPeerDoorbells rings the doorbell of a node of another process (a
// FIFO that this test reads itself): tokens arrive whole; a doorbell whose
// reader is gone (EPIPE: the write must not kill the process with
// SIGPIPE), one that is missing and a file that is no FIFO are nobody to
// wake; a full one makes the ringer put its claim back.
func TestPeerDoorbells(t *testing.T) {
	cfg := testConfig(t)
	id := newID()
	fd := fakePeerBell(t, cfg, id)
	for _, tok := range []uint64{1, 7<<32 | 3, 42} {
		if !ringNode(cfg, id, tok) {
			t.Fatalf("ring %d: doorbell full", tok)
		}
	}
	if got := readTokens(fd); len(got) != 3 || got[0] != 1 || got[1] != 7<<32|3 || got[2] != 42 {
		t.Fatalf("tokens read %v", got)
	}

	// A full pipe: the claim goes back into the word.
	unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, 4096)
	for ringNode(cfg, id, 5) {
	}
	var w, node atomic.Uint64
	w.Store(9)
	node.Store(uint64(id))
	claimAndRing(cfg, &w, &node)
	if w.Load() != 9 {
		t.Fatalf("a ring into a full doorbell left W = %d, want the token 9 back", w.Load())
	}
	readTokens(fd)
	claimAndRing(cfg, &w, &node)
	if w.Load() != 0 || readTokens(fd)[0] != 9 {
		t.Fatalf("after draining: W = %d", w.Load())
	}

	// The reader goes: EPIPE, the cached descriptor is dropped.
	unix.Close(fd)
	if !ringNode(cfg, id, 1) {
		t.Fatal("ring of a gone node reported a full doorbell")
	}
	peerBells.mu.RLock()
	_, cached := peerBells.m[id]
	peerBells.mu.RUnlock()
	if cached {
		t.Fatal("the doorbell of a gone node is still cached")
	}
	// Missing (ENXIO now: no reader; ENOENT once the directory goes).
	if !ringNode(cfg, id, 1) {
		t.Fatal("ring of a doorbell without a reader")
	}
	os.RemoveAll(cfg.nodeDir(id))
	if !ringNode(cfg, id, 1) {
		t.Fatal("ring of a missing doorbell")
	}
	// Not a FIFO: refused, and nothing written into it.
	other := newID()
	os.MkdirAll(cfg.nodeDir(other), 0o700)
	planted := filepath.Join(cfg.nodeDir(other), bellName)
	os.WriteFile(planted, nil, 0o600)
	if _, err := openPeerBell(planted); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("opening a regular file as a doorbell: %v", err)
	}
	ringNode(cfg, other, 1)
	if fi, _ := os.Stat(planted); fi.Size() != 0 {
		t.Fatalf("a ring wrote %d bytes into a regular file", fi.Size())
	}
	// No node (0) and no token are nobody.
	if !ringNode(cfg, 0, 1) || !ringNode(cfg, id, 0) {
		t.Fatal("ring of nobody")
	}
}

// TestWaitpointTokens: a token names its waitpoint until the waitpoint is
// removed; a reused index gets a new generation, so the old token is
// stale.
func TestWaitpointTokens(t *testing.T) {
	node := testNode(t, testConfig(t))
	b := node.bell
	var w atomic.Uint64
	wp := b.newWaitpoint(&w, nil)
	if b.lookup(wp.token) != wp || b.lookup(wp.token+1<<32) != nil || b.lookup(0) != nil || b.lookup(kickToken) != nil {
		t.Fatal("lookup of a live waitpoint's token, a wrong generation, 0, the kick token")
	}
	old := wp.token
	wp.close()
	wp2 := b.newWaitpoint(&w, nil)
	if b.lookup(old) != nil || b.lookup(wp2.token) != wp2 || wp2.token == old || uint32(wp2.token) != uint32(old) {
		t.Fatalf("reused index: old token %x, new %x", old, wp2.token)
	}
	defer wp2.close()

	// Arm and disarm: W holds the token while one waiter sleeps, and stays
	// armed while another still does.
	c1 := wp2.wait()
	c2 := wp2.wait()
	if w.Load() != wp2.token {
		t.Fatalf("W = %x while armed, want %x", w.Load(), wp2.token)
	}
	wp2.unwait(c1)
	if w.Load() != wp2.token {
		t.Fatal("the first waiter to leave cleared W under the second")
	}
	wp2.fire()
	select {
	case <-c2:
	default:
		t.Fatal("fire did not poke the waiter's channel")
	}
	wp2.unwait(c2)
	if w.Load() != 0 {
		t.Fatal("the last waiter left W armed")
	}
	// A closed waitpoint wakes for good and forgets W.
	c3 := wp2.wait()
	wp2.close()
	select {
	case <-wp2.done:
	default:
		t.Fatal("close did not close done")
	}
	if w.Load() != 0 || wp2.wait() != nil {
		t.Fatal("a closed waitpoint armed W")
	}
	wp2.unwait(c3)
}
