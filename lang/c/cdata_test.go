package c_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/iox2test"
)

// The data path of the C library against the Go runtime: the C program
// tests/cdata_peer.c in its own process, driven line by line, and Go ports
// in this process on the same service.

// The payload types, byte for byte those of cdata_peer.c, with fixed
// identities (both sides present the same name, size, alignment and
// layout hash).
type msg struct {
	Seq   uint64
	Value int32
	Flags uint32
	X     float64
	Name  [16]byte
}

type hdr struct {
	Stamp uint64
	Tag   uint32
	_     uint32
}

type req struct {
	ID uint64
	A  int64
}

type resp struct {
	Req uint64
	V   int64
}

func identity(name string, size, align uint64, layout string) *iox2.TypeInfo {
	sum := sha256.Sum256([]byte(layout))
	return &iox2.TypeInfo{Name: name, Size: size, Align: align, LayoutHash: hex.EncodeToString(sum[:]), Layout: layout}
}

var (
	msgType  = identity("cdata::Msg", 40, 8, "0 8 seq u64\n8 4 value i32\n12 4 flags u32\n16 8 x f64\n24 16 name char[16]\n")
	hdrType  = identity("cdata::Hdr", 16, 8, "0 8 stamp u64\n8 4 tag u32\n12 4 pad u32\n")
	reqType  = identity("cdata::Req", 16, 8, "0 8 id u64\n8 8 a i64\n")
	respType = identity("cdata::Resp", 16, 8, "0 8 req u64\n8 8 v i64\n")
)

func (*msg) IOX2TypeInfo() *iox2.TypeInfo  { return msgType }
func (*hdr) IOX2TypeInfo() *iox2.TypeInfo  { return hdrType }
func (*req) IOX2TypeInfo() *iox2.TypeInfo  { return reqType }
func (*resp) IOX2TypeInfo() *iox2.TypeInfo { return respType }

// fill writes element k of the sample with sequence seq as cdata_peer.c's
// fill does.
func fill(m *msg, seq, k uint64) {
	m.Seq = seq
	m.Value = int32(seq*3 + k)
	m.Flags = 0xc0de0000 | uint32(k)
	m.X = float64(seq)*0.5 + float64(k)
	copy(m.Name[:], fmt.Sprintf("msg-%d-%d", seq, k))
}

// describe prints element m as cdata_peer.c's print_sample does.
func describe(m *msg) string {
	name := string(m.Name[:])
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	return fmt.Sprintf("[%d %d %x %.1f %s]", m.Seq, m.Value, m.Flags, m.X, name)
}

// peer is a running cdata_peer process.
type peer struct {
	t    *testing.T
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  chan string
	done chan struct{}
}

type peerOpts struct {
	reqres, slice, header bool
}

func startPeer(t *testing.T, bin string, cfg *iox2.Config, service string, o peerOpts) *peer {
	t.Helper()
	b := func(v bool) string { return map[bool]string{false: "0", true: "1"}[v] }
	pattern := "pubsub"
	if o.reqres {
		pattern = "reqres"
	}
	cmd := exec.Command(bin, cfg.Root, cfg.Prefix, service, pattern, b(o.slice), b(o.header),
		msgType.LayoutHash, hdrType.LayoutHash, reqType.LayoutHash, respType.LayoutHash)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, cmd: cmd, in: in, out: make(chan string, 1024), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.out <- sc.Text()
		}
		close(p.out)
	}()
	t.Cleanup(func() {
		p.in.Close()
		werr := make(chan error, 1)
		go func() { werr <- cmd.Wait() }()
		select {
		case err := <-werr:
			if err != nil {
				t.Errorf("cdata_peer: %v\n%s", err, stderr.String())
			} else if s := stderr.String(); s != "" {
				t.Logf("cdata_peer stderr:\n%s", s)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Errorf("cdata_peer did not exit\n%s", stderr.String())
		}
	})
	return p
}

