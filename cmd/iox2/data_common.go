package main

// Helpers shared by the commands that talk to live services: notify,
// listen, publish, subscribe, hz, record and replay.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
)

// dataNodeName is the name of the node that each of these commands creates;
// `iox2 node list` shows it while the command runs.
const dataNodeName = "iox2-cli"

// dataSession is what a data command runs with: its own node and a context
// that ends on SIGINT or SIGTERM (and on --timeout/--duration when the
// command sets one).
//
// The node does not handle signals itself (SignalHandling(false)): the
// command catches them with signal.NotifyContext, so that every wait it
// makes (blocking listener waits, a subscriber's blocking receives,
// reading stdin) ends on Ctrl-C through one context, and the command then closes
// its ports and its node before it returns. A second Ctrl-C, after the
// first one has been caught, kills the process as usual.
type dataSession struct {
	node *iox2.Node
	ctx  context.Context // done on SIGINT or SIGTERM
	stop context.CancelFunc
}

// newDataSession creates the command's node in e's domain and starts
// catching SIGINT and SIGTERM. Close it on every path.
func newDataSession(e *env) (*dataSession, error) {
	node, err := iox2.NewNodeBuilder().Name(dataNodeName).Config(e.cfg).SignalHandling(false).Create()
	if err != nil {
		return nil, fmt.Errorf("creating the node: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	return &dataSession{node: node, ctx: ctx, stop: stop}, nil
}

// Close stops catching signals and closes the node, and with it every
// service and port the command opened.
func (s *dataSession) Close() error {
	s.stop()
	return s.node.Close()
}

// interrupted reports whether the command was asked to stop (Ctrl-C).
func (s *dataSession) interrupted() bool { return s.ctx.Err() != nil }

// sleep waits for d or until the command is interrupted; it reports
// whether the full d passed.
func (s *dataSession) sleep(d time.Duration) bool {
	if d <= 0 {
		return !s.interrupted()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// openError turns an error of opening service name (of pattern kind,
// "event" or "publish-subscribe") into the command's error: a service that
// does not exist is exit code 3, an invalid name exit code 2.
func openError(name, kind string, err error) error {
	switch {
	case errors.Is(err, iox2.ErrServiceNotExist):
		return notFoundf("no %s service %q in this domain (see iox2 service list)", kind, name)
	case errors.Is(err, iox2.ErrInvalidServiceName):
		return usagef("%s", errorText(err))
	}
	return err
}

// checkCount rejects a negative --count.
func checkCount(cmd string, n int) error {
	if n < 0 {
		return usagef("%s: --count is %d, must be 0 (no limit) or more", cmd, n)
	}
	return nil
}

// checkDuration rejects a negative duration flag.
func checkDuration(cmd, flag string, d time.Duration) error {
	if d < 0 {
		return usagef("%s: --%s is %v, must be 0 (none) or more", cmd, flag, d)
	}
	return nil
}

// openPubSub opens publish-subscribe service name with the raw API, which
// adopts whatever payload type the service stores.
// openEventSession creates a command's session and opens the existing
// event service name in it; on an error nothing stays open.
func openEventSession(e *env, name string) (*dataSession, *iox2.EventService, error) {
	s, err := newDataSession(e)
	if err != nil {
		return nil, nil, err
	}
	svc, err := iox2.Event(s.node, name).Open()
	if err != nil {
		s.Close()
		return nil, nil, openError(name, "event", err)
	}
	return s, svc, nil
}

// openPubSubSession creates a command's session and opens the existing
// publish-subscribe service name in it; on an error nothing stays open.
func openPubSubSession(e *env, name string) (*dataSession, *iox2.RawPubSubService, error) {
	s, err := newDataSession(e)
	if err != nil {
		return nil, nil, err
	}
	svc, err := s.openPubSub(name)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, svc, nil
}

func (s *dataSession) openPubSub(name string) (*iox2.RawPubSubService, error) {
	svc, err := iox2.PublishSubscribeRaw(s.node, name).Open()
	if err != nil {
		return nil, openError(name, "publish-subscribe", err)
	}
	return svc, nil
}

// receive hands every sample that sub receives to fn, with the time it
// was taken from the queue, and releases it after fn returns (fn must
// copy what it keeps). It stops after count samples (0: no limit), at
// until (zero: never), on Ctrl-C or when fn fails; it returns the number
// of samples and whether it stopped because until passed.
//
// It blocks in the subscriber (Samples, a BlockingReceive per sample): an
// empty queue parks the goroutine until a publisher rings the node's
// doorbell, the deadline passes or the command is interrupted, so an idle
// command costs no CPU. Samples already queued are taken before the
// deadline is looked at, as a Receive would.
func (s *dataSession) receive(sub *iox2.RawSubscriber, count int, until time.Time, fn func(smp *iox2.RawSample, at time.Time) error) (n int, expired bool, err error) {
	ctx := s.ctx
	if !until.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, until)
		defer cancel()
	}
	for smp, err := range sub.Samples(ctx) {
		if err != nil {
			switch {
			case s.interrupted():
				return n, false, nil
			case errors.Is(err, context.DeadlineExceeded):
				return n, true, nil
			}
			return n, false, fmt.Errorf("receive: %w", err)
		}
		n++
		if err := fn(smp, time.Now()); err != nil {
			return n, false, err // the iterator releases smp
		}
		if count > 0 && n >= count {
			break
		}
	}
	return n, false, nil
}

// deadline returns the time d from now, or the zero time for d == 0.
func deadline(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}
