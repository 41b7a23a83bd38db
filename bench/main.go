package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/iox2go/iox2go/internal/testrun"
)

func main() {
	var err error
	who := "bench"
	switch os.Getenv(envRole) {
	case "B":
		who = "bench (process B)"
		err = runB()
	case roleGateway:
		who = "bench (gateway)"
		err = runGateway()
	case roleNATS:
		who = "bench (NATS server)"
		err = runNATS()
	default:
		err = runA(os.Args[1:], os.Stdout, os.Stderr)
	}
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if errors.Is(err, errUsage) {
		os.Exit(2)
	}
	if err != nil && stopping.Load() {
		select {} // the error comes from the signal's clean-up, which exits
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", who, err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// stopping is set when a signal stops the run: its handler cleans up and
// exits, and the failures that this causes elsewhere are not reported.
var stopping atomic.Bool

// options are the command line of process A.
type options struct {
	out        string
	iters      int
	budget     time.Duration
	sizes      []int
	mechanisms []string
	quick      bool
	cpus       []int // CPUs of A and B; nil: do not pin
	cpuNote    string
	timeout    time.Duration
	args       []string
	// The throughput mode (stream.go).
	streams      []string // mechanisms, in the order of their names
	streamBudget time.Duration
	streamCount  uint64
	streamSize   int
	// The C rows (cpeer.go): the pairs besides Go↔Go, and where the C
	// library is built ("": lang/c's own build directory).
	pairs  []string
	cBuild string
}

const (
	defaultSizes = "64,1K,64K,1M,4M"
	quickSizes   = "64,64K"
	quickIters   = 2000
	quickBudget  = 150 * time.Millisecond

	defaultStreams      = "gateway-embedded-pubsub,gateway-pubsub,iox2go-pubsub,nats-pubsub,pipe,uds-stream" // in the order of the names
	quickStreamBudget   = 100 * time.Millisecond
	defaultStreamBudget = 3 * time.Second
	defaultStreamCount  = 100_000_000
)

func parseFlags(args []string, stdout, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{args: args}
	var sizes, mechs, cpus, streams, pairs string
	var list bool
	var gwProcs int
	fs.StringVar(&o.out, "out", "docs/bench", "write results.md, results.json and latency.svg into `dir`")
	fs.IntVar(&o.iters, "iters", 100000, "timed round trips per measurement, at most")
	fs.DurationVar(&o.budget, "budget", 3*time.Second, "time per measurement, at most (the warm-up takes up to a tenth more)")
	fs.StringVar(&sizes, "sizes", defaultSizes, "payload sizes, comma-separated, in bytes with an optional K or M (KiB, MiB) suffix")
	fs.StringVar(&mechs, "mechanisms", "all", "mechanisms to measure, comma-separated, or all (see -list); the floor is always measured")
	fs.BoolVar(&o.quick, "quick", false, fmt.Sprintf("smoke mode: -iters %d -budget %v -sizes %s -stream-budget %v, unless given", quickIters, quickBudget, quickSizes, quickStreamBudget))
	fs.StringVar(&streams, "stream", defaultStreams, "mechanisms to measure in the throughput mode (A streams, B counts), comma-separated, all (those that can) or none")
	fs.DurationVar(&o.streamBudget, "stream-budget", defaultStreamBudget, "time per throughput measurement, at most")
	fs.Uint64Var(&o.streamCount, "stream-count", defaultStreamCount, "samples per throughput measurement, at most")
	fs.IntVar(&o.streamSize, "stream-size", 8, "payload size of the throughput mode in bytes, at least 8")
	fs.StringVar(&pairs, "pairs", defaultPairs, "process pairs besides Go↔Go (always measured), comma-separated, or none: go-c (A this program, B the C peer "+cSource+") and c-c (both the C peer); they run the floor and "+strings.Join(cMechanisms, ", ")+"; without a C compiler they are left out")
	fs.StringVar(&o.cBuild, "c-build", "", "build the C library for the C pairs into `dir` (make -C lang/c BUILD=dir; default: lang/c/build)")
	fs.StringVar(&cpus, "cpus", "", "the CPUs of process A and process B, as `a,b` (default: the first two this process may use)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long a process waits for the other one before it gives up")
	fs.BoolVar(&list, "list", false, "list the mechanisms and exit")
	fs.StringVar(&natsWhere, "nats-server", natsInProcess, "where the NATS server of nats-pubsub and gateway-pubsub runs: "+natsInProcess+" (a process of its own, as NATS is deployed) or "+natsInA+" (inside process A)")
	fs.IntVar(&gwProcs, "gateway-gomaxprocs", defaultGatewayProcs, "GOMAXPROCS of gateway-pubsub's gateway processes, as iox2 gateway's --gomaxprocs (0: Go's default, the number of CPUs)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./bench [flags]\n\nMeasures the one-way latency of IPC mechanisms between two pinned processes, then the throughput of some of them.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errUsage
	}
	usage := func(format string, a ...any) (*options, error) {
		fmt.Fprintf(stderr, "bench: "+format+"\n", a...)
		fs.Usage()
		return nil, errUsage
	}
	if gwProcs < 0 {
		return usage("-gateway-gomaxprocs: %d is negative", gwProcs)
	}
	if natsWhere != natsInProcess && natsWhere != natsInA {
		return usage("-nats-server: %q is neither %s nor %s", natsWhere, natsInProcess, natsInA)
	}
	// startGateway reads it.
	os.Setenv(envGWProcs, strconv.Itoa(gwProcs))
	if fs.NArg() > 0 {
		return usage("unexpected argument %q", fs.Arg(0))
	}
	if list {
		for _, n := range mechanismNames() {
			fmt.Fprintf(stdout, "%-14s %s\n", n, registry[n].doc)
		}
		return nil, flag.ErrHelp
	}
	if o.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["iters"] {
			o.iters = quickIters
		}
		if !set["budget"] {
			o.budget = quickBudget
		}
		if !set["sizes"] {
			sizes = quickSizes
		}
		if !set["stream-budget"] {
			o.streamBudget = quickStreamBudget
		}
	}
	if o.iters < 1 || o.budget <= 0 || o.timeout <= 0 || o.streamBudget <= 0 || o.streamCount < 1 {
		return usage("-iters, -budget, -timeout, -stream-budget and -stream-count must be positive")
	}
	if o.streamSize < 8 || o.streamSize > 1<<30 {
		return usage("-stream-size: %d is not between 8 B and 1 GiB", o.streamSize)
	}
	var err error
	if o.sizes, err = parseSizes(sizes); err != nil {
		return usage("-sizes: %v", err)
	}
	if o.mechanisms, err = parseMechanisms(mechs); err != nil {
		return usage("-mechanisms: %v", err)
	}
	if o.streams, err = parseStreams(streams); err != nil {
		return usage("-stream: %v", err)
	}
	if o.pairs, err = parsePairs(pairs); err != nil {
		return usage("-pairs: %v", err)
	}
	if o.cpus, o.cpuNote, err = chooseCPUs(cpus); err != nil {
		return usage("-cpus: %v", err)
	}
	return o, nil
}

// parseSizes parses "64,1K,4M" into sorted, distinct sizes of at least 9 B.
func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		mult := 1
		switch {
		case strings.HasSuffix(f, "K"):
			mult, f = 1<<10, strings.TrimSuffix(f, "K")
		case strings.HasSuffix(f, "M"):
			mult, f = 1<<20, strings.TrimSuffix(f, "M")
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 1<<30/mult {
			return nil, fmt.Errorf("bad size %q", f)
		}
		if n*mult < 9 {
			return nil, fmt.Errorf("size %d is below 9 bytes (the seq and a last byte)", n*mult)
		}
		sizes = append(sizes, n*mult)
	}
	slices.Sort(sizes)
	return slices.Compact(sizes), nil
}

