// Tests of the C library's nodes, services and events against the Go
// runtime, in real processes: the library and the C programs of tests/ are
// built with the system C compiler (lang/c/Makefile) into a temporary
// directory; without gcc every test is skipped with a message that says so.
package c_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iox2go/iox2go/internal/testrun"
	iox2 "github.com/iox2go/iox2go/runtime"
)

// build builds the library and the test programs once per variant ("" or
// "asan") and returns the directory of the programs, or skips t.
var builds sync.Map // variant -> *buildResult

type buildResult struct {
	once sync.Once
	dir  string
	err  error
	out  string
}

var buildRoot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "iox2go-lang-c-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildRoot = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func build(t *testing.T, variant string) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no C compiler: gcc is not on PATH (install gcc to test the C library)")
	}
	v, _ := builds.LoadOrStore(variant, &buildResult{})
	b := v.(*buildResult)
	b.once.Do(func() {
		b.dir = filepath.Join(buildRoot, "build"+variant)
		args := []string{"-C", ".", "BUILD=" + b.dir, "tests"}
		if variant == "asan" {
			args = append(args, "SANITIZE=1")
		}
		cmd := exec.Command("make", args...)
		out, err := cmd.CombinedOutput()
		b.out, b.err = string(out), err
	})
	if b.err != nil {
		t.Fatalf("make %s: %v\n%s", variant, b.err, b.out)
	}
	return filepath.Join(b.dir, "tests")
}

// domain is one test's domain: a Go configuration and the environment of
// the C programs for the same domain.
type domain struct {
	cfg  *iox2.Config
	tool string
}

func newDomain(t *testing.T, variant string) *domain {
	t.Helper()
	dir := build(t, variant)
	cfg := iox2.DefaultConfig()
	cfg.Root = t.TempDir()
	var r [4]byte
	rand.Read(r[:])
	cfg.Prefix = "iox2c_" + testrun.Tag() + hex.EncodeToString(r[:]) + "_"
	cfg.CleanupDeadNodesOnCreation = false
	cfg.CleanupDeadNodesOnDestruction = false
	d := &domain{cfg: cfg, tool: filepath.Join(dir, "cnode_tool")}
	t.Cleanup(func() { d.assertClean(t) })
	return d
}

// assertClean fails t when anything of the domain is left: segments,
// node records, static configs.
func (d *domain) assertClean(t *testing.T) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(d.cfg.ShmDir, d.cfg.Prefix+"*"))
	for _, sub := range []string{"nodes", "services"} {
		m, _ := filepath.Glob(filepath.Join(d.cfg.Root, sub, "*"))
		left = append(left, m...)
	}
	if len(left) > 0 {
		t.Errorf("left behind: %s", strings.Join(left, ", "))
		for _, f := range left {
			os.RemoveAll(f)
		}
	}
}

func (d *domain) node(t *testing.T) *iox2.Node {
	t.Helper()
	n, err := iox2.NewNodeBuilder().Config(d.cfg).Create()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (d *domain) cmd(args ...string) *exec.Cmd {
	c := exec.Command(d.tool, args...)
	c.Env = append(os.Environ(), "IOX2C_ROOT="+d.cfg.Root, "IOX2C_SHM="+d.cfg.ShmDir, "IOX2C_PREFIX="+d.cfg.Prefix)
	c.Stderr = os.Stderr
	return c
}

// run runs the tool to its end and returns its output.
func (d *domain) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := d.cmd(args...).Output()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// peer is a running tool whose output is read line by line.
type peer struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

func (d *domain) start(t *testing.T, args ...string) *peer {
	t.Helper()
	c := d.cmd(args...)
	in, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	p := &peer{cmd: c, stdin: in, lines: make(chan string, 16)}
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			p.lines <- s.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		in.Close()
		c.Process.Kill()
		c.Wait()
	})
	return p
}

func (p *peer) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			t.Fatalf("the C peer ended early")
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatalf("no line from the C peer within 10 s")
	}
	return ""
}

// finish closes the peer's stdin (ending a hold) and waits for it.
func (p *peer) finish(t *testing.T) {
	t.Helper()
	p.stdin.Close()
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("C peer: %v", err)
	}
}

func TestUnit(t *testing.T) {
	dir := build(t, "")
	out, err := exec.Command(filepath.Join(dir, "cnode_unit")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("cnode_unit: %v\n%s", err, out)
	}
}

