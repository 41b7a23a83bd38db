package main

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iox2go/iox2go/internal/testrun"
)

// The test binary is the program too: with envTestMain set, TestMain runs
// main (as process A, which re-executes the test binary as process B).
const (
	envTestMain  = "IOX2GO_BENCH_TEST_MAIN"
	envTestFault = "IOX2GO_BENCH_TEST_FAULT" // registers the "faulty" mechanism
)

func TestMain(m *testing.M) {
	if os.Getenv(envTestFault) != "" {
		Register("faulty", "the floor, but B fails after 100 round trips (tests only)", func() Mechanism { return &faulty{} })
		Register("faulty-stream", "iox2go-pubsub, but B fails after 1000 samples (tests only)", func() Mechanism { return &faultyStream{} })
	}
	// A gateway process of gateway-pubsub or the NATS server's process,
	// started by TestMechanisms (the test binary is os.Executable there).
	if r := os.Getenv(envRole); os.Getenv(envTestMain) != "" || r == roleGateway || r == roleNATS {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// faulty is the floor whose B fails in the middle of the run.
type faulty struct {
	floor
	role Role
	n    int
}

func (f *faulty) Setup(cfg Config) error { f.role = cfg.Role; return f.floor.Setup(cfg) }

func (f *faulty) Receive() (uint64, error) {
	if f.n++; f.role == RoleB && f.n > 100 {
		return 0, errors.New("injected fault")
	}
	return f.floor.Receive()
}

// faultyStream is iox2go-pubsub whose B fails in the middle of a stream.
type faultyStream struct {
	iox2PubSub
	role Role
	n    int
}

func (f *faultyStream) Setup(cfg Config) error { f.role = cfg.Role; return f.iox2PubSub.Setup(cfg) }

func (f *faultyStream) Receive() (uint64, error) {
	if f.n++; f.role == RoleB && f.n > 1000 {
		return 0, errors.New("injected stream fault")
	}
	return f.iox2PubSub.Receive()
}

// program is one run of the program in a subprocess, with a private TMPDIR.
type program struct {
	cmd            *exec.Cmd
	tmp            string
	stdout, stderr strings.Builder
}

func startProgram(t *testing.T, ctx context.Context, env []string, args ...string) (*program, io.Reader) {
	t.Helper()
	p := &program{tmp: t.TempDir()}
	p.cmd = exec.CommandContext(ctx, os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), envTestMain+"=1", "TMPDIR="+p.tmp)
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Copy the output while giving the caller its lines.
	pr, pw := io.Pipe()
	go func() {
		io.Copy(io.MultiWriter(&p.stdout, pw), out)
		pw.Close()
	}()
	return p, pr
}

// wait waits for the program and its output.
func (p *program) wait(out io.Reader) error {
	io.Copy(io.Discard, out)
	return p.cmd.Wait()
}

// checkNothingLeft fails when the run left a /dev/shm file, a file in its
// TMPDIR, or its process B.
func (p *program) checkNothingLeft(t *testing.T) {
	t.Helper()
	left, _ := filepath.Glob(fmt.Sprintf("/dev/shm/iox2go-bench-%s%d-*", testrun.Tag(), p.cmd.Process.Pid))
	if len(left) > 0 {
		t.Errorf("left in /dev/shm: %v", left)
	}
	if ents, _ := os.ReadDir(p.tmp); len(ents) > 0 {
		t.Errorf("left in TMPDIR: %v", ents)
	}
	m := regexp.MustCompile(`B is process (\d+)`).FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Errorf("no pid of B in the output:\n%s", p.stdout.String())
		return
	}
	// B and the C peers (their pids are in the lines of their pairs).
	pids := map[string]bool{m[1]: true}
	for _, m := range regexp.MustCompile(`\bprocess (\d+)`).FindAllStringSubmatch(p.stdout.String(), -1) {
		pids[m[1]] = true
	}
	for s := range pids {
		pid, _ := strconv.Atoi(s)
		// A peer is reparented when A exits, then reaped: give it a moment.
		for i := 0; ; i++ {
			if syscall.Kill(pid, 0) != nil {
				break
			}
			if stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); strings.Contains(string(stat), ") Z ") {
				break // a zombie has let go of everything
			}
			if i == 50 {
				t.Errorf("peer process %d still runs after A ended", pid)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func TestQuickRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	outDir := t.TempDir()
	// The C pairs have a test of their own (TestCPairs).
	p, out := startProgram(t, ctx, nil, "-quick", "-pairs", "none", "-out", outDir)
	if err := p.wait(out); err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, p.stdout.String(), p.stderr.String())
	}
	p.checkNothingLeft(t)

	// results.json: every mechanism at 64 B and 64 KiB, between two floors.
	data, err := os.ReadFile(filepath.Join(outDir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	var want []string
	want = append(want, "floor 8")
	for _, name := range mechanismNames() {
		if name != floorName {
			want = append(want, name+" 64", name+" 65536")
		}
	}
	want = append(want, "floor 8")
	var got []string
	for _, r := range rep.Results {
		got = append(got, fmt.Sprintf("%s %d", r.Mechanism, r.Size))
		if r.N < 1 || r.N > quickIters || !(0 < r.Min && r.Min <= r.Median && r.Median <= r.P99 && r.P99 <= r.Max) {
			t.Errorf("%s %d: implausible summary %+v", r.Mechanism, r.Size, r.Summary)
		}
		if r.RatioFloor <= 0 {
			t.Errorf("%s %d: ratio to floor %v", r.Mechanism, r.Size, r.RatioFloor)
		}
		if (r.Mechanism == "iox2go-pubsub") != (r.RatioBare != nil) {
			t.Errorf("%s %d: ratio to zerocopy-bare %v", r.Mechanism, r.Size, r.RatioBare)
		}
		if isGateway(r.Mechanism) != (r.RatioNATS != nil) {
			t.Errorf("%s %d: ratio to nats-pubsub %v", r.Mechanism, r.Size, r.RatioNATS)
		}
		if (r.Mechanism != floorName) != (r.RatioUDS != nil) {
			t.Errorf("%s %d: ratio to uds-stream %v", r.Mechanism, r.Size, r.RatioUDS)
		}
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("results: got %v, want %v", got, want)
	}
	m := rep.Meta
	if m.Date == "" || m.GoVersion == "" || m.CPU == "" || m.Kernel == "" || m.FloorNs <= 0 || m.FloorEndNs <= 0 {
		t.Errorf("incomplete meta: %+v", m)
	}

	// results.md: a table row per result, and the machine.
	md, err := os.ReadFile(filepath.Join(outDir, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile(`(?m)^\| (floor|futex|pipe|uds-\w+|iox2go-[\w-]+|zerocopy-bare|nats-pubsub|gateway-(?:embedded-)?pubsub|faulty) \| \d+ (B|KiB) \| \d+ \|`).FindAll(md, -1)
	if len(rows) != len(rep.Results) {
		t.Errorf("results.md has %d result rows, want %d:\n%s", len(rows), len(rep.Results), md)
	}
	checkFanout(t, &rep, md)
	checkThroughput(t, &rep, md)
	// The gateway's section: a row per gateway mechanism and size, and
	// the throughput.
	if gw := regexp.MustCompile(`(?m)^\| gateway-(embedded-)?pubsub \| (64 B|64 KiB) \| [\d.]+ [nµm]?s \| [\d.]+ [nµm]?s \| [\d.]+× \| (met|\*\*missed\*\*) \|`).FindAll(md, -1); len(gw) != 4 || !strings.Contains(string(md), "## Across hosts: the gateway") {
		t.Errorf("results.md: the gateway's section has %d rows, want 4:\n%s", len(gw), md)
	}
	for _, s := range []string{m.CPU, m.Kernel, m.GoVersion, m.Date} {
		if !strings.Contains(string(md), s) {
			t.Errorf("results.md lacks %q", s)
		}
	}

	// latency.svg: well-formed XML, one line per mechanism.
	svg, err := os.ReadFile(filepath.Join(outDir, "latency.svg"))
	if err != nil {
		t.Fatal(err)
	}
	checkSVG(t, svg, len(mechanismNames())-1)
}

// checkFanout checks the multi-subscriber results: a ratio to one
// subscriber at every size, in the note and in the fan-out table.
func checkFanout(t *testing.T, rep *Report, md []byte) {
	t.Helper()
	n := 0
	for _, r := range rep.Results {
		if fanout(r.Mechanism) < 2 {
			continue
		}
		n++
		if r.RatioPubSub == nil || *r.RatioPubSub <= 0 || !strings.Contains(r.Note, "to the last of") {
			t.Errorf("%s %d: ratio to one subscriber %v, note %q", r.Mechanism, r.Size, r.RatioPubSub, r.Note)
		}
	}
	if n != 4 {
		t.Errorf("%d multi-subscriber results, want 4 (2 and 8 subscribers at 2 sizes)", n)
	}
	for _, sub := range []string{"1", "2", "8"} {
		row := regexp.MustCompile(`(?m)^\| ` + sub + ` \| \d[^|]* \| \d[^|]* \|$`).Find(md)
		if row == nil || (sub != "1" && !strings.Contains(string(row), "×)")) {
			t.Errorf("results.md: fan-out row of %s subscribers: %q", sub, row)
		}
	}
}

// checkThroughput checks the throughput mode's results: the default
// mechanisms, lossless, in the JSON and the markdown.
func checkThroughput(t *testing.T, rep *Report, md []byte) {
	t.Helper()
	var got []string
	for _, r := range rep.Throughput {
		got = append(got, r.Mechanism)
		// Across NATS a slow receiver drops (counted); the others are lossless.
		lossy := isNATS(r.Mechanism)
		if r.Size != 8 || r.Sent == 0 || r.Received == 0 || r.Received+r.Lost != r.Sent || (r.Lost != 0 && !lossy) || r.ElapsedNs <= 0 || r.SendNs <= 0 || r.PerSecond <= 0 || r.RatioUDS == nil {
			t.Errorf("throughput %s: implausible %+v", r.Mechanism, r)
		}
		if isGateway(r.Mechanism) != (r.RatioNATS != nil) {
			t.Errorf("throughput %s: ratio to nats-pubsub %v", r.Mechanism, r.RatioNATS)
		}
		if want := float64(r.Received) / (float64(r.ElapsedNs) / 1e9); math.Abs(r.PerSecond/want-1) > 1e-9 {
			t.Errorf("throughput %s: %v samples/s, want %v", r.Mechanism, r.PerSecond, want)
		}
	}
	if strings.Join(got, ",") != defaultStreams {
		t.Errorf("throughput of %v, want %s", got, defaultStreams)
	}
	if rep.Meta.StreamBudgetNs != int64(quickStreamBudget) || rep.Meta.StreamCount != defaultStreamCount {
		t.Errorf("meta of the throughput mode: %+v", rep.Meta)
	}
	rows := regexp.MustCompile(`(?m)^\| [\w-]+ \| 8 B \| [\d.]+ ?[kMG]?/s \| \d+ \| \d+ \| \d+ \|`).FindAll(md, -1)
	if len(rows) != len(rep.Throughput) || !strings.Contains(string(md), "## Throughput") {
		t.Errorf("results.md has %d throughput rows, want %d:\n%s", len(rows), len(rep.Throughput), md)
	}
}

// checkSVG checks that svg is well-formed XML with an <svg> root and
// polylines polylines.
func checkSVG(t *testing.T, svg []byte, polylines int) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(string(svg)))
	n, root := 0, ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "polyline" {
				n++
			}
		}
	}
	if root != "svg" || n != polylines {
		t.Errorf("SVG: root <%s>, %d polylines; want <svg>, %d", root, n, polylines)
	}
}

