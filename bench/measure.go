package main

import (
	"fmt"
	"time"
)

// plan bounds one measurement by a count and by a time budget: whichever
// comes first ends it.
type plan struct {
	warmIters  int           // untimed round trips first
	warmBudget time.Duration // time bound of the warm-up
	iters      int           // timed round trips at most (len of the sample buffer)
	budget     time.Duration // time bound of the timed part
}

// pingPong is A's side of one measurement: after the warm-up it times every
// round trip into rtts (which must hold p.iters values) and returns how many
// it recorded. It always tries to end the run with seq 0, so that B returns.
// It allocates nothing unless it fails.
func pingPong(m Mechanism, p plan, rtts []int64) (n int, err error) {
	var seq uint64
	defer func() {
		if e := m.Send(0); err == nil && e != nil {
			err = fmt.Errorf("send end of run: %w", e)
		}
	}()
	roundTrip := func() error {
		seq++
		if err := m.Send(seq); err != nil {
			return fmt.Errorf("send %d: %w", seq, err)
		}
		got, err := m.Receive()
		if err != nil {
			return fmt.Errorf("receive %d: %w", seq, err)
		}
		if got != seq {
			return fmt.Errorf("%w: sent %d, received %d", ErrCorrupt, seq, got)
		}
		return nil
	}
	end := nanotime() + int64(p.warmBudget)
	for i := 0; i < p.warmIters && nanotime() < end; i++ {
		if err := roundTrip(); err != nil {
			return 0, fmt.Errorf("warm-up: %w", err)
		}
	}
	end = nanotime() + int64(p.budget)
	rtts = rtts[:p.iters]
	for n < len(rtts) {
		t0 := nanotime()
		err := roundTrip()
		t1 := nanotime()
		if err != nil {
			return n, err
		}
		rtts[n] = t1 - t0
		n++
		if t1 > end {
			break
		}
	}
	return n, nil
}

// echo is B's side of one measurement: it sends back every seq it receives
// until it receives seq 0.
func echo(m Mechanism) error {
	for {
		seq, err := m.Receive()
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		if seq == 0 {
			return nil
		}
		if err := m.Send(seq); err != nil {
			return fmt.Errorf("send %d: %w", seq, err)
		}
	}
}
