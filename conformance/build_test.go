package conformance

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// The C side: lang/c's library (built by its Makefile) and the programs of
// lang/c/tests, compiled with the system C compiler into a directory of
// this test binary.

var (
	buildDirOnce sync.Once
	buildDir     string
	buildDirErr  error

	builds   = map[bool]*cBuild{}
	buildsMu sync.Mutex
)

type cBuild struct {
	once    sync.Once
	lib     string // the directory of libiox2go.a
	peer    string // the peer's executable
	skip    string // why the C side cannot be built here ("" if it can)
	err     error  // the library's build failed
	peerErr error  // the peer's build failed
}

func repoRoot() string {
	root, err := filepath.Abs("..")
	if err != nil {
		panic(err)
	}
	return root
}

func tmpBuildDir() (string, error) {
	buildDirOnce.Do(func() { buildDir, buildDirErr = os.MkdirTemp("", "iox2conf-") })
	return buildDir, buildDirErr
}

func cleanupBuilds() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// cc is the C compiler: $CC, else gcc.
func cc() string {
	if c := os.Getenv("CC"); c != "" {
		return c
	}
	return "gcc"
}

// sanitizeFlags are the flags of the SANITIZE=1 builds.
var sanitizeFlags = []string{"-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"}

// startBuilds starts, in the background, every build the tests need
// (unless -test.run picks some tests only): the builds take most of the
// suite's time, and the scenarios mostly wait for their peers.
func startBuilds() {
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() != "" {
		return
	}
	go cLibrary(false)
	go cLibrary(true)
	go clangFuzzer()
}

// waitBuilds waits for the builds that were started.
func waitBuilds() {
	buildsMu.Lock()
	var bs []*cBuild
	for _, b := range builds {
		bs = append(bs, b)
	}
	buildsMu.Unlock()
	for _, b := range bs {
		b.once.Do(func() {})
	}
	fuzzerOnce.Do(func() {})
}

// cLibrary builds the C library (make -C lang/c, with SANITIZE=1 for asan)
// once per test binary and returns the directory of libiox2go.a.
func cLibrary(asan bool) *cBuild {
	buildsMu.Lock()
	b := builds[asan]
	if b == nil {
		b = &cBuild{}
		builds[asan] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() { b.build(asan) })
	return b
}

func (b *cBuild) build(asan bool) {
	if _, err := exec.LookPath(cc()); err != nil {
		b.skip = fmt.Sprintf("no C compiler (%s not found; `make tools` installs gcc): the C implementation is not tested", cc())
		return
	}
	if _, err := exec.LookPath("make"); err != nil {
		b.skip = "make not found: the C library cannot be built, the C implementation is not tested"
		return
	}
	root := repoRoot()
	if _, err := os.Stat(filepath.Join(root, "lang/c/Makefile")); err != nil {
		b.skip = "lang/c/Makefile does not exist yet: the C implementation is not tested"
		return
	}
	dir, err := tmpBuildDir()
	if err != nil {
		b.err = err
		return
	}
	variant := "c"
	args := []string{"-C", filepath.Join(root, "lang/c"), fmt.Sprintf("-j%d", runtime.NumCPU())}
	if asan {
		variant = "c-asan"
		args = append(args, "SANITIZE=1")
	}
	b.lib = filepath.Join(dir, variant)
	args = append(args, "BUILD="+b.lib)
	if out, err := exec.Command("make", args...).CombinedOutput(); err != nil {
		b.err = fmt.Errorf("make %s: %v\n%s", strings.Join(args, " "), err, out)
		return
	}
	if _, err := os.Stat(filepath.Join(b.lib, "libiox2go.a")); err != nil {
		b.err = fmt.Errorf("make -C lang/c BUILD=%s made no libiox2go.a there", b.lib)
		return
	}
	b.peer = filepath.Join(dir, variant+"-peer")
	b.peerErr = compileC(asan, b.peer, b.lib, "lang/c/tests/peer.c")
}

// compileC compiles the C sources (relative to the repository) into exe
// with -Wall -Wextra -Werror, linked with the library in lib.
func compileC(asan bool, exe, lib string, srcs ...string) error {
	return compileCWith(asan, exe, lib, nil, srcs...)
}

