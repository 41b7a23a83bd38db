package main

// iox2 hz: the message rate of a publish-subscribe service, and its
// latency when the samples carry their send time.

import (
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/typecodec"
)

// stampFields are the names of the field that, by convention, holds a
// sample's send time in nanoseconds since the Unix epoch, in the order
// they are looked for: the IDL's names (iox2gen keeps them in the layout)
// and the Go field names that a layout derived from a plain Go type by
// reflection has instead (struct{ StampNs uint64 }).
var stampFields = []string{"stamp_ns", "timestamp_ns", "StampNs", "TimestampNs"}

func init() {
	var hz struct {
		window   int
		duration time.Duration
	}
	register(&command{
		path:    "hz",
		args:    "<service>",
		summary: "measure the message rate (and latency) of a publish-subscribe service",
		help: `Subscribes to the service (it must exist: exit code 3 otherwise; no history)
and prints, every second and at the end, the rate and the time between
samples over the last --window samples:

  rate 200.0/s  interval min 4.51ms mean 5.00ms max 5.49ms  latency min 61µs mean 95µs max 310µs  (window 200, total 1000, lost 0)

Latency convention: if the user header's struct, or else the payload's
top-level struct (the first element of a slice sample), has a field named
stamp_ns or timestamp_ns (for a plain Go type without iox2gen: StampNs or
TimestampNs) of a 64-bit integer type, it is taken to hold the time the
sample was sent, in nanoseconds since the Unix epoch
(time.Now().UnixNano() in Go, CLOCK_REALTIME elsewhere), and latency is
the time of reception minus it. Otherwise latency is "n/a".

Times of reception are taken when a sample leaves the subscriber's queue;
the command blocks while the queue is empty, so intervals and latencies
include the wake-up of that blocked receive (microseconds) when samples
come one at a time. lost counts the gaps in the
sequence numbers of each publisher (samples that overflowed the queue).
With --json every report is a line {"rate_hz":..., "interval_ns":{"min":...,
"mean":...,"max":...}, "latency_ns":{...} or null, "window":..., "total":...,
"lost":..., "final":...}. The command ends after --duration (0: never) or on
Ctrl-C; no sample at all by the end of --duration is exit code 4.`,
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&hz.window, "window", 10000, "compute the statistics over the last `N` samples")
			fs.DurationVar(&hz.duration, "duration", 0, "stop after this long (0: never)")
		},
		minArgs: 1, maxArgs: 1,
		run: func(e *env, args []string) error {
			return runHz(e, args[0], hz.window, hz.duration)
		},
	})
}

// stampLocator finds the send time in a sample.
type stampLocator struct {
	inHeader bool
	offset   int
	field    string
}

// findStamp looks for the stamp field in the header type, then in the
// payload type.
func findStamp(c *codec) (stampLocator, bool) {
	look := func(t *typecodec.Type) (typecodec.Field, bool) {
		if t == nil || t.Kind() != typecodec.Struct {
			return typecodec.Field{}, false
		}
		for _, name := range stampFields {
			for _, f := range t.Fields() {
				if f.Name == name && f.Type != nil && (f.Type.Kind() == typecodec.Int || f.Type.Kind() == typecodec.Uint) && f.Size == 8 {
					return f, true
				}
			}
		}
		return typecodec.Field{}, false
	}
	if f, ok := look(c.header); ok {
		return stampLocator{inHeader: true, offset: f.Offset, field: "header." + f.Name}, true
	}
	if f, ok := look(c.payload); ok {
		return stampLocator{offset: f.Offset, field: f.Name}, true
	}
	return stampLocator{}, false
}

// stamp returns the send time that smp carries, if it has one.
func (l *stampLocator) stamp(smp *iox2.RawSample) (int64, bool) {
	b := smp.Payload()
	if l.inHeader {
		b = smp.UserHeader()
	}
	if len(b) < l.offset+8 {
		return 0, false // an empty slice sample
	}
	return int64(binary.NativeEndian.Uint64(b[l.offset:])), true
}

// hzStats is a window of the last samples' reception times and latencies.
type hzStats struct {
	window    int
	times     []time.Time     // ring of reception times
	latencies []time.Duration // ring of latencies, when the samples carry stamps
	head      int             // next slot of times
	lhead     int             // next slot of latencies
	total     int
	lost      uint64
	lastSeq   map[iox2.ID]uint64
}

func newHzStats(window int) *hzStats {
	return &hzStats{window: window, lastSeq: map[iox2.ID]uint64{}}
}

func (h *hzStats) add(at time.Time, seq uint64, from iox2.ID, lat time.Duration, hasLat bool) {
	h.total++
	if last, ok := h.lastSeq[from]; ok && seq > last+1 {
		h.lost += seq - last - 1
	}
	h.lastSeq[from] = seq
	if len(h.times) < h.window {
		h.times = append(h.times, at)
	} else {
		h.times[h.head] = at
	}
	h.head = (h.head + 1) % h.window
	if hasLat {
		if len(h.latencies) < h.window {
			h.latencies = append(h.latencies, lat)
		} else {
			h.latencies[h.lhead] = lat
		}
		h.lhead = (h.lhead + 1) % h.window
	}
}

