package main

// End-to-end test helpers of the data commands (notify, listen, publish,
// subscribe, hz, record, replay): they build the iox2 binary, give each
// test a domain of its own, and start peers as real processes.
//
// A peer is either the iox2 binary or this test binary re-executed with
// $IOX2_DATA_PEER set: dataPeerHook (an init function, so that this file
// needs no TestMain of its own) then runs the peer named there, which
// uses the generated code of examples/gen/robot, and exits.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iox2go/iox2go/internal/testrun"
	iox2 "github.com/iox2go/iox2go/runtime"
)

const (
	dataPeerEnv   = "IOX2_DATA_PEER"
	dataRootEnv   = "IOX2_DATA_ROOT"
	dataPrefixEnv = "IOX2_DATA_PREFIX"
)

func init() { dataPeerHook() }

// dataPeerHook runs the peer named by $IOX2_DATA_PEER instead of the
// tests. It runs from an init function: every package-level variable
// (dataPeers among them) is set by then, and nothing in the peers needs
// the command tree.
func dataPeerHook() {
	name := os.Getenv(dataPeerEnv)
	if name == "" {
		return
	}
	p, ok := dataPeers[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown data peer %q\n", name)
		os.Exit(2)
	}
	if err := p(); err != nil {
		fmt.Fprintf(os.Stderr, "data peer %s: %v\n", name, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// dataBin is the iox2 binary built for one test.
type dataBin struct {
	path   string
	domain []string // --root DIR --prefix PREFIX
	root   string
	prefix string
}

var dataSerial atomic.Int64

// dataSetup returns the iox2 binary (shared with the other end-to-end
// tests of the package) with a domain of t's own: a t.TempDir root and a unique prefix. At the
// end of t it checks that nothing of the domain is left in /dev/shm.
func dataSetup(t *testing.T) *dataBin {
	t.Helper()
	bin := inspectBin(t) // e2e_test.go's: built once, removed by TestMain
	root := filepath.Join(t.TempDir(), "root")
	prefix := fmt.Sprintf("iox2data%s%d_%d_", testrun.Tag(), os.Getpid(), dataSerial.Add(1))
	b := &dataBin{path: bin, root: root, prefix: prefix, domain: []string{"--root", root, "--prefix", prefix}}
	t.Cleanup(func() {
		// Registered first, so it runs after the cleanups that stop peers.
		left, _ := filepath.Glob(filepath.Join("/dev/shm", prefix+"*"))
		if len(left) > 0 {
			t.Errorf("left in /dev/shm: %v", left)
			for _, f := range left {
				os.Remove(f)
			}
		}
	})
	return b
}

// config returns the runtime configuration of b's domain.
func (b *dataBin) config() *iox2.Config {
	cfg := iox2.DefaultConfig()
	cfg.Root, cfg.Prefix = b.root, b.prefix
	return cfg
}

// dataResult is the outcome of a finished iox2 process.
type dataResult struct {
	code           int
	stdout, stderr string
}

func (r dataResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs iox2 with args in b's domain, stdin as its input, and waits for
// it (at most 30 s).
func (b *dataBin) run(t *testing.T, stdin string, args ...string) dataResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.path, append(append([]string(nil), b.domain...), args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := dataResult{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("iox2 %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("iox2 %v did not end within 30 s\n%v", args, r)
	}
	return r
}

// expect fails t unless r ended with code and its stderr has every one
// of has.
func (r dataResult) expect(t *testing.T, code int, has ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit code %d, got %v", code, r)
	}
	for _, s := range has {
		if !strings.Contains(r.stderr, s) {
			t.Fatalf("stderr lacks %q: %v", s, r)
		}
	}
}

// dataProc is a running peer process.
type dataProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // its stdout, line by line; closed at EOF
	done  chan struct{}
	err   error // set when done is closed
	errs  *bytes.Buffer
}

// start starts a process with the environment env added and returns it.
// The process ends in t's cleanup: its stdin is closed (peers then close
// their node and exit) and after 5 s it is killed.
func dataStart(t *testing.T, env []string, name string, args ...string) *dataProc {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	p := &dataProc{cmd: cmd, lines: make(chan string, 1024), done: make(chan struct{}), errs: &bytes.Buffer{}}
	cmd.Stderr = &lockedWriter{w: p.errs}
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop closes the process's stdin and waits for it, killing it after 5 s.
func (p *dataProc) stop(t *testing.T) {
	p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Errorf("%s did not end within 5 s of closing its stdin; killed\nstderr:\n%s", p.cmd.Path, p.stderr())
		p.cmd.Process.Kill()
		<-p.done
	}
}

// wait waits up to d for the process to end and returns its exit code.
func (p *dataProc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("%s did not end within %v\nstderr:\n%s", p.cmd.Path, d, p.stderr())
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		return exit.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// line returns the next line of the process's stdout, waiting up to d.
func (p *dataProc) line(t *testing.T, d time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			<-p.done
			t.Fatalf("%s ended (%v) before printing a line\nstderr:\n%s", p.cmd.Path, p.err, p.stderr())
		}
		return l
	case <-time.After(d):
		t.Fatalf("%s printed no line within %v\nstderr:\n%s", p.cmd.Path, d, p.stderr())
	}
	return ""
}

func (p *dataProc) stderr() string {
	w := p.cmd.Stderr.(*lockedWriter)
	w.mu.Lock()
	defer w.mu.Unlock()
	return p.errs.String()
}

// startCLI starts iox2 with args in b's domain.
func (b *dataBin) startCLI(t *testing.T, args ...string) *dataProc {
	t.Helper()
	return dataStart(t, nil, b.path, append(append([]string(nil), b.domain...), args...)...)
}

// startPeer starts this test binary as the peer name, in b's domain, with
// the environment env added.
func (b *dataBin) startPeer(t *testing.T, name string, env ...string) *dataProc {
	t.Helper()
	env = append([]string{dataPeerEnv + "=" + name, dataRootEnv + "=" + b.root, dataPrefixEnv + "=" + b.prefix}, env...)
	return dataStart(t, env, os.Args[0], "-test.run=^$")
}

// lockedWriter serializes the writes of a process's stderr copier with
// the test's reads.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
