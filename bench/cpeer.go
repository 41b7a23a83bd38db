package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The process pairs of a run. Go↔Go is this program against itself (the
// rows of the main table); the other two put the C library on one or both
// sides, with the C peer lang/c/bench/pingpong.c:
//
//	go-c: A is this program, B the C peer (as process B, it echoes);
//	c-c:  A and B are both the C peer; A times the round trips with
//	      clock_gettime(CLOCK_MONOTONIC) and hands them over in a file.
//
// Every pair measures its own floor, first and last, because the cost of
// moving a cache line is fixed per pair of processes at launch (see
// docs/BENCHMARKS.md); a row's × floor is to its own pair's floor.
const (
	pairGoGo = "go-go"
	pairGoC  = "go-c"
	pairCC   = "c-c"

	defaultPairs = pairGoC + "," + pairCC
)

// pairLabel is how the outputs name a pair.
func pairLabel(pair string) string {
	switch pair {
	case pairGoC:
		return "Go↔C"
	case pairCC:
		return "C↔C"
	}
	return "Go↔Go"
}

// cMechanisms are the mechanisms the C peer has besides the floor: those
// measured between the C pairs.
var cMechanisms = []string{"iox2go-pubsub"}

// cSource is the C peer's source and cLib the library's directory, from the
// repository's root.
const (
	cSource = "lang/c/bench/pingpong.c"
	cLib    = "lang/c"
)

// parsePairs parses -pairs: "none" or a list of go-c and c-c (go-go, always
// measured, may be named too). The result keeps the order go-c, c-c.
func parsePairs(s string) ([]string, error) {
	if strings.TrimSpace(s) == "none" {
		return nil, nil
	}
	want := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f != pairGoGo && f != pairGoC && f != pairCC {
			return nil, fmt.Errorf("unknown pair %q (known: go-go, go-c, c-c, none)", f)
		}
		want[f] = true
	}
	var pairs []string
	for _, p := range []string{pairGoC, pairCC} {
		if want[p] {
			pairs = append(pairs, p)
		}
	}
	return pairs, nil
}

// procPair is one pair of processes as the runner drives it.
type procPair struct {
	kind string
	a    *peer // nil: A is this process
	b    *peer
}

// runsIn says whether mechanism name is measured between the pair.
func (p *procPair) runs(name string) bool {
	return p.kind == pairGoGo || name == floorName || slices.Contains(cMechanisms, name)
}

// cRowsWanted returns the mechanisms of this run that the C pairs measure.
func cRowsWanted(o *options) []string {
	if len(o.pairs) == 0 {
		return nil
	}
	var names []string
	for _, n := range o.mechanisms {
		if slices.Contains(cMechanisms, n) {
			names = append(names, n)
		}
	}
	return names
}

// repoRoot returns the repository's root: the first directory from the
// working directory upwards that holds the C library's Makefile.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, cLib, "Makefile")); err == nil {
			if _, err := os.Stat(filepath.Join(d, cSource)); err == nil {
				return d, nil
			}
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no %s/Makefile and %s above %s: run the benchmark from the repository", cLib, cSource, wd)
		}
	}
}

// buildCPeer builds the C library (make -C lang/c, into -c-build if given)
// and the C peer, with -O2, into dir. It returns the program, a line that
// says how it was built, or, when no C compiler is there, skip: why the C
// rows are left out. A failing build is an error.
func buildCPeer(o *options, dir string) (exe, how, skip string, err error) {
	root, err := repoRoot()
	if err != nil {
		return "", "", err.Error(), nil
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	for _, tool := range []string{cc, "make", "ar"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", "", fmt.Sprintf("no %s in PATH (the C library and %s need it)", tool, cSource), nil
		}
	}
	libDir := filepath.Join(root, cLib)
	makeArgs := []string{"-C", libDir, "-j2", "CC=" + cc}
	build := filepath.Join(libDir, "build")
	if o.cBuild != "" {
		if build, err = filepath.Abs(o.cBuild); err != nil {
			return "", "", "", err
		}
		makeArgs = append(makeArgs, "BUILD="+build)
	}
	run := func(name string, args ...string) error {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("build the C peer: %s %s: %w\n%s", name, strings.Join(args, " "), err, tail(out, 40))
		}
		return nil
	}
	if err := run("make", makeArgs...); err != nil {
		return "", "", "", err
	}
	lib := filepath.Join(build, "libiox2go.a")
	exe = filepath.Join(dir, "iox2go-bench-c")
	ccArgs := []string{"-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-I", filepath.Join(libDir, "include"),
		"-o", exe, filepath.Join(root, cSource), lib}
	if err := run(cc, ccArgs...); err != nil {
		return "", "", "", err
	}
	rel := func(p string) string {
		if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
		return p
	}
	how = fmt.Sprintf("%s (%s -O2) with %s (make -C %s)", cSource, cc, rel(lib), cLib)
	return exe, how, "", nil
}

