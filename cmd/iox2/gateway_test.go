package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/iox2go/iox2go/gateway"
	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/iox2test"
)

// TestGatewayCommand runs `iox2 gateway` for two domains against an
// embedded NATS server: `iox2 gateway status` shows each to the other and
// the bridged service, SIGTERM ends them with exit code 0 and removes
// their sockets, and then `gateway status` is exit code 3.
func TestGatewayCommand(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(ns.Shutdown)
	bin := inspectBin(t)
	a, b := iox2test.Config(t), iox2test.Config(t)
	namespace := "cli" + iox2test.RunTag()
	var stderrs []*bytes.Buffer
	var cmds []*exec.Cmd
	// a runs with the default GOMAXPROCS (1), b with --gomaxprocs 2.
	env := slices.DeleteFunc(os.Environ(), func(v string) bool { return strings.HasPrefix(v, "GOMAXPROCS=") })
	for i, cfg := range []*iox2.Config{a, b} {
		args := []string{"--root", cfg.Root, "--prefix", cfg.Prefix, "gateway", "--nats", ns.ClientURL(),
			"--namespace", namespace, "--heartbeat", "50ms", "--deny", "cli/secret/*"}
		if i == 1 {
			args = append(args, "--gomaxprocs", "2")
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = append(env, "IOX2GO_CONFIG=", "XDG_CONFIG_HOME="+filepath.Dir(bin))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		cmds, stderrs = append(cmds, cmd), append(stderrs, &stderr)
	}
	node := iox2test.Node(t, a)
	svc, err := iox2.PublishSubscribe[uint64](node, "cli/gw").OpenOrCreate()
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	var st gateway.Status
	// Generous: two processes start, connect and announce every 50ms; a
	// loaded machine (make test runs packages in parallel) slows all of it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := inspectRun(t, b, "gateway", "status", "--json")
		if r.code == 0 {
			st = gateway.Status{}
			if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
				t.Fatalf("%v: %v", r, err)
			}
			if len(st.Bridges) == 1 {
				break
			}
		}
		if time.Now().After(deadline) {
			for _, cmd := range cmds { // their output is complete once they are gone
				cmd.Process.Kill()
				cmd.Wait()
			}
			t.Fatalf("b never bridged cli/gw in 30s: %v\ngateway a said:\n%s\ngateway b said:\n%s", r, stderrs[0], stderrs[1])
		}
		time.Sleep(50 * time.Millisecond)
	}
	if b := st.Bridges[0]; b.Service != "cli/gw" || b.Pattern != "publish_subscribe" || len(st.Remotes) != 1 || st.Namespace != namespace || !st.NATS.Connected || st.GOMAXPROCS != 2 {
		t.Errorf("status %+v", st)
	}
	out := inspectOK(t, a, "gateway", "status")
	for _, want := range []string{"GOMAXPROCS 1)", "namespace \"" + namespace + "\"", "NATS: CONNECTED", "announced (used on this host): 1", "other gateways: 1", "bridged: 0", "refused: 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("a's status lacks %q:\n%s", want, out)
		}
	}
	for i, cmd := range cmds {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("gateway %d: %v\n%s", i, err, stderrs[i])
		}
		if !strings.Contains(stderrs[i].String(), ": stopped\n") {
			t.Errorf("gateway %d did not log its stop:\n%s", i, stderrs[i])
		}
	}
	r := inspectRun(t, a, "gateway", "status")
	if r.code != exitNotFound || r.stderr != "iox2: no gateway runs in this domain (no socket "+gateway.SocketPath(a)+")\n" {
		t.Errorf("after the stop: %v", r)
	}
}

func TestGatewayCommandErrors(t *testing.T) {
	cfg := iox2test.Config(t)
	expectStderr(t, inspectRun(t, cfg, "gateway", "--allow", "["), exitUsage,
		`iox2: gateway: service pattern "[" is not a valid pattern (path.Match syntax)`)
	expectStderr(t, inspectRun(t, cfg, "gateway", "--namespace", "a.b"), exitUsage,
		`iox2: gateway: namespace "a.b" may only contain letters, digits, '_' and '-'`)
	expectStderr(t, inspectRun(t, cfg, "gateway", "--heartbeat", "1ms"), exitUsage,
		`iox2: gateway: heartbeat interval is 1ms, must be at least 10ms`)
	expectStderr(t, inspectRun(t, cfg, "gateway", "--gomaxprocs", "-1"), exitUsage,
		`iox2: gateway: invalid value "-1" for flag --gomaxprocs: "-1" is not a count of at least 0 (see iox2 gateway --help)`)
	r := inspectRun(t, cfg, "gateway", "status", "--json")
	if r.code != exitNotFound || !strings.Contains(r.stderr, `"exit_code":3`) {
		t.Errorf("status without a gateway: %v", r)
	}
}
