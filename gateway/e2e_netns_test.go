package gateway_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/iox2go/iox2go/gateway/internal/gwtest"
)

// TestE2ENetworkNamespaces: hosts A and B in two network namespaces
// joined by a veth pair, the NATS server in A's namespace (a peer
// process), B's gateway reaching it over the veth. Samples cross A -> B
// and B -> A. Needs root and `ip netns`; else it skips and says why.
func TestE2ENetworkNamespaces(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end gateway test: not with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root: this test runs as uid", os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("network namespaces need the ip command (iproute2):", err)
	}
	gwtest.IOX2(t)
	r := make([]byte, 4)
	rand.Read(r)
	id := hex.EncodeToString(r[:3])
	nsA, nsB := "iox2gwA"+id, "iox2gwB"+id
	subnet := fmt.Sprintf("10.%d.%d", 64+int(r[3])%64, r[0])
	ip := func(args ...string) error {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := ip("netns", "add", nsA); err != nil {
		t.Skip("cannot make a network namespace here:", err)
	}
	t.Cleanup(func() { ip("netns", "del", nsA) })
	if err := ip("netns", "add", nsB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ip("netns", "del", nsB) })
	for _, args := range [][]string{
		{"link", "add", "gwa" + id, "netns", nsA, "type", "veth", "peer", "name", "gwb" + id, "netns", nsB},
		{"-n", nsA, "addr", "add", subnet + ".1/24", "dev", "gwa" + id},
		{"-n", nsB, "addr", "add", subnet + ".2/24", "dev", "gwb" + id},
		{"-n", nsA, "link", "set", "lo", "up"},
		{"-n", nsB, "link", "set", "lo", "up"},
		{"-n", nsA, "link", "set", "gwa" + id, "up"},
		{"-n", nsB, "link", "set", "gwb" + id, "up"},
	} {
		if err := ip(args...); err != nil {
			t.Skip("cannot join the namespaces with a veth pair here:", err)
		}
	}

	ns := namespace()
	a := gwtest.NewHost(t, "A", "", ns)
	b := gwtest.NewHost(t, "B", "", ns)
	a.Wrap = []string{"ip", "netns", "exec", nsA}
	b.Wrap = []string{"ip", "netns", "exec", nsB}
	srv := a.Peer("nats-server", gwtest.EnvListen+"="+subnet+".1")
	url := fmt.Sprintf("nats://%s.1:%d", subnet, srv.Ready.Port)
	a.SetNATSURL(url)
	b.SetNATSURL(url)
	a.StartGateway()
	b.StartGateway()

	subA, subB := a.Peer("imu-sub"), b.Peer("imu-sub")
	pub1, pub2 := a.Peer("imu-pub", pubEnv(1)), b.Peer("imu-pub", pubEnv(2))
	pub1.Send("warm")
	pub2.Send("warm")
	gwtest.WaitWarm(subB, 1)
	gwtest.WaitWarm(subA, 2)
	pub1.Send("go 20 5ms")
	pub2.Send("go 20 5ms")
	gwtest.Track(t, subA, "imu").Expect(map[uint32]uint64{1: 20, 2: 20})
	gwtest.Track(t, subB, "imu").Expect(map[uint32]uint64{1: 20, 2: 20})
}