// parseMechanisms parses "all" or a list of registered names, keeping the
// order of the registry (sorted names) and leaving the floor out: it is
// measured anyway.
func parseMechanisms(s string) ([]string, error) {
	want := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if _, ok := registry[f]; !ok && f != "all" {
			return nil, fmt.Errorf("unknown mechanism %q (known: %s)", f, strings.Join(mechanismNames(), ", "))
		}
		want[f] = true
	}
	var names []string
	for _, n := range mechanismNames() {
		if n != floorName && (want[n] || want["all"]) {
			names = append(names, n)
		}
	}
	return names, nil
}

// parseStreams parses the mechanisms of the throughput mode: "none", "all"
// (every one that implements Streamer) or a list of such names.
func parseStreams(s string) ([]string, error) {
	if strings.TrimSpace(s) == "none" {
		return nil, nil
	}
	names, err := parseMechanisms(s)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		if _, ok := registry[n].new().(Streamer); ok {
			out = append(out, n)
		} else if s != "all" {
			return nil, fmt.Errorf("%s cannot stream", n)
		}
	}
	return out, nil
}

// chooseCPUs returns the CPUs of A and B: those of -cpus, or the first two
// this process may use. With a single CPU it returns nil and a note.
func chooseCPUs(s string) ([]int, string, error) {
	if s != "" {
		a, b, ok := strings.Cut(s, ",")
		ca, err1 := strconv.Atoi(strings.TrimSpace(a))
		cb, err2 := strconv.Atoi(strings.TrimSpace(b))
		if !ok || err1 != nil || err2 != nil || ca < 0 || cb < 0 || ca == cb {
			return nil, "", fmt.Errorf("want two different CPU numbers, got %q", s)
		}
		return []int{ca, cb}, fmt.Sprintf("A pinned to CPU %d, B to CPU %d", ca, cb), nil
	}
	cpus := allowedCPUs()
	if len(cpus) < 2 {
		return nil, "only one CPU: A and B not pinned, they share it (busy waits yield; figures are scheduler-bound)", nil
	}
	return cpus[:2], fmt.Sprintf("A pinned to CPU %d, B to CPU %d", cpus[0], cpus[1]), nil
}

