package main

// iox2 record and iox2 replay: samples of a publish-subscribe service to a
// file and back, byte for byte.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
)

// recordFormat names the format of a recording: its first line says it.
const recordFormat = "iox2go-record/1"

// recordHeader is the first line of a recording.
type recordHeader struct {
	Format      string             `json:"format"`
	Service     string             `json:"service"`
	Static      *iox2.StaticConfig `json:"static"`
	StartUnixNs int64              `json:"start_unix_ns"`
}

// recordSample is every further line of a recording: one sample.
type recordSample struct {
	TNs     int64  `json:"t_ns"`             // when it was received, since the start of the recording
	Seq     uint64 `json:"seq"`              // its sequence number (per publisher)
	Len     int    `json:"len"`              // its number of payload elements (1 for a fixed payload)
	Payload []byte `json:"payload"`          // the payload's bytes, base64
	Header  []byte `json:"header,omitempty"` // the user header's bytes, base64; absent without one
}

// recordSummary is what record prints at the end (--json).
type recordSummary struct {
	Service    string `json:"service"`
	Output     string `json:"output"`
	Samples    int    `json:"samples"`
	Bytes      int64  `json:"payload_bytes"`
	DurationNs int64  `json:"duration_ns"`
}

// replaySummary is what replay prints at the end (--json).
type replaySummary struct {
	Service     string `json:"service"`
	Input       string `json:"input"`
	Created     bool   `json:"created"`
	Samples     int    `json:"samples"`
	Repetitions int    `json:"repetitions"`
	Sent        int    `json:"sent"`
	DurationNs  int64  `json:"duration_ns"`
}