// minMeanMax is a summary of durations in nanoseconds.
type minMeanMax struct {
	Min  int64 `json:"min"`
	Mean int64 `json:"mean"`
	Max  int64 `json:"max"`
}

func (m *minMeanMax) String() string {
	return fmt.Sprintf("min %v mean %v max %v", fmtDur(m.Min), fmtDur(m.Mean), fmtDur(m.Max))
}

func fmtDur(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d >= time.Second || d <= -time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond || d <= -time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

func summarize(ds []time.Duration) *minMeanMax {
	if len(ds) == 0 {
		return nil
	}
	m := &minMeanMax{Min: math.MaxInt64, Max: math.MinInt64}
	var sum float64
	for _, d := range ds {
		m.Min = min(m.Min, int64(d))
		m.Max = max(m.Max, int64(d))
		sum += float64(d)
	}
	m.Mean = int64(sum / float64(len(ds)))
	return m
}

// hzReport is one report of iox2 hz.
type hzReport struct {
	RateHz    float64     `json:"rate_hz"`
	Interval  *minMeanMax `json:"interval_ns"`
	Latency   *minMeanMax `json:"latency_ns"`
	Window    int         `json:"window"`
	Total     int         `json:"total"`
	Lost      uint64      `json:"lost"`
	Final     bool        `json:"final"`
	StampFrom string      `json:"stamp_field"`
}

// report computes the statistics over the window: the rate is the number
// of intervals between the window's samples divided by the time from its
// first to its last.
func (h *hzStats) report() hzReport {
	n := len(h.times)
	r := hzReport{Window: n, Total: h.total, Lost: h.lost, Latency: summarize(h.latencies)}
	if n < 2 {
		return r
	}
	// Oldest first: the ring starts at head once it is full.
	ordered := make([]time.Time, 0, n)
	if n == h.window {
		ordered = append(append(ordered, h.times[h.head:]...), h.times[:h.head]...)
	} else {
		ordered = append(ordered, h.times...)
	}
	iv := make([]time.Duration, 0, n-1)
	for i := 1; i < n; i++ {
		iv = append(iv, ordered[i].Sub(ordered[i-1]))
	}
	r.Interval = summarize(iv)
	if span := ordered[n-1].Sub(ordered[0]); span > 0 {
		r.RateHz = float64(n-1) / span.Seconds()
	}
	return r
}

func runHz(e *env, name string, window int, duration time.Duration) error {
	if window < 2 {
		return usagef("hz: --window is %d, must be at least 2", window)
	}
	if err := checkDuration("hz", "duration", duration); err != nil {
		return err
	}
	s, svc, err := openPubSubSession(e, name)
	if err != nil {
		return err
	}
	defer s.Close()
	c, err := newCodec(svc)
	if err != nil {
		return err
	}
	loc, hasStamp := findStamp(c)
	sub, err := svc.SubscriberWith(0, 0)
	if err != nil {
		return err
	}
	h := newHzStats(window)
	end := deadline(duration)
	next := time.Now().Add(time.Second)
	for {
		until := next
		if !end.IsZero() && end.Before(until) {
			until = end
		}
		_, _, err := s.receive(sub, 0, until, func(smp *iox2.RawSample, at time.Time) error {
			var lat time.Duration
			ok := false
			if hasStamp {
				var st int64
				if st, ok = loc.stamp(smp); ok {
					lat = time.Duration(at.UnixNano() - st)
				}
			}
			h.add(at, smp.Sequence(), smp.Publisher(), lat, ok)
			return nil
		})
		if err != nil {
			return fmt.Errorf("hz %q: %w", name, err)
		}
		final := s.interrupted() || (!end.IsZero() && !time.Now().Before(end))
		r := h.report()
		r.Final = final
		if hasStamp {
			r.StampFrom = loc.field
		}
		if err := printHz(e, &r, hasStamp); err != nil {
			return err
		}
		if final {
			break
		}
		next = next.Add(time.Second)
	}
	if h.total == 0 && !s.interrupted() {
		return fmt.Errorf("hz %q: no sample within %v: %w", name, duration, errTimeout)
	}
	return nil
}

func printHz(e *env, r *hzReport, hasStamp bool) error {
	if e.json {
		return printJSONLine(e.stdout, r)
	}
	interval := "interval n/a"
	if r.Interval != nil {
		interval = "interval " + r.Interval.String()
	}
	latency := "latency n/a"
	switch {
	case r.Latency != nil:
		latency = "latency " + r.Latency.String()
	case !hasStamp:
		latency = "latency n/a (no stamp_ns field)"
	}
	end := ""
	if r.Final {
		end = ", final"
	}
	_, err := fmt.Fprintf(e.stdout, "rate %.1f/s  %s  %s  (window %d, total %d, lost %d%s)\n",
		r.RateHz, interval, latency, r.Window, r.Total, r.Lost, end)
	return err
}