// TestFailureCleansUp makes B fail in the middle of a run: A must stop with
// an error that says why, and leave nothing behind.
func TestFailureCleansUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, out := startProgram(t, ctx, []string{envTestFault + "=1"}, "-quick", "-mechanisms", "faulty", "-out", t.TempDir())
	err := p.wait(out)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1\nstderr:\n%s", err, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "injected fault") {
		t.Errorf("the error does not name B's failure:\n%s", p.stderr.String())
	}
	p.checkNothingLeft(t)
}

// TestStreamFailureCleansUp makes B fail in the middle of a stream: A,
// whose publisher waits for room, must not hang.
func TestStreamFailureCleansUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, out := startProgram(t, ctx, []string{envTestFault + "=1"}, "-quick", "-mechanisms", "floor", "-stream", "faulty-stream", "-stream-budget", "2s", "-out", t.TempDir())
	err := p.wait(out)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1\nstderr:\n%s", err, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "injected stream fault") {
		t.Errorf("the error does not name B's failure:\n%s", p.stderr.String())
	}
	p.checkNothingLeft(t)
}

// TestSignalCleansUp stops a run with SIGTERM in the middle of a
// measurement: A must kill B and remove the run's resources.
func TestSignalCleansUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, out := startProgram(t, ctx, nil, "-mechanisms", "futex", "-iters", "100000000", "-budget", "1m", "-out", t.TempDir())
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "mechanism") { // the table's header: the floor runs now
			break
		}
	}
	time.Sleep(300 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := p.wait(out)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1\nstderr:\n%s", err, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "cleaned up") {
		t.Errorf("stderr:\n%s", p.stderr.String())
	}
	p.checkNothingLeft(t)
}
