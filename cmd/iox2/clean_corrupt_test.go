package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iox2go/iox2go/examples/gen/robot"
	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/iox2test"
)

// corruptFiles returns the static config and the dynamic segment of the
// domain's only service.
func corruptFiles(t *testing.T, cfg *iox2.Config) (static, dynamic string) {
	t.Helper()
	s, _ := filepath.Glob(filepath.Join(cfg.Root, "services", cfg.Prefix+"*.service"))
	d, _ := filepath.Glob(filepath.Join(cfg.ShmDir, cfg.Prefix+"*.dynamic"))
	if len(s) != 1 || len(d) != 1 {
		t.Fatalf("want one static config and one dynamic segment, have %v and %v", s, d)
	}
	return s[0], d[0]
}

// badMagic overwrites the magic in the header of segment path.
func badMagic(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], 0xdeadbeef)
	if _, err := f.WriteAt(b[:], 4); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// TestInspectCleanCorruptService: a service whose dynamic segment has a
// bad magic and that no node holds (as a normal exit leaves it when the
// damage hid the last node's leave) is listed by clean --dry-run, removed
// by clean, and can then be created again.
func TestInspectCleanCorruptService(t *testing.T) {
	cfg := iox2test.Config(t)
	cfg.CleanupDeadNodesOnCreation = false
	cfg.CleanupDeadNodesOnDestruction = false
	node, err := iox2.NewNodeBuilder().Config(cfg).SignalHandling(false).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	svc, err := robot.OpenOrCreateImu(node)
	if err != nil {
		t.Fatal(err)
	}
	static, dynamic := corruptFiles(t, cfg)
	sb, err1 := os.ReadFile(static)
	db, err2 := os.ReadFile(dynamic)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	svc.Close()
	if exists(static) || exists(dynamic) {
		t.Fatal("closing the service left its files")
	}
	// Put the files back, damaged, with no holder.
	if err := errors.Join(os.WriteFile(static, sb, 0o600), os.WriteFile(dynamic, db, 0o600)); err != nil {
		t.Fatal(err)
	}
	badMagic(t, dynamic)
	if _, err := robot.OpenOrCreateImu(node); !errors.Is(err, iox2.ErrServiceCorrupted) {
		t.Fatalf("OpenOrCreate of the damaged service = %v, want ErrServiceCorrupted", err)
	}
	hash := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(static), cfg.Prefix), ".service")

	var dry inspectCleanOut
	inspectJSON(t, cfg, &dry, "clean", "--dry-run")
	if !dry.DryRun || len(dry.Nodes) != 0 || len(dry.Services) != 1 {
		t.Fatalf("clean --dry-run --json: %+v", dry)
	}
	ds := dry.Services[0]
	if ds.Hash != hash || ds.Name != "robot/imu" || ds.Pattern != "publish_subscribe" || ds.Removed || len(ds.HeldBy) != 0 ||
		!strings.Contains(ds.Reason, "bad magic") || len(ds.Files) != 2 || ds.Files[0] != static || ds.Files[1] != dynamic {
		t.Fatalf("clean --dry-run --json: service %+v", ds)
	}
	text := inspectOK(t, cfg, "clean", "--dry-run")
	want := fmt.Sprintf("would remove corrupted service %s (name robot/imu, pattern publish_subscribe): 2 files\n", hash)
	if !strings.HasPrefix(text, want+"  reason: dynamic segment: ") || !strings.HasSuffix(text, "\n  "+static+"\n  "+dynamic+"\n") {
		t.Errorf("clean --dry-run printed\n%s\nwant it to start with\n%s", text, want)
	}
	if !exists(static) || !exists(dynamic) {
		t.Fatal("clean --dry-run removed files")
	}

	var c inspectCleanOut
	inspectJSON(t, cfg, &c, "clean")
	if c.DryRun || c.Cleaned != 0 || len(c.Services) != 1 || !c.Services[0].Removed ||
		len(c.Services[0].Files) != 2 || len(c.Services[0].Remaining) != 0 {
		t.Fatalf("clean --json: %+v", c)
	}
	if exists(static) || exists(dynamic) {
		t.Fatal("clean left the corrupted service's files")
	}
	if out := inspectOK(t, cfg, "clean"); out != "nothing to clean\n" {
		t.Errorf("second clean: %q", out)
	}
	svc, err = robot.OpenOrCreateImu(node)
	if err != nil {
		t.Fatalf("OpenOrCreate after clean: %v", err)
	}
	svc.Close()
	node.Close()
	inspectCheckNoShm(t, cfg)
}

// TestInspectCleanKeepsHeldCorruptService: a corrupted service that a live
// node holds is reported as kept and not removed.
func TestInspectCleanKeepsHeldCorruptService(t *testing.T) {
	cfg := iox2test.Config(t)
	holder := startInspectPeer(t, cfg, "holder", "imu-pub")
	static, dynamic := corruptFiles(t, cfg)
	badMagic(t, dynamic)
	hash := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(static), cfg.Prefix), ".service")

	out := inspectOK(t, cfg, "clean")
	want := fmt.Sprintf("kept corrupted service %s (name robot/imu, pattern publish_subscribe): held by live node %s\n  reason: dynamic segment: ", hash, holder.id)
	if !strings.HasPrefix(out, want) || strings.Count(out, "\n") != 2 {
		t.Errorf("clean printed\n%s\nwant\n%s...", out, want)
	}
	var c inspectCleanOut
	inspectJSON(t, cfg, &c, "clean")
	if len(c.Services) != 1 || c.Services[0].Removed || len(c.Services[0].HeldBy) != 1 || c.Services[0].HeldBy[0] != holder.id ||
		len(c.Services[0].Files) != 0 || len(c.Services[0].Remaining) != 2 {
		t.Fatalf("clean --json: %+v", c)
	}
	if !exists(static) || !exists(dynamic) {
		t.Fatal("clean removed a corrupted service that a live node holds")
	}
	holder.stop(t) // its node leaves last and removes the service
	iox2.CleanupDeadNodes(cfg)
	if exists(static) || exists(dynamic) {
		t.Error("the service outlived its holder")
	}
	inspectCheckNoShm(t, cfg)
}
