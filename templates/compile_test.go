package templates

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tempPackageDir makes a directory under testdata (inside the module, so
// that generated Go can import the runtime; testdata is ignored by ./...)
// and removes it when the test ends.
func tempPackageDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("testdata", "tmp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s not found: skipping the test that compiles generated code with %s (make tools installs it)", tool, tool)
	}
	return p
}

// TestGoldenGoCompiles builds and vets the golden Go of every case for
// amd64, arm64, 386 and arm: the layout assertions hold on each.
func TestGoldenGoCompiles(t *testing.T) {
	goTool := need(t, "go")
	dir := tempPackageDir(t)
	var pkgs []string
	for _, c := range goldenCases(t) {
		src, err := os.ReadFile(c.golden("go"))
		if err != nil {
			t.Fatal(err)
		}
		pkg := filepath.Join(dir, c.name)
		if err := os.Mkdir(pkg, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pkg, OutputName(c.name, "go")), src, 0o666); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, "./"+filepath.ToSlash(pkg))
	}
	for _, arch := range []string{"amd64", "arm64", "386", "arm"} {
		t.Run(arch, func(t *testing.T) {
			env := []string{"GOOS=linux", "GOARCH=" + arch, "CGO_ENABLED=0"}
			run(t, ".", env, goTool, append([]string{"build"}, pkgs...)...)
			run(t, ".", env, goTool, append([]string{"vet"}, pkgs...)...)
		})
	}
}

// TestGoldenCCompiles compiles every golden header with gcc -Wpadded
// -Werror (so any padding the generator did not spell out fails), alone
// and all together (the shared string and sequence types are guarded),
// and as C++ with g++.
func TestGoldenCCompiles(t *testing.T) {
	gcc := need(t, "gcc")
	dir := t.TempDir()
	var all strings.Builder
	for _, c := range goldenCases(t) {
		src, err := os.ReadFile(c.golden("c"))
		if err != nil {
			t.Fatal(err)
		}
		h := OutputName(c.name, "c")
		if err := os.WriteFile(filepath.Join(dir, h), src, 0o666); err != nil {
			t.Fatal(err)
		}
		run(t, dir, nil, gcc, "-std=c11", "-Wall", "-Wextra", "-Wpadded", "-Werror", "-fsyntax-only", h)
		all.WriteString("#include \"" + h + "\"\n#include \"" + h + "\"\n")
	}
	all.WriteString("int main(void) { return 0; }\n")
	if err := os.WriteFile(filepath.Join(dir, "all.c"), []byte(all.String()), 0o666); err != nil {
		t.Fatal(err)
	}
	run(t, dir, nil, gcc, "-std=c11", "-Wall", "-Wextra", "-Wpadded", "-Werror", "-fsyntax-only", "all.c")
	if gxx, err := exec.LookPath("g++"); err == nil {
		run(t, dir, nil, gxx, "-std=c++17", "-x", "c++", "-Wall", "-Wextra", "-Wpadded", "-Werror", "-fsyntax-only", "all.c")
	} else {
		t.Log("g++ not found: the headers were not compiled as C++")
	}
}

