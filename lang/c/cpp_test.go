package c_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestCppWrapper builds tests/cpp_wrapper.cpp, which uses the C++ wrapper
// (include/iox2go.hpp) with the generated robot API through every pattern
// and checks what arrives, with g++ -std=c++17 -Wall -Wextra -Werror, and
// runs it in a domain of its own: plainly and with the library and the
// program built with -fsanitize=address,undefined.
func TestCppWrapper(t *testing.T) {
	if _, err := exec.LookPath("g++"); err != nil {
		t.Skip("no C++ compiler: g++ is not on PATH (install g++ to test the C++ wrapper)")
	}
	_, self, _, _ := runtime.Caller(0)
	here := filepath.Dir(self)
	for _, variant := range []string{"", "asan"} {
		t.Run("build"+variant, func(t *testing.T) {
			dir := build(t, variant) // the library, in <build>/tests/..
			lib := filepath.Join(filepath.Dir(dir), "libiox2go.a")
			exe := filepath.Join(t.TempDir(), "cpp_wrapper")
			args := []string{"-std=c++17", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
				"-I", filepath.Join(here, "include"), "-I", filepath.Join(here, "..", "..", "examples", "gen", "robot")}
			if variant == "asan" {
				args = append(args, "-fsanitize=address,undefined", "-fno-sanitize-recover=all")
			}
			args = append(args, "-o", exe, filepath.Join(here, "tests", "cpp_wrapper.cpp"), lib)
			if out, err := exec.Command("g++", args...).CombinedOutput(); err != nil {
				t.Fatalf("g++ %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			d := newDomain(t, variant)
			out, err := exec.Command(exe, d.cfg.Root, d.cfg.ShmDir, d.cfg.Prefix).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "ok" {
				t.Fatalf("cpp_wrapper: %v\n%s", err, out)
			}
		})
	}
}
