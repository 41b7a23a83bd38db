// Package iox2test helps tests of code that uses iox2go: each test gets a
// domain of its own, so that tests (and parallel runs of the same tests)
// never see each other's services, and a check that the test left nothing
// behind.
//
//	func TestPipeline(t *testing.T) {
//		node := iox2test.Node(t, iox2test.Config(t))
//		svc, err := robot.OpenOrCreateImu(node)
//		...
//	}
package iox2test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/iox2go/iox2go/internal/testrun"
	iox2 "github.com/iox2go/iox2go/runtime"
)

var configs atomic.Uint64

// RunTag returns the tag of this run of the test suite (the environment
// variable IOX2GO_TEST_RUN, which `make test` sets; "" when unset). Every
// prefix that Config makes carries it, so that a check for files left
// behind can look at this run's files alone.
func RunTag() string { return testrun.Tag() }

// Config returns a configuration whose domain belongs to test t alone: its
// root is a temporary directory of t and its prefix is derived from t's
// name, the process and a counter, after the run's tag (RunTag). When t
// ends, Config checks that nothing with that prefix is left in the shared-memory directory (removing it and
// failing the test if so); close your nodes before then.
func Config(t testing.TB) *iox2.Config {
	t.Helper()
	cfg := iox2.DefaultConfig()
	cfg.Root = t.TempDir()
	h := sha256.Sum256([]byte(fmt.Sprint(t.Name(), os.Getpid(), configs.Add(1))))
	cfg.Prefix = "iox2t_" + RunTag() + hex.EncodeToString(h[:5]) + "_"
	t.Cleanup(func() { CheckNothingLeft(t, cfg) })
	return cfg
}

// Node creates a node in cfg's domain, without signal handling, and closes
// it when t ends.
func Node(t testing.TB, cfg *iox2.Config) *iox2.Node {
	t.Helper()
	n, err := iox2.NewNodeBuilder().Name(t.Name()).Config(cfg).SignalHandling(false).Create()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// CheckNothingLeft fails t if anything of cfg's domain is left in its
// shared-memory directory, and removes it.
func CheckNothingLeft(t testing.TB, cfg *iox2.Config) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(cfg.ShmDir, cfg.Prefix+"*"))
	if len(left) == 0 {
		return
	}
	for _, f := range left {
		os.Remove(f)
	}
	t.Errorf("left in %s: %s", cfg.ShmDir, strings.Join(left, ", "))
}

// HelperEnv returns the environment that makes a child process (for
// example the test binary re-executed as a peer) use cfg's domain through
// ConfigFromEnv.
func HelperEnv(cfg *iox2.Config) []string {
	return []string{"IOX2TEST_ROOT=" + cfg.Root, "IOX2TEST_PREFIX=" + cfg.Prefix}
}

// ConfigFromEnv returns the configuration that HelperEnv passed to this
// process, or nil when there is none.
func ConfigFromEnv() *iox2.Config {
	root, prefix := os.Getenv("IOX2TEST_ROOT"), os.Getenv("IOX2TEST_PREFIX")
	if root == "" || prefix == "" {
		return nil
	}
	cfg := iox2.DefaultConfig()
	cfg.Root, cfg.Prefix = root, prefix
	return cfg
}