// TestGoldenRustCompiles compiles every golden Rust file as a library with
// warnings as errors, and one of them include!d inside a module, which
// checks that its paths are relative.
func TestGoldenRustCompiles(t *testing.T) {
	rustc := need(t, "rustc")
	dir := t.TempDir()
	var lib strings.Builder
	for _, c := range goldenCases(t) {
		src, err := os.ReadFile(c.golden("rust"))
		if err != nil {
			t.Fatal(err)
		}
		rs := OutputName(c.name, "rust")
		if err := os.WriteFile(filepath.Join(dir, rs), src, 0o666); err != nil {
			t.Fatal(err)
		}
		run(t, dir, nil, rustc, "--edition", "2021", "--crate-type", "lib", "--crate-name", c.name, "-D", "warnings", "--out-dir", dir, rs)
		lib.WriteString("pub mod " + c.name + "_gen {\n    include!(\"" + rs + "\");\n}\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "all.rs"), []byte(lib.String()), 0o666); err != nil {
		t.Fatal(err)
	}
	run(t, dir, nil, rustc, "--edition", "2021", "--crate-type", "lib", "-D", "warnings", "--out-dir", dir, "all.rs")
}

// TestAssertionsCatchChanges edits generated code as a stale file would
// differ from its IDL, and requires each language's compiler to reject it.
func TestAssertionsCatchChanges(t *testing.T) {
	var c goldenCase
	for _, x := range goldenCases(t) {
		if x.name == "transmission" {
			c = x
		}
	}
	gen := func(lang string) string {
		out, err := Generate(c.file, lang, goldenOptions(c))
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	mustFail := func(t *testing.T, out string, err error, want string) {
		t.Helper()
		if err == nil {
			t.Fatal("the edited code compiled")
		}
		if !strings.Contains(out, want) {
			t.Errorf("compiler output lacks %q:\n%s", want, out)
		}
	}
	t.Run("go", func(t *testing.T) {
		goTool := need(t, "go")
		for name, edit := range map[string][2]string{
			"layout":  {"Y     int32", "Y     int64"},
			"runtime": {"uint(iox2.GenVersion - 1)", "uint(iox2.GenVersion - 2)"},
		} {
			src := gen("go")
			if !strings.Contains(src, edit[0]) {
				t.Fatalf("%s: %q not in the generated Go", name, edit[0])
			}
			dir := tempPackageDir(t)
			write(t, dir, "x.go", strings.Replace(src, edit[0], edit[1], 1))
			cmd := exec.Command(goTool, "build", "./"+filepath.ToSlash(dir))
			out, err := cmd.CombinedOutput()
			mustFail(t, string(out), err, map[string]string{"layout": "out of bounds", "runtime": "overflows uint"}[name])
		}
	})
	t.Run("c", func(t *testing.T) {
		gcc := need(t, "gcc")
		dir := t.TempDir()
		write(t, dir, "x.h", strings.Replace(gen("c"), "int32_t y;", "int64_t y;", 1))
		out, err := exec.Command(gcc, "-std=c11", "-fsyntax-only", filepath.Join(dir, "x.h")).CombinedOutput()
		mustFail(t, string(out), err, "static assertion failed")
	})
	t.Run("rust", func(t *testing.T) {
		rustc := need(t, "rustc")
		dir := t.TempDir()
		write(t, dir, "x.rs", strings.Replace(gen("rust"), "pub y: i32,", "pub y: i64,", 1))
		out, err := exec.Command(rustc, "--edition", "2021", "--crate-type", "lib", "--out-dir", dir, filepath.Join(dir, "x.rs")).CombinedOutput()
		mustFail(t, string(out), err, "evaluation panicked: TransmissionData")
	})
}

// cLibInclude is the directory of the C library's public headers
// (iox2go.h, iox2go.hpp), which the generated API headers include.
func cLibInclude(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "lang", "c", "include"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "iox2go.h")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestGoldenCAPICompiles compiles every golden API header (FILE.iox2.api.h,
// with its payload header and lang/c/include/iox2go.h) with gcc -std=c11
// -Wall -Wextra -Werror, alone and all together, and as C++11 and C++17
// with g++ together with iox2go.hpp; then it compiles (-S, to assembly: no
// assembler or linker, and the library need not be built) a C program that
// calls every function of the robot API, as C and as C++, and a C++ program
// that uses iox2go.hpp with it (templates/testdata/c).
func TestGoldenCAPICompiles(t *testing.T) {
	gcc := need(t, "gcc")
	inc := "-I" + cLibInclude(t)
	dir := t.TempDir()
	cflags := []string{"-std=c11", "-Wall", "-Wextra", "-Werror", inc}
	var all strings.Builder
	for _, c := range goldenCases(t) {
		for _, out := range Outputs("c") {
			src, err := os.ReadFile(c.golden(out))
			if err != nil {
				t.Fatal(err)
			}
			write(t, dir, OutputName(c.name, out), string(src))
		}
		h := OutputName(c.name, "c-api")
		run(t, dir, nil, gcc, append(cflags, "-fsyntax-only", h)...)
		all.WriteString("#include \"" + h + "\"\n#include \"" + h + "\"\n")
	}
	all.WriteString("int main(void) { return 0; }\n")
	write(t, dir, "all.c", all.String())
	run(t, dir, nil, gcc, append(cflags, "-fsyntax-only", "all.c")...)
	for _, p := range []string{"robot_api.c", "robot_api.cpp"} {
		src, err := os.ReadFile(filepath.Join("testdata", "c", p))
		if err != nil {
			t.Fatal(err)
		}
		write(t, dir, p, string(src))
	}
	run(t, dir, nil, gcc, append(cflags, "-S", "-o", "robot_api.s", "robot_api.c")...)

	gxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("g++ not found: skipping the C++ compilation of the API headers and iox2go.hpp (make tools installs it)")
	}
	write(t, dir, "all.cpp", "#include <iox2go.hpp>\n"+all.String())
	for _, std := range []string{"-std=c++11", "-std=c++17"} {
		file := "all.c"
		if std == "-std=c++17" {
			file = "all.cpp" // iox2go.hpp needs C++17
		}
		run(t, dir, nil, gxx, std, "-x", "c++", "-Wall", "-Wextra", "-Werror", inc, "-fsyntax-only", file)
	}
	run(t, dir, nil, gxx, "-std=c++17", "-x", "c++", "-Wall", "-Wextra", "-Werror", inc, "-S", "-o", "robot_api_c.s", "robot_api.c")
	run(t, dir, nil, gxx, "-std=c++17", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Werror", inc, "-S", "-o", "robot_api_cpp.s", "robot_api.cpp")
}