// send writes a command without waiting for its answer.
func (p *peer) send(line string) {
	p.t.Helper()
	if _, err := fmt.Fprintln(p.in, line); err != nil {
		p.t.Fatalf("write %q: %v", line, err)
	}
}

// answer reads the lines of one answer: every line up to and including the
// last one ("ok ...", "timeout ...", "error ...").
func (p *peer) answer() (lines []string, last string) {
	p.t.Helper()
	for {
		select {
		case l, ok := <-p.out:
			if !ok {
				p.t.Fatalf("cdata_peer exited; read so far: %q", lines)
			}
			if strings.HasPrefix(l, "ok") || strings.HasPrefix(l, "timeout") || strings.HasPrefix(l, "error") {
				return lines, l
			}
			lines = append(lines, l)
		case <-time.After(20 * time.Second):
			p.t.Fatalf("no answer from cdata_peer; read so far: %q", lines)
		}
	}
}

// do sends a command and requires "ok".
func (p *peer) do(line string) []string {
	p.t.Helper()
	p.send(line)
	lines, last := p.answer()
	if !strings.HasPrefix(last, "ok") {
		p.t.Fatalf("%s: %s (after %q)", line, last, lines)
	}
	return append(lines, last)
}

func peerBin(t *testing.T) string {
	t.Helper()
	return buildWithLib(t, "cdata_peer", "tests/cdata_peer.c")
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// sampleLine is what cdata_peer prints for a sample of sequence seq (chunk
// header) from publisher id with elements seq.. as fill writes them.
func sampleLine(chunkSeq uint64, pub iox2.ID, seq uint64, n int, header bool) string {
	s := fmt.Sprintf("sample seq=%d pub=%s len=%d", chunkSeq, pub, n)
	for k := 0; k < n; k++ {
		var m msg
		fill(&m, seq, uint64(k))
		s += " " + describe(&m)
	}
	if header {
		s += fmt.Sprintf(" hdr=%d/abc", seq*7)
	}
	return s
}

func wantLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n got %q\nwant %q", len(got), len(want), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
}

// TestPubSubGoToC: a Go publisher, a C subscriber: samples sent before the
// C side waits, and one sent while it is blocked in iox2_subscriber_wait
// (the wake-up through W and the node's doorbell).
func TestPubSubGoToC(t *testing.T) {
	bin := peerBin(t)
	cfg := iox2test.Config(t)
	node := iox2test.Node(t, cfg)
	svc, err := iox2.PublishSubscribe[msg](node, "cdata/go-to-c").SubscriberMaxBufferSize(4).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	p := startPeer(t, bin, cfg, "cdata/go-to-c", peerOpts{})
	p.do("open")
	p.do("sub")
	pub, err := svc.Publisher()
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	for seq := uint64(10); seq < 13; seq++ {
		s, err := pub.Loan()
		if err != nil {
			t.Fatal(err)
		}
		fill(s.Payload(), seq, 0)
		if n, err := s.Send(); err != nil || n != 1 {
			t.Fatalf("send: %d, %v", n, err)
		}
	}
	lines := p.do("recv 3 5000")
	wantLines(t, lines[:3], sampleLine(0, pub.ID(), 10, 1, false), sampleLine(1, pub.ID(), 11, 1, false),
		sampleLine(2, pub.ID(), 12, 1, false))

	// Blocked: the C side waits in the kernel until the Go send rings it.
	p.send("recv 1 10000")
	time.Sleep(300 * time.Millisecond)
	s, _ := pub.Loan()
	fill(s.Payload(), 13, 0)
	start := time.Now()
	if _, err := s.Send(); err != nil {
		t.Fatal(err)
	}
	lines, last := p.answer()
	if !strings.HasPrefix(last, "ok") {
		t.Fatalf("blocked receive: %s %q", last, lines)
	}
	wantLines(t, lines, sampleLine(3, pub.ID(), 13, 1, false))
	t.Logf("blocked C subscriber woke %v after the Go send", time.Since(start))
	p.do("close_sub")
	p.do("quit")
}