func init() {
	var rec struct {
		output   string
		count    int
		duration time.Duration
	}
	register(&command{
		path:    "record",
		args:    "<service>",
		summary: "record the samples of a publish-subscribe service to a file",
		help: `Subscribes to the service (it must exist: exit code 3 otherwise) and writes
every sample it receives to --output, until --count samples, --duration or
Ctrl-C. The file is JSON lines: first a header,

  {"format":"` + recordFormat + `","service":"robot/imu","static":{...the service's static config...},"start_unix_ns":...}

then one line per sample,

  {"t_ns":12000345,"seq":7,"len":1,"payload":"<base64>","header":"<base64>"}

with t_ns the time of reception since the start, len the number of payload
elements (for a slice service), and the payload and user header ("header",
absent without one) as their raw bytes in base64, so that a replay is
exact whatever the type. The subscriber asks for no history: the recording
starts with the first sample sent after it connects. At the end record
prints a summary. With --duration and no sample at all, the exit code is 4
(the file holds the header only).`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&rec.output, "output", "", "write the recording to `FILE` (required; - is stdout)")
			fs.IntVar(&rec.count, "count", 0, "stop after `N` samples (0: no limit)")
			fs.DurationVar(&rec.duration, "duration", 0, "stop after this long (0: never)")
		},
		minArgs: 1, maxArgs: 1,
		run: func(e *env, args []string) error {
			return runRecord(e, args[0], rec.output, rec.count, rec.duration)
		},
	})

	var rep struct {
		input       string
		factor      float64
		repetitions int
		wait        time.Duration
	}
	register(&command{
		path:    "replay",
		args:    "[<service>]",
		summary: "publish the samples of a recording again, with their timing",
		help: `Reads a recording made by iox2 record (--input) and publishes its samples
to the recorded service, or to <service> when given, with the recorded
times between them divided by --time-factor (2 plays twice as fast; 0 sends
as fast as possible). --repetitions plays it N times (0: until Ctrl-C).

The service is opened if it exists: its payload type (name, size,
alignment, layout hash), payload variant and user header must then be the
recorded ones (exit code 1 otherwise, with both sides shown). If it does
not exist it is created with the recorded static config (the same QoS as
the recorded service), and removed again when replay ends unless another
process still uses it.

As with publish, a sample reaches the subscribers that exist when it is
sent; --wait-for-subscribers waits up to that long for a first one before
playing. A malformed recording is rejected, before anything is sent, with
an error naming the line. At the end replay prints a summary.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&rep.input, "input", "", "read the recording from `FILE` (required; - is stdin)")
			fs.Float64Var(&rep.factor, "time-factor", 1, "divide the recorded time between samples by `F` (0: no waiting)")
			fs.IntVar(&rep.repetitions, "repetitions", 1, "play the recording `N` times (0: until Ctrl-C)")
			fs.DurationVar(&rep.wait, "wait-for-subscribers", 0, "wait up to this long for a subscriber before playing (0: don't)")
		},
		minArgs: 0, maxArgs: 1,
		run: func(e *env, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return runReplay(e, rep.input, name, rep.factor, rep.repetitions, rep.wait)
		},
	})
}

func runRecord(e *env, name, output string, count int, duration time.Duration) error {
	if output == "" {
		return usagef("record: --output FILE is required")
	}
	if err := checkCount("record", count); err != nil {
		return err
	}
	if err := checkDuration("record", "duration", duration); err != nil {
		return err
	}
	s, svc, err := openPubSubSession(e, name)
	if err != nil {
		return err
	}
	defer s.Close()
	sub, err := svc.SubscriberWith(0, 0)
	if err != nil {
		return err
	}
	var out io.Writer = e.stdout
	summary := e.stderr // the recording is on stdout
	if output != "-" {
		f, err := os.Create(output)
		if err != nil {
			return err
		}
		defer f.Close()
		out, summary = f, e.stdout
	}
	w := bufio.NewWriter(out)
	static := svc.StaticConfig()
	start := time.Now()
	hdr, err := marshalJSON(recordHeader{Format: recordFormat, Service: name, Static: &static, StartUnixNs: start.UnixNano()}, "")
	if err != nil {
		return err
	}
	w.Write(hdr)
	var total int64
	n, expired, rerr := s.receive(sub, count, deadline(duration), func(smp *iox2.RawSample, at time.Time) error {
		rs := recordSample{TNs: int64(at.Sub(start)), Seq: smp.Sequence(), Len: smp.Len(), Payload: smp.Payload()}
		if h := smp.UserHeader(); len(h) > 0 {
			rs.Header = h
		}
		b, err := marshalJSON(&rs, "") // copies the bytes (base64) before the release
		if err != nil {
			return err
		}
		total += int64(len(rs.Payload))
		_, err = w.Write(b)
		return err
	})
	elapsed := time.Since(start)
	if err := w.Flush(); err != nil && rerr == nil {
		rerr = err
	}
	if rerr != nil {
		return fmt.Errorf("record %q: %w", name, rerr)
	}
	if f, ok := out.(*os.File); ok && output != "-" {
		if err := f.Close(); err != nil {
			return err
		}
	}
	sum := recordSummary{Service: name, Output: output, Samples: n, Bytes: total, DurationNs: int64(elapsed)}
	if e.json {
		err = printJSONLine(summary, sum)
	} else {
		_, err = fmt.Fprintf(summary, "recorded %d %s of %q (%d payload bytes) in %v to %s\n",
			n, dataPlural(n, "sample", "samples"), name, total, fmtDur(int64(elapsed)), output)
	}
	if err != nil {
		return err
	}
	if n == 0 && expired {
		return fmt.Errorf("record %q: no sample within %v: %w", name, duration, errTimeout)
	}
	return nil
}

// recording is a recording read back.
type recording struct {
	header  recordHeader
	samples []recordSample
}

// readRecording reads and checks a whole recording; an error names the
// file and line.
func readRecording(r io.Reader, file string) (*recording, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<30)
	rec := &recording{}
	line := 0
	for sc.Scan() {
		line++
		text := sc.Bytes()
		if line == 1 {
			if err := decodeStrict(text, &rec.header); err != nil {
				return nil, fmt.Errorf("%s:1: not a recording header: %v", file, err)
			}
			h := &rec.header
			if h.Format != recordFormat {
				return nil, fmt.Errorf("%s:1: format %q, want %q", file, h.Format, recordFormat)
			}
			if h.Static == nil || h.Static.PublishSubscribe == nil {
				return nil, fmt.Errorf("%s:1: the header has no publish-subscribe static config", file)
			}
			if ps := h.Static.PublishSubscribe; ps.Payload.Size == 0 || (ps.UserHeader != nil && ps.UserHeader.Size == 0) {
				return nil, fmt.Errorf("%s:1: the recorded payload or user header type has size 0", file)
			}
			continue
		}
		if len(text) == 0 {
			continue
		}
		var rs recordSample
		if err := decodeStrict(text, &rs); err != nil {
			return nil, fmt.Errorf("%s:%d: bad sample: %v", file, line, err)
		}
		ps := rec.header.Static.PublishSubscribe
		switch {
		case rs.TNs < 0:
			return nil, fmt.Errorf("%s:%d: bad sample: t_ns %d is negative", file, line, rs.TNs)
		case len(rec.samples) > 0 && rs.TNs < rec.samples[len(rec.samples)-1].TNs:
			return nil, fmt.Errorf("%s:%d: bad sample: t_ns %d is before the previous sample's %d", file, line, rs.TNs, rec.samples[len(rec.samples)-1].TNs)
		case rs.Len < 0 || (ps.PayloadVariant != "dynamic" && rs.Len != 1):
			return nil, fmt.Errorf("%s:%d: bad sample: len %d for a %s payload", file, line, rs.Len, ps.PayloadVariant)
		case uint64(len(rs.Payload)) != uint64(rs.Len)*ps.Payload.Size:
			return nil, fmt.Errorf("%s:%d: bad sample: %d payload bytes, want len %d x %d bytes of %s", file, line, len(rs.Payload), rs.Len, ps.Payload.Size, ps.Payload.Name)
		case ps.UserHeader == nil && rs.Header != nil:
			return nil, fmt.Errorf("%s:%d: bad sample: a user header, but the service has none", file, line)
		case ps.UserHeader != nil && uint64(len(rs.Header)) != ps.UserHeader.Size:
			return nil, fmt.Errorf("%s:%d: bad sample: %d user header bytes, want %d of %s", file, line, len(rs.Header), ps.UserHeader.Size, ps.UserHeader.Name)
		}
		rec.samples = append(rec.samples, rs)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %v", file, line+1, err)
	}
	if line == 0 {
		return nil, fmt.Errorf("%s: empty file, not a recording", file)
	}
	return rec, nil
}

// decodeStrict decodes one JSON value that has no unknown fields and
// nothing after it.
func decodeStrict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("more than one JSON value on the line")
	}
	return nil
}

// sameTypes describes how the types of a service (have) differ from the
// recorded ones (want), or returns "".
func sameTypes(want, have *iox2.PubSubStatic) string {
	id := func(t *iox2.TypeInfo) string {
		if t == nil {
			return "none"
		}
		return fmt.Sprintf("%s (size %d, align %d, layout %s)", t.Name, t.Size, t.Align, t.LayoutHash)
	}
	same := func(a, b *iox2.TypeInfo) bool {
		if a == nil || b == nil {
			return a == b
		}
		return a.Name == b.Name && a.Size == b.Size && a.Align == b.Align && a.LayoutHash == b.LayoutHash
	}
	switch {
	case !same(&want.Payload, &have.Payload):
		return fmt.Sprintf("recorded payload %s, service has %s", id(&want.Payload), id(&have.Payload))
	case want.PayloadVariant != have.PayloadVariant:
		return fmt.Sprintf("recorded a %s payload, service has a %s one", want.PayloadVariant, have.PayloadVariant)
	case !same(want.UserHeader, have.UserHeader):
		return fmt.Sprintf("recorded user header %s, service has %s", id(want.UserHeader), id(have.UserHeader))
	}
	return ""
}

func runReplay(e *env, input, name string, factor float64, repetitions int, wait time.Duration) error {
	if input == "" {
		return usagef("replay: --input FILE is required")
	}
	if factor < 0 {
		return usagef("replay: --time-factor is %v, must be 0 (no waiting) or more", factor)
	}
	if repetitions < 0 {
		return usagef("replay: --repetitions is %d, must be 0 (until Ctrl-C) or more", repetitions)
	}
	if err := checkDuration("replay", "wait-for-subscribers", wait); err != nil {
		return err
	}
	var in io.Reader = e.stdin
	if input != "-" {
		f, err := os.Open(input)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	rec, err := readRecording(in, input)
	if err != nil {
		return err
	}
	if name == "" {
		name = rec.header.Service
	}
	want := rec.header.Static.PublishSubscribe
	s, err := newDataSession(e)
	if err != nil {
		return err
	}
	defer s.Close()
	created := false
	svc, err := iox2.PublishSubscribeRaw(s.node, name).Open()
	if errors.Is(err, iox2.ErrServiceNotExist) {
		// OpenOrCreate: another process may create it at the same time.
		svc, err = iox2.PublishSubscribeRaw(s.node, name).OpenOrCreate(*want)
		created = err == nil
	}
	if err != nil {
		return openError(name, "publish-subscribe", err)
	}
	have := svc.StaticConfig().PublishSubscribe
	if d := sameTypes(want, have); d != "" {
		return fmt.Errorf("replay %s into %q: incompatible types: %s", input, name, d)
	}
	maxLen := 1
	for _, rs := range rec.samples {
		maxLen = max(maxLen, rs.Len)
	}
	pub, err := svc.Publisher(maxLen)
	if err != nil {
		return err
	}
	if wait > 0 {
		waitForSubscribers(s, svc, wait)
	}
	start := time.Now()
	sent, reps := 0, 0
	for repetitions == 0 || reps < repetitions {
		if s.interrupted() {
			break
		}
		t0 := time.Now()
		for _, rs := range rec.samples {
			if factor > 0 {
				at := t0.Add(time.Duration(float64(rs.TNs) / factor))
				if !s.sleep(time.Until(at)) {
					break
				}
			} else if s.interrupted() {
				break
			}
			smp, err := pub.Loan(rs.Len)
			if err != nil {
				return fmt.Errorf("replay %q: loan: %w", name, err)
			}
			copy(smp.Payload(), rs.Payload)
			copy(smp.UserHeader(), rs.Header)
			if _, err := smp.Send(); err != nil {
				return fmt.Errorf("replay %q: send: %w", name, err)
			}
			sent++
		}
		if !s.interrupted() {
			reps++
		}
	}
	sum := replaySummary{Service: name, Input: input, Created: created, Samples: len(rec.samples),
		Repetitions: reps, Sent: sent, DurationNs: int64(time.Since(start))}
	if e.json {
		return printJSONLine(e.stdout, sum)
	}
	how := "opened"
	if created {
		how = "created"
	}
	_, err = fmt.Fprintf(e.stdout, "replayed %d %s of %s (%d x %d) to %q (%s) in %v\n", sent, dataPlural(sent, "sample", "samples"),
		input, reps, len(rec.samples), name, how, fmtDur(int64(time.Since(start))))
	return err
}

// waitForSubscribers waits up to d (or Ctrl-C) until svc has a
// subscriber, checking every millisecond.
func waitForSubscribers(s *dataSession, svc *iox2.RawPubSubService, d time.Duration) {
	until := time.Now().Add(d)
	for svc.NumberOfSubscribers() == 0 && time.Now().Before(until) {
		if !s.sleep(time.Millisecond) {
			return
		}
	}
}
