package conformance

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iox2go/iox2go/examples/gen/robot"
	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/iox2test"
)

// The C library's static-config parser (iox2i_static_config_check, through
// lang/c/tests/fuzz_static.c) gets the Go fuzz corpus of runtime's
// FuzzStaticConfig targets and mutations of it, built with
// -fsanitize=address,undefined: any report, crash or broken rule fails.
// With clang's libFuzzer at hand it also fuzzes it for a few seconds.

// goStaticSeeds are the literal seeds of runtime's FuzzStaticConfig.
var goStaticSeeds = [][]byte{
	[]byte(`{"version":"7","name":"a","pattern":"publish_subscribe","hash":"h","uid":"u","publish_subscribe":{"max_publishers":1}}`),
	[]byte(`{`),
	[]byte(`{"hash":"h","publish_subscribe":{"max_publishers":-5,"max_subscribers":100000000}}`),
	{0, 1, 2},
}

// goWrittenStatics returns the static configs that the Go runtime writes
// for the services of robot.idl and a few other QoS: a C opener must
// accept every one.
func goWrittenStatics(t *testing.T) map[string][]byte {
	t.Helper()
	cfg := iox2test.Config(t)
	node := iox2test.Node(t, cfg)
	var closers []interface{ Close() error }
	add := func(c interface{ Close() error }, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		closers = append(closers, c)
	}
	add(robot.CreateImu(node))
	add(robot.CreatePoints(node))
	add(robot.CreateAlarm(node))
	add(robot.CreatePlan(node))
	add(iox2.PublishSubscribe[robot.Imu](node, "conf/big").HistorySize(1000).SubscriberMaxBufferSize(1000).
		MaxPublishers(64).MaxSubscribers(64).MaxNodes(128).EnableSafeOverflow(false).Create())
	add(iox2.Event(node, "conf/events").EventIDMaxValue(4095).MaxNotifiers(256).MaxListeners(256).
		NotifierCreatedEvent(1).NotifierDroppedEvent(2).Deadline(time.Second).Create())
	add(iox2.RequestResponseSlice[robot.PlanRequest, robot.PlanResponse](node, "conf/slices").
		EnableFireAndForgetRequests(false).MaxActiveRequestsPerClient(16).Create())
	out := map[string][]byte{}
	files, _ := filepath.Glob(filepath.Join(cfg.Root, "services", "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out["go-"+filepath.Base(f)] = b
	}
	for _, c := range closers {
		c.Close()
	}
	if len(out) != len(closers) {
		t.Fatalf("%d static configs under %s, want %d", len(out), cfg.Root, len(closers))
	}
	return out
}

// goFuzzCorpus reads the stored corpus of runtime's static-config fuzz
// targets: runtime/testdata/fuzz and the Go build cache's fuzz directory
// (which `make fuzz` fills).
func goFuzzCorpus(t *testing.T) map[string][]byte {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(repoRoot(), "runtime/testdata/fuzz/FuzzStaticConfig*"))
	if out, err := exec.Command("go", "env", "GOCACHE").Output(); err == nil {
		cached, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "fuzz/github.com/iox2go/iox2go/runtime/FuzzStaticConfig*"))
		dirs = append(dirs, cached...)
	}
	corpus := map[string][]byte{}
	for _, d := range dirs {
		files, _ := filepath.Glob(filepath.Join(d, "*"))
		for _, f := range files {
			if len(corpus) >= 5000 {
				break
			}
			if b, ok := readGoFuzzFile(f); ok {
				corpus["corpus-"+filepath.Base(d)+"-"+filepath.Base(f)] = b
			}
		}
	}
	return corpus
}

// readGoFuzzFile returns the first []byte value of a file of Go's fuzz
// corpus format ("go test fuzz v1", then one value per line).
func readGoFuzzFile(path string) ([]byte, bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<16), 1<<24)
	if !s.Scan() || s.Text() != "go test fuzz v1" {
		return nil, false
	}
	for s.Scan() {
		l := s.Text()
		if strings.HasPrefix(l, "[]byte(") && strings.HasSuffix(l, ")") {
			v, err := strconv.Unquote(l[len("[]byte(") : len(l)-1])
			return []byte(v), err == nil
		}
	}
	return nil, false
}

