package runtime

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

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

// TestConfigRefusesWorldModesAndTinyDurations: a file mode with any
// permission for other users, and durations below their bounds, are
// refused by Validate (and so by NodeBuilder.Create) with a message that
// names the setting, the value and the bound; group modes stay.
func TestConfigRefusesWorldModesAndTinyDurations(t *testing.T) {
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.FileMode = 0o777 }, "iox2: config: file mode 0777 gives permissions to every user (world bits 07): use 0600, or 0660 to share with a group"},
		{func(c *Config) { c.FileMode = 0o602 }, "iox2: config: file mode 0602 gives permissions to every user (world bits 02)"},
		{func(c *Config) { c.FileMode = 0o661 }, "iox2: config: file mode 0661 gives permissions to every user (world bits 01)"},
		{func(c *Config) { c.DiscoveryInterval = time.Nanosecond }, "iox2: config: discovery interval is 1ns, must be at least 10ms"},
		{func(c *Config) { c.DiscoveryInterval = 9 * time.Millisecond }, "iox2: config: discovery interval is 9ms, must be at least 10ms"},
		{func(c *Config) { c.CreationTimeout = time.Microsecond }, "iox2: config: creation timeout is 1µs, must be at least 1ms"},
	} {
		cfg := DefaultConfig()
		cfg.Root = t.TempDir()
		c.edit(cfg)
		if err := cfg.Validate(); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Validate() = %v, want %q", err, c.want)
		}
		if n, err := NewNodeBuilder().Config(cfg).SignalHandling(false).Create(); err == nil {
			n.Close()
			t.Errorf("NewNodeBuilder().Create() accepted %+v", cfg)
		}
	}
	for _, mode := range []os.FileMode{0o600, 0o640, 0o660, 0o670, 0o700, 0o770} {
		cfg := DefaultConfig()
		cfg.FileMode = mode
		cfg.DiscoveryInterval, cfg.CreationTimeout = MinDiscoveryInterval, MinCreationTimeout
		if err := cfg.Validate(); err != nil {
			t.Errorf("mode %#o and the smallest durations: %v", mode, err)
		}
	}
	// The event deadline of a builder, and of the config's defaults.
	node := testNode(t, testConfig(t))
	if _, err := Event(node, "tiny-deadline").Deadline(time.Microsecond).Create(); !errors.Is(err, ErrInvalidQoS) ||
		!strings.Contains(err.Error(), "deadline is 1µs, must be at least 1ms (or 0 for none)") {
		t.Errorf("Deadline(1µs) = %v, want ErrInvalidQoS naming the bound", err)
	}
	svc, err := Event(node, "ms-deadline").Deadline(MinEventDeadline).Create()
	if err != nil {
		t.Fatalf("Deadline(MinEventDeadline) = %v", err)
	}
	svc.Close()
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
