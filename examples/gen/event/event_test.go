package event

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/iox2test"
)

// These tests use the generated API as a user would: OpenOrCreateMyEvent,
// MyEventNotifier (which sends event id 12) and MyEventListener, between
// goroutines and between processes.

func TestMain(m *testing.M) {
	if os.Getenv("EVENT_TEST_NOTIFIER") != "" {
		if err := notifierProcess(); err != nil {
			fmt.Fprintln(os.Stderr, "notifier:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestGeneratedEvent(t *testing.T) {
	node := iox2test.Node(t, iox2test.Config(t))
	svc, err := OpenOrCreateMyEvent(node)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if svc.Name() != MyEventServiceName || MyEventServiceName != "MyEventName" {
		t.Errorf("service name %q", svc.Name())
	}
	listener, err := MyEventListener(svc).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	notifier, err := MyEventNotifier(svc).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer notifier.Close()

	// Notify sends the IDL's default event id.
	if n, err := notifier.Notify(); err != nil || n != 1 {
		t.Fatalf("Notify: reached %d listeners, %v", n, err)
	}
	id, ok, err := listener.TimedWaitOne(10 * time.Second)
	if err != nil || !ok || id != iox2.EventID(EventId) || EventId != 12 {
		t.Fatalf("TimedWaitOne: %d, %v, %v; want %d", id, ok, err, EventId)
	}
	// Any id up to the service's maximum (iceoryx2's default, 255) goes too.
	if _, err := notifier.NotifyWithCustomEventID(255); err != nil {
		t.Fatal(err)
	}
	if id, ok, err := listener.TimedWaitOne(10 * time.Second); err != nil || !ok || id != 255 {
		t.Fatalf("TimedWaitOne: %d, %v, %v; want 255", id, ok, err)
	}

	// A second handle opens the same service.
	again, err := OpenMyEvent(node)
	if err != nil {
		t.Fatal(err)
	}
	again.Close()
}

// TestGeneratedEventProcesses notifies from another process, as
// examples/event/notifier does, and listens here.
func TestGeneratedEventProcesses(t *testing.T) {
	cfg := iox2test.Config(t)
	node := iox2test.Node(t, cfg)
	svc, err := CreateMyEvent(node)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	listener, err := MyEventListener(svc).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), iox2test.HelperEnv(cfg)...), "EVENT_TEST_NOTIFIER=1")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("notifier process: %v", err)
	}
	var got []iox2.EventActivation
	deadline := time.Now().Add(10 * time.Second)
	for len(got) == 0 && time.Now().Before(deadline) {
		if _, err := listener.TimedWait(func(a iox2.EventActivation) { got = append(got, a) }, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 1 || got[0].ID != iox2.EventID(EventId) || got[0].Count != 3 {
		t.Fatalf("received %+v; want id %d three times", got, EventId)
	}
}

// notifierProcess opens the service and notifies its default id three
// times (which the listener sees as one activation with a count of 3).
func notifierProcess() error {
	node, err := iox2.NewNodeBuilder().Config(iox2test.ConfigFromEnv()).SignalHandling(false).Create()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := OpenMyEvent(node)
	if err != nil {
		return err
	}
	defer svc.Close()
	notifier, err := MyEventNotifier(svc).Create()
	if err != nil {
		return err
	}
	defer notifier.Close()
	for range 3 {
		if n, err := notifier.Notify(); err != nil || n != 1 {
			return fmt.Errorf("Notify reached %d listeners: %v", n, err)
		}
	}
	return nil
}
