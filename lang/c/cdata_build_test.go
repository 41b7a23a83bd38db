package c_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The Go tests of the C data path build their C programs with the system
// compiler: the standalone ones (the ring peer) from their sources, the
// others against the library, which `make -C lang/c BUILD=<dir>` builds
// into a directory of the test binary's own. IOX2GO_C_SANITIZE=1 builds
// everything with -fsanitize=address,undefined (the Makefile's SANITIZE=1).

// sanitize reports whether the C code is built with the sanitizers.
func sanitize() bool { return os.Getenv("IOX2GO_C_SANITIZE") == "1" }

// cflags are the Makefile's flags (and its SANITIZE=1 variant).
func cflags() []string {
	f := []string{"-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-g", "-D_GNU_SOURCE", "-Iinclude", "-Isrc", "-pthread"}
	if sanitize() {
		f = append(f, "-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined")
	}
	return f
}

// compiler returns the C compiler, or skips t with a clear message.
func compiler(t testing.TB) string {
	t.Helper()
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	path, err := exec.LookPath(cc)
	if err != nil {
		t.Skipf("no C compiler (%s not found): the C library's tests need gcc", cc)
	}
	return path
}

// buildC compiles the C sources (paths relative to lang/c) into the program
// name in a temporary directory of t, and returns its path.
func buildC(t testing.TB, name string, srcs ...string) string {
	t.Helper()
	cc := compiler(t)
	out := filepath.Join(t.TempDir(), name)
	args := append(cflags(), "-o", out)
	args = append(args, srcs...)
	if b, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", cc, strings.Join(args, " "), err, b)
	}
	return out
}

var lib struct {
	once sync.Once
	dir  string
	err  string
}

// libDir builds libiox2go.a once per test binary (make -C lang/c into a
// temporary directory) and returns the directory that holds it.
func libDir(t testing.TB) string {
	t.Helper()
	compiler(t)
	lib.once.Do(func() {
		dir, err := os.MkdirTemp("", "iox2go-cdata-lib")
		if err != nil {
			lib.err = err.Error()
			return
		}
		args := []string{"-s", "BUILD=" + dir}
		if sanitize() {
			args = append(args, "SANITIZE=1")
		}
		if b, err := exec.Command("make", args...).CombinedOutput(); err != nil {
			lib.err = "make " + strings.Join(args, " ") + ": " + err.Error() + "\n" + string(b)
			return
		}
		lib.dir = dir
	})
	if lib.err != "" {
		t.Fatal(lib.err)
	}
	return lib.dir
}

// buildWithLib compiles a test program (a path relative to lang/c) against
// the library.
func buildWithLib(t testing.TB, name, src string) string {
	t.Helper()
	return buildC(t, name, src, filepath.Join(libDir(t), "libiox2go.a"))
}

func TestMain(m *testing.M) {
	code := m.Run()
	if lib.dir != "" {
		os.RemoveAll(lib.dir)
	}
	os.Exit(code)
}
