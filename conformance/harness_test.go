package conformance

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/iox2test"
)

// peerEnv makes the test binary run as a Go peer (TestMain).
const peerEnv = "IOX2CONF_PEER"

func TestMain(m *testing.M) {
	if os.Getenv(peerEnv) == "1" {
		os.Exit(RunPeer(os.Args[1:], os.Stdin, os.Stdout))
	}
	flag.Parse()
	startBuilds()
	code := m.Run()
	waitBuilds()
	cleanupBuilds()
	os.Exit(code)
}

// impl is one implementation of the peer protocol.
type impl struct {
	name string // "go", "c", "c-asan"
	path string // the C peer's executable; "" for Go
	asan bool   // built with -fsanitize=address,undefined
}

var goImpl = impl{name: "go"}

func (im impl) command(args ...string) *exec.Cmd {
	if im.path == "" {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), peerEnv+"=1")
		return cmd
	}
	cmd := exec.Command(im.path, args...)
	cmd.Env = os.Environ()
	if im.asan {
		// Every report fails the run: ASan aborts at the first error and
		// UBSan is built with -fno-sanitize-recover=all; leaks are
		// reported at exit.
		cmd.Env = append(cmd.Env, "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86",
			"UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87")
	}
	return cmd
}

// harness runs the peers of one scenario in one domain of its own.
type harness struct {
	t     *testing.T
	cfg   *iox2.Config
	procs []*proc
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, cfg: iox2test.Config(t)}
	// Registered after iox2test.Config's check, so it runs before it: the
	// peers are gone when the shared-memory directory is looked at.
	t.Cleanup(func() {
		killed := false
		for _, p := range h.procs {
			killed = p.stop() || killed
		}
		if killed {
			// What killed peers left: the next Go node removes it.
			if n, err := iox2.NewNodeBuilder().Config(h.cfg).SignalHandling(false).Create(); err == nil {
				n.Close()
			}
		}
		if !t.Failed() {
			h.checkRootEmpty()
		}
	})
	return h
}

// checkRootEmpty fails the test when a file is left under the domain's
// root (empty directories may stay).
func (h *harness) checkRootEmpty() {
	h.t.Helper()
	var left []string
	filepath.WalkDir(h.cfg.Root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, strings.TrimPrefix(path, h.cfg.Root+"/"))
		}
		return nil
	})
	if len(left) > 0 {
		h.t.Errorf("left under the root %s: %s", h.cfg.Root, strings.Join(left, ", "))
	}
}

// shmLeft lists the domain's files in the shared-memory directory.
func (h *harness) shmLeft() []string {
	left, _ := filepath.Glob(filepath.Join(h.cfg.ShmDir, h.cfg.Prefix+"*"))
	return left
}

// proc is a running peer.
type proc struct {
	h     *harness
	im    impl
	desc  string // "go imu-sub n=3"
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu     sync.Mutex
	lines  []string // everything printed so far
	eof    bool
	more   chan struct{} // signalled when lines or eof change
	stderr bytes.Buffer
	read   int // lines consumed by expect

	exited  chan struct{}
	waitErr error
}

const lineTimeout = 20 * time.Second

// start runs role with args as a peer of implementation im.
func (h *harness) start(im impl, role string, args ...string) *proc {
	h.t.Helper()
	all := append([]string{h.cfg.Root, h.cfg.ShmDir, h.cfg.Prefix, role}, args...)
	p := &proc{h: h, im: im, desc: im.name + " " + role + " " + strings.Join(args, " "),
		cmd: im.command(all...), more: make(chan struct{}, 1), exited: make(chan struct{})}
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		h.t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		h.t.Fatalf("%s: %v", p.desc, err)
	}
	h.procs = append(h.procs, p)
	go func() {
		s := bufio.NewScanner(out)
		s.Buffer(make([]byte, 64<<10), 1<<20)
		for s.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, s.Text())
			p.mu.Unlock()
			p.signal()
		}
		p.mu.Lock()
		p.eof = true
		p.mu.Unlock()
		p.signal()
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(b)
}

func (p *proc) signal() {
	select {
	case p.more <- struct{}{}:
	default:
	}
}

// transcript is everything the peer printed, for failure messages.
func (p *proc) transcript() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "peer %s:\n", p.desc)
	for i, l := range p.lines {
		mark := "  "
		if i == p.read-1 {
			mark = "> "
		}
		fmt.Fprintf(&b, "  %s%s\n", mark, l)
	}
	if p.eof {
		b.WriteString("  <end of output>\n")
	}
	if s := strings.TrimSpace(p.stderr.String()); s != "" {
		fmt.Fprintf(&b, "  stderr:\n    %s\n", strings.ReplaceAll(s, "\n", "\n    "))
	}
	return b.String()
}

