package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iox2go/iox2go/runtime/shm"
)

// deadNodeID makes a dead node (a lock file that nobody holds, as
// fakeDeadNode) and returns its ID.
func deadNodeID(t *testing.T, cfg *Config) ID {
	t.Helper()
	lock := fakeDeadNode(t, cfg)
	id, err := parseID(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(lock), cfg.Prefix), ".lock"))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestCleanupDeadNodesWaitsForAnotherCleaner: another cleaner (this goroutine,
// standing for an open service's liveness sweep or another process) holds a
// dead node's cleaner lock when CleanupDeadNodes is called. When
// CleanupDeadNodes returns, the node must be gone, and it is not a failure:
// the other cleaner removed it, or gave up and CleanupDeadNodes did.
//
// This was the fault behind TestRequestResponseCrashRounds failing under
// load: CleanupDeadNodes skipped the node, counted it as failed and
// returned at once.
func TestCleanupDeadNodesWaitsForAnotherCleaner(t *testing.T) {
	for _, finishes := range []bool{true, false} {
		name := "other cleaner gives up"
		if finishes {
			name = "other cleaner finishes"
		}
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t)
			id := deadNodeID(t, cfg)
			cpath := cfg.cleanerPath(id)
			cl, err := shm.AcquireLock(cpath, cfg.FileMode)
			if err != nil {
				t.Fatal(err)
			}
			type result struct {
				st   CleanupState
				left []ID
			}
			started, done := make(chan struct{}), make(chan result)
			go func() {
				close(started)
				st := CleanupDeadNodes(cfg)
				done <- result{st, listNodeIDs(cfg)} // listed as soon as it returns
			}()
			<-started
			// Give CleanupDeadNodes time to find the lock held. Should it
			// look only after the other cleaner let go (a very loaded
			// machine), the test still passes and checks less.
			time.Sleep(100 * time.Millisecond)
			if finishes {
				os.Remove(cfg.nodeLockPath(id))
			}
			os.Remove(cpath)
			cl.Release()
			r := <-done
			if len(r.left) != 0 {
				t.Fatalf("nodes %v left when CleanupDeadNodes returned (state %+v)", r.left, r.st)
			}
			if r.st.FailedCleanups != 0 {
				t.Fatalf("a node cleaned by someone else counted as failed: %+v", r.st)
			}
			if finishes && r.st.Cleanups != 0 || !finishes && r.st.Cleanups != 1 {
				t.Fatalf("cleanups %+v, other cleaner finishes: %v", r.st, finishes)
			}
			assertNoFiles(t, cfg)
		})
	}
}

func init() { helpers["stuck-cleaner"] = helperStuckCleaner }

// stuckCleanerNode is the node ID that helperStuckCleaner records as its own.
const stuckCleanerNode ID = 0x5eed0000c1ea4e55

// helperStuckCleaner takes the cleaner lock of the node in $IOX2_TEST_NODE,
// as a cleaner does, and holds it until it is killed: a live cleaner that
// never finishes (stopped, say).
func helperStuckCleaner() error {
	cfg := helperConfig()
	id, err := parseID(os.Getenv("IOX2_TEST_NODE"))
	if err != nil {
		return err
	}
	path := cfg.cleanerPath(id)
	if _, err := shm.AcquireLock(path, cfg.FileMode); err != nil {
		return err
	}
	recordCleaner(path, stuckCleanerNode)
	fmt.Println("ready")
	for {
		time.Sleep(time.Hour)
	}
}

// TestCleanupDeadNodesReportsBusyCleaner: another process holds a dead
// node's cleaner lock and never lets go. CleanupDeadNodes waits for it up
// to its bound, then says which node is left and who holds it; once that
// cleaner dies (its flock drops), the next cleanup removes the node.
func TestCleanupDeadNodesReportsBusyCleaner(t *testing.T) {
	cfg := testConfig(t)
	cfg.CreationTimeout = 100 * time.Millisecond // a bound of 400 ms keeps the test short
	busy, free := deadNodeID(t, cfg), deadNodeID(t, cfg)
	cmd, out := startHelper(t, cfg, "stuck-cleaner", "IOX2_TEST_NODE="+busy.String())
	if !out.Scan() || out.Text() != "ready" {
		t.Fatal("cleaner child did not start")
	}
	start := time.Now()
	st := CleanupDeadNodes(cfg)
	took := time.Since(start)
	if st.Cleanups != 1 || st.InProgress != 1 || st.CleanedByOthers != 0 || st.FailedCleanups != 0 || len(st.Nodes) != 2 || st.Complete() {
		t.Fatalf("state %+v", st)
	}
	for _, n := range st.Nodes {
		switch n.ID {
		case free:
			if n.Outcome != CleanupDone || n.Err != nil {
				t.Errorf("free node: %+v", n)
			}
		case busy:
			want := Cleaner{PID: cmd.Process.Pid, Node: stuckCleanerNode}
			if n.Outcome != CleanupInProgress || n.Cleaner != want || !errors.Is(n.Err, ErrCleanupInProgress) ||
				!strings.Contains(n.Err.Error(), busy.String()) || !strings.Contains(n.Err.Error(), want.String()) {
				t.Errorf("busy node: %+v, want in progress by %v", n, want)
			}
		default:
			t.Errorf("unknown node %+v", n)
		}
	}
	if err := st.Err(); !errors.Is(err, ErrCleanupInProgress) {
		t.Errorf("Err() = %v", err)
	}
	// It waited for the bound, and not for ever. The upper bound is loose:
	// the poll gives up at 400 ms, the rest is room for a loaded machine.
	if bound := cleanerWait(cfg); took < bound || took > bound+10*time.Second {
		t.Errorf("CleanupDeadNodes took %v, want its bound %v (and not much more)", took, bound)
	}
	if ids := listNodeIDs(cfg); len(ids) != 1 || ids[0] != busy {
		t.Errorf("nodes %v left, want only %v", ids, busy)
	}

	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if st := CleanupDeadNodes(cfg); st.Cleanups != 1 || !st.Complete() || st.Err() != nil {
		t.Fatalf("after the cleaner died: %+v", st)
	}
	assertNoFiles(t, cfg) // the dead cleaner's lock file too
}

// TestCleanupDeadNodesReportsFailure: a dead node whose files cannot be
// removed (here its lock file is a directory that is not empty: an I/O
// error that even root meets) is reported as failed, with the node and
// the error, not as cleaned.
func TestCleanupDeadNodesReportsFailure(t *testing.T) {
	cfg := testConfig(t)
	id := newID()
	lock := cfg.nodeLockPath(id)
	if err := os.MkdirAll(filepath.Join(lock, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	st := CleanupDeadNodes(cfg)
	if st.FailedCleanups != 1 || st.Cleanups != 0 || len(st.Nodes) != 1 || st.Complete() {
		t.Fatalf("state %+v", st)
	}
	n := st.Nodes[0]
	if n.ID != id || n.Outcome != CleanupFailed || n.Err == nil || errors.Is(n.Err, ErrCleanupInProgress) ||
		!strings.Contains(n.Err.Error(), id.String()) || !strings.Contains(n.Err.Error(), lock) {
		t.Fatalf("failed node: %+v", n)
	}
	if err := st.Err(); err == nil || err.Error() != n.Err.Error() {
		t.Errorf("Err() = %v, want %v", err, n.Err)
	}
	if _, err := os.Stat(cfg.cleanerPath(id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the cleaner lock file is left: %v", err)
	}
	os.RemoveAll(lock)
}