// mutations derives n inputs from the seeds: truncations, flipped bytes,
// inserted JSON tokens, numbers and strings replaced with extreme ones,
// duplicated pieces, deep nesting.
func mutations(seeds [][]byte, n int) [][]byte {
	r := rand.New(rand.NewSource(1))
	tokens := []string{"{", "}", "[", "]", "\"", ":", ",", "\\", "\\u0000", "\\ud800", "\\uDFFF", "\x00", "\xff\xfe",
		"-1", "-0", "0", "1e400", "-1e400", "1.5", "18446744073709551616", "18446744073709551615",
		"9223372036854775807", "-9223372036854775808", "4294967296", "65536", "null", "true", "false",
		`"` + strings.Repeat("a", 5000) + `"`, `"max_publishers":`, `"publish_subscribe":{`, `"event":{`,
		`"request_response":{`, `"pattern":"event"`, `"pattern":"request_response"`, `"type_variant":"dynamic"`}
	numbers := []string{"-1", "0", "1e400", "18446744073709551616", "9223372036854775807", "-9223372036854775808",
		"4294967295", "65537", "16777216", "0.5", "1e3", "00", "-", "1.", "2147483648"}
	var out [][]byte
	for len(out) < n {
		b := append([]byte(nil), seeds[r.Intn(len(seeds))]...)
		for k := 1 + r.Intn(3); k > 0 && len(b) > 0; k-- {
			i := r.Intn(len(b) + 1)
			switch r.Intn(8) {
			case 0: // truncate
				b = b[:i]
			case 1: // flip a byte
				if i < len(b) {
					b[i] ^= byte(1 << r.Intn(8))
				}
			case 2: // insert a token
				b = append(b[:i], append([]byte(tokens[r.Intn(len(tokens))]), b[i:]...)...)
			case 3: // replace a number
				if j := bytes.IndexAny(b[i:], "0123456789"); j >= 0 {
					s := i + j
					e := s
					for e < len(b) && strings.IndexByte("0123456789.eE+-", b[e]) >= 0 {
						e++
					}
					b = append(b[:s], append([]byte(numbers[r.Intn(len(numbers))]), b[e:]...)...)
				}
			case 4: // replace a string's content
				if j := bytes.IndexByte(b[i:], '"'); j >= 0 {
					s := i + j + 1
					if e := bytes.IndexByte(b[s:], '"'); e >= 0 {
						v := []string{"", strings.Repeat("x", 70000), "\\\"", "a\\u0000b", "\xc3\x28", "robot::Imu", "7", "0.1.0"}[r.Intn(8)]
						b = append(b[:s], append([]byte(v), b[s+e:]...)...)
					}
				}
			case 5: // duplicate a piece
				if i < len(b) {
					e := i + r.Intn(len(b)-i) + 1
					b = append(b[:e], append(append([]byte(nil), b[i:e]...), b[e:]...)...)
				}
			case 6: // delete a piece
				if i < len(b) {
					e := i + r.Intn(min(len(b)-i, 40)) + 1
					b = append(b[:i], b[e:]...)
				}
			case 7: // nest deeply
				d := []int{64, 1000, 100000}[r.Intn(3)]
				b = append(b[:i], append(bytes.Repeat([]byte{"[{"[r.Intn(2)]}, d), b[i:]...)...)
			}
		}
		out = append(out, b)
	}
	return out
}

