package main

// iox2 subscribe and iox2 publish: the two ends of a publish-subscribe
// service, with payloads as JSON. The payload's structure comes from the
// type identity that the service stores (runtime/typecodec reads it), so
// no generated code is needed.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/typecodec"
)

func init() {
	var sub struct {
		count   int
		timeout time.Duration
		history int
	}
	register(&command{
		path:    "subscribe",
		args:    "<service>",
		summary: "print the samples of a publish-subscribe service as JSON",
		help: `Opens the service (it must exist: exit code 3 otherwise) whatever its payload
type, subscribes, and prints every sample as one line of JSON, with or
without --json (the line is meant for people and for jq alike):

  {"seq":7,"publisher":"a1b2c3d4e5f60718","payload":{"stamp_ns":1700000000000000007,"mode":"ACTIVE",...}}

seq is the sample's sequence number (counted per publisher: a gap means
samples were lost), publisher the sending port's id. The payload is
written field by field from the type stored with the service (structs as
objects, enums by name, string<N> as strings, sequences and arrays as
arrays); for a slice service "payload" is an array of elements, and a
service with a user header adds "header". A line can be given back to
iox2 publish.

The subscriber first receives up to --history samples that the publishers
keep for late joiners (default: as many as the service keeps), then what
is sent. While the queue is empty the command blocks (no CPU, no polling)
until a publisher sends. It ends after
--count samples (0: no limit), after --timeout (0: none) or on Ctrl-C; if
the timeout passes before any sample arrived, the exit code is 4.`,
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&sub.count, "count", 0, "stop after `N` samples (0: no limit)")
			fs.DurationVar(&sub.timeout, "timeout", 0, "stop after this long (0: never); nothing by then is exit code 4")
			fs.IntVar(&sub.history, "history", -1, "ask the publishers for up to `N` samples of history (-1: as many as the service keeps)")
		},
		minArgs: 1, maxArgs: 1,
		run: func(e *env, args []string) error {
			return runSubscribe(e, args[0], sub.count, sub.timeout, sub.history)
		},
	})

	var pub struct {
		count    int
		interval time.Duration
		header   string
		maxSlice int
		wait     time.Duration
	}
	register(&command{
		path:    "publish",
		args:    "<service> [<json>...]",
		summary: "publish samples given as JSON to a publish-subscribe service",
		help: `Opens the service (it must exist: exit code 3 otherwise), creates a publisher
and sends one sample per message: each argument, or with none each
non-empty line of stdin, is one JSON message. A message is the payload:
an object with the payload struct's fields (fields left out are zero), or
for a slice service an array of such objects. It may also be a line that
iox2 subscribe printed, {"payload":..., "header":...} (seq and publisher
are ignored), which also sets the user header; else --header sets it
(default: zero).

  iox2 publish robot/imu '{"stamp_ns":1,"mode":"ACTIVE","frame":"base","points":[{"x":1,"y":2,"z":3}]}'
  iox2 subscribe robot/imu | iox2 publish robot/imu-copy

Every message is encoded into its sample before the sample is sent: a
message that does not fit the type (an unknown field, a wrong JSON type,
a number out of range, a string or sequence beyond its capacity) is an
error that names the message and the field, with exit code 1, and is not
sent. Messages given as arguments are all checked before the first is
sent; lines of stdin are sent as they come, so the lines before a bad one
are sent.

--count sends the messages N times (0: until Ctrl-C), --interval apart.
Like iceoryx2's, this command does not wait for subscribers: a sample
reaches every subscriber that exists when it is sent, and the service's
history keeps the last ones for subscribers that connect while the
publisher lives; a publisher ends with the command, so a subscriber that
comes later gets nothing. --wait-for-subscribers waits up to that long
for a first subscriber before sending. One line per sample says how many
subscribers it reached ({"service":..., "n":..., "subscribers":...} with
--json).`,
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&pub.count, "count", 1, "send the messages `N` times (0: until Ctrl-C)")
			fs.DurationVar(&pub.interval, "interval", 0, "the time between two samples")
			fs.StringVar(&pub.header, "header", "", "the user header of every sample, as a `JSON` object (default: zero)")
			fs.IntVar(&pub.maxSlice, "max-slice-len", 0, "the most elements of a slice sample (default: the longest argument, 4096 for stdin)")
			fs.DurationVar(&pub.wait, "wait-for-subscribers", 0, "wait up to this long for a subscriber before sending (0: don't)")
		},
		minArgs: 1, maxArgs: -1,
		run: func(e *env, args []string) error {
			return runPublish(e, args[0], args[1:], pub.count, pub.interval, pub.header, pub.maxSlice, pub.wait)
		},
	})
}

