package main

// The peer processes of the data command tests: programs written with the
// generated code of examples/gen/robot, as a user would write them, that
// run as separate processes (see dataPeerHook).

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iox2go/iox2go/examples/gen/robot"
	iox2 "github.com/iox2go/iox2go/runtime"
)

// dataPeers are the peer programs, by name. Each returns when its work is
// done or its stdin closes, having closed its node.
var dataPeers = map[string]func() error{
	"alarm-listen": peerAlarmListen,
	"alarm-notify": peerAlarmNotify,
}

// peerNode creates a peer's node in the domain the test passed down.
func peerNode() (*iox2.Node, error) {
	cfg := iox2.DefaultConfig()
	cfg.Root, cfg.Prefix = os.Getenv(dataRootEnv), os.Getenv(dataPrefixEnv)
	return iox2.NewNodeBuilder().Name("data-peer").Config(cfg).Create()
}

// peerStdin returns the lines of stdin and a context that ends when stdin
// closes (the test is done with the peer).
func peerStdin() (<-chan string, context.Context) {
	ctx, cancel := context.WithCancel(context.Background())
	lines := make(chan string)
	go func() {
		defer cancel()
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	return lines, ctx
}

// peerAlarmListen creates robot/alarm and a listener with the generated
// code, prints "ready", then one line "event <id> <count>" per activation
// until its stdin closes.
func peerAlarmListen() error {
	node, err := peerNode()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := robot.OpenOrCreateAlarm(node)
	if err != nil {
		return err
	}
	l, err := robot.AlarmListener(svc).Create()
	if err != nil {
		return err
	}
	_, ctx := peerStdin()
	fmt.Println("ready")
	for {
		_, err := l.BlockingWait(ctx, func(a iox2.EventActivation) {
			fmt.Printf("event %d %d\n", a.ID, a.Count)
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// peerAlarmNotify creates robot/alarm and a notifier with the generated
// code, prints "ready", then notifies the event id of every line of its
// stdin and answers each with "sent <id> <listeners>".
func peerAlarmNotify() error {
	node, err := peerNode()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := robot.OpenOrCreateAlarm(node)
	if err != nil {
		return err
	}
	n, err := robot.AlarmNotifier(svc).Create()
	if err != nil {
		return err
	}
	lines, ctx := peerStdin()
	fmt.Println("ready")
	for {
		select {
		case <-ctx.Done():
			return nil
		case l := <-lines:
			id, err := strconv.ParseUint(strings.TrimSpace(l), 10, 64)
			if err != nil {
				return err
			}
			k, err := n.NotifyWithCustomEventID(iox2.EventID(id))
			if err != nil {
				return err
			}
			fmt.Printf("sent %d %d\n", id, k)
		}
	}
}

// dataWaitPorts waits until service name of pattern has at least pubs
// publishers (notifiers) and subs subscribers (listeners) in cfg's domain.
func dataWaitPorts(t *testing.T, cfg *iox2.Config, name string, pattern iox2.Pattern, pubs, subs int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		svcs, err := iox2.ListServices(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range svcs {
			if s.Static.Name == name && s.Static.Pattern == pattern.String() &&
				len(s.Publishers) >= pubs && len(s.Subscribers) >= subs {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("service %q (%v) did not get %d publishers and %d subscribers within 10 s", name, pattern, pubs, subs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
