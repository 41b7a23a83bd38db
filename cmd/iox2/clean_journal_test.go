package main

import (
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/iox2test"
)

// domainFiles lists the files of cfg's domain: those with its prefix in
// the shared-memory directory and every file (not directory) under its
// root, sorted.
func domainFiles(cfg *iox2.Config) []string {
	files, _ := filepath.Glob(filepath.Join(cfg.ShmDir, cfg.Prefix+"*"))
	filepath.WalkDir(cfg.Root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	return files
}

// TestInspectCleanAfterCorruptDynamic: the two ports of a service in two
// peer processes, the service's dynamic segment overwritten with garbage
// or truncated, both peers killed with SIGKILL. clean removes every file
// of the domain and reports each one (as a dead node's or the corrupted
// service's), and a second clean has nothing to clean. Before the ports
// recorded themselves in their node's directory, the data segments,
// connections and event segments that the damaged segment no longer named
// stayed for good.
func TestInspectCleanAfterCorruptDynamic(t *testing.T) {
	patterns := []struct {
		name  string
		roles [2]string
		shm   int // the domain's files in ShmDir once the ports met
	}{
		{"publish-subscribe", [2]string{"imu-pub", "imu-sub"}, 3},        // dynamic, data, connection
		{"request-response", [2]string{"plan-client", "plan-server"}, 5}, // dynamic, 2 data, 2 connections
		{"event", [2]string{"alarm-notifier", "alarm-listener"}, 2},      // dynamic, event
	}
	for pi, pat := range patterns {
		for di, how := range []string{"garbage", "truncate"} {
			t.Run(pat.name+"/"+how, func(t *testing.T) {
				cfg := iox2test.Config(t)
				a := startInspectPeer(t, cfg, "a", pat.roles[0])
				b := startInspectPeer(t, cfg, "b", pat.roles[1])
				// The nodes' dispatchers connect the ports as soon as
				// their doorbells ring; 20 s leaves room for a loaded
				// machine.
				var inShm []string
				for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
					inShm, _ = filepath.Glob(filepath.Join(cfg.ShmDir, cfg.Prefix+"*"))
					if len(inShm) == pat.shm {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("the ports' files after 20 s: %v, want %d", inShm, pat.shm)
					}
				}
				_, dynamic := corruptFiles(t, cfg)
				damage(t, dynamic, how, int64(2*pi+di+1))
				// Both peers stop before either dies: a live peer's
				// node cleans a dead one as soon as its pidfd says so,
				// and clean must find both dead nodes.
				a.cmd.Process.Signal(syscall.SIGSTOP)
				b.cmd.Process.Signal(syscall.SIGSTOP)
				a.kill(t)
				b.kill(t)
				before := domainFiles(cfg)

				var c inspectCleanOut
				inspectJSON(t, cfg, &c, "clean")
				// b's node may clean up after a before b dies itself (it
				// watches a's process through a pidfd): then clean finds
				// one dead node, and a's files are gone already.
				if c.Cleaned < 1 || c.Failed != 0 || len(c.Nodes) != c.Cleaned+c.CleanedByOthers {
					t.Errorf("clean --json: cleaned %d, failed %d, %d nodes; want the dead nodes cleaned", c.Cleaned, c.Failed, len(c.Nodes))
				}
				reported := map[string]bool{}
				for _, n := range c.Nodes {
					if !n.Removed || len(n.Remaining) != 0 {
						t.Errorf("node %s: removed %v, remaining %v", n.ID, n.Removed, n.Remaining)
					}
					for _, f := range n.Files {
						reported[f] = true
					}
				}
				for _, s := range c.Services {
					if !s.Removed || len(s.Remaining) != 0 {
						t.Errorf("service %s: removed %v, remaining %v", s.Hash, s.Removed, s.Remaining)
					}
					for _, f := range s.Files {
						reported[f] = true
					}
				}
				for _, f := range before {
					if !reported[f] {
						t.Errorf("clean removed %s without reporting it", f)
					}
				}
				if left := domainFiles(cfg); len(left) > 0 {
					t.Errorf("clean left %v", left)
				}
				if out := inspectOK(t, cfg, "clean"); out != "nothing to clean\n" {
					t.Errorf("second clean: %q", out)
				}
			})
		}
	}
}

// damage writes random bytes over the whole segment at path ("garbage")
// or truncates it to 1000 bytes ("truncate").
func damage(t *testing.T, path, how string, seed int64) {
	t.Helper()
	if how == "truncate" {
		if err := os.Truncate(path, 1000); err != nil {
			t.Fatal(err)
		}
		return
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, st.Size())
	rand.New(rand.NewSource(seed)).Read(b)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
}
