package main

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// The throughput mode: A sends seq 1, 2, 3, ... on a2b as fast as the
// mechanism takes them, for -stream-budget or -stream-count samples,
// whichever ends first, then seq 0; B receives as fast as it can, checks
// that the seqs come in order (a gap is a loss, a step back an error),
// counts them and times them with its own clock, from the arrival of the
// first sample to the arrival of seq 0. samples/s = received / that time.

// Throughput is one mechanism in the throughput mode.
type Throughput struct {
	Mechanism string `json:"mechanism"`
	Size      int    `json:"size_bytes"`
	Sent      uint64 `json:"sent"`     // by A
	Received  uint64 `json:"received"` // by B, seq 0 not counted
	Lost      uint64 `json:"lost"`     // sent - received
	// ElapsedNs is B's time from the arrival of the first sample to the
	// arrival of the end marker (seq 0).
	ElapsedNs int64 `json:"elapsed_ns"`
	// SendNs is A's time from its first Send to the return of its last.
	SendNs    int64    `json:"send_elapsed_ns"`
	PerSecond float64  `json:"samples_per_second"` // received / ElapsedNs
	RatioUDS  *float64 `json:"ratio_to_uds_stream,omitempty"`
	// RatioNATS is, for gateway-pubsub, samples/s over nats-pubsub's.
	RatioNATS *float64 `json:"ratio_to_nats_pubsub,omitempty"`
	Note      string   `json:"note,omitempty"`
}

// streamSend is A's side: it sends seq 1, 2, ... until it has sent count
// or budget has passed (the clock is read every 1024 sends), then seq 0.
// It stops early when B has failed.
func streamSend(m Mechanism, count uint64, budget time.Duration) (sent uint64, ns int64, err error) {
	defer func() {
		if e := m.Send(0); err == nil && e != nil {
			err = fmt.Errorf("send end of stream: %w", e)
		}
	}()
	t0 := nanotime()
	end := t0 + int64(budget)
	for sent < count {
		if err := m.Send(sent + 1); err != nil {
			return sent, nanotime() - t0, fmt.Errorf("send %d: %w", sent+1, err)
		}
		sent++
		if sent%1024 == 0 {
			if peerGone.Load() {
				return sent, nanotime() - t0, ErrPeerGone
			}
			if nanotime() > end {
				break
			}
		}
	}
	return sent, nanotime() - t0, nil
}

// streamCount is what B reports of a stream.
type streamCount struct {
	received, gaps uint64
	ns             int64
}

// consume is B's side: it receives until seq 0.
func consume(m Mechanism) (c streamCount, err error) {
	next := uint64(1)
	var first int64
	for {
		seq, err := m.Receive()
		if err != nil {
			return c, fmt.Errorf("receive after %d samples: %w", c.received, err)
		}
		t := nanotime()
		if seq == 0 {
			if c.received > 0 {
				c.ns = t - first
			}
			return c, nil
		}
		if c.received == 0 {
			first = t
		}
		c.received++
		if seq < next {
			return c, fmt.Errorf("%w: seq %d after %d", ErrCorrupt, seq, next-1)
		}
		c.gaps += seq - next
		next = seq + 1
	}
}

func (c streamCount) String() string { return fmt.Sprintf("%d %d %d", c.received, c.gaps, c.ns) }

func parseStreamCount(s string) (streamCount, error) {
	f := strings.Fields(s)
	var c streamCount
	var err error
	if len(f) == 3 {
		var e1, e2, e3 error
		c.received, e1 = strconv.ParseUint(f[0], 10, 64)
		c.gaps, e2 = strconv.ParseUint(f[1], 10, 64)
		c.ns, e3 = strconv.ParseInt(f[2], 10, 64)
		err = errors.Join(e1, e2, e3)
	}
	if len(f) != 3 || err != nil {
		return c, fmt.Errorf("process B: bad count %q", s)
	}
	return c, nil
}

// measureStream runs one mechanism in the throughput mode in both processes.
func (r *runner) measureStream(name string) (Throughput, error) {
	r.n++
	size := r.opts.streamSize
	prefix := fmt.Sprintf("%s%d-%s", r.prefix, r.n, name)
	what := fmt.Sprintf("%s stream %s", name, sizeLabel(size))
	if err := r.peer.send(fmt.Sprintf("stream %s %d %s", name, size, prefix)); err != nil {
		return Throughput{}, err
	}
	m := registry[name].new()
	cfg := Config{Role: RoleA, Prefix: prefix, Dir: r.dir, Size: size, Timeout: r.opts.timeout, Stream: true}
	res := Throughput{Mechanism: name, Size: size}
	err := m.Setup(cfg)
	if err != nil {
		err = fmt.Errorf("setup: %w", err)
	} else if _, err = r.peer.await("ready", r.opts.timeout+time.Second); err == nil {
		runtime.GC() // not during the run
		res.Sent, res.SendNs, err = streamSend(m, r.opts.streamCount, r.opts.streamBudget)
		rest, errB := r.peer.await("done", r.opts.timeout+time.Second)
		var c streamCount
		if errB == nil {
			c, errB = parseStreamCount(rest)
		}
		err = errors.Join(err, errB)
		if err == nil {
			res.Received, res.ElapsedNs = c.received, c.ns
			switch {
			case c.received > res.Sent:
				err = fmt.Errorf("%w: B received %d samples, A sent %d", ErrCorrupt, c.received, res.Sent)
			case c.received+c.gaps != res.Sent && c.received > 0:
				// Gaps do not see losses at the end; the count does.
				res.Note = fmt.Sprintf("%d lost at the end", res.Sent-c.received-c.gaps)
			}
			res.Lost = res.Sent - min(c.received, res.Sent)
			if c.ns > 0 {
				res.PerSecond = float64(c.received) / (float64(c.ns) / 1e9)
			}
		}
	}
	if st, ok := m.(Streamer); ok {
		res.Note = strings.TrimPrefix(res.Note+"; "+st.Streams(), "; ")
	}
	if e := m.Close(); e != nil && err == nil {
		err = fmt.Errorf("close: %w", e)
	}
	if err != nil {
		return Throughput{}, fmt.Errorf("%s: %w", what, err)
	}
	return res, nil
}

// streamProgress prints one row of the throughput table as results come;
// with res nil, its header.
func streamProgress(w io.Writer, res *Throughput) {
	c := []string{"throughput", "size", "samples/s", "sent", "received", "lost", "elapsed"}
	if res != nil {
		c = []string{res.Mechanism, sizeLabel(res.Size), fmtRate(res.PerSecond), fmt.Sprint(res.Sent), fmt.Sprint(res.Received), fmt.Sprint(res.Lost), fmtNs(float64(res.ElapsedNs))}
	}
	fmt.Fprintf(w, "%-18s %6s %12s %11s %11s %8s %11s\n", c[0], c[1], c[2], c[3], c[4], c[5], c[6])
}

// fmtRate writes a rate with four significant digits: 1.234 M/s, 456.7 k/s.
func fmtRate(x float64) string {
	unit, v := "/s", x
	switch {
	case x >= 1e9:
		unit, v = " G/s", x/1e9
	case x >= 1e6:
		unit, v = " M/s", x/1e6
	case x >= 1e3:
		unit, v = " k/s", x/1e3
	}
	dec := 3
	switch {
	case v >= 100:
		dec = 1
	case v >= 10:
		dec = 2
	}
	if unit == "/s" {
		return fmt.Sprintf("%.1f/s", v)
	}
	return fmt.Sprintf("%.*f%s", dec, v, unit)
}
