package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/iox2go/iox2go/internal/testrun"
	iox2 "github.com/iox2go/iox2go/runtime"
)

// startNATS runs an embedded NATS server on a random port (or on port,
// when not 0) until the test ends.
func startNATS(t *testing.T, port int) *server.Server {
	t.Helper()
	if port == 0 {
		port = -1
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s
}

var domains int

// domain returns the configuration of a domain of its own ("a host"):
// its own root, prefix and shared-memory names.
func domain(t *testing.T, host string) *iox2.Config {
	t.Helper()
	cfg := iox2.DefaultConfig()
	cfg.Root = t.TempDir()
	domains++
	h := sha256.Sum256([]byte(fmt.Sprint(t.Name(), os.Getpid(), domains)))
	cfg.Prefix = "iox2g_" + testrun.Tag() + hex.EncodeToString(h[:4]) + host + "_"
	t.Cleanup(func() {
		left, _ := filepath.Glob(filepath.Join(cfg.ShmDir, cfg.Prefix+"*"))
		if len(left) > 0 {
			t.Errorf("left in %s: %s", cfg.ShmDir, strings.Join(left, ", "))
			for _, f := range left {
				os.Remove(f)
			}
		}
	})
	return cfg
}

// logBuf collects a gateway's log lines.
type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logBuf) has(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

type testGW struct {
	*Gateway
	log    *logBuf
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error // Run's
}

// runGateway starts a gateway for cfg's domain; it ends with the test.
func runGateway(t *testing.T, cfg *iox2.Config, url string, mod func(*Config)) *testGW {
	t.Helper()
	lb := &logBuf{}
	gc := Config{NATSURL: url, Namespace: "t" + testrun.Tag() + fmt.Sprint(os.Getpid()), HeartbeatInterval: 50 * time.Millisecond, Logf: lb.logf}
	if mod != nil {
		mod(&gc)
	}
	g, err := New(cfg, gc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tg := &testGW{Gateway: g, log: lb, cancel: cancel, done: make(chan error, 1)}
	go func() { tg.done <- g.Run(ctx) }()
	t.Cleanup(tg.stop)
	return tg
}

// stop ends the gateway and returns Run's error.
func (tg *testGW) stop() {
	tg.once.Do(func() {
		tg.cancel()
		select {
		case tg.err = <-tg.done:
		case <-time.After(10 * time.Second):
			panic("gateway did not stop")
		}
	})
}

// eventually polls cond every 10ms for up to 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// bridged reports whether g carries service name of pattern p with n remotes.
func bridged(g *Gateway, name, p string, n int) bool {
	for _, b := range g.Status().Bridges {
		if b.Service == name && b.Pattern == p && len(b.Remotes) == n {
			return true
		}
	}
	return false
}

func bridgeOf(t *testing.T, g *Gateway, name, p string) BridgeStatus {
	t.Helper()
	for _, b := range g.Status().Bridges {
		if b.Service == name && b.Pattern == p {
			return b
		}
	}
	t.Fatalf("no bridge of %s %q in %+v", p, name, g.Status().Bridges)
	return BridgeStatus{}
}

func testNode(t *testing.T, cfg *iox2.Config, name string) *iox2.Node {
	t.Helper()
	n, err := iox2.NewNodeBuilder().Name(name).Config(cfg).Create()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