// TestUnitSanitized runs the unit tests and an event exchange of C programs
// built with -fsanitize=address,undefined.
func TestUnitSanitized(t *testing.T) {
	dir := build(t, "asan")
	out, err := exec.Command(filepath.Join(dir, "cnode_unit")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("cnode_unit (asan): %v\n%s", err, out)
	}
	d := newDomain(t, "asan")
	l := d.start(t, "listen", "asan/ev", "5000", "1")
	if got := l.line(t); got != "ready" {
		t.Fatalf("listener: %q", got)
	}
	if got := d.run(t, "notify", "asan/ev", "3", "1"); got != "notified 1" {
		t.Fatalf("notifier: %q", got)
	}
	if got := l.line(t); got != "event 3" {
		t.Fatalf("listener: %q", got)
	}
	l.finish(t)
}

type payA struct{ X, Y uint64 }
type payB struct{ X uint32 }

// typeArgs returns the tool's arguments for a type: name size align hash.
func typeArgs(ti iox2.TypeInfo) []string {
	return []string{ti.Name, fmt.Sprint(ti.Size), fmt.Sprint(ti.Align), ti.LayoutHash}
}

// goTypes returns the type identities that the Go runtime gives payA and
// payB (from services it creates).
func goTypes(t *testing.T, d *domain) (a, b iox2.TypeInfo) {
	t.Helper()
	n := d.node(t)
	defer n.Close()
	sa, err := iox2.PublishSubscribe[payA](n, "types/a").Create()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := iox2.PublishSubscribe[payB](n, "types/b").Create()
	if err != nil {
		t.Fatal(err)
	}
	a, b = sa.StaticConfig().PublishSubscribe.Payload, sb.StaticConfig().PublishSubscribe.Payload
	sa.Close()
	sb.Close()
	return a, b
}

func TestServicesBothWays(t *testing.T) {
	d := newDomain(t, "")
	ta, tb := goTypes(t, d)

	t.Run("event", func(t *testing.T) {
		// C creates, Go opens (and sees the C node), then the reverse.
		p := d.start(t, "event", "create", "svc/ev", "hold")
		if got := p.line(t); got != "ok" {
			t.Fatalf("C create: %s", got)
		}
		n := d.node(t)
		s, err := iox2.Event(n, "svc/ev").Open()
		if err != nil {
			t.Fatalf("Go open of a C service: %v", err)
		}
		if q := s.QoS(); q.MaxListeners != 16 || q.EventIDMaxValue != 255 {
			t.Errorf("QoS of the C service: %+v", q)
		}
		s.Close()
		p.finish(t)
		s, err = iox2.Event(n, "svc/ev").MaxListeners(3).Create()
		if err != nil {
			t.Fatal(err)
		}
		if got := d.run(t, "event", "open", "svc/ev"); got != "ok" {
			t.Errorf("C open of a Go service: %s", got)
		}
		if got := d.run(t, "event", "create", "svc/ev"); !strings.HasPrefix(got, fmt.Sprintf("err %d ", 21)) ||
			!strings.Contains(got, `create service "svc/ev": iox2: service already exists`) {
			t.Errorf("C create of an existing service: %s", got)
		}
		s.Close()
		n.Close()
	})

	t.Run("pubsub", func(t *testing.T) {
		p := d.start(t, append(append([]string{"pubsub", "create", "svc/ps"}, typeArgs(ta)...), "hold")...)
		if got := p.line(t); got != "ok" {
			t.Fatalf("C create: %s", got)
		}
		n := d.node(t)
		s, err := iox2.PublishSubscribe[payA](n, "svc/ps").Open()
		if err != nil {
			t.Fatalf("Go open of a C service: %v", err)
		}
		s.Close()
		// Type mismatch, Go opening the C service.
		_, goErr := iox2.PublishSubscribe[payB](n, "svc/ps").Open()
		if !errors.Is(goErr, iox2.ErrIncompatibleTypes) {
			t.Fatalf("Go open with another type: %v", goErr)
		}
		p.finish(t)
		// The reverse: Go creates, C opens with the right type and with
		// the wrong one.
		s, err = iox2.PublishSubscribe[payA](n, "svc/ps").Create()
		if err != nil {
			t.Fatal(err)
		}
		if got := d.run(t, append([]string{"pubsub", "open", "svc/ps"}, typeArgs(ta)...)...); got != "ok" {
			t.Errorf("C open of a Go service: %s", got)
		}
		got := d.run(t, append([]string{"pubsub", "open", "svc/ps"}, typeArgs(tb)...)...)
		want := fmt.Sprintf("err %d %s", 23, goErr.Error())
		if got != want {
			t.Errorf("type mismatch, C opening a Go service:\n got %s\nwant %s", got, want)
		}
		s.Close()
		n.Close()
	})

	t.Run("reqres", func(t *testing.T) {
		args := func(mode string, req, resp iox2.TypeInfo) []string {
			return append(append([]string{"reqres", mode, "svc/rr"}, typeArgs(req)...), typeArgs(resp)...)
		}
		p := d.start(t, append(args("create", ta, tb), "hold")...)
		if got := p.line(t); got != "ok" {
			t.Fatalf("C create: %s", got)
		}
		n := d.node(t)
		s, err := iox2.RequestResponse[payA, payB](n, "svc/rr").Open()
		if err != nil {
			t.Fatalf("Go open of a C service: %v", err)
		}
		s.Close()
		_, goErr := iox2.RequestResponse[payA, payA](n, "svc/rr").Open()
		if !errors.Is(goErr, iox2.ErrIncompatibleTypes) {
			t.Fatalf("Go open with another response type: %v", goErr)
		}
		p.finish(t)
		s, err = iox2.RequestResponse[payA, payB](n, "svc/rr").Create()
		if err != nil {
			t.Fatal(err)
		}
		if got := d.run(t, args("open", ta, tb)...); got != "ok" {
			t.Errorf("C open of a Go service: %s", got)
		}
		got := d.run(t, args("open", ta, ta)...)
		want := fmt.Sprintf("err %d %s", 23, goErr.Error())
		if got != want {
			t.Errorf("type mismatch, C opening a Go service:\n got %s\nwant %s", got, want)
		}
		// A pattern mismatch is no mismatch here: another pattern is
		// another service (the hash includes it).
		if got := d.run(t, "event", "open", "svc/rr"); !strings.Contains(got, "iox2: service does not exist") {
			t.Errorf("C open of another pattern: %s", got)
		}
		s.Close()
		n.Close()
	})
}