// runA is process A: it measures, then writes the results.
func runA(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "iox2go-bench-")
	if err != nil {
		return err
	}
	r := &runner{
		opts:   o,
		dir:    dir,
		prefix: fmt.Sprintf("iox2go-bench-%s%d-", testrun.Tag(), os.Getpid()),
		rtts:   make([]int64, o.iters),
		stdout: stdout,
	}
	defer r.cleanup()
	// A closed standard output must not end the run before its clean-up.
	signal.Ignore(syscall.SIGPIPE)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	// The C peer is built first, before this thread is pinned (a child
	// inherits the CPUs of the thread that starts it).
	cExe, err := r.buildC()
	if err != nil {
		return err
	}
	// Everything of A runs on this goroutine and thread: the pinning and
	// B's parent-death signal both belong to the thread.
	cpuA, cpuB := -1, -1
	if o.cpus != nil {
		cpuA, cpuB = o.cpus[0], o.cpus[1]
	}
	if err := pin(cpuA); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "bench: %s\n", o.cpuNote)
	r.peer, err = startPeer(cpuB, dir, o.timeout)
	if err != nil {
		return err
	}
	r.pairs = []*procPair{{kind: pairGoGo, b: r.peer}}
	if cExe != "" {
		if err := r.startCPairs(cExe, cpuA, cpuB); err != nil {
			return err
		}
	}
	// From here on a signal (also one that came during startPeer) kills B
	// and removes the run's resources.
	go func() {
		s := <-sigs
		stopping.Store(true)
		r.cleanup()
		fmt.Fprintf(stderr, "bench: %v: stopped, cleaned up\n", s)
		os.Exit(1)
	}()
	rep, err := r.run()
	if err != nil {
		return err
	}
	if err := errors.Join(r.peer.stop(o.timeout), r.stopPeers()); err != nil {
		return err
	}
	return writeOutputs(rep, o.out, stdout)
}

// runner holds the state of one run of A.
type runner struct {
	opts   *options
	dir    string  // private directory for sockets and FIFOs
	prefix string  // of every resource name of this run
	peer   *peer   // process B
	n      int     // measurements so far, for unique prefixes
	rtts   []int64 // round trips of the current measurement
	stdout io.Writer
	// The process pairs: Go↔Go (A and r.peer) first, then those of
	// -pairs with the C peer (cpeer.go), whose processes are extra.
	pairs []*procPair
	extra []*peer
	cPeer string // how the C peer was built
	cSkip string // why the C rows are left out
}

// cleanup kills B and removes whatever this run left: the mechanisms remove
// their resources themselves, this is for the runs that failed half-way. It
// runs both on return and on a signal.
func (r *runner) cleanup() {
	if r.peer != nil {
		r.peer.kill()
	}
	for _, p := range r.extra {
		p.kill()
	}
	stopNATS()
	shortDirs.removeAll()
	os.RemoveAll(r.dir)
	left, _ := filepath.Glob("/dev/shm/" + r.prefix + "*")
	for _, f := range left {
		os.Remove(f)
	}
}

