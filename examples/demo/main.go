// Command demo runs each messaging pattern's example as separate processes
// and prints what they exchange, prefixed with the process's role. It is
// what `make demo` runs, after generating the code from examples/idl.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

type proc struct {
	role string
	pkg  string // a Go package, or "c:<name>": examples/c/<name>.c on the C library
	args []string
}

type pattern struct {
	title string
	procs []proc // started in this order, a little apart
}

var patterns = []pattern{
	{"publish-subscribe: examples/publish_subscribe", []proc{
		{"subscriber", "./examples/publish_subscribe/subscriber", []string{"-n", "5"}},
		{"publisher", "./examples/publish_subscribe/publisher", []string{"-n", "5", "-cycle", "200ms"}},
		// The command line reads the same samples as JSON, without generated code.
		{"iox2", "./cmd/iox2", []string{"subscribe", "My/Funk/ServiceName", "--count", "2", "--timeout", "5s"}},
	}},
	// The same service across languages: a C subscriber (examples/c, on
	// the C library lang/c) reads the Go publisher's samples in place, and
	// a Go subscriber reads the C publisher's.
	{"publish-subscribe across languages: examples/c and examples/publish_subscribe", []proc{
		{"c-sub", "c:subscriber", []string{"-n", "5"}},
		{"go-pub", "./examples/publish_subscribe/publisher", []string{"-n", "5", "-cycle", "200ms"}},
	}},
	{"publish-subscribe across languages: examples/c and examples/publish_subscribe", []proc{
		{"go-sub", "./examples/publish_subscribe/subscriber", []string{"-n", "5"}},
		{"c-pub", "c:publisher", []string{"-n", "5", "-cycle-ms", "200"}},
	}},
	{"request-response: examples/request_response", []proc{
		{"server", "./examples/request_response/server", []string{"-n", "5"}},
		{"client", "./examples/request_response/client", []string{"-n", "5", "-cycle", "200ms"}},
	}},
	{"event: examples/event", []proc{
		{"listener", "./examples/event/listener", []string{"-n", "5"}},
		{"listener_all", "./examples/event/listener_all", []string{"-n", "5"}},
		{"notifier", "./examples/event/notifier", []string{"-n", "5", "-cycle", "200ms"}},
	}},
}

func main() {
	bin, err := os.MkdirTemp("", "iox2go-demo-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(bin)
	for _, p := range patterns {
		fmt.Printf("=== %s\n", p.title)
		if needsC(p) {
			if err := buildC(); err != nil {
				fmt.Printf("(skipped: the C examples need a C compiler and make: %v)\n", err)
				continue
			}
		}
		if err := run(bin, p); err != nil {
			fail(err)
		}
	}
	fmt.Println("=== demo finished")
}

func run(bin string, p pattern) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	errs := make([]error, len(p.procs))
	for _, pr := range p.procs {
		if strings.HasPrefix(pr.pkg, "c:") {
			continue // built by buildC
		}
		build := exec.Command("go", "build", "-o", filepath.Join(bin, pr.role), pr.pkg)
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building %s: %w", pr.pkg, err)
		}
	}
	for i, pr := range p.procs {
		exe := filepath.Join(bin, pr.role)
		if name, ok := strings.CutPrefix(pr.pkg, "c:"); ok {
			exe = filepath.Join("examples", "c", "build", name)
		}
		cmd := exec.Command(exe, pr.args...)
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			return err
		}
		wg.Add(1)
		go func(i int, role string, cmd *exec.Cmd, out io.Reader) {
			defer wg.Done()
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				mu.Lock()
				fmt.Printf("[%-10s] %s\n", role, sc.Text())
				mu.Unlock()
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case errs[i] = <-done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				errs[i] = fmt.Errorf("%s did not finish", role)
			}
		}(i, pr.role, cmd, out)
		time.Sleep(300 * time.Millisecond)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("%s: %w", p.procs[i].role, err)
		}
	}
	return nil
}

func needsC(p pattern) bool {
	for _, pr := range p.procs {
		if strings.HasPrefix(pr.pkg, "c:") {
			return true
		}
	}
	return false
}

// buildC builds the C library and the C examples once (make -C examples/c).
var buildC = sync.OnceValue(func() error {
	for _, tool := range []string{"make", "cc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return err
		}
	}
	cmd := exec.Command("make", "-s", "-C", "examples/c")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
})

func fail(err error) {
	fmt.Fprintln(os.Stderr, "demo:", err)
	os.Exit(1)
}