// next returns the next line, or false at the end of the output; it fails
// the test when none comes within lineTimeout.
func (p *proc) next() (string, bool) {
	p.h.t.Helper()
	deadline := time.After(lineTimeout)
	for {
		p.mu.Lock()
		if p.read < len(p.lines) {
			l := p.lines[p.read]
			p.read++
			p.mu.Unlock()
			return l, true
		}
		eof := p.eof
		p.mu.Unlock()
		if eof {
			return "", false
		}
		select {
		case <-p.more:
		case <-deadline:
			p.h.t.Fatalf("no line within %v\n%s", lineTimeout, p.transcript())
		}
	}
}

// expect reads the next line, which must start with prefix, and returns the
// rest of it.
func (p *proc) expect(prefix string) string {
	p.h.t.Helper()
	l, ok := p.next()
	if !ok || !strings.HasPrefix(l, prefix) {
		p.h.t.Fatalf("want a line %q...\n%s", prefix, p.transcript())
	}
	return strings.TrimPrefix(l, prefix)
}

// skipTo reads lines until one starts with prefix.
func (p *proc) skipTo(prefix string) {
	p.h.t.Helper()
	for {
		l, ok := p.next()
		if !ok {
			p.h.t.Fatalf("no line %q...\n%s", prefix, p.transcript())
		}
		if strings.HasPrefix(l, prefix) {
			return
		}
	}
}

// expectLine reads the next line, which must be want.
func (p *proc) expectLine(want string) {
	p.h.t.Helper()
	l, ok := p.next()
	if !ok || l != want {
		p.h.t.Fatalf("want the line\n    %s\n%s", want, p.transcript())
	}
}

// ready reads a "ready id=" line and returns the port ID.
func (p *proc) ready() string {
	p.h.t.Helper()
	id := p.expect("ready id=")
	if len(id) != 16 {
		p.h.t.Fatalf("port id %q is not 16 hex digits\n%s", id, p.transcript())
	}
	return id
}

// goAhead reads the peer's "hold" line and lets it go on.
func (p *proc) goAhead() {
	p.h.t.Helper()
	p.expectLine("hold")
	if _, err := io.WriteString(p.stdin, "go\n"); err != nil {
		p.h.t.Fatalf("go-ahead: %v\n%s", err, p.transcript())
	}
}

// done reads the final "ok" and checks that the peer exits with status 0.
func (p *proc) done() {
	p.h.t.Helper()
	p.expectLine("ok")
	p.exit(0)
}

// failsWith reads an error line with code and returns its message.
func (p *proc) failsWith(code string) string {
	p.h.t.Helper()
	msg := p.expect("error " + code + " ")
	p.exit(2)
	return msg
}

// exit waits for the peer to end with status code and nothing more printed.
func (p *proc) exit(code int) {
	p.h.t.Helper()
	if l, ok := p.next(); ok {
		p.h.t.Fatalf("unexpected line %q\n%s", l, p.transcript())
	}
	select {
	case <-p.exited:
	case <-time.After(lineTimeout):
		p.h.t.Fatalf("did not exit within %v after its output ended\n%s", lineTimeout, p.transcript())
	}
	got := p.cmd.ProcessState.ExitCode()
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		p.h.t.Fatalf("killed by %v\n%s", ws.Signal(), p.transcript())
	}
	if got != code {
		p.h.t.Fatalf("exit status %d, want %d\n%s", got, code, p.transcript())
	}
	p.checkSanitizer()
}

// checkSanitizer fails the test on any sanitizer report in the stderr of
// a sanitized peer.
func (p *proc) checkSanitizer() {
	p.h.t.Helper()
	if !p.im.asan {
		return
	}
	p.mu.Lock()
	s := p.stderr.String()
	p.mu.Unlock()
	for _, m := range []string{"AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:"} {
		if strings.Contains(s, m) {
			p.h.t.Fatalf("sanitizer report (%s)\n%s", m, p.transcript())
		}
	}
}

// kill sends SIGKILL and waits for the peer to end.
func (p *proc) kill() {
	p.h.t.Helper()
	p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(lineTimeout):
		p.h.t.Fatalf("SIGKILL did not end it\n%s", p.transcript())
	}
}

// stop ends a peer that is still running (at the end of a failed test)
// and reports whether it was killed.
func (p *proc) stop() bool {
	p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(2 * time.Second):
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
}
