package runtime

import (
	"context"
	"errors"
	"iter"
	"runtime"
	"sync"
	"time"
)

// Helpers of the blocking calls (see waitpoint): each blocks in one
// select on its waitpoint's channel, the waitpoint's done channel (the
// port closed), the context, the signal channel (when the node handles
// signals) and, for the timed ones, a timer. A select on channels parks
// the goroutine without an OS thread and allocates nothing.

// doneOf returns ctx's Done channel; nil (never ready) for a nil ctx.
func doneOf(ctx context.Context) <-chan struct{} {
	if ctx == nil {
		return nil
	}
	return ctx.Done()
}

// signalChan returns the channel that the first SIGINT or SIGTERM closes
// when the node handles signals, else nil (never ready).
func (n *Node) signalChan() <-chan struct{} { return n.sig.done() }

// blockErr is why a blocking call of the node's ports must return now:
// ctx ended (its error), or a handled signal arrived (ErrNodeInterrupted,
// ErrNodeTerminationRequest); else nil.
func (n *Node) blockErr(ctx context.Context) error {
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if n.signal {
		return pendingSignal()
	}
	return nil
}

// timers recycles the timers of timed waits, so that they allocate
// nothing once warm.
var timers sync.Pool

func getTimer(d time.Duration) *time.Timer {
	if t, ok := timers.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

func putTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
		timers.Put(t)
	}
}

// spinFor is how long a blocking wait polls before it parks. A wake-up
// through the doorbell costs a write(2), an epoll wake-up of the
// netpoller's thread, a read(2) and a goroutine hand-over: 10 to 40 µs on
// these machines, where a message that is already on its way arrives in
// well under a microsecond. Polling for a few microseconds first takes
// such a message at the cost of the spinning path, and costs a wait that
// does park only that much CPU; an idle process, whose waits are parked,
// pays nothing.
//
// The spin is adaptive (see waitpoint.spins): a wait spins only when the
// last wait on the same waitpoint that got something took less than
// spinFor. Traffic slower than that (a message every 200 µs, a sensor at
// 1 kHz) parks at once, instead of burning up to spinFor of CPU per
// message for nothing, and leaves the CPU to the processes that produce
// what it waits for; traffic that speeds up again spins again after one
// short wait.
const spinFor = 100 * time.Microsecond

// block is the loop of every BlockingReceive: it calls try until try
// returns a value or an error, and between attempts parks on the port's
// waitpoint wp. The attempt after arming is the re-check of the sleep
// handshake (see waitpoint): a sender that published before our arming is
// seen by it, one that publishes after sees our token and rings. It
// returns ctx.Err() when ctx ends, ErrClosed when the port closes, and the
// signal's error when node handles signals. try is called without any lock
// held; it must not block.
func block[R any](ctx context.Context, n *Node, wp *waitpoint, try func() (R, bool, error)) (R, error) {
	v, ok, err := try()
	if ok || err != nil {
		return v, err
	}
	start := time.Now()
	// Spin first (see spinFor), if the last wait was short: an answer
	// that comes within it is taken without a wake-up through the
	// doorbell.
	if wp.spins() {
		for time.Since(start) < spinFor {
			runtime.Gosched()
			if v, ok, err = try(); ok || err != nil {
				wp.took(ok, start)
				return v, err
			}
		}
	}
	for {
		v, ok, err = try()
		if ok || err != nil {
			wp.took(ok, start)
			return v, err
		}
		if err := n.blockErr(ctx); err != nil {
			return v, err
		}
		ch := wp.wait() // SYNC POINT W-arm: before the re-check below
		if ch == nil {
			return v, ErrClosed
		}
		if v, ok, err = try(); ok || err != nil {
			wp.unwait(ch)
			wp.took(ok, start)
			return v, err
		}
		select {
		case <-ch:
		case <-wp.done:
		case <-doneOf(ctx):
		case <-n.signalChan():
		}
		wp.unwait(ch)
	}
}

// receiveSeq is the iterator of a receiving port (Samples, Requests,
// Responses): it yields what recv returns, with the handle's receive count
// use, and after the loop body returns it calls done(v, use), which
// releases v unless the body kept it (the count tells a handle reused
// since from the one yielded). An error of recv is yielded once and ends
// the iterator, except end (ErrStreamEnded for a response stream), which
// ends it silently.
func receiveSeq[V any](recv func() (V, uint64, error), done func(V, uint64), end error) iter.Seq2[V, error] {
	return func(yield func(V, error) bool) {
		for {
			v, use, err := recv()
			if err != nil {
				if end == nil || !errors.Is(err, end) {
					var zero V
					yield(zero, err)
				}
				return
			}
			more := yield(v, nil)
			done(v, use)
			if !more {
				return
			}
		}
	}
}
