package gateway_test

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/iox2go/iox2go/gateway/internal/gwtest"
	"github.com/iox2go/iox2go/runtime/iox2test"
)

// The end-to-end tests of the gateway (issue 14's proof): an embedded
// NATS server, "hosts" that are separate domains on this machine, each
// with its own `iox2 gateway` process and its own peer processes (this
// test binary re-executed in a role of gateway/internal/gwtest).
//
// Timing bounds (gwtest): anything that must happen has 20s
// (gwtest.Patience); "nothing more arrives" is watched for 750ms
// (gwtest.Quiet); the gateways' heartbeat is 250ms.

// TestMain runs a peer's role when the binary is re-executed as one.
func TestMain(m *testing.M) { gwtest.Main(m) }

// world is a test's NATS server and hosts A, B, C, ...
type world struct {
	nats  *gwtest.NATS
	hosts []*gwtest.Host
}

// newWorld starts an embedded NATS server on the loopback and makes n
// hosts on it, with one namespace of the test's own.
func newWorld(t *testing.T, n int) *world {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end gateway test: not with -short")
	}
	gwtest.IOX2(t) // build it before any timing starts
	w := &world{nats: gwtest.StartNATS(t, "127.0.0.1")}
	ns := namespace()
	for i := range n {
		w.hosts = append(w.hosts, gwtest.NewHost(t, string(rune('A'+i)), w.nats.URL(), ns))
	}
	return w
}

// namespace is a fresh NATS namespace with the run's tag.
func namespace() string {
	b := make([]byte, 4)
	rand.Read(b)
	return "e2e" + iox2test.RunTag() + hex.EncodeToString(b)
}

func pubEnv(n int) string { return gwtest.EnvPub + "=" + string(rune('0'+n)) }
