package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"
)

func init() { helpers["ws-signal"] = helperWaitSetSignal }

// TestWaitSetAttachesEveryReceivingPort attaches a subscriber, a raw
// subscriber, a server, a pending response and a listener to one WaitSet
// and checks that each is reported when it has something to take, and a
// pending response also when its stream ended.
func TestWaitSetAttachesEveryReceivingPort(t *testing.T) {
	node := testNode(t, testConfig(t))
	ps := openMsg(t, node, "wsp/ps", nil)
	sub := must[*Subscriber[msg]](t)(ps.Subscriber())
	pub := must[*Publisher[msg]](t)(ps.Publisher())
	raw := must[*RawPubSubService](t)(PublishSubscribeRaw(node, "wsp/ps").Open())
	rsub := must[*RawSubscriber](t)(raw.Subscriber())
	rr := openRR(t, node, "wsp/rr", nil)
	srv := must[*Server[rqMsg, rsMsg]](t)(rr.Server())
	cl := must[*Client[rqMsg, rsMsg]](t)(rr.Client())
	ev := openEvent(t, node, "wsp/ev", nil)
	l := must[*Listener](t)(ev.Listener())
	nt := must[*Notifier](t)(ev.Notifier())

	ws := newWaitSet(t)
	gSub := must[*WaitSetGuard](t)(ws.AttachNotification(sub))
	gRaw := must[*WaitSetGuard](t)(ws.AttachNotification(rsub))
	gSrv := must[*WaitSetGuard](t)(ws.AttachNotification(srv))
	gL := must[*WaitSetGuard](t)(ws.AttachNotification(l))
	if _, err := ws.AttachDeadline(sub, time.Second); !errors.Is(err, ErrAlreadyAttached) {
		t.Fatalf("attaching a subscriber twice: %v", err)
	}

	// wait runs one WaitAndProcessOnce, taking what each port has, and
	// returns the guards of the attachments it was called for.
	var gPending *WaitSetGuard
	var pending *PendingResponse[rqMsg, rsMsg]
	var req *ActiveRequest[rqMsg, rsMsg]
	ended := 0
	wait := func(trigger func()) []*WaitSetGuard {
		t.Helper()
		go func() {
			time.Sleep(10 * time.Millisecond)
			trigger()
		}()
		var got []*WaitSetGuard
		_, err := ws.WaitAndProcessOnce(context.Background(), func(id AttachmentID) CallbackProgression {
			switch {
			case id.HasEventFrom(gSub):
				got = append(got, gSub)
				receiveAll(t, sub)
			case id.HasEventFrom(gRaw):
				got = append(got, gRaw)
				for s, _ := rsub.Receive(); s != nil; s, _ = rsub.Receive() {
					s.Release()
				}
			case id.HasEventFrom(gSrv):
				got = append(got, gSrv)
				req = receiveWithin(t, srv.Receive)
			case id.HasEventFrom(gPending):
				got = append(got, gPending)
				if r, err := pending.Receive(); r != nil {
					r.Release()
				} else if err == nil && !pending.IsConnected() {
					ended++
					gPending.Detach()
				}
			case id.HasEventFrom(gL):
				got = append(got, gL)
				l.TryWait(func(EventActivation) {})
			default:
				t.Errorf("callback for %v", id)
			}
			return Continue
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	// The publisher delivers to one subscriber, then to the other: the
	// WaitSet may wake and look in between (seen with the in-process
	// transport under load), and then finds the second in its next round.
	got := wait(func() { send(t, pub, 1) })
	for round := 1; round < 5 && len(got) == 1; round++ {
		got = append(got, wait(func() {})...)
	}
	if len(got) != 2 || !slices.Contains(got, gSub) || !slices.Contains(got, gRaw) {
		t.Fatalf("a sample woke %v, want the subscriber %v and the raw subscriber %v", got, gSub, gRaw)
	}
	if got := wait(func() { nt.Notify() }); len(got) != 1 || got[0] != gL {
		t.Fatalf("a notification woke %v", got)
	}
	pending = must[*PendingResponse[rqMsg, rsMsg]](t)(cl.SendCopy(rqMsg{N: 1}))
	if got := wait(func() {}); len(got) != 1 || got[0] != gSrv {
		t.Fatalf("a request woke %v", got)
	}
	gPending = must[*WaitSetGuard](t)(ws.AttachNotification(pending))
	if got := wait(func() { req.SendCopy(rsMsg{N: 1}) }); len(got) != 1 || got[0] != gPending {
		t.Fatalf("a response woke %v", got)
	}
	if got := wait(func() { req.Close() }); len(got) != 1 || got[0] != gPending || ended != 1 {
		t.Fatalf("the end of the response stream woke %v (ended %d)", got, ended)
	}
	// A closed port ends the wait with ErrClosed until it is detached.
	go func() {
		time.Sleep(10 * time.Millisecond)
		srv.Close()
	}()
	_, err := ws.WaitAndProcessOnce(context.Background(), func(AttachmentID) CallbackProgression { return Continue })
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("wait while the attached server closes: %v", err)
	}
	gSrv.Detach()
	if r, err := ws.WaitAndProcessOnceWithTimeout(func(id AttachmentID) CallbackProgression {
		t.Errorf("callback for %v", id)
		return Continue
	}, 20*time.Millisecond); r != AllEventsHandled || err != nil {
		t.Fatalf("wait after detaching the closed server = %v, %v", r, err)
	}
}

// TestWaitSetChannelForm uses a WaitSet from a select, together with
// another channel.
func TestWaitSetChannelForm(t *testing.T) {
	node := testNode(t, testConfig(t))
	ps := openMsg(t, node, "wsc/ps", nil)
	sub := must[*Subscriber[msg]](t)(ps.Subscriber())
	pub := must[*Publisher[msg]](t)(ps.Publisher())
	ws := newWaitSet(t)
	gSub := must[*WaitSetGuard](t)(ws.AttachNotification(sub))
	gTick := must[*WaitSetGuard](t)(ws.AttachInterval(30 * time.Millisecond))
	other := make(chan int)
	go func() {
		for i := range 3 {
			time.Sleep(15 * time.Millisecond)
			send(t, pub, uint64(i))
		}
		other <- 42
	}()
	var got []uint64
	ticks, others := 0, 0
	cb := func(id AttachmentID) CallbackProgression {
		switch {
		case id.HasEventFrom(gSub):
			got = append(got, receiveAll(t, sub)...)
		case id.HasEventFrom(gTick):
			ticks++
		}
		return Continue
	}
	deadline := time.After(10 * time.Second)
	for len(got) < 3 || others == 0 || ticks == 0 {
		if _, err := ws.TryWaitAndProcess(cb); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ws.Ready():
		case v := <-other:
			if v != 42 {
				t.Fatalf("other channel gave %d", v)
			}
			others++
		case <-deadline:
			t.Fatalf("after 10s: samples %v, ticks %d, other channel %d", got, ticks, others)
		}
	}
	if !eq(got, []uint64{0, 1, 2}) {
		t.Fatalf("samples %v", got)
	}
	// Nothing ready, no timer: the channel stays quiet.
	gTick.Detach()
	ws.TryWaitAndProcess(cb)
	select {
	case <-ws.Ready():
		ws.TryWaitAndProcess(cb) // at most one stale value (the Detach)
	default:
	}
	// Ready may receive spuriously (it says that something may be ready:
	// a late round of the service, retried while a port's mutex was held
	// on a loaded machine, fires the subscriber's waitpoint); what it
	// announces is then nothing to process.
	select {
	case <-ws.Ready():
		n := 0
		ws.TryWaitAndProcess(func(AttachmentID) CallbackProgression { n++; return Continue })
		if n != 0 {
			t.Fatalf("Ready received and %d attachments were ready, with nothing sent", n)
		}
	case <-time.After(50 * time.Millisecond):
	}
}

// TestWaitSetSignalEndsTheWait: with signal handling on, a real SIGINT
// ends a WaitSet's wait (the signal channel), in a child process.
func TestWaitSetSignalEndsTheWait(t *testing.T) {
	cfg := testConfig(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		cmd, out := startHelper(t, cfg, "ws-signal")
		if !out.Scan() || out.Text() != "ready" {
			t.Fatalf("helper did not start: %q", out.Text())
		}
		time.Sleep(20 * time.Millisecond) // into the wait (a signal before it ends it as well)
		cmd.Process.Signal(sig)
		if !out.Scan() {
			t.Fatalf("%v: helper printed nothing", sig)
		}
		want := map[syscall.Signal]string{syscall.SIGINT: "Interrupt <nil>", syscall.SIGTERM: "TerminationRequest <nil>"}[sig]
		if out.Text() != want {
			t.Fatalf("%v: WaitAndProcess returned %q, want %q", sig, out.Text(), want)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
}

func helperWaitSetSignal() error {
	ws, err := NewWaitSetBuilder().SignalHandling(true).Create()
	if err != nil {
		return err
	}
	if _, err := ws.AttachInterval(time.Hour); err != nil {
		return err
	}
	fmt.Println("ready")
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			fmt.Fprintln(os.Stderr, "no signal in 30s")
			os.Exit(3)
		}
	}()
	r, err := ws.WaitAndProcess(context.Background(), func(AttachmentID) CallbackProgression { return Continue })
	close(done)
	fmt.Println(r, err)
	return nil
}
