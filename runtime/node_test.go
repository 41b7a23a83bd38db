package runtime

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"
)

func init() { helpers["node-wait"] = helperNodeWait }

// helperNodeWait waits in a node.Wait loop and reports how it ended.
func helperNodeWait() error {
	node, err := NewNodeBuilder().Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	defer node.Close()
	fmt.Println("ready")
	for {
		if err := node.Wait(10 * time.Millisecond); err != nil {
			switch {
			case errors.Is(err, ErrNodeTerminationRequest):
				fmt.Println("SIGTERM")
			case errors.Is(err, ErrNodeInterrupted):
				fmt.Println("SIGINT")
			}
			return nil
		}
	}
}

func TestNodeWaitEndsOnSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		cfg := testConfig(t)
		cmd, out := startHelper(t, cfg, "node-wait")
		if !out.Scan() || out.Text() != "ready" {
			t.Fatal("helper did not start")
		}
		cmd.Process.Signal(sig)
		if !out.Scan() {
			t.Fatalf("%v: the Wait loop did not report", sig)
		}
		want := map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT"}[sig]
		if out.Text() != want {
			t.Fatalf("after %v, Wait returned the error for %q", sig, out.Text())
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%v: %v", sig, err)
		}
		if nodes, _ := ListNodes(cfg); len(nodes) != 0 {
			t.Fatalf("%v: the node's files are left: %+v", sig, nodes)
		}
	}
}

func TestServiceNameRules(t *testing.T) {
	for _, ok := range []string{"a", "My/Funk/ServiceName", "with spaces and ~!@#", string(make([]byte, 0)) + "x"} {
		if _, err := NewServiceName(ok); err != nil {
			t.Errorf("NewServiceName(%q) = %v", ok, err)
		}
	}
	long := make([]byte, 255)
	for i := range long {
		long[i] = 'a'
	}
	if _, err := NewServiceName(string(long)); err != nil {
		t.Errorf("255 bytes: %v", err)
	}
	for _, bad := range []string{"", "iox2://discovery", string(long) + "a", "nul\x00", "\xff"} {
		if _, err := NewServiceName(bad); !errors.Is(err, ErrInvalidServiceName) {
			t.Errorf("NewServiceName(%q) = %v, want ErrInvalidServiceName", bad, err)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for _, f := range []func(*Config){
		func(c *Config) { c.Root = "relative" },
		func(c *Config) { c.ShmDir = "" },
		func(c *Config) { c.Prefix = "a/b" },
		func(c *Config) { c.FileMode = 0o400 },
		func(c *Config) { c.CreationTimeout = 0 },
	} {
		c := DefaultConfig()
		c.Root = t.TempDir()
		f(c)
		if _, err := NewNodeBuilder().Config(c).Create(); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}