// codec is the JSON view of a service's samples.
type codec struct {
	payload *typecodec.Type
	header  *typecodec.Type // nil without a user header
	slice   bool
	elem    int // bytes per payload element
}

func newCodec(svc *iox2.RawPubSubService) (*codec, error) {
	ti := svc.PayloadType()
	p, err := typecodec.Parse(ti)
	if err != nil {
		return nil, fmt.Errorf("service %q: payload type %s: %w", svc.Name(), ti.Name, err)
	}
	c := &codec{payload: p, slice: svc.IsSlice(), elem: int(ti.Size)}
	if hi, ok := svc.UserHeaderType(); ok {
		if c.header, err = typecodec.Parse(hi); err != nil {
			return nil, fmt.Errorf("service %q: user header type %s: %w", svc.Name(), hi.Name, err)
		}
	}
	return c, nil
}

// appendPayload appends the JSON of payload: a value, or for a slice
// service an array of its elements.
func (c *codec) appendPayload(dst, payload []byte) ([]byte, error) {
	if !c.slice {
		return c.payload.AppendJSON(dst, payload)
	}
	dst = append(dst, '[')
	for i := 0; i+c.elem <= len(payload); i += c.elem {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = c.payload.AppendJSON(dst, payload[i:i+c.elem]); err != nil {
			return dst, fmt.Errorf("element %d: %w", i/c.elem, err)
		}
	}
	return append(dst, ']'), nil
}

// appendSample appends the line that subscribe prints for smp.
func (c *codec) appendSample(dst []byte, smp *iox2.RawSample) ([]byte, error) {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, smp.Sequence(), 10)
	dst = append(dst, `,"publisher":"`...)
	dst = append(dst, smp.Publisher().String()...)
	dst = append(dst, `","payload":`...)
	dst, err := c.appendPayload(dst, smp.Payload())
	if err != nil {
		return dst, err
	}
	if c.header != nil {
		dst = append(dst, `,"header":`...)
		if dst, err = c.header.AppendJSON(dst, smp.UserHeader()); err != nil {
			return dst, fmt.Errorf("user header: %w", err)
		}
	}
	return append(dst, "}\n"...), nil
}