func writeInputs(t *testing.T, dir string, inputs map[string][]byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, b := range inputs {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// fuzzSeeds is every seed of the C parser: the Go-written configs, the
// Go fuzz targets' seeds and stored corpus.
func fuzzSeeds(t *testing.T) (valid, others map[string][]byte) {
	valid = goWrittenStatics(t)
	others = goFuzzCorpus(t)
	for i, s := range goStaticSeeds {
		others[fmt.Sprintf("seed-%d", i)] = s
	}
	return valid, others
}

// TestStaticParserReplay replays the corpus and its mutations into the
// sanitized C parser.
func TestStaticParserReplay(t *testing.T) {
	b := cLibrary(true)
	if b.skip != "" {
		t.Skip(b.skip)
	}
	if b.err != nil {
		t.Fatalf("building the C library: %v", b.err)
	}
	exe := filepath.Join(filepath.Dir(b.lib), "fuzz_static-asan")
	if err := compileCWith(true, exe, b.lib, []string{"-I", filepath.Join(repoRoot(), "lang/c/src")}, "lang/c/tests/fuzz_static.c"); err != nil {
		t.Fatal(err)
	}
	valid, others := fuzzSeeds(t)
	dir := t.TempDir()
	writeInputs(t, filepath.Join(dir, "valid"), valid)
	var seeds [][]byte
	for _, m := range []map[string][]byte{valid, others} {
		for _, s := range m {
			seeds = append(seeds, s)
		}
	}
	all := map[string][]byte{}
	for k, v := range others {
		all[k] = v
	}
	for i, m := range mutations(seeds, 3000) {
		all[fmt.Sprintf("mutant-%04d", i)] = m
	}
	writeInputs(t, filepath.Join(dir, "all"), all)

	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(exe, args...)
		cmd.Env = append(os.Environ(), "ASAN_OPTIONS=detect_leaks=1", "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		last := stdout.String()
		if i := strings.LastIndex(strings.TrimSpace(last), "\n"); i >= 0 {
			last = strings.TrimSpace(last[i+1:])
		}
		if err != nil || stderr.Len() > 0 {
			t.Fatalf("fuzz_static %s: %v\nlast line: %s\nstderr:\n%s", strings.Join(args, " "), err, last, tail(stderr.String(), 6000))
		}
		return last
	}
	t.Logf("configs written by Go, all accepted: %s", run("-expect-ok", filepath.Join(dir, "valid")))
	t.Logf("Go fuzz corpus (%d inputs) and 3000 mutations: %s", len(others), run(filepath.Join(dir, "all")))
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// TestStaticParserLibFuzzer fuzzes the parser with libFuzzer for
// IOX2CONF_LIBFUZZER_SECONDS (default 5) when clang can build it.
func TestStaticParserLibFuzzer(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	fz := clangFuzzer()
	if fz.skip != "" {
		t.Skip(fz.skip)
	}
	if fz.err != nil {
		t.Fatal(fz.err)
	}
	secs := 5
	if v, err := strconv.Atoi(os.Getenv("IOX2CONF_LIBFUZZER_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	dir := t.TempDir()
	valid, others := fuzzSeeds(t)
	corpus := filepath.Join(dir, "corpus")
	writeInputs(t, corpus, valid)
	writeInputs(t, corpus, others)
	arts := filepath.Join(dir, "artifacts") + "/"
	os.MkdirAll(arts, 0o700)
	cmd := exec.Command(fz.exe, fmt.Sprintf("-max_total_time=%d", secs), "-max_len=65536", "-rss_limit_mb=2048",
		"-timeout=10", "-print_final_stats=1", "-artifact_prefix="+arts, corpus)
	cmd.Env = append(os.Environ(), "ASAN_OPTIONS=detect_leaks=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		found, _ := filepath.Glob(arts + "*")
		var inputs []string
		for _, f := range found {
			b, _ := os.ReadFile(f)
			inputs = append(inputs, fmt.Sprintf("%s: %q", filepath.Base(f), b))
		}
		t.Fatalf("libFuzzer found a failing input: %v\n%s\n%s", err, strings.Join(inputs, "\n"), tail(string(out), 8000))
	}
	var stats []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "stat::number_of_executed_units") || strings.HasPrefix(l, "stat::new_units_added") || strings.Contains(l, "DONE") {
			stats = append(stats, strings.TrimSpace(l))
		}
	}
	t.Logf("libFuzzer, %d s: %s", secs, strings.Join(stats, "; "))
}

var (
	fuzzerOnce sync.Once
	fuzzer     fuzzerBuild
)

type fuzzerBuild struct {
	exe  string
	skip string
	err  error
}

// clangFuzzer builds, once, the libFuzzer target of fuzz_static.c with
// the library compiled by clang with coverage instrumentation.
func clangFuzzer() fuzzerBuild {
	fuzzerOnce.Do(func() { fuzzer = buildClangFuzzer() })
	return fuzzer
}

func buildClangFuzzer() fuzzerBuild {
	clang, err := exec.LookPath("clang")
	if err != nil {
		return fuzzerBuild{skip: "clang not found: no libFuzzer run (.ci/tools.sh installs Debian's clang; the corpus replay under ASan ran all the same)"}
	}
	if _, err := exec.LookPath("make"); err != nil {
		return fuzzerBuild{skip: "make not found: the C library cannot be built for libFuzzer"}
	}
	if _, err := os.Stat(filepath.Join(repoRoot(), "lang/c/Makefile")); err != nil {
		return fuzzerBuild{skip: "lang/c/Makefile does not exist yet"}
	}
	top, err := tmpBuildDir()
	if err != nil {
		return fuzzerBuild{err: err}
	}
	dir := filepath.Join(top, "clang-fuzz")
	os.MkdirAll(dir, 0o700)
	probe := filepath.Join(dir, "probe")
	os.WriteFile(probe+".c", []byte("int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n"), 0o600)
	if out, err := exec.Command(clang, "-fsanitize=fuzzer", probe+".c", "-o", probe).CombinedOutput(); err != nil {
		return fuzzerBuild{skip: fmt.Sprintf("clang cannot build a libFuzzer target (Debian's libclang-common-*-dev has its runtime): %v\n%s", err, out)}
	}
	lib := filepath.Join(dir, "lib")
	flags := "-std=c11 -Wall -Wextra -O1 -g -D_GNU_SOURCE -Iinclude -Isrc -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
	out, err := exec.Command("make", "-C", filepath.Join(repoRoot(), "lang/c"), fmt.Sprintf("-j%d", runtime.NumCPU()),
		"CC="+clang, "BUILD="+lib, "CFLAGS="+flags).CombinedOutput()
	if err != nil {
		return fuzzerBuild{err: fmt.Errorf("make with clang: %v\n%s", err, tail(string(out), 4000))}
	}
	exe := filepath.Join(dir, "fuzz_static")
	args := []string{"-std=c11", "-O1", "-g", "-DIOX2_LIBFUZZER", "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=all",
		"-I", filepath.Join(repoRoot(), "lang/c/include"), "-I", filepath.Join(repoRoot(), "lang/c/src"),
		filepath.Join(repoRoot(), "lang/c/tests/fuzz_static.c"), filepath.Join(lib, "libiox2go.a"), "-o", exe}
	if out, err := exec.Command(clang, args...).CombinedOutput(); err != nil {
		return fuzzerBuild{err: fmt.Errorf("clang %s: %v\n%s", strings.Join(args, " "), err, out)}
	}
	return fuzzerBuild{exe: exe}
}
