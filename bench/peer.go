package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// The program re-executes itself as process B. B learns its setup from the
// environment, then takes one command a line on its standard input and
// answers one line on its standard output:
//
//	B: hello <pid> <note>            once, after pinning itself
//	A: run <mechanism> <size> <prefix>
//	B: ready | error <message>       after its Setup
//	B: done | error <message>        after the run (seq 0) and its Close
//	A: stream <mechanism> <size> <prefix>    the throughput mode
//	B: ready | error <message>
//	B: done <received> <gaps> <ns> | error <message>
//	A: quit                          (or end of input): B exits
//
// B exits after it reports an error; A stops on any error and kills B.
//
// The C peer (lang/c/bench/pingpong.c, cpeer.go) speaks the same protocol
// as B, without stream, and can also play process A against a B, timing
// the round trips itself:
//
//	A: time <mechanism> <size> <prefix> <warm-iters> <warm-budget-ns> <iters> <budget-ns> <file>
//	C: ready | error <message>       after its Setup
//	A: go                            once B is ready too
//	C: done <n> | error <message>    n round trips in ns written to file (int64, little endian)
const (
	envRole      = "IOX2GO_BENCH_ROLE" // "B" in process B
	envCPU       = "IOX2GO_BENCH_CPU"  // the CPU B pins itself to, -1 for none
	envDir       = "IOX2GO_BENCH_DIR"
	envTimeout   = "IOX2GO_BENCH_TIMEOUT"
	envTimeoutNs = "IOX2GO_BENCH_TIMEOUT_NS" // the same in ns, for the C peer
)

// peer is a process that A drives: process B, or the C peer in either role.
type peer struct {
	name  string // in messages: "process B", "C process A", ...
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string // the peer's answers; closed when its output ends
	pid   int
	hello string // the note of the peer's hello line
	// quitting is set when A asks the peer to exit: the end of its output
	// is then no sign that a peer died.
	quitting atomic.Bool
}

// startPeer starts process B (this program again), pinned to cpu, and
// waits for its hello.
func startPeer(cpu int, dir string, timeout time.Duration) (*peer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return startProgramPeer("process B", exe, cpu, dir, timeout)
}

// startProgramPeer starts exe as a peer called name, pinned to cpu, and
// waits for its hello.
func startProgramPeer(name, exe string, cpu int, dir string, timeout time.Duration) (*peer, error) {
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(),
		envRole+"=B",
		envCPU+"="+strconv.Itoa(cpu),
		envDir+"="+dir,
		envTimeout+"="+timeout.String(),
		envTimeoutNs+"="+strconv.FormatInt(int64(timeout), 10))
	cmd.Stderr = os.Stderr
	// B dies with the thread that started it: A's main thread, which A
	// keeps locked for its whole life.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &peer{name: name, cmd: cmd, in: in, lines: make(chan string, 4), pid: cmd.Process.Pid}
	go p.read(out)
	line, err := p.await("hello", timeout)
	if err != nil {
		p.kill()
		return nil, err
	}
	_, p.hello, _ = strings.Cut(line, " ") // after B's pid
	return p, nil
}

// read forwards the peer's lines; an error line or the end of its output
// (unless A asked it to quit) tells the busy waits of A's mechanisms that
// the peer is gone.
func (p *peer) read(out io.Reader) {
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "error ") {
			setPeerGone()
		}
		p.lines <- line
	}
	if !p.quitting.Load() {
		setPeerGone()
	}
	close(p.lines)
}

func (p *peer) send(line string) error {
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	return nil
}

// await returns the rest of the peer's next line, which must start with word.
func (p *peer) await(word string, timeout time.Duration) (string, error) {
	select {
	case line, ok := <-p.lines:
		if !ok {
			return "", fmt.Errorf("%s: %w (exited)", p.name, ErrPeerGone)
		}
		w, rest, _ := strings.Cut(line, " ")
		switch w {
		case word:
			return rest, nil
		case "error":
			return "", fmt.Errorf("%s: %s", p.name, rest)
		}
		return "", fmt.Errorf("%s: said %q, want %q", p.name, line, word)
	case <-time.After(timeout):
		return "", fmt.Errorf("%s: %w: no %q for %v", p.name, ErrStalled, word, timeout)
	}
}

// stop asks the peer to exit and waits for it; kill if it does not.
func (p *peer) stop(timeout time.Duration) error {
	p.quitting.Store(true)
	p.send("quit")
	p.in.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		return fmt.Errorf("%s did not exit; killed: %w", p.name, <-done)
	}
}

// kill ends B at once; it is safe to call after stop.
func (p *peer) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
}

// runB is process B: it pins itself, then serves A's commands.
func runB() error {
	cpu, err := strconv.Atoi(os.Getenv(envCPU))
	if err != nil {
		return fmt.Errorf("%s: %w", envCPU, err)
	}
	timeout, err := time.ParseDuration(os.Getenv(envTimeout))
	if err != nil {
		return fmt.Errorf("%s: %w", envTimeout, err)
	}
	dir := os.Getenv(envDir)
	if err := pin(cpu); err != nil {
		return err
	}
	note := fmt.Sprintf("pinned to CPU %d", cpu)
	if cpu < 0 {
		note = "not pinned"
	}
	say := func(format string, a ...any) { fmt.Fprintf(os.Stdout, format+"\n", a...) }
	say("hello %d %s", os.Getpid(), note)

	cmds := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			cmds <- sc.Text()
		}
		setPeerGone() // A is gone, or done with B
		close(cmds)
	}()
	for line := range cmds {
		f := strings.Fields(line)
		if len(f) == 1 && f[0] == "quit" {
			return nil
		}
		if len(f) != 4 || (f[0] != "run" && f[0] != "stream") {
			return fmt.Errorf("bad command %q", line)
		}
		if err := serve(f[0] == "stream", f[1], f[2], f[3], dir, timeout, say); err != nil {
			say("error %s", strings.ReplaceAll(err.Error(), "\n", " "))
			return err
		}
	}
	return nil
}

// serve is one measurement in B: an echo, or with stream a count.
func serve(stream bool, name, sizeArg, prefix, dir string, timeout time.Duration, say func(string, ...any)) error {
	info, ok := registry[name]
	if !ok {
		return fmt.Errorf("unknown mechanism %q", name)
	}
	size, err := strconv.Atoi(sizeArg)
	if err != nil {
		return err
	}
	m := info.new()
	err = m.Setup(Config{Role: RoleB, Prefix: prefix, Dir: dir, Size: size, Timeout: timeout, Stream: stream})
	done := "done"
	if err != nil {
		err = fmt.Errorf("%s %d B: setup: %w", name, size, err)
	} else {
		runtime.GC() // not during the run
		say("ready")
		if stream {
			var c streamCount
			c, err = consume(m)
			done += " " + c.String()
		} else {
			err = echo(m)
		}
		if err != nil {
			err = fmt.Errorf("%s %d B: %w", name, size, err)
		}
	}
	if e := m.Close(); e != nil && err == nil {
		err = fmt.Errorf("%s %d B: close: %w", name, size, e)
	}
	if err != nil {
		return err
	}
	say("%s", done)
	return nil
}
