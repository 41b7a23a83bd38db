// Command demo runs each messaging pattern's example as separate processes
// and prints what they exchange, prefixed with the process's role. It is
// what `make demo` runs, after generating the code from examples/idl.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

type proc struct {
	role string
	pkg  string // a Go package, or "c:<name>": examples/c/<name>.c on the C library
	args []string
	env  []string // added to the environment (IOX2GO_CONFIG: the process's domain)
	// daemon: runs until the others have finished, then gets SIGTERM
	// (a NATS server, a gateway).
	daemon bool
	// quiet: its output is not shown (the NATS server's banner).
	quiet bool
}

type pattern struct {
	title string
	procs []proc // started in this order, a little apart
}

var patterns = []pattern{
	{"publish-subscribe: examples/publish_subscribe", []proc{
		{role: "subscriber", pkg: "./examples/publish_subscribe/subscriber", args: []string{"-n", "5"}},
		{role: "publisher", pkg: "./examples/publish_subscribe/publisher", args: []string{"-n", "5", "-cycle", "200ms"}},
		// The command line reads the same samples as JSON, without generated code.
		{role: "iox2", pkg: "./cmd/iox2", args: []string{"subscribe", "My/Funk/ServiceName", "--count", "2", "--timeout", "5s"}},
	}},
	// The same service across languages: a C subscriber (examples/c, on
	// the C library lang/c) reads the Go publisher's samples in place, and
	// a Go subscriber reads the C publisher's.
	{"publish-subscribe across languages: examples/c and examples/publish_subscribe", []proc{
		{role: "c-sub", pkg: "c:subscriber", args: []string{"-n", "5"}},
		{role: "go-pub", pkg: "./examples/publish_subscribe/publisher", args: []string{"-n", "5", "-cycle", "200ms"}},
	}},
	{"publish-subscribe across languages: examples/c and examples/publish_subscribe", []proc{
		{role: "go-sub", pkg: "./examples/publish_subscribe/subscriber", args: []string{"-n", "5"}},
		{role: "c-pub", pkg: "c:publisher", args: []string{"-n", "5", "-cycle-ms", "200"}},
	}},
	{"request-response: examples/request_response", []proc{
		{role: "server", pkg: "./examples/request_response/server", args: []string{"-n", "5"}},
		{role: "client", pkg: "./examples/request_response/client", args: []string{"-n", "5", "-cycle", "200ms"}},
	}},
	{"event: examples/event", []proc{
		{role: "listener", pkg: "./examples/event/listener", args: []string{"-n", "5"}},
		{role: "listener_all", pkg: "./examples/event/listener_all", args: []string{"-n", "5"}},
		{role: "notifier", pkg: "./examples/event/notifier", args: []string{"-n", "5", "-cycle", "200ms"}},
	}},
}

func main() {
	bin, err := os.MkdirTemp("", "iox2go-demo-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(bin)
	gw, err := gatewayPattern(bin)
	if err != nil {
		fail(err)
	}
	for _, p := range append(patterns, gw) {
		fmt.Printf("=== %s\n", p.title)
		if needsC(p) {
			if missing := missingCTools(); missing != "" {
				fmt.Printf("(skipped: the C examples need %s, which is not in PATH)\n", missing)
				continue
			}
			if err := buildC(); err != nil {
				fail(fmt.Errorf("building the C examples (make -C examples/c): %w", err))
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
	var daemons []*exec.Cmd
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
		cmd.Env = append(os.Environ(), pr.env...)
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			return err
		}
		if pr.daemon {
			daemons = append(daemons, cmd)
			go func(role string, quiet bool) {
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					if !quiet {
						mu.Lock()
						fmt.Printf("[%-10s] %s\n", role, sc.Text())
						mu.Unlock()
					}
				}
			}(pr.role, pr.quiet)
			time.Sleep(500 * time.Millisecond)
			continue
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
	for _, d := range slices.Backward(daemons) { // the gateways before their NATS server
		d.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { d.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			d.Process.Kill()
			<-done
		}
	}
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("%s: %w", p.procs[i].role, err)
		}
	}
	return nil
}

// gatewayPattern is the publish-subscribe example across two domains
// joined by their gateways through a NATS server (README, "Across hosts"):
// two configuration files with their own root and prefix stand for two
// hosts.
func gatewayPattern(dir string) (pattern, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return pattern{}, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	cfg := func(host string) (string, error) {
		path := filepath.Join(dir, host+".toml")
		text := fmt.Sprintf("[global]\nroot-path = %q\nprefix = \"demo%s_\"\n[gateway]\nnamespace = \"demo\"\nnats-url = %q\n",
			filepath.Join(dir, host), host, url)
		return path, os.WriteFile(path, []byte(text), 0o600)
	}
	a, err := cfg("A")
	if err != nil {
		return pattern{}, err
	}
	b, err := cfg("B")
	if err != nil {
		return pattern{}, err
	}
	inA, inB := []string{"IOX2GO_CONFIG=" + a}, []string{"IOX2GO_CONFIG=" + b}
	return pattern{"across hosts: examples/publish_subscribe in domains A and B, joined by iox2 gateway over NATS", []proc{
		{role: "nats", pkg: "github.com/nats-io/nats-server/v2", args: []string{"-a", "127.0.0.1", "-p", fmt.Sprint(port)}, daemon: true, quiet: true},
		{role: "gateway-A", pkg: "./cmd/iox2", args: []string{"gateway"}, env: inA, daemon: true},
		{role: "gateway-B", pkg: "./cmd/iox2", args: []string{"gateway"}, env: inB, daemon: true},
		{role: "sub-B", pkg: "./examples/publish_subscribe/subscriber", args: []string{"-n", "5"}, env: inB},
		// The first samples may go before both gateways have bridged the
		// service (within a heartbeat, 1s): it sends enough for 5 to cross.
		{role: "pub-A", pkg: "./examples/publish_subscribe/publisher", args: []string{"-n", "15", "-cycle", "200ms"}, env: inA},
	}}, nil
}

func needsC(p pattern) bool {
	for _, pr := range p.procs {
		if strings.HasPrefix(pr.pkg, "c:") {
			return true
		}
	}
	return false
}

// missingCTools names the first tool that building the C examples needs
// and PATH lacks, or returns "".
func missingCTools() string {
	for _, tool := range []string{"make", "cc", "ar"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool
		}
	}
	return ""
}

// buildC builds the C library and the C examples once (make -C examples/c).
var buildC = sync.OnceValue(func() error {
	cmd := exec.Command("make", "-s", "-C", "examples/c")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
})

func fail(err error) {
	fmt.Fprintln(os.Stderr, "demo:", err)
	os.Exit(1)
}
