package shm_test

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/iox2go/iox2go/runtime/shm"
)

// forEachCreation runs f with O_TMPFILE creation and with the fallback that
// creates the file and then locks it.
func forEachCreation(t *testing.T, f func(t *testing.T)) {
	for _, fallback := range []bool{false, true} {
		name := "tmpfile"
		if fallback {
			name = "fallback"
		}
		t.Run(name, func(t *testing.T) {
			old := *shm.NoTmpfile
			*shm.NoTmpfile = fallback
			defer func() { *shm.NoTmpfile = old }()
			f(t)
		})
	}
}

func probe(t *testing.T, path string) shm.State {
	t.Helper()
	s, err := shm.Probe(path)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	return s
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestLockLifecycle(t *testing.T) {
	forEachCreation(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "node.lock")
		if s := probe(t, path); s != shm.Missing {
			t.Fatalf("Probe before AcquireLock = %v, want Missing", s)
		}
		l, err := shm.AcquireLock(path, 0)
		if err != nil {
			t.Fatal(err)
		}
		if l.Path() != path {
			t.Errorf("Path() = %q, want %q", l.Path(), path)
		}
		if m := mode(t, path); m != 0o600 {
			t.Errorf("mode %v, want 0600", m)
		}
		// Probe from the owner's own process sees the lock held.
		if s := probe(t, path); s != shm.Alive {
			t.Errorf("Probe while held = %v, want Alive", s)
		}
		// A second open file description in the same process conflicts.
		if _, err := shm.AcquireLock(path, 0); !errors.Is(err, shm.ErrLocked) {
			t.Errorf("second AcquireLock: %v, want ErrLocked", err)
		}
		if _, err := shm.TryLock(path); !errors.Is(err, shm.ErrLocked) {
			t.Errorf("TryLock while held: %v, want ErrLocked", err)
		}
		if _, err := shm.CreateLock(path, 0); !errors.Is(err, shm.ErrExist) {
			t.Errorf("CreateLock of an existing file: %v, want ErrExist", err)
		}
		// Probing does not disturb the owner.
		if s := probe(t, path); s != shm.Alive {
			t.Errorf("Probe after the failed attempts = %v, want Alive", s)
		}
		for range 2 {
			if err := l.Release(); err != nil {
				t.Errorf("Release: %v", err)
			}
		}
		if s := probe(t, path); s != shm.Dead {
			t.Errorf("Probe after Release = %v, want Dead", s)
		}
		// A cleaner takes over the dead owner's file, then removes it.
		c, err := shm.TryLock(path)
		if err != nil {
			t.Fatalf("TryLock of a dead file: %v", err)
		}
		if s := probe(t, path); s != shm.Alive {
			t.Errorf("Probe while the cleaner holds it = %v, want Alive", s)
		}
		if err := c.Remove(); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		if s := probe(t, path); s != shm.Missing {
			t.Errorf("Probe after Remove = %v, want Missing", s)
		}
		if err := c.Remove(); err == nil {
			t.Error("Remove of a released lock succeeded")
		}
		if _, err := shm.TryLock(path); !errors.Is(err, shm.ErrNotExist) {
			t.Errorf("TryLock of a missing file: %v, want ErrNotExist", err)
		}
	})
}

func TestCreateLock(t *testing.T) {
	forEachCreation(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "node.lock")
		l, err := shm.CreateLock(path, 0o640)
		if err != nil {
			t.Fatal(err)
		}
		if m := mode(t, path); m != 0o640 {
			t.Errorf("mode %v, want 0640", m)
		}
		if s := probe(t, path); s != shm.Alive {
			t.Errorf("Probe = %v, want Alive", s)
		}
		l.Release()
		// Exclusive even when the owner is dead.
		if _, err := shm.CreateLock(path, 0); !errors.Is(err, shm.ErrExist) {
			t.Errorf("CreateLock of a dead owner's file: %v, want ErrExist", err)
		}
		// AcquireLock takes a dead owner's file over.
		l, err = shm.AcquireLock(path, 0)
		if err != nil {
			t.Fatalf("AcquireLock of a dead owner's file: %v", err)
		}
		l.Release()
		// Nothing but the lock file is left in the directory.
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Errorf("directory holds %d entries, want 1", len(ents))
		}
		if _, err := shm.CreateLock(filepath.Join(dir, "missing", "x.lock"), 0); err == nil || errors.Is(err, shm.ErrExist) {
			t.Errorf("CreateLock in a missing directory: %v, want an error", err)
		}
	})
}

func TestLockInvalidPaths(t *testing.T) {
	for _, path := range []string{"", "/", "a\x00b", "dir/..", "."} {
		if _, err := shm.AcquireLock(path, 0); !errors.Is(err, shm.ErrInvalidName) {
			t.Errorf("AcquireLock(%q): %v, want ErrInvalidName", path, err)
		}
		if _, err := shm.CreateLock(path, 0); !errors.Is(err, shm.ErrInvalidName) {
			t.Errorf("CreateLock(%q): %v, want ErrInvalidName", path, err)
		}
		if _, err := shm.TryLock(path); !errors.Is(err, shm.ErrInvalidName) {
			t.Errorf("TryLock(%q): %v, want ErrInvalidName", path, err)
		}
		if _, err := shm.Probe(path); !errors.Is(err, shm.ErrInvalidName) {
			t.Errorf("Probe(%q): %v, want ErrInvalidName", path, err)
		}
	}
}

// Many goroutines race for one lock while others probe it: exactly one
// wins each round. With O_TMPFILE, the file appears locked, so probes see
// it Missing or Alive, never Dead.
func TestLockRace(t *testing.T) {
	forEachCreation(t, func(t *testing.T) {
		neverDead := !*shm.NoTmpfile
		dir := t.TempDir()
		for round := range 20 {
			path := filepath.Join(dir, "lock")
			const n = 6
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				locks []*shm.Lock
			)
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					var l *shm.Lock
					var err error
					if i%2 == 0 {
						l, err = shm.AcquireLock(path, 0)
					} else {
						l, err = shm.CreateLock(path, 0)
					}
					switch {
					case err == nil:
						mu.Lock()
						locks = append(locks, l)
						mu.Unlock()
					case !errors.Is(err, shm.ErrLocked) && !errors.Is(err, shm.ErrExist):
						t.Errorf("round %d: %v", round, err)
					}
				})
				wg.Go(func() {
					<-start
					s, err := shm.Probe(path)
					if err != nil {
						t.Errorf("Probe: %v", err)
					}
					if neverDead && s == shm.Dead {
						t.Errorf("round %d: Probe saw a starting owner as Dead", round)
					}
				})
			}
			close(start)
			wg.Wait()
			if len(locks) != 1 {
				t.Fatalf("round %d: %d winners, want 1", round, len(locks))
			}
			if s := probe(t, path); s != shm.Alive {
				t.Errorf("round %d: Probe = %v, want Alive", round, s)
			}
			if err := locks[0].Remove(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestStateString(t *testing.T) {
	for s, want := range map[shm.State]string{shm.Alive: "Alive", shm.Dead: "Dead", shm.Missing: "Missing", 0: "State(0)"} {
		if s.String() != want {
			t.Errorf("State(%d).String() = %q, want %q", int(s), s.String(), want)
		}
	}
}
