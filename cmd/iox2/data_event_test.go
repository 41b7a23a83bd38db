package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iox2go/iox2go/examples/gen/robot"
	iox2 "github.com/iox2go/iox2go/runtime"
)

// iox2 notify reaches a listener process written with the generated code.
func TestDataNotifyToGeneratedListener(t *testing.T) {
	b := dataSetup(t)
	peer := b.startPeer(t, "alarm-listen")
	if l := peer.line(t, 10*time.Second); l != "ready" {
		t.Fatalf("peer: %q", l)
	}
	r := b.run(t, "", "notify", robot.AlarmServiceName, "--event-id", "2", "--count", "3", "--interval", "10ms", "--json")
	r.expect(t, 0)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 lines: %v", r)
	}
	for i, l := range lines {
		var nl notifyLine
		if err := json.Unmarshal([]byte(l), &nl); err != nil {
			t.Fatalf("line %d: %v: %q", i+1, err, l)
		}
		if nl != (notifyLine{Service: robot.AlarmServiceName, EventID: 2, N: i + 1, Listeners: 1}) {
			t.Errorf("line %d: %+v", i+1, nl)
		}
	}
	// The listener may see the three coalesced in fewer activations.
	var got uint64
	for got < 3 {
		var id, n uint64
		l := peer.line(t, 5*time.Second)
		if _, err := fmt.Sscanf(l, "event %d %d", &id, &n); err != nil || id != 2 {
			t.Fatalf("peer printed %q", l)
		}
		got += n
	}
	if got != 3 {
		t.Errorf("listener got %d notifications, want 3", got)
	}

	// Text output.
	r = b.run(t, "", "notify", robot.AlarmServiceName, "--event-id", "1")
	r.expect(t, 0)
	if want := `notified "robot/alarm": event id 1 (1 of 1), 1 listener` + "\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	// An id beyond the service's maximum (15) is a usage error.
	b.run(t, "", "notify", robot.AlarmServiceName, "--event-id", "16").expect(t, 2, "exceeds the event id max value 15")
}

// iox2 listen prints what a notifier process written with the generated
// code sends, and ends after --count notifications.
func TestDataListenFromGeneratedNotifier(t *testing.T) {
	b := dataSetup(t)
	peer := b.startPeer(t, "alarm-notify")
	if l := peer.line(t, 10*time.Second); l != "ready" {
		t.Fatalf("peer: %q", l)
	}
	cli := b.startCLI(t, "listen", robot.AlarmServiceName, "--count", "2", "--timeout", "20s", "--json")
	dataWaitPorts(t, b.config(), robot.AlarmServiceName, iox2.PatternEvent, 1, 1)
	for _, id := range []string{"7", "3"} {
		peer.stdin.Write([]byte(id + "\n"))
		if l := peer.line(t, 5*time.Second); l != "sent "+id+" 1" {
			t.Fatalf("peer: %q", l)
		}
		l := cli.line(t, 5*time.Second)
		if want := `{"event_id":` + id + `,"count":1}`; l != want {
			t.Fatalf("listen printed %q, want %q", l, want)
		}
	}
	if code := cli.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("listen: exit code %d\n%s", code, cli.stderr())
	}
}

// iox2 notify -> iox2 listen, both the CLI; listen's text output.
func TestDataNotifyListenCLI(t *testing.T) {
	b := dataSetup(t)
	peer := b.startPeer(t, "alarm-notify") // keeps the service alive
	peer.line(t, 10*time.Second)
	cli := b.startCLI(t, "listen", robot.AlarmServiceName, "--count", "1", "--timeout", "20s")
	dataWaitPorts(t, b.config(), robot.AlarmServiceName, iox2.PatternEvent, 1, 1)
	b.run(t, "", "notify", robot.AlarmServiceName, "--event-id", "5").expect(t, 0)
	if l := cli.line(t, 5*time.Second); l != "event id 5" {
		t.Fatalf("listen printed %q", l)
	}
	if code := cli.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("listen: exit code %d\n%s", code, cli.stderr())
	}
}

// Errors: no such service (3), nothing before the timeout (4), bad flags
// (2); Ctrl-C ends listen cleanly (0).
func TestDataEventErrors(t *testing.T) {
	b := dataSetup(t)
	b.run(t, "", "notify", "no/such").expect(t, 3, `no event service "no/such"`)
	b.run(t, "", "listen", "no/such", "--timeout", "1s").expect(t, 3, `no event service "no/such"`)
	b.run(t, "", "--json", "listen", "no/such").expect(t, 3, `"exit_code":3`)
	b.run(t, "", "notify", robot.AlarmServiceName, "--count", "-1").expect(t, 2, "--count")

	peer := b.startPeer(t, "alarm-notify")
	peer.line(t, 10*time.Second)
	start := time.Now()
	b.run(t, "", "listen", robot.AlarmServiceName, "--timeout", "300ms").expect(t, 4, "no notification within 300ms")
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("listen returned after %v, before its timeout", d)
	}

	cli := b.startCLI(t, "listen", robot.AlarmServiceName)
	dataWaitPorts(t, b.config(), robot.AlarmServiceName, iox2.PatternEvent, 1, 1)
	cli.cmd.Process.Signal(syscall.SIGINT)
	if code := cli.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("listen after SIGINT: exit code %d\n%s", code, cli.stderr())
	}
	// Its node is gone: only the peer's is left.
	nodes, err := iox2.ListNodes(b.config())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Details != nil && n.Details.Name == dataNodeName {
			t.Errorf("the CLI's node is still there after SIGINT: %+v", n)
		}
	}
}
