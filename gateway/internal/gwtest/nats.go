package gwtest

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// NATS is a nats-server embedded in the test process (STYLE.md item 18):
// it listens on a random loopback port, keeps that port across Restart,
// and is shut down when the test ends.
type NATS struct {
	t    testing.TB
	host string
	port int
	srv  *server.Server
}

// StartNATS starts a server on a random port of host ("127.0.0.1" for the
// loopback) and shuts it down when t ends.
func StartNATS(t testing.TB, host string) *NATS {
	t.Helper()
	n := &NATS{t: t, host: host, port: -1}
	if err := n.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return n
}

// NewNATSServer starts a server on host:port (port -1: a random one) and
// waits until it accepts connections. Also used by the peer process that
// runs the server inside a network namespace.
func NewNATSServer(host string, port int) (*server.Server, error) {
	s, err := server.NewServer(&server.Options{
		Host:   host,
		Port:   port,
		NoLog:  true,
		NoSigs: true,
		// The server stays small: no HTTP monitoring, no JetStream.
		HTTPPort: 0,
	})
	if err != nil {
		return nil, fmt.Errorf("nats-server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(Patience) {
		s.Shutdown()
		return nil, fmt.Errorf("nats-server on %s:%d: not ready within %v", host, port, Patience)
	}
	return s, nil
}

func (n *NATS) start() error {
	var s *server.Server
	var err error
	// The port of a restart may still be held for a moment by the old
	// listener's goroutines: retry for a while.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if s, err = NewNATSServer(n.host, n.port); err == nil || time.Now().After(deadline) || n.port < 0 {
			break
		}
	}
	if err != nil {
		return err
	}
	n.srv = s
	_, p, _ := net.SplitHostPort(s.Addr().String())
	n.port, _ = strconv.Atoi(p)
	return nil
}

// URL is the server's client URL, nats://host:port.
func (n *NATS) URL() string {
	return "nats://" + net.JoinHostPort(n.host, strconv.Itoa(n.port))
}

// Stop shuts the server down (a no-op when it is down).
func (n *NATS) Stop() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

// Restart stops the server, and after down has passed starts a new one on
// the same port: its clients lose their connection and must reconnect.
func (n *NATS) Restart(down time.Duration) {
	n.t.Helper()
	n.Stop()
	time.Sleep(down)
	if err := n.start(); err != nil {
		n.t.Fatal(err)
	}
}