// tail returns the last n lines of out.
func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// buildC builds the C peer if the run has C rows, and returns it; "" when
// the C rows are left out (r.cSkip says why, if -pairs asked for them).
func (r *runner) buildC() (string, error) {
	if len(cRowsWanted(r.opts)) == 0 {
		if len(r.opts.pairs) > 0 {
			r.cSkip = fmt.Sprintf("none of the mechanisms has a C side (%s has)", strings.Join(cMechanisms, ", "))
		}
		return "", nil
	}
	t0 := time.Now()
	exe, how, skip, err := buildCPeer(r.opts, r.dir)
	if skip != "" || err != nil {
		r.cSkip = skip
		return "", err
	}
	r.cPeer = how
	fmt.Fprintf(r.stdout, "bench: C peer: %s, built in %.1f s\n", how, time.Since(t0).Seconds())
	return exe, nil
}

// startCPairs starts the processes of the C pairs: one C process as B (of
// go-c and of c-c) and, for c-c, one as A, pinned as this program and
// process B are.
func (r *runner) startCPairs(exe string, cpuA, cpuB int) error {
	cb, err := startProgramPeer("C process B", exe, cpuB, r.dir, r.opts.timeout)
	if err != nil {
		return err
	}
	r.extra = append(r.extra, cb)
	for _, kind := range r.opts.pairs {
		p := &procPair{kind: kind, b: cb}
		if kind == pairCC {
			if p.a, err = startProgramPeer("C process A", exe, cpuA, r.dir, r.opts.timeout); err != nil {
				return err
			}
			r.extra = append(r.extra, p.a)
		}
		r.pairs = append(r.pairs, p)
	}
	return nil
}

// measureRemote runs one mechanism at one size between two peers: p.a
// times the round trips and writes them to a file, which the runner reads
// into r.rtts.
func (r *runner) measureRemote(p *procPair, name string, size int, pl plan) (int, error) {
	r.n++
	prefix := fmt.Sprintf("%s%d-%s", r.prefix, r.n, name)
	file := filepath.Join(r.dir, prefix+".rtts")
	wait := r.opts.timeout + time.Second
	if err := p.b.send(fmt.Sprintf("run %s %d %s", name, size, prefix)); err != nil {
		return 0, err
	}
	err := p.a.send(fmt.Sprintf("time %s %d %s %d %d %d %d %s", name, size, prefix,
		pl.warmIters, int64(pl.warmBudget), pl.iters, int64(pl.budget), file))
	if err != nil {
		return 0, err
	}
	_, errA := p.a.await("ready", wait)
	_, errB := p.b.await("ready", wait)
	if err := errors.Join(errA, errB); err != nil {
		return 0, err
	}
	if err := p.a.send("go"); err != nil {
		return 0, err
	}
	// A's run ends within its warm-up and its budget, plus one round trip
	// (each wait bounded by the timeout).
	done, errA := p.a.await("done", pl.warmBudget+pl.budget+2*wait)
	_, errB = p.b.await("done", wait)
	if err := errors.Join(errA, errB); err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(done)
	if err != nil || n < 1 || n > len(r.rtts) {
		return 0, fmt.Errorf("%s: done %q: want 1 to %d round trips", p.a.name, done, len(r.rtts))
	}
	data, err := os.ReadFile(file)
	os.Remove(file)
	if err != nil {
		return 0, fmt.Errorf("%s's round trips: %w", p.a.name, err)
	}
	if len(data) != 8*n {
		return 0, fmt.Errorf("%s's round trips: %d bytes in %s, want %d", p.a.name, len(data), file, 8*n)
	}
	for i := range n {
		v := int64(binary.LittleEndian.Uint64(data[8*i:]))
		if v <= 0 {
			return 0, fmt.Errorf("%s's round trips: %d ns at %d", p.a.name, v, i)
		}
		r.rtts[i] = v
	}
	return n, nil
}

// describe says what plays A and B in a pair, for the report.
// goTimestampNs is the cost of this program's clock (Meta.TimestampNs).
func (p *procPair) describe(goTimestampNs float64) (a, b string) {
	a = fmt.Sprintf("Go (this program), runtime.nanotime %.1f ns", goTimestampNs)
	if p.a != nil {
		a = fmt.Sprintf("C (%s), process %d, %s", cSource, p.a.pid, p.a.hello)
	}
	b = fmt.Sprintf("Go (this program again), process %d, %s", p.b.pid, p.b.hello)
	if p.kind != pairGoGo {
		b = fmt.Sprintf("C (%s), process %d, %s", cSource, p.b.pid, p.b.hello)
	}
	return a, b
}

// stopPeers asks every extra peer to exit.
func (r *runner) stopPeers() error {
	var errs []error
	for _, p := range r.extra {
		errs = append(errs, p.stop(r.opts.timeout))
	}
	return errors.Join(errs...)
}