// TestPubSubCToGo: a C publisher, a Go subscriber, also blocked in
// BlockingReceive while the C side sends.
func TestPubSubCToGo(t *testing.T) {
	bin := peerBin(t)
	cfg := iox2test.Config(t)
	node := iox2test.Node(t, cfg)
	svc, err := iox2.PublishSubscribe[msg](node, "cdata/c-to-go").SubscriberMaxBufferSize(4).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	sub, err := svc.Subscriber()
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	p := startPeer(t, bin, cfg, "cdata/c-to-go", peerOpts{})
	p.do("open")
	p.do("pub")
	if got := p.do("send 3 20"); got[0] != "ok sent 3" {
		t.Fatalf("send: %q", got)
	}
	var pubID iox2.ID
	for k := uint64(0); k < 3; k++ {
		s, err := sub.BlockingReceive(ctxT(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		h := s.Header()
		if k == 0 {
			pubID = iox2.ID(h.Publisher)
		}
		var want msg
		fill(&want, 20+k, 0)
		if *s.Payload() != want || h.Sequence != k || iox2.ID(h.Publisher) != pubID {
			t.Errorf("sample %d: %+v (header %+v), want %+v", k, *s.Payload(), h, want)
		}
		s.Release()
	}
	// Blocked in Go: the C send wakes it.
	got := make(chan *iox2.Sample[msg], 1)
	go func() {
		s, err := sub.BlockingReceive(ctxT(t, 10*time.Second))
		if err != nil {
			t.Error(err)
		}
		got <- s
	}()
	time.Sleep(300 * time.Millisecond)
	p.do("send 1 30")
	s := <-got
	if s == nil {
		t.FailNow()
	}
	var want msg
	fill(&want, 30, 0)
	if *s.Payload() != want {
		t.Errorf("blocked receive: %+v, want %+v", *s.Payload(), want)
	}
	s.Release()
	p.do("close_pub")
	p.do("quit")
}

// TestPubSubHistory: a late subscriber gets the newest history samples, in
// both directions (the idle C publisher delivers them in
// iox2_publisher_update_connections).
func TestPubSubHistory(t *testing.T) {
	bin := peerBin(t)
	t.Run("go-publisher", func(t *testing.T) {
		cfg := iox2test.Config(t)
		node := iox2test.Node(t, cfg)
		svc, err := iox2.PublishSubscribe[msg](node, "cdata/history").HistorySize(3).SubscriberMaxBufferSize(4).Create()
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		pub, err := svc.Publisher()
		if err != nil {
			t.Fatal(err)
		}
		defer pub.Close()
		for seq := uint64(0); seq < 5; seq++ {
			s, _ := pub.Loan()
			fill(s.Payload(), 100+seq, 0)
			if _, err := s.Send(); err != nil {
				t.Fatal(err)
			}
		}
		p := startPeer(t, bin, cfg, "cdata/history", peerOpts{})
		p.do("open")
		p.do("sub")
		lines := p.do("recv 3 5000")
		wantLines(t, lines[:3], sampleLine(2, pub.ID(), 102, 1, false), sampleLine(3, pub.ID(), 103, 1, false),
			sampleLine(4, pub.ID(), 104, 1, false))
		p.do("quit")
	})
	t.Run("c-publisher", func(t *testing.T) {
		cfg := iox2test.Config(t)
		node := iox2test.Node(t, cfg)
		svc, err := iox2.PublishSubscribe[msg](node, "cdata/history").HistorySize(3).SubscriberMaxBufferSize(4).Create()
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		p := startPeer(t, bin, cfg, "cdata/history", peerOpts{})
		p.do("open")
		p.do("pub")
		p.do("send 5 200")
		sub, err := svc.Subscriber()
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		p.do("update")
		for k := uint64(2); k < 5; k++ {
			s, err := sub.BlockingReceive(ctxT(t, 5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			var want msg
			fill(&want, 200+k, 0)
			if *s.Payload() != want || s.Header().Sequence != k {
				t.Errorf("history sample: %+v seq %d, want %+v seq %d", *s.Payload(), s.Header().Sequence, want, k)
			}
			s.Release()
		}
		if s, _ := sub.Receive(); s != nil {
			t.Errorf("more than the history: %+v", *s.Payload())
		}
		p.do("quit")
	})
}

// TestPubSubSliceUserHeader: slice payloads with a user header, both ways.
func TestPubSubSliceUserHeader(t *testing.T) {
	bin := peerBin(t)
	cfg := iox2test.Config(t)
	node := iox2test.Node(t, cfg)
	svc, err := iox2.WithUserHeader[hdr](iox2.PublishSubscribeSlice[msg](node, "cdata/slice")).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	p := startPeer(t, bin, cfg, "cdata/slice", peerOpts{slice: true, header: true})
	p.do("open")
	p.do("sub")
	p.do("pub 5")
	sub, err := svc.Subscriber()
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	pub, err := svc.PublisherBuilder().MaxSliceLen(4).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()

	// Go -> C: 3 elements, and 0 elements.
	for _, n := range []int{3, 0} {
		s, err := pub.LoanSlice(n)
		if err != nil {
			t.Fatal(err)
		}
		for k := range s.PayloadSlice() {
			fill(&s.PayloadSlice()[k], 50, uint64(k))
		}
		*iox2.UserHeader[hdr](s) = hdr{Stamp: 50 * 7, Tag: 0xabc}
		if _, err := s.Send(); err != nil {
			t.Fatal(err)
		}
	}
	lines := p.do("recv 2 5000")
	wantLines(t, lines[:2], sampleLine(0, pub.ID(), 50, 3, true), sampleLine(1, pub.ID(), 50, 0, true))

	// C -> Go: 5 elements (the C publisher's maximum).
	p.do("send 1 60 5")
	s, err := sub.BlockingReceive(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.PayloadSlice(); len(got) != 5 {
		t.Fatalf("slice of %d elements, want 5", len(got))
	}
	for k, m := range s.PayloadSlice() {
		var want msg
		fill(&want, 60, uint64(k))
		if m != want {
			t.Errorf("element %d: %+v, want %+v", k, m, want)
		}
	}
	if h := iox2.UserHeader[hdr](s); h == nil || h.Stamp != 60*7 || h.Tag != 0xabc {
		t.Errorf("user header %+v", h)
	}
	s.Release()
	p.do("quit")
}

// TestPubSubOverflow: a full subscriber queue with safe overflow keeps the
// newest samples (both ways); without safe overflow, DiscardData keeps the
// oldest.
func TestPubSubOverflow(t *testing.T) {
	bin := peerBin(t)
	t.Run("safe-overflow", func(t *testing.T) {
		cfg := iox2test.Config(t)
		node := iox2test.Node(t, cfg)
		svc, err := iox2.PublishSubscribe[msg](node, "cdata/overflow").SubscriberMaxBufferSize(2).Create()
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		p := startPeer(t, bin, cfg, "cdata/overflow", peerOpts{})
		p.do("open")
		p.do("sub")
		p.do("pub")
		pub, err := svc.Publisher()
		if err != nil {
			t.Fatal(err)
		}
		defer pub.Close()
		sub, err := svc.Subscriber()
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		for seq := uint64(0); seq < 5; seq++ {
			s, _ := pub.Loan()
			fill(s.Payload(), seq, 0)
			if _, err := s.Send(); err != nil {
				t.Fatal(err)
			}
		}
		// The C subscriber has two queues of 2 (from the Go and from its
		// own publisher); only the Go one is filled.
		lines := p.do("recv 2 5000")
		wantLines(t, lines[:2], sampleLine(3, pub.ID(), 3, 1, false), sampleLine(4, pub.ID(), 4, 1, false))
		p.send("recv 1 200")
		if _, last := p.answer(); last != "timeout 0" {
			t.Errorf("after the newest two: %s", last)
		}
		// C -> Go: 5 sent, the newest 2 arrive (the Go subscriber's own
		// publisher's samples came first; skip them).
		for {
			s, _ := sub.Receive()
			if s == nil {
				break
			}
			s.Release()
		}
		p.do("send 5 10")
		for _, want := range []uint64{13, 14} {
			s, err := sub.BlockingReceive(ctxT(t, 5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if s.Payload().Seq != want {
				t.Errorf("got sample %d, want %d", s.Payload().Seq, want)
			}
			s.Release()
		}
		if s, _ := sub.Receive(); s != nil {
			t.Errorf("more than the newest two: %d", s.Payload().Seq)
		}
		p.do("quit")
	})
	t.Run("discard-data", func(t *testing.T) {
		cfg := iox2test.Config(t)
		node := iox2test.Node(t, cfg)
		svc, err := iox2.PublishSubscribe[msg](node, "cdata/discard").SubscriberMaxBufferSize(2).
			EnableSafeOverflow(false).Create()
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		sub, err := svc.Subscriber()
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		p := startPeer(t, bin, cfg, "cdata/discard", peerOpts{})
		p.do("open")
		p.do(fmt.Sprintf("pub 1 %d", 1)) // IOX2_DISCARD_DATA
		if got := p.do("send 5 40"); got[0] != "ok sent 2" {
			t.Errorf("delivered: %q, want 2 of 5", got)
		}
		for _, want := range []uint64{40, 41} {
			s, err := sub.BlockingReceive(ctxT(t, 5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if s.Payload().Seq != want {
				t.Errorf("got sample %d, want %d", s.Payload().Seq, want)
			}
			s.Release()
		}
		p.do("quit")
	})
}

// TestReqResCClientGoServer: a C client, a Go server answering each request
// with a stream of responses; the C side reads the stream to its end, once
// with the responses already queued and once blocked while the server
// answers.
func TestReqResCClientGoServer(t *testing.T) {
	bin := peerBin(t)
	for _, slice := range []bool{false, true} {
		t.Run(fmt.Sprintf("slice=%v", slice), func(t *testing.T) {
			cfg := iox2test.Config(t)
			node := iox2test.Node(t, cfg)
			b := iox2.RequestResponse[req, resp](node, "cdata/rr")
			if slice {
				b = iox2.RequestResponseSlice[req, resp](node, "cdata/rr")
			}
			// A buffer for the whole stream: with safe overflow, a fourth
			// unread response would replace the oldest.
			svc, err := b.MaxResponseBufferSize(4).Create()
			if err != nil {
				t.Fatal(err)
			}
			defer svc.Close()
			srv, err := svc.Server()
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			p := startPeer(t, bin, cfg, "cdata/rr", peerOpts{reqres: true, slice: slice})
			p.do("open")
			n := 1
			if slice {
				n = 3
				p.do("client 3")
			} else {
				p.do("client")
			}
			for round, blocked := range []bool{false, true} {
				value := int64(7 + round)
				if got := p.do(fmt.Sprintf("request %d %d", value, n)); got[0] != fmt.Sprintf("ok request %d", round+1) {
					t.Fatalf("request: %q", got)
				}
				if blocked {
					p.send("responses 10000")
					time.Sleep(300 * time.Millisecond)
				}
				a, err := srv.BlockingReceive(ctxT(t, 5*time.Second))
				if err != nil {
					t.Fatal(err)
				}
				h := a.Header()
				got := a.PayloadSlice()
				if len(got) != n || got[0] != (req{ID: 0, A: value}) || h.RequestID != uint64(round+1) || !a.IsConnected() {
					t.Fatalf("request %+v header %+v connected %v", got, h, a.IsConnected())
				}
				for j := int64(0); j < 3; j++ {
					m, err := a.LoanSlice(1)
					if err != nil {
						t.Fatal(err)
					}
					m.PayloadSlice()[0] = resp{Req: h.RequestID, V: value*10 + j}
					if err := m.Send(); err != nil {
						t.Fatal(err)
					}
				}
				a.Close()
				var lines []string
				if blocked {
					var last string
					lines, last = p.answer()
					lines = append(lines, last)
				} else {
					lines = p.do("responses 5000")
				}
				want := []string{}
				for j := int64(0); j < 3; j++ {
					want = append(want, fmt.Sprintf("response server=%s len=1 [%d %d]", srv.ID(), round+1, value*10+j))
				}
				wantLines(t, lines, append(want, "ok ended 3")...)
			}
			p.do("close_client")
			p.do("quit")
		})
	}
}

// TestReqResGoClientCServer: a Go client, a C server that answers with a
// stream of responses (slices of growing length in a slice service); the
// Go client, blocked in BlockingReceive, reads them until the stream ends.
func TestReqResGoClientCServer(t *testing.T) {
	bin := peerBin(t)
	for _, slice := range []bool{false, true} {
		t.Run(fmt.Sprintf("slice=%v", slice), func(t *testing.T) {
			cfg := iox2test.Config(t)
			node := iox2test.Node(t, cfg)
			b := iox2.RequestResponse[req, resp](node, "cdata/rr2")
			if slice {
				b = iox2.RequestResponseSlice[req, resp](node, "cdata/rr2")
			}
			svc, err := b.MaxResponseBufferSize(4).Create()
			if err != nil {
				t.Fatal(err)
			}
			defer svc.Close()
			cl, err := svc.Client()
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			p := startPeer(t, bin, cfg, "cdata/rr2", peerOpts{reqres: true, slice: slice})
			p.do("open")
			if slice {
				p.do("server 4")
			} else {
				p.do("server")
			}
			const nresp = 3
			for round := 0; round < 2; round++ {
				value := int64(5 + round)
				pending, err := cl.SendCopy(req{ID: 0, A: value})
				if err != nil {
					t.Fatal(err)
				}
				type result struct {
					got []resp
					err error
				}
				done := make(chan result, 1)
				go func() {
					var r result
					for {
						x, err := pending.BlockingReceive(ctxT(t, 10*time.Second))
						if err != nil {
							r.err = err
							break
						}
						r.got = append(r.got, x.PayloadSlice()...)
						if x.Header().ServerID == 0 {
							r.err = fmt.Errorf("no server ID")
						}
						x.Release()
					}
					done <- r
				}()
				time.Sleep(100 * time.Millisecond) // the client blocks first
				lines := p.do(fmt.Sprintf("serve 1 %d 5000", nresp))
				want := fmt.Sprintf("request client=%s id=%d len=1 connected=1 [0 %d]", cl.ID(), round+1, value)
				wantLines(t, lines, want, "ok served")
				r := <-done
				if r.err != iox2.ErrStreamEnded {
					t.Fatalf("stream: %v after %+v", r.err, r.got)
				}
				var exp []resp
				for j := 0; j < nresp; j++ {
					n := 1
					if slice {
						n = j + 1
					}
					for e := 0; e < n; e++ {
						exp = append(exp, resp{Req: uint64(round + 1), V: value*10 + int64(j) + int64(e)*1000})
					}
				}
				if fmt.Sprint(r.got) != fmt.Sprint(exp) {
					t.Errorf("responses %v, want %v", r.got, exp)
				}
				pending.Close()
			}
			p.do("close_server")
			p.do("quit")
		})
	}
}

// TestDataUnit runs the C unit test of the data path (tests/data_unit.c):
// geometry, offset decoding, hostile data headers and hostile queue values.
func TestDataUnit(t *testing.T) {
	bin := buildWithLib(t, "data_unit", "tests/data_unit.c")
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil {
		t.Fatalf("data_unit: %v\n%s", err, out)
	}
}

// TestPubSubBackpressureRetry: without safe overflow, a C publisher with
// RetryUntilDelivered waits for the Go subscriber to make room: every
// sample arrives, in order.
func TestPubSubBackpressureRetry(t *testing.T) {
	bin := peerBin(t)
	cfg := iox2test.Config(t)
	node := iox2test.Node(t, cfg)
	svc, err := iox2.PublishSubscribe[msg](node, "cdata/retry").SubscriberMaxBufferSize(2).
		EnableSafeOverflow(false).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	sub, err := svc.Subscriber()
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	p := startPeer(t, bin, cfg, "cdata/retry", peerOpts{})
	p.do("open")
	p.do("pub 1 0") // IOX2_RETRY_UNTIL_DELIVERED
	const n = 50
	p.send(fmt.Sprintf("send %d 0", n))
	for k := uint64(0); k < n; k++ {
		s, err := sub.BlockingReceive(ctxT(t, 10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if s.Payload().Seq != k {
			t.Fatalf("got sample %d, want %d", s.Payload().Seq, k)
		}
		s.Release()
		if k%10 == 0 {
			time.Sleep(5 * time.Millisecond) // a slow subscriber: the publisher waits
		}
	}
	if _, last := p.answer(); last != fmt.Sprintf("ok sent %d", n) {
		t.Fatalf("send: %s", last)
	}
	p.do("quit")
}

// TestPubSubHoldingSubscriber: a Go subscriber that holds its maximum of
// borrowed samples and reads nothing more does not drain the C publisher's
// pool: with safe overflow the publisher keeps sending, and once the
// subscriber releases, it gets the newest samples.
func TestPubSubHoldingSubscriber(t *testing.T) {
	bin := peerBin(t)
	cfg := iox2test.Config(t)
	node := iox2test.Node(t, cfg)
	svc, err := iox2.PublishSubscribe[msg](node, "cdata/hold").SubscriberMaxBufferSize(2).
		SubscriberMaxBorrowedSamples(2).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	sub, err := svc.Subscriber()
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	p := startPeer(t, bin, cfg, "cdata/hold", peerOpts{})
	p.do("open")
	p.do("pub")
	p.do("send 2 0")
	var held []*iox2.Sample[msg]
	for range 2 {
		s, err := sub.BlockingReceive(ctxT(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, s)
	}
	if got := p.do("send 100 100"); got[0] != "ok sent 100" {
		t.Fatalf("send while the subscriber holds its maximum: %q", got)
	}
	for _, s := range held {
		s.Release()
	}
	for _, want := range []uint64{198, 199} {
		s, err := sub.BlockingReceive(ctxT(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if s.Payload().Seq != want {
			t.Errorf("got %d, want %d", s.Payload().Seq, want)
		}
		s.Release()
	}
	p.do("quit")
}

// TestPubSubCloseRightAfterSend: a C publisher that closes right after its
// send removes its files; the Go subscriber still gets the sample (the
// close waits until the subscriber has mapped the connection).
func TestPubSubCloseRightAfterSend(t *testing.T) {
	bin := peerBin(t)
	cfg := iox2test.Config(t)
	node := iox2test.Node(t, cfg)
	svc, err := iox2.PublishSubscribe[msg](node, "cdata/close").Create()
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	sub, err := svc.Subscriber()
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	p := startPeer(t, bin, cfg, "cdata/close", peerOpts{})
	p.do("open")
	p.do("pub")
	p.do("send 1 77")
	p.do("close_pub")
	s, err := sub.BlockingReceive(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if s.Payload().Seq != 77 {
		t.Errorf("got %d", s.Payload().Seq)
	}
	s.Release()
	p.do("quit")
}
