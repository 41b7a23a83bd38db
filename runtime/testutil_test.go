package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iox2go/iox2go/internal/testrun"
)

// testConfig returns a configuration of its own for test t: a root in a
// temporary directory and a prefix derived from the test's name, so that
// tests never see each other. t.Cleanup checks that nothing of the test is
// left in /dev/shm and removes it if so.
func testConfig(t testing.TB) *Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Root = t.TempDir()
	configs++
	h := sha256.Sum256([]byte(fmt.Sprint(t.Name(), os.Getpid(), configs)))
	cfg.Prefix = "iox2t_" + testrun.Tag() + hex.EncodeToString(h[:5]) + "_"
	cfg.InProcess = inProcess
	t.Cleanup(func() { assertNoShm(t, cfg) })
	return cfg
}

// configs numbers the configurations of this process, so that two of one
// test are separate domains too.
var configs int

// inProcess makes testConfig choose the in-process transport; see
// TestInProcessTransport.
var inProcess bool

func shmLeftovers(cfg *Config) []string {
	m, _ := filepath.Glob(filepath.Join(cfg.ShmDir, cfg.Prefix+"*"))
	return m
}

func assertNoShm(t testing.TB, cfg *Config) {
	t.Helper()
	if left := shmLeftovers(cfg); len(left) > 0 {
		for _, f := range left {
			os.Remove(f)
		}
		t.Errorf("left in %s: %s", cfg.ShmDir, strings.Join(left, ", "))
	}
}

func testNode(t testing.TB, cfg *Config) *Node {
	t.Helper()
	n, err := NewNodeBuilder().Config(cfg).Create()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}