// TestEventCNotifierWakesGoListener: a Go listener blocked in
// BlockingWaitOne is woken by a C notifier (through its node's doorbell).
func TestEventCNotifierWakesGoListener(t *testing.T) {
	d := newDomain(t, "")
	n := d.node(t)
	defer n.Close()
	s, err := iox2.Event(n, "wake/go").Create()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := s.Listener()
	if err != nil {
		t.Fatal(err)
	}
	type res struct {
		id  iox2.EventID
		err error
	}
	got := make(chan res, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		id, err := l.BlockingWaitOne(ctx)
		got <- res{id, err}
	}()
	time.Sleep(200 * time.Millisecond) // past the spin: parked on the doorbell
	if out := d.run(t, "notify", "wake/go", "42", "1"); out != "notified 1" {
		t.Fatalf("C notifier: %s", out)
	}
	r := <-got
	if r.err != nil || r.id != 42 {
		t.Fatalf("Go listener: id %d, err %v", r.id, r.err)
	}
}

// TestEventGoNotifierWakesCListener: a C listener blocked in
// iox2_listener_wait_one is woken by a Go notifier.
func TestEventGoNotifierWakesCListener(t *testing.T) {
	d := newDomain(t, "")
	n := d.node(t)
	defer n.Close()
	s, err := iox2.Event(n, "wake/c").Create()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := d.start(t, "listen", "wake/c", "10000", "2")
	if got := p.line(t); got != "ready" {
		t.Fatalf("C listener: %s", got)
	}
	nt, err := s.Notifier()
	if err != nil {
		t.Fatal(err)
	}
	defer nt.Close()
	for _, id := range []iox2.EventID{7, 200} {
		time.Sleep(200 * time.Millisecond) // the C listener sleeps in ppoll
		start := time.Now()
		if k, err := nt.NotifyWithCustomEventID(id); err != nil || k != 1 {
			t.Fatalf("notify: %d listeners, %v", k, err)
		}
		if got, want := p.line(t), fmt.Sprintf("event %d", id); got != want {
			t.Fatalf("C listener: %q, want %q", got, want)
		}
		t.Logf("event %d: the blocked C listener reported it %v after the notify", id, time.Since(start))
	}
	p.finish(t)
}

