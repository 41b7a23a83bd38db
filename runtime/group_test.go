package runtime

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

func init() {
	helpers["group-owner"] = helperGroupOwner
	helpers["group-cleaner"] = helperGroupCleaner
}

func groupConfig() *Config {
	cfg := helperConfig()
	cfg.ShmDir = os.Getenv("IOX2_TEST_SHMDIR")
	cfg.FileMode = 0o660
	return cfg
}

// helperGroupOwner creates a service with a publisher and waits to be killed.
func helperGroupOwner() error {
	node, err := NewNodeBuilder().Config(groupConfig()).Create()
	if err != nil {
		return err
	}
	svc, err := PublishSubscribe[msg](node, "group/shared").HistorySize(1).Create()
	if err != nil {
		return err
	}
	pub, err := svc.Publisher()
	if err != nil {
		return err
	}
	pub.SendCopy(msg{Seq: 1})
	fmt.Println("ready")
	select {}
}

// helperGroupCleaner is another user of the group: creating its node cleans
// up after the dead owner; then it uses the service.
func helperGroupCleaner() error {
	cfg := groupConfig()
	node, err := NewNodeBuilder().Config(cfg).Create()
	if err != nil {
		return err
	}
	nodes, _ := ListNodes(cfg)
	if len(nodes) != 1 {
		return fmt.Errorf("after cleanup the domain has %d nodes: %+v", len(nodes), nodes)
	}
	svc, err := PublishSubscribe[msg](node, "group/shared").OpenOrCreate()
	if err != nil {
		return err
	}
	if _, err := svc.Publisher(); err != nil {
		return err
	}
	svc.Close()
	node.Close()
	fmt.Println("done")
	return nil
}

// TestGroupSharesAndCleansUp runs two processes as two different users of
// one group, with FileMode 0660: the second cleans up after the first,
// killed, and uses its service. It needs root to switch users.
func TestGroupSharesAndCleansUp(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run processes as two other users")
	}
	cfg := testConfig(t)
	// The two users need to reach the test binary, the root and the
	// shared-memory directory.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir, filepath.Dir(cfg.Root), cfg.Root} {
		os.Chmod(d, 0o777)
	}
	exe := filepath.Join(dir, "test.bin")
	copyFile(t, os.Args[0], exe)
	shmDir := filepath.Join("/dev/shm", "group-"+cfg.Prefix)
	t.Cleanup(func() { os.RemoveAll(shmDir) })
	const gid = 42424
	run := func(uid uint32, helper string) *exec.Cmd {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "IOX2_TEST_HELPER="+helper, "IOX2_TEST_ROOT="+cfg.Root,
			"IOX2_TEST_PREFIX="+cfg.Prefix, "IOX2_TEST_SHMDIR="+shmDir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
		cmd.Stderr = os.Stderr
		return cmd
	}
	owner := run(42001, "group-owner")
	out, _ := owner.StdoutPipe()
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "ready\n" {
		owner.Process.Kill()
		owner.Wait()
		t.Fatalf("owner did not start: %q %v", buf, err)
	}
	owner.Process.Signal(syscall.SIGKILL)
	owner.Wait()
	cleaner := run(42002, "group-cleaner")
	b, err := cleaner.Output()
	if err != nil || string(b) != "done\n" {
		t.Fatalf("second user: %q, %v", b, err)
	}
	left, _ := filepath.Glob(filepath.Join(shmDir, "*"))
	if len(left) != 0 {
		t.Fatalf("left in %s: %v", shmDir, left)
	}
	assertNoFiles(t, cfg)
}

func copyFile(t *testing.T, from, to string) {
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