func (r *runner) run() (*Report, error) {
	rep := newReport(r.opts)
	fmt.Fprintf(r.stdout, "bench: B is process %d, %s\n", r.peer.pid, r.peer.hello)
	fmt.Fprintf(r.stdout, "bench: %d iterations or %v per measurement, timestamp %.1f ns\n", r.opts.iters, r.opts.budget, rep.Meta.TimestampNs)
	if r.cSkip != "" {
		fmt.Fprintf(r.stdout, "bench: C rows skipped: %s\n", r.cSkip)
	}
	for _, p := range r.pairs[1:] {
		a, b := p.describe(rep.Meta.TimestampNs)
		fmt.Fprintf(r.stdout, "bench: pair %s: A %s; B %s\n", pairLabel(p.kind), a, b)
	}
	floors := map[string]float64{} // the start floor of each pair
	full := plan{
		warmIters:  max(r.opts.iters/10, 10),
		warmBudget: r.opts.budget / 10,
		iters:      r.opts.iters,
		budget:     r.opts.budget,
	}
	// A floor around a row: short, a tenth of a measurement.
	short := plan{
		warmIters:  max(r.opts.iters/100, 10),
		warmBudget: r.opts.budget / 100,
		iters:      max(r.opts.iters/10, 10),
		budget:     r.opts.budget / 10,
	}
	floorAround := func(p *procPair) (float64, error) {
		res, err := r.measure(p, floorName, 8, short)
		return res.Median, err
	}
	// around: measure the pair's floor right before and right after the
	// row, for the comparison of the pairs (which take turns).
	add := func(p *procPair, name string, size int, note string, around bool) error {
		var before, after float64
		var err error
		if around {
			if before, err = floorAround(p); err != nil {
				return err
			}
		}
		res, err := r.measure(p, name, size, full)
		if err != nil {
			return err
		}
		if around {
			if after, err = floorAround(p); err != nil {
				return err
			}
			res.FloorAround = []float64{before, after}
		}
		if res.Note != "" && note != "" {
			note += "; "
		}
		res.Note = note + res.Note
		rep.Results = append(rep.Results, res)
		if _, ok := floors[p.kind]; !ok {
			floors[p.kind] = res.Median
		}
		progress(r.stdout, &res, floors[p.kind])
		return nil
	}
	progress(r.stdout, nil, 0)
	// Each pair's floor, then each mechanism at each size in every pair
	// that has it, one pair after the other (so that the pairs see the
	// same conditions), then each pair's floor again.
	for _, p := range r.pairs {
		if err := add(p, floorName, 8, "start", false); err != nil {
			return nil, err
		}
	}
	for _, name := range r.opts.mechanisms {
		for i, size := range r.opts.sizes {
			var turn []*procPair
			for _, p := range r.pairs {
				if p.runs(name) {
					turn = append(turn, p)
				}
			}
			// The pairs take turns, the first one changing with the
			// size, so that no pair always comes first.
			if len(turn) > 1 {
				k := i % len(turn)
				turn = slices.Concat(turn[k:], turn[:k])
			}
			for _, p := range turn {
				if err := add(p, name, size, "", len(turn) > 1); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, p := range r.pairs {
		if err := add(p, floorName, 8, "end, the same pair re-measured", false); err != nil {
			return nil, err
		}
	}
	for _, p := range r.pairs {
		a, b := p.describe(rep.Meta.TimestampNs)
		rep.Pairs = append(rep.Pairs, PairInfo{Pair: p.kind, A: a, B: b})
	}
	rep.Meta.CPeer, rep.Meta.CSkipped = r.cPeer, r.cSkip
	if len(r.opts.streams) > 0 {
		fmt.Fprintf(r.stdout, "bench: throughput, %s payloads, %v or %d samples per measurement\n", sizeLabel(r.opts.streamSize), r.opts.streamBudget, r.opts.streamCount)
		streamProgress(r.stdout, nil)
	}
	for _, name := range r.opts.streams {
		res, err := r.measureStream(name)
		if err != nil {
			return nil, err
		}
		rep.Throughput = append(rep.Throughput, res)
		streamProgress(r.stdout, &res)
	}
	rep.finish()
	return rep, nil
}

// measure runs one mechanism at one size in both processes of a pair.
func (r *runner) measure(p *procPair, name string, size int, pl plan) (Result, error) {
	what := fmt.Sprintf("%s %s", name, sizeLabel(size))
	if p.kind != pairGoGo {
		what += " " + pairLabel(p.kind)
	}
	if p.a != nil {
		n, err := r.measureRemote(p, name, size, pl)
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", what, err)
		}
		return Result{Mechanism: name, Pair: p.kind, Size: size, Summary: summarize(r.rtts[:n])}, nil
	}
	r.n++
	prefix := fmt.Sprintf("%s%d-%s", r.prefix, r.n, name)
	if err := p.b.send(fmt.Sprintf("run %s %d %s", name, size, prefix)); err != nil {
		return Result{}, err
	}
	m := registry[name].new()
	cfg := Config{Role: RoleA, Prefix: prefix, Dir: r.dir, Size: size, Timeout: r.opts.timeout}
	var n int
	err := m.Setup(cfg)
	if err != nil {
		err = fmt.Errorf("setup: %w", err)
	} else if _, err = p.b.await("ready", r.opts.timeout+time.Second); err == nil {
		runtime.GC() // not during the run
		n, err = pingPong(m, pl, r.rtts)
		if _, errB := p.b.await("done", r.opts.timeout+time.Second); errB != nil {
			err = errors.Join(err, errB)
		}
	}
	note := ""
	if nt, ok := m.(Noter); ok {
		note = nt.Note()
	}
	if e := m.Close(); e != nil && err == nil {
		err = fmt.Errorf("close: %w", e)
	}
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", what, err)
	}
	return Result{Mechanism: name, Pair: p.kind, Size: size, Summary: summarize(r.rtts[:n]), Note: note}, nil
}