func runSubscribe(e *env, name string, count int, timeout time.Duration, history int) error {
	if err := checkCount("subscribe", count); err != nil {
		return err
	}
	if err := checkDuration("subscribe", "timeout", timeout); err != nil {
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
	if history > svc.QoS().HistorySize {
		history = svc.QoS().HistorySize
	}
	sub, err := svc.SubscriberWith(0, history)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(e.stdout)
	defer w.Flush()
	var line []byte
	n, expired, err := s.receive(sub, count, deadline(timeout), func(smp *iox2.RawSample, _ time.Time) error {
		var err error
		line, err = c.appendSample(line[:0], smp)
		if err != nil {
			// A sample that cannot be decoded (a corrupt length) is
			// reported and skipped.
			printMessage(e.stderr, "", fmt.Sprintf("sample %d of publisher %v: %s", smp.Sequence(), smp.Publisher(), errorText(err)))
			return nil
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
		return w.Flush() // one line at a time: subscribe is read live
	})
	if err != nil {
		return fmt.Errorf("subscribe %q: %w", name, err)
	}
	if n == 0 && expired {
		return fmt.Errorf("subscribe %q: no sample within %v: %w", name, timeout, errTimeout)
	}
	return nil
}

// message is one encoded publish message.
type message struct {
	payload []byte
	n       int    // elements
	header  []byte // nil: the default header
}

// encode turns one JSON message into a sample's bytes. what names it in
// errors ("message 2", "stdin line 5").
func (c *codec) encode(js []byte, what string) (*message, error) {
	js = bytes.TrimSpace(js)
	var header json.RawMessage
	if env, ok := c.envelope(js); ok {
		js, header = env.Payload, env.Header
	}
	m := &message{}
	if c.slice {
		var elems []json.RawMessage
		if err := json.Unmarshal(js, &elems); err != nil {
			return nil, fmt.Errorf("%s: a slice service wants a JSON array of elements: %v", what, err)
		}
		m.n = len(elems)
		m.payload = make([]byte, len(elems)*c.elem)
		for i, el := range elems {
			if err := c.payload.FromJSON(m.payload[i*c.elem:(i+1)*c.elem], el); err != nil {
				return nil, fmt.Errorf("%s: element %d: %v", what, i, err)
			}
		}
	} else {
		m.n = 1
		m.payload = make([]byte, c.elem)
		if err := c.payload.FromJSON(m.payload, js); err != nil {
			return nil, fmt.Errorf("%s: %v", what, err)
		}
	}
	if header != nil {
		if c.header == nil {
			return nil, fmt.Errorf("%s: a header, but the service has no user header", what)
		}
		m.header = make([]byte, c.header.Size())
		if err := c.header.FromJSON(m.header, header); err != nil {
			return nil, fmt.Errorf("%s: header: %v", what, err)
		}
	}
	return m, nil
}

// sampleEnvelope is a line of iox2 subscribe.
type sampleEnvelope struct {
	Seq       *uint64         `json:"seq"`
	Publisher *string         `json:"publisher"`
	Payload   json.RawMessage `json:"payload"`
	Header    json.RawMessage `json:"header"`
}

// envelope reports whether js is a line of iox2 subscribe rather than a
// bare payload: an object with a "payload" key (and no other keys than
// seq, publisher and header), unless the payload struct has a field named
// payload itself.
func (c *codec) envelope(js []byte) (sampleEnvelope, bool) {
	var env sampleEnvelope
	if len(js) == 0 || js[0] != '{' {
		return env, false
	}
	if c.payload.Kind() == typecodec.Struct && !c.slice {
		for _, f := range c.payload.Fields() {
			if f.Name == "payload" {
				return env, false
			}
		}
	}
	d := json.NewDecoder(bytes.NewReader(js))
	d.DisallowUnknownFields()
	if d.Decode(&env) != nil || env.Payload == nil {
		return env, false
	}
	return env, true
}

func runPublish(e *env, name string, msgs []string, count int, interval time.Duration, headerJSON string, maxSlice int, wait time.Duration) error {
	if err := checkCount("publish", count); err != nil {
		return err
	}
	if err := checkDuration("publish", "interval", interval); err != nil {
		return err
	}
	if err := checkDuration("publish", "wait-for-subscribers", wait); err != nil {
		return err
	}
	if maxSlice < 0 {
		return usagef("publish: --max-slice-len is %d, must be 0 (default) or more", maxSlice)
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
	var defHeader []byte
	if headerJSON != "" {
		if c.header == nil {
			return usagef("publish: --header, but service %q has no user header", name)
		}
		defHeader = make([]byte, c.header.Size())
		if err := c.header.FromJSON(defHeader, []byte(headerJSON)); err != nil {
			return fmt.Errorf("publish: --header: %v", err)
		}
	}
	// Messages given as arguments are all encoded before anything is sent.
	var encoded []*message
	for i, js := range msgs {
		m, err := c.encode([]byte(js), fmt.Sprintf("message %d", i+1))
		if err != nil {
			return err
		}
		encoded = append(encoded, m)
	}
	if maxSlice == 0 {
		maxSlice = 1
		if len(msgs) == 0 {
			maxSlice = 4096
		}
		for _, m := range encoded {
			maxSlice = max(maxSlice, m.n)
		}
	}
	pub, err := svc.Publisher(maxSlice)
	if err != nil {
		return err
	}
	if wait > 0 {
		waitForSubscribers(s, svc, wait)
	}
	sent := 0
	send := func(m *message) error {
		if sent > 0 && !s.sleep(interval) {
			return errStop
		}
		if m.n > pub.MaxSliceLen() {
			return fmt.Errorf("publish %q: a sample of %d elements exceeds --max-slice-len %d", name, m.n, pub.MaxSliceLen())
		}
		smp, err := pub.Loan(m.n)
		if err != nil {
			return fmt.Errorf("publish %q: loan: %w", name, err)
		}
		copy(smp.Payload(), m.payload)
		if m.header != nil {
			copy(smp.UserHeader(), m.header)
		} else {
			copy(smp.UserHeader(), defHeader)
		}
		k, err := smp.Send()
		if err != nil {
			return fmt.Errorf("publish %q: send: %w", name, err)
		}
		sent++
		if e.json {
			return printJSONLine(e.stdout, publishLine{Service: name, N: sent, Subscribers: k})
		}
		_, err = fmt.Fprintf(e.stdout, "published sample %d to %q: %d %s\n", sent, name, k, dataPlural(k, "subscriber", "subscribers"))
		return err
	}
	err = nil
	if len(msgs) > 0 {
		for rep := 0; err == nil && (count == 0 || rep < count); rep++ {
			for _, m := range encoded {
				if err = send(m); err != nil {
					break
				}
			}
		}
	} else {
		err = publishStdin(e, s, c, count, send)
	}
	if errors.Is(err, errStop) {
		return nil // Ctrl-C
	}
	return err
}

// errStop ends publishing on Ctrl-C.
var errStop = errors.New("stopped")

// publishLine is one line of `iox2 publish --json`.
type publishLine struct {
	Service     string `json:"service"`
	N           int    `json:"n"`
	Subscribers int    `json:"subscribers"`
}

// publishStdin sends each non-empty line of stdin, count times per line
// (0: until Ctrl-C, for the first line only). It reads stdin in a
// goroutine so that Ctrl-C ends a command waiting for input.
func publishStdin(e *env, s *dataSession, c *codec, count int, send func(*message) error) error {
	type line struct {
		text []byte
		no   int
		err  error
	}
	lines := make(chan line)
	go func() {
		sc := bufio.NewScanner(e.stdin)
		sc.Buffer(nil, 64<<20)
		no := 0
		for sc.Scan() {
			no++
			l := line{text: bytes.Clone(sc.Bytes()), no: no}
			select {
			case lines <- l:
			case <-s.ctx.Done():
				return
			}
		}
		select {
		case lines <- line{err: dataErrOr(sc.Err(), io.EOF)}:
		case <-s.ctx.Done():
		}
	}()
	for {
		var l line
		select {
		case l = <-lines:
		case <-s.ctx.Done():
			return errStop
		}
		if errors.Is(l.err, io.EOF) {
			return nil
		}
		if l.err != nil {
			return fmt.Errorf("reading stdin: %w", l.err)
		}
		if len(bytes.TrimSpace(l.text)) == 0 {
			continue
		}
		m, err := c.encode(l.text, fmt.Sprintf("stdin line %d", l.no))
		if err != nil {
			return err
		}
		for rep := 0; count == 0 || rep < count; rep++ {
			if err := send(m); err != nil {
				return err
			}
		}
	}
}

// dataErrOr returns err, or def when err is nil.
func dataErrOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}
