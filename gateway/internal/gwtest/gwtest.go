// Package gwtest is the harness of the gateway's end-to-end tests
// (gateway/e2e_*_test.go): an embedded NATS server, "hosts" that are
// separate iox2go domains on one machine (each its own Root and prefix,
// with the run's tag), a gateway process per host (`iox2 gateway`, the CLI
// built once per test binary), and peer processes (the test binary
// re-executed in a role: publishers, subscribers, notifiers, listeners,
// clients and servers of examples/gen/robot) that talk to the test in JSON
// lines on stdin and stdout.
//
// Timing bounds are generous, for a machine whose cores are all busy:
// Patience for anything to arrive, Quiet for "nothing more arrives".
package gwtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/iox2test"
)

const (
	// Patience bounds every wait for something that must happen: a
	// sample, a notification or a response crossing, a process starting
	// or ending, a gateway reconnecting.
	Patience = 20 * time.Second
	// Quiet is how long a test waits after the expected traffic to see
	// that nothing more (a duplicate, an echo) arrives.
	Quiet = 750 * time.Millisecond
	// Heartbeat is the gateways' heartbeat interval in these tests: a
	// remote gateway is forgotten after 3 of them.
	Heartbeat = 250 * time.Millisecond
)

// Main is the TestMain of the gateway package: in a peer process (the
// test binary re-executed by Host.Peer) it runs the role and exits,
// else it runs the tests and removes the iox2 binary it built.
func Main(m *testing.M) {
	if role := os.Getenv(envRole); role != "" {
		os.Exit(runRole(role))
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// IOX2 returns the path of the iox2 CLI, built with go build once per test
// binary into a temporary directory.
func IOX2(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "iox2go-gwtest-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "iox2")
		// The go command that runs this test, else the one of GOROOT.
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		cmd := exec.Command(gobin, "build", "-o", binPath, "github.com/iox2go/iox2go/cmd/iox2")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/iox2: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Host is one "host": an iox2go domain of its own (Root, prefix), with a
// configuration file that names it and the gateway's settings.
type Host struct {
	t          testing.TB
	Name       string
	Cfg        *iox2.Config
	ConfigFile string
	Namespace  string
	NATSURL    string
	// Wrap, when set, is put before every command the host runs (for
	// example `ip netns exec NS`).
	Wrap []string
}

// NewHost makes a domain for host name whose gateway will use the NATS
// server at natsURL and the namespace ns (common to the hosts of a test:
// the default namespace derives from the prefix, which differs per host).
// When t ends, the host's processes have been stopped by then (they are
// registered later), dead nodes are cleaned with `iox2 clean`, and
// nothing of the domain may be left in its shared-memory directory or
// under its Root.
func NewHost(t testing.TB, name, natsURL, ns string) *Host {
	t.Helper()
	h := &Host{t: t, Name: name, Namespace: ns, NATSURL: natsURL}
	h.Cfg = iox2test.Config(t) // checks /dev/shm last
	h.ConfigFile = filepath.Join(t.TempDir(), name+".toml")
	h.writeConfig()
	t.Cleanup(h.checkRoot)
	return h
}

func (h *Host) writeConfig() {
	text := fmt.Sprintf(`# host %s of %s
[global]
root-path = %q
prefix = %q

[gateway]
nats-url = %q
namespace = %q
heartbeat-interval = %q
`, h.Name, h.t.Name(), h.Cfg.Root, h.Cfg.Prefix, h.NATSURL, h.Namespace, Heartbeat.String())
	if err := os.WriteFile(h.ConfigFile, []byte(text), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// SetNATSURL changes the URL the host's next gateway uses.
func (h *Host) SetNATSURL(url string) {
	h.NATSURL = url
	h.writeConfig()
}

// checkRoot cleans what dead processes left and then fails the test if
// any file of the domain remains under Root (an empty directory is fine).
func (h *Host) checkRoot() {
	t := h.t
	t.Helper()
	if out, err := h.CLI(context.Background(), "clean"); err != nil {
		t.Logf("host %s: iox2 clean: %v\n%s", h.Name, err, out)
	}
	var left []string
	filepath.WalkDir(h.Cfg.Root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("host %s: left under Root: %s", h.Name, strings.Join(left, ", "))
	}
}

func (h *Host) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	all := append(append(append([]string{}, h.Wrap...), name), args...)
	return exec.CommandContext(ctx, all[0], all[1:]...)
}

// CLI runs `iox2 --config <host's file> args...` and returns its stdout
// (and stderr, on failure, in the error).
func (h *Host) CLI(ctx context.Context, args ...string) ([]byte, error) {
	cmd := h.command(ctx, IOX2(h.t), append([]string{"--config", h.ConfigFile}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("iox2 %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// StartGateway starts `iox2 gateway` for the host with the extra flags
// (--allow, --deny, ...).
func (h *Host) StartGateway(extra ...string) *Proc {
	h.t.Helper()
	args := append([]string{"--config", h.ConfigFile, "gateway", "--nats", h.NATSURL, "--namespace", h.Namespace}, extra...)
	return h.start("gateway", h.command(context.Background(), IOX2(h.t), args...), true)
}

// StatusSocket is the path of the status socket of the host's gateway.
func (h *Host) StatusSocket() string {
	return filepath.Join(h.Cfg.Root, "gateway", h.Cfg.Prefix+"gateway.sock")
}

// Status returns `iox2 gateway status --json` of the host's running
// gateway, decoded, or the error.
func (h *Host) Status() (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), Patience)
	defer cancel()
	out, err := h.CLI(ctx, "gateway", "status", "--json")
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("gateway status --json: %v: %s", err, out)
	}
	return m, nil
}

// Peer starts the test binary re-executed in role (see roles.go) in the
// host's domain; env adds NAME=VALUE settings for the role.
func (h *Host) Peer(role string, env ...string) *Proc {
	h.t.Helper()
	cmd := h.command(context.Background(), os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), iox2test.HelperEnv(h.Cfg)...), envRole+"="+role)
	cmd.Env = append(cmd.Env, env...)
	p := h.start(role, cmd, false)
	p.Ready = p.Expect(func(m Msg) bool { return m.Kind == "ready" }, "ready")
	return p
}

// Proc is a process of a host: a gateway or a peer.
type Proc struct {
	t     testing.TB
	Name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	// Msgs receives the process's stdout lines, decoded (a line that is
	// not JSON is a Msg of Kind "text").
	Msgs chan Msg
	// Ready is a peer's "ready" message.
	Ready  Msg
	stderr *lockedBuffer
	done   chan struct{}
	err    error
	term   bool // stop with SIGTERM (a gateway) rather than by closing stdin
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (h *Host) start(name string, cmd *exec.Cmd, term bool) *Proc {
	t := h.t
	t.Helper()
	p := &Proc{t: t, Name: h.Name + "/" + name, cmd: cmd, Msgs: make(chan Msg, 100000), stderr: &lockedBuffer{}, done: make(chan struct{}), term: term}
	cmd.Stderr = p.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			var m Msg
			if json.Unmarshal(sc.Bytes(), &m) != nil || m.Kind == "" {
				m = Msg{Kind: "text", Text: sc.Text()}
			}
			p.Msgs <- m
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			if s := p.stderr.String(); s != "" {
				t.Logf("stderr of %s:\n%s", p.Name, s)
			}
		}
	})
	return p
}

// Send writes one line to the process's stdin.
func (p *Proc) Send(format string, args ...any) {
	p.t.Helper()
	if _, err := fmt.Fprintf(p.stdin, format+"\n", args...); err != nil {
		p.t.Fatalf("%s: write to stdin: %v (stderr: %s)", p.Name, err, p.stderr.String())
	}
}

// Expect waits up to Patience for a message that ok accepts, skipping
// others, and fails the test if none comes.
func (p *Proc) Expect(ok func(Msg) bool, what string) Msg {
	p.t.Helper()
	m, found := p.Await(ok, Patience)
	if !found {
		p.t.Fatalf("%s: no %s within %v (stderr: %s)", p.Name, what, Patience, p.stderr.String())
	}
	return m
}

// Await waits up to d for a message that ok accepts, skipping others.
func (p *Proc) Await(ok func(Msg) bool, d time.Duration) (Msg, bool) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case m := <-p.Msgs:
			if m.Kind == "error" {
				p.t.Errorf("%s: %s", p.Name, m.Err)
			}
			if ok(m) {
				return m, true
			}
		case <-p.done:
			// Drain what it printed before it ended.
			for {
				select {
				case m := <-p.Msgs:
					if ok(m) {
						return m, true
					}
					continue
				default:
				}
				return Msg{}, false
			}
		case <-timer.C:
			return Msg{}, false
		}
	}
}