// TestKilledCNodeIsCleanedUp: a C node SIGKILLed while it has a service, a
// listener (with its event segment) and a notifier open leaves files that
// the Go runtime's cleanup removes completely.
func TestKilledCNodeIsCleanedUp(t *testing.T) {
	d := newDomain(t, "")
	p := d.start(t, "hold-all", "kill/ev")
	line := p.line(t)
	id, ok := strings.CutPrefix(line, "ready ")
	if !ok {
		t.Fatalf("C peer: %s", line)
	}
	for _, pat := range []string{
		filepath.Join(d.cfg.ShmDir, d.cfg.Prefix+"*.event"),
		filepath.Join(d.cfg.ShmDir, d.cfg.Prefix+"*.dynamic"),
		filepath.Join(d.cfg.Root, "nodes", d.cfg.Prefix+id, "*.event.port"),
		filepath.Join(d.cfg.Root, "nodes", d.cfg.Prefix+id, "*.svc"),
		filepath.Join(d.cfg.Root, "nodes", d.cfg.Prefix+id, "bell"),
		filepath.Join(d.cfg.Root, "nodes", d.cfg.Prefix+id+".lock"),
		filepath.Join(d.cfg.Root, "services", d.cfg.Prefix+"*.service"),
	} {
		if m, _ := filepath.Glob(pat); len(m) == 0 {
			t.Errorf("the live C node has no %s", pat)
		}
	}
	if st := iox2.CleanupDeadNodes(d.cfg); st.Cleanups != 0 {
		t.Fatalf("cleanup while the C node lives: %+v", st)
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	st := iox2.CleanupDeadNodes(d.cfg)
	if err := st.Err(); err != nil || !st.Complete() || st.Cleanups != 1 {
		t.Fatalf("cleanup: %+v, %v", st, err)
	}
	t.Logf("cleanup after the SIGKILLed C node: %+v", st)
	// assertClean (t.Cleanup) checks that nothing is left.
}

// TestCNodeRemovesItsFiles: a C node that closes leaves nothing, the last
// node to leave a service removes it, and a Go node sees the C node alive
// while it lives.
func TestCNodeRemovesItsFiles(t *testing.T) {
	d := newDomain(t, "")
	p := d.start(t, "hold-all", "tidy/ev")
	line := p.line(t)
	idStr, _ := strings.CutPrefix(line, "ready ")
	nodes, err := iox2.ListNodes(d.cfg)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, nd := range nodes {
		if nd.ID.String() == idStr {
			found = true
			if nd.State != iox2.NodeAlive || nd.Details == nil || nd.Details.Name != "cnode_tool" {
				t.Errorf("the C node as Go sees it: %+v, details %+v", nd, nd.Details)
			}
		}
	}
	if !found {
		t.Fatalf("Go does not list the C node %s: %+v", idStr, nodes)
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	iox2.CleanupDeadNodes(d.cfg)
	// And a C node that closes normally: event create/open with Go absent.
	if got := d.run(t, "event", "create", "tidy/two"); got != "ok" {
		t.Fatal(got)
	}
	d.assertClean(t)
}

// TestCEvents runs tests/cnode_events.c: the event pattern and the checks
// of opening a service within C (exact messages), plain and sanitized.
func TestCEvents(t *testing.T) {
	for _, variant := range []string{"", "asan"} {
		t.Run("build"+variant, func(t *testing.T) {
			d := newDomain(t, variant)
			c := exec.Command(filepath.Join(filepath.Dir(d.tool), "cnode_events"))
			c.Env = append(os.Environ(), "IOX2C_ROOT="+d.cfg.Root, "IOX2C_SHM="+d.cfg.ShmDir, "IOX2C_PREFIX="+d.cfg.Prefix)
			out, err := c.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "PASS") {
				t.Fatalf("cnode_events: %v\n%s", err, out)
			}
		})
	}
}

// TestCorruptStaticConfig: a static config that another process damaged is
// refused by C with a clear error, never a crash; a QoS out of range with
// the same message as Go's.
func TestCorruptStaticConfig(t *testing.T) {
	d := newDomain(t, "")
	n := d.node(t)
	defer n.Close()
	s, err := iox2.Event(n, "bad/ev").Create()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	files, _ := filepath.Glob(filepath.Join(d.cfg.Root, "services", d.cfg.Prefix+"*.service"))
	if len(files) != 1 {
		t.Fatalf("static configs: %v", files)
	}
	orig, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer os.WriteFile(files[0], orig, 0o600)
	for _, c := range []struct{ name, content string }{
		{"truncated", string(orig[:len(orig)/2])},
		{"not JSON", "\x00\xff garbage"},
		{"deep", strings.Repeat("[", 100000)},
		{"wrong type", strings.Replace(string(orig), `"max_nodes": 36`, `"max_nodes": "36"`, 1)},
	} {
		os.WriteFile(files[0], []byte(c.content), 0o600)
		got := d.run(t, "event", "open", "bad/ev")
		t.Logf("%s: %s", c.name, got)
		if !strings.HasPrefix(got, "err 27 open service \"bad/ev\": iox2: service is in a corrupted state: static config ") {
			t.Errorf("%s: %s", c.name, got)
		}
	}
	os.WriteFile(files[0], []byte(strings.Replace(string(orig), `"max_nodes": 36`, `"max_nodes": 1000000000`, 1)), 0o600)
	_, goErr := iox2.Event(n, "bad/ev").Open()
	if !errors.Is(goErr, iox2.ErrServiceCorrupted) {
		t.Fatalf("Go open: %v", goErr)
	}
	if got, want := d.run(t, "event", "open", "bad/ev"), "err 27 "+goErr.Error(); got != want {
		t.Errorf("QoS out of range:\n got %s\nwant %s", got, want)
	}
}
