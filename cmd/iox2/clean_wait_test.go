package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iox2go/iox2go/runtime/iox2test"
	"github.com/iox2go/iox2go/runtime/shm"
)

// heldDeadNode makes a dead node in the domain of root and prefix (a lock
// file that nobody holds) and takes its cleaner lock, as another cleaner
// at work would, recording pid and node as that cleaner. It returns the
// node's ID, its lock file and the cleaner lock.
func heldDeadNode(t *testing.T, root, prefix string, pid int, node string) (id, lock string, cl *shm.Lock) {
	t.Helper()
	dir := filepath.Join(root, "nodes")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	id = fmt.Sprintf("%016x", rand.Uint64())
	lock = filepath.Join(dir, prefix+id+".lock")
	if err := os.WriteFile(lock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cpath := filepath.Join(dir, prefix+id+".cleaner")
	cl, err := shm.AcquireLock(cpath, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The record a cleaner writes into its lock file (runtime/cleanup.go).
	if err := os.WriteFile(cpath, fmt.Appendf(nil, `{"pid":%d,"node":%q}`, pid, node), 0o600); err != nil {
		t.Fatal(err)
	}
	return id, lock, cl
}

// TestInspectCleanWaitsForAnotherCleaner: clean waits for another cleaner
// that holds a dead node, and says that the other one removed it: exit
// code 0, since the node is gone.
func TestInspectCleanWaitsForAnotherCleaner(t *testing.T) {
	cfg := iox2test.Config(t)
	id, lock, cl := heldDeadNode(t, cfg.Root, cfg.Prefix, os.Getpid(), "")
	go func() {
		// clean waits up to 2 s (4 × the default creation timeout) once it
		// finds the node held; 1 s after the start leaves it room to start
		// on a loaded machine. Should it start later still, it finds
		// nothing to clean, which the test accepts.
		time.Sleep(time.Second)
		os.Remove(lock)
		os.Remove(cl.Path())
		cl.Release()
	}()
	out := inspectOK(t, cfg, "clean")
	want := fmt.Sprintf("node %s (pid -, name -) was removed by another cleaner: 1 file\n", id)
	if out != want && out != "nothing to clean\n" {
		t.Errorf("clean printed %q, want %q", out, want)
	}
	if exists(lock) {
		t.Errorf("clean returned with %s still there", lock)
	}
}

// TestInspectCleanReportsBusyCleaner: another cleaner holds a dead node
// and does not let go; clean waits for its bound (4 × creation-timeout, here
// 400 ms), then says which node is left and by whom it is being cleaned,
// and exits with code 1.
func TestInspectCleanReportsBusyCleaner(t *testing.T) {
	cfg := iox2test.Config(t)
	const holder = "5eed0000c1ea4e55"
	id, lock, cl := heldDeadNode(t, cfg.Root, cfg.Prefix, os.Getpid(), holder)
	defer func() {
		os.Remove(lock)
		os.Remove(cl.Path())
		cl.Release()
	}()
	conf := filepath.Join(t.TempDir(), "short.toml")
	if err := os.WriteFile(conf, []byte("[global]\ncreation-timeout = \"100ms\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	by := fmt.Sprintf("pid %d (node %s)", os.Getpid(), holder)

	r := inspectRun(t, cfg, "--config", conf, "clean")
	want := fmt.Sprintf("node %s (pid -, name -) is still being cleaned by %s: 0 files removed so far, 1 left\n  left: %s\n", id, by, lock)
	if r.code != exitFailure || r.stdout != want {
		t.Errorf("clean: want exit code 1 and stdout %q, got %v", want, r)
	}
	wantErr := fmt.Sprintf("iox2: 1 dead node left (root %s, prefix %s):\niox2: clean up dead node %s: another cleaner is still cleaning up the dead node: its cleaner lock is held by %s\n",
		cfg.Root, cfg.Prefix, id, by)
	if r.stderr != wantErr {
		t.Errorf("clean: stderr %q, want %q", r.stderr, wantErr)
	}

	r = inspectRun(t, cfg, "--config", conf, "clean", "--json")
	var c inspectCleanOut
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || r.code != exitFailure {
		t.Fatalf("clean --json: %v: %v", err, r)
	}
	if c.Cleaned != 0 || c.InProgress != 1 || c.Failed != 0 || c.CleanedByOthers != 0 || len(c.Nodes) != 1 {
		t.Fatalf("clean --json: %+v", c)
	}
	n := c.Nodes[0]
	if n.ID != id || n.Outcome != "in_progress" || n.Removed || n.Cleaner == nil || n.Cleaner.PID != os.Getpid() || n.Cleaner.Node != holder ||
		!strings.Contains(n.Error, "another cleaner is still cleaning up the dead node") || len(n.Remaining) != 1 || n.Remaining[0] != lock {
		t.Errorf("clean --json node: %+v", n)
	}
	if !exists(lock) || !exists(cl.Path()) {
		t.Errorf("clean removed files of a node that another cleaner holds")
	}
}