// Drain returns the messages that arrive within d.
func (p *Proc) Drain(d time.Duration) []Msg {
	var got []Msg
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case m := <-p.Msgs:
			got = append(got, m)
		case <-timer.C:
			return got
		}
	}
}

// Stderr returns what the process wrote to stderr so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop ends the process cleanly, SIGTERM for a gateway and the end of
// stdin for a peer, and waits up to Patience for it (then kills it and
// fails the test). A second Stop is a no-op.
func (p *Proc) Stop() {
	p.t.Helper()
	if p.Exited() {
		return
	}
	if p.term {
		p.cmd.Process.Signal(syscall.SIGTERM)
	} else {
		p.stdin.Close()
	}
	select {
	case <-p.done:
		if p.err != nil {
			p.t.Errorf("%s ended with %v (stderr: %s)", p.Name, p.err, p.stderr.String())
		}
	case <-time.After(Patience):
		p.cmd.Process.Kill()
		<-p.done
		p.t.Errorf("%s did not end within %v of being stopped; killed (stderr: %s)", p.Name, Patience, p.stderr.String())
	}
}

// WaitExit waits up to d for the process to end by itself and returns
// how it ended; ok is false when it still runs.
func (p *Proc) WaitExit(d time.Duration) (err error, ok bool) {
	select {
	case <-p.done:
		return p.err, true
	case <-time.After(d):
		return nil, false
	}
}

// Kill sends SIGKILL and waits for the process to end.
func (p *Proc) Kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// Pid is the process's id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }
