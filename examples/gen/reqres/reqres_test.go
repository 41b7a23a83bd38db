package reqres

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/iox2test"
)

// These tests use the generated API as a user would, as iceoryx2's
// request-response example does: a client sends 1234, then 123; a server
// answers every request with 456. Between goroutines and between
// processes.

func TestMain(m *testing.M) {
	if os.Getenv("REQRES_TEST_SERVER") != "" {
		if err := serverProcess(); err != nil {
			fmt.Fprintln(os.Stderr, "server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// poll calls f every millisecond until it returns true or 10 seconds pass.
func poll(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if f() {
			return
		}
	}
	t.Fatalf("no %s within 10s", what)
}

// answer serves one request with 456.
func answer(srv *iox2.Server[Number, Number]) (bool, error) {
	req, err := srv.Receive()
	if err != nil || req == nil {
		return false, err
	}
	defer req.Close()
	return true, req.SendCopy(Number{Value: 456})
}

// ask sends v and waits for the response.
func ask(t *testing.T, client *iox2.Client[Number, Number], serve func(), v uint64) uint64 {
	t.Helper()
	pending, err := client.SendCopy(Number{Value: v})
	if err != nil {
		t.Fatal(err)
	}
	defer pending.Close()
	var got uint64
	poll(t, "response", func() bool {
		serve()
		r, err := pending.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if r == nil {
			return false
		}
		got = r.Payload().Value
		r.Release()
		return true
	})
	return got
}

func TestGeneratedRequestResponse(t *testing.T) {
	node := iox2test.Node(t, iox2test.Config(t))
	svc, err := OpenOrCreateMyFunkServiceName(node)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if svc.Name() != "My/Funk/ServiceName" || MyFunkServiceNameServiceName != svc.Name() {
		t.Errorf("service name %q", svc.Name())
	}
	srv, err := MyFunkServiceNameServer(svc).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client, err := MyFunkServiceNameClient(svc).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	serve := func() {
		if _, err := answer(srv); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []uint64{1234, 123} {
		if got := ask(t, client, serve, v); got != 456 {
			t.Errorf("request %d: response %d, want 456", v, got)
		}
	}

	// Another handle opens the service with the same types.
	again, err := OpenMyFunkServiceName(node)
	if err != nil {
		t.Fatal(err)
	}
	again.Close()
}

// TestGeneratedRequestResponseProcesses runs the server in another
// process, as examples would, and the client here.
func TestGeneratedRequestResponseProcesses(t *testing.T) {
	cfg := iox2test.Config(t)
	node := iox2test.Node(t, cfg)
	svc, err := CreateMyFunkServiceName(node)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	client, err := MyFunkServiceNameClient(svc).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), iox2test.HelperEnv(cfg)...), "REQRES_TEST_SERVER=1")
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("server process: %q, %v", lines.Text(), lines.Err())
	}
	for _, v := range []uint64{1234, 123} {
		if got := ask(t, client, func() {}, v); got != 456 {
			t.Errorf("request %d: response %d, want 456", v, got)
		}
	}
	stdin.Close() // ends the server
	if err := cmd.Wait(); err != nil {
		t.Fatalf("server process: %v", err)
	}
}

// serverProcess opens the service and answers requests until its
// standard input closes.
func serverProcess() error {
	node, err := iox2.NewNodeBuilder().Config(iox2test.ConfigFromEnv()).SignalHandling(false).Create()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := OpenMyFunkServiceName(node)
	if err != nil {
		return err
	}
	defer svc.Close()
	srv, err := MyFunkServiceNameServer(svc).Create()
	if err != nil {
		return err
	}
	defer srv.Close()
	done := make(chan struct{})
	go func() {
		bufio.NewReader(os.Stdin).ReadString('\n')
		close(done)
	}()
	fmt.Println("ready")
	for {
		select {
		case <-done:
			return nil
		default:
		}
		served, err := answer(srv)
		if err != nil {
			return err
		}
		if !served {
			time.Sleep(100 * time.Microsecond)
		}
	}
}