// compileCWith is compileC with extra compiler flags.
func compileCWith(asan bool, exe, lib string, extra []string, srcs ...string) error {
	root := repoRoot()
	args := []string{"-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-g",
		"-I", filepath.Join(root, "lang/c/include")}
	args = append(args, extra...)
	if asan {
		args = append(args, sanitizeFlags...)
	}
	args = append(args, "-o", exe)
	for _, s := range srcs {
		args = append(args, filepath.Join(root, s))
	}
	args = append(args, "-L", lib, "-liox2go", "-lpthread")
	out, err := exec.Command(cc(), args...).CombinedOutput()
	if err == nil {
		return nil
	}
	missing := undefinedSymbols(string(out))
	if len(missing) == 0 {
		return fmt.Errorf("%s %s: %v\n%s", cc(), strings.Join(args, " "), err, out)
	}
	if os.Getenv("IOX2CONF_C_STUBS") != "1" {
		return fmt.Errorf("the C library lacks %d functions of iox2go.h: %s (IOX2CONF_C_STUBS=1 links stubs that fail, to run the scenarios that do not need them)",
			len(missing), strings.Join(missing, ", "))
	}
	// A development aid while the library is partial: stubs that return
	// IOX2_E_INVALID_ARGUMENT (1), so that a peer needing one prints an
	// error line and the scenarios that need none run.
	var stubs strings.Builder
	for _, m := range missing {
		fmt.Fprintf(&stubs, "int %s(void) { return 1; }\n", m)
	}
	stubFile := exe + "-stubs.c"
	if err := os.WriteFile(stubFile, []byte(stubs.String()), 0o600); err != nil {
		return err
	}
	args = append(args, stubFile)
	if out, err := exec.Command(cc(), args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", cc(), strings.Join(args, " "), err, out)
	}
	fmt.Fprintf(os.Stderr, "conformance: IOX2CONF_C_STUBS=1: %s links stubs for %s\n", filepath.Base(exe), strings.Join(missing, ", "))
	return nil
}

// undefinedSymbols lists the iox2 functions a link failed to find.
func undefinedSymbols(out string) []string {
	seen := map[string]bool{}
	var syms []string
	for _, l := range strings.Split(out, "\n") {
		_, rest, ok := strings.Cut(l, "undefined reference to `")
		if !ok {
			continue
		}
		sym, _, _ := strings.Cut(rest, "'")
		if strings.HasPrefix(sym, "iox2") && !seen[sym] {
			seen[sym] = true
			syms = append(syms, sym)
		}
	}
	return syms
}

// cImpl returns the C implementation (sanitized with asan), skipping t
// with the reason when it cannot be built here.
func cImpl(t *testing.T, asan bool) impl {
	t.Helper()
	b := cLibrary(asan)
	if b.skip != "" {
		t.Skip(b.skip)
	}
	if b.err != nil {
		t.Fatalf("building the C library: %v", b.err)
	}
	if b.peerErr != nil {
		t.Fatalf("building lang/c/tests/peer.c: %v", b.peerErr)
	}
	name := "c"
	if asan {
		name = "c-asan"
	}
	return impl{name: name, path: b.peer, asan: asan}
}

// TestSanitizerReportsAreSeen checks the sanitized builds' settings: a
// heap overflow and an undefined shift in a program built with the
// suite's flags and run with its environment exit with a status other
// than the peers' and write what checkSanitizer looks for.
func TestSanitizerReportsAreSeen(t *testing.T) {
	if _, err := exec.LookPath(cc()); err != nil {
		t.Skipf("no C compiler (%s not found)", cc())
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "bad.c")
	os.WriteFile(src, []byte(`#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
	(void)argv;
	puts("ok");
	fflush(stdout);
	if (argc > 1) { int s = 40 + argc; volatile int x = 1 << s; return x; }
	char *p = malloc(8);
	memset(p, 1, 9);
	int r = p[8];
	free(p);
	return r == 7;
}
`), 0o600)
	exe := filepath.Join(dir, "bad")
	args := append([]string{"-std=c11", "-O0", "-g", "-o", exe, src}, sanitizeFlags...)
	if out, err := exec.Command(cc(), args...).CombinedOutput(); err != nil {
		t.Skipf("%s cannot build with %v here: %v\n%s", cc(), sanitizeFlags, err, out)
	}
	im := impl{name: "c-asan", path: exe, asan: true}
	for _, c := range []struct {
		args []string
		want string
	}{{nil, "AddressSanitizer"}, {[]string{"shift"}, "runtime error:"}} {
		cmd := im.command(c.args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		if err == nil || cmd.ProcessState.ExitCode() == 0 || cmd.ProcessState.ExitCode() == 2 {
			t.Errorf("%v: exit %v, want a sanitizer's status", c.args, err)
		}
		if !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: stderr has no %q:\n%s", c.args, c.want, stderr.String())
		}
	}
}
