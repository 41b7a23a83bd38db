package runtime

import (
	"context"
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
func (n *Node) signalChan() <-chan struct{} {
	if n.signal {
		return signalArrived
	}
	return nil
}

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
