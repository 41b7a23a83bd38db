package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iox2go/iox2go/examples/gen/robot"
	iox2 "github.com/iox2go/iox2go/runtime"
)

// subscribeLine is a line of iox2 subscribe, with a robot::Imu payload.
type subscribeLine struct {
	Seq       uint64          `json:"seq"`
	Publisher string          `json:"publisher"`
	Payload   json.RawMessage `json:"payload"`
	Header    json.RawMessage `json:"header"`
}

// A generated publisher process -> iox2 subscribe prints the exact field
// values (enum, bool, string, nested structs, 2-D array, sequence).
func TestDataSubscribeFromGeneratedPublisher(t *testing.T) {
	b := dataSetup(t)
	pub := b.startPeer(t, "imu-pub")
	pub.line(t, 10*time.Second)
	for _, json := range []bool{true, false} {
		args := []string{"subscribe", robot.ImuServiceName, "--count", "3", "--timeout", "20s", "--history", "0"}
		if json {
			args = append(args, "--json")
		}
		cli := b.startCLI(t, args...)
		dataWaitPorts(t, b.config(), robot.ImuServiceName, iox2.PatternPublishSubscribe, 1, 1)
		pub.stdin.Write([]byte("3\n"))
		pub.line(t, 5*time.Second)
		for i := range 3 {
			seq := uint64(i)
			if !json {
				seq += 3
			}
			checkImuLine(t, cli.line(t, 5*time.Second), seq)
		}
		if code := cli.wait(t, 10*time.Second); code != 0 {
			t.Fatalf("subscribe: exit code %d\n%s", code, cli.stderr())
		}
		dataWaitPorts(t, b.config(), robot.ImuServiceName, iox2.PatternPublishSubscribe, 1, 0)
	}
	// A late subscriber gets the history (the service keeps 4).
	r := b.run(t, "", "subscribe", robot.ImuServiceName, "--count", "2", "--timeout", "10s")
	r.expect(t, 0)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines of history: %v", r)
	}
	checkImuLine(t, lines[0], 2)
	checkImuLine(t, lines[1], 3)
}

var publisherID = regexp.MustCompile(`^[0-9a-f]{16}$`)

// checkImuLine checks a line of iox2 subscribe against dataFillImu(seq).
func checkImuLine(t *testing.T, line string, seq uint64) {
	t.Helper()
	var sl subscribeLine
	if err := json.Unmarshal([]byte(line), &sl); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	if sl.Seq != seq || !publisherID.MatchString(sl.Publisher) || sl.Header != nil {
		t.Fatalf("line %s: want seq %d, a publisher id, no header", line, seq)
	}
	var got dataImu
	if err := json.Unmarshal(sl.Payload, &got); err != nil {
		t.Fatal(err)
	}
	var want robot.Imu
	dataFillImu(&want, seq)
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(dataImuJSON(&want))
	if string(gj) != string(wj) {
		t.Fatalf("payload of seq %d:\n%s\nwant\n%s", seq, gj, wj)
	}
	// The exact spelling of a few kinds.
	for _, frag := range []string{`"mode":"` + want.Mode.String() + `"`, `"frame":"frame-`, `"accel":{"x":`, `"raw":[[`} {
		if !strings.Contains(line, frag) {
			t.Errorf("line lacks %s: %s", frag, line)
		}
	}
}

// iox2 publish (arguments and stdin) -> a generated subscriber process
// receives the exact values; bad messages are rejected before anything is
// sent.
func TestDataPublishToGeneratedSubscriber(t *testing.T) {
	b := dataSetup(t)
	sub := b.startPeer(t, "imu-sub") // creates robot/imu
	sub.line(t, 10*time.Second)
	var want [3]robot.Imu
	var msgs []string
	for i := range want {
		dataFillImu(&want[i], uint64(10+i))
		js, _ := json.Marshal(dataImuJSON(&want[i]))
		msgs = append(msgs, string(js))
	}
	// Two as arguments, one on stdin.
	r := b.run(t, "", append([]string{"publish", robot.ImuServiceName}, msgs[:2]...)...)
	r.expect(t, 0)
	if want := "published sample 1 to \"robot/imu\": 1 subscriber\npublished sample 2 to \"robot/imu\": 1 subscriber\n"; r.stdout != want {
		t.Errorf("publish printed %q, want %q", r.stdout, want)
	}
	b.run(t, "\n"+msgs[2]+"\n\n", "--json", "publish", robot.ImuServiceName).expect(t, 0)
	for i := range want {
		got := sub.line(t, 5*time.Second)
		wj, _ := json.Marshal(dataImuJSON(&want[i]))
		if got != string(wj) {
			t.Fatalf("subscriber got\n%s\nwant\n%s", got, wj)
		}
	}
	// A message with fields left out: they are zero.
	b.run(t, "", "publish", robot.ImuServiceName, `{"mode":"FAULT","frame":"f"}`).expect(t, 0)
	var zero robot.Imu
	zero.Mode = robot.ModeFault
	zero.Frame.Set("f")
	zj, _ := json.Marshal(dataImuJSON(&zero))
	if got := sub.line(t, 5*time.Second); got != string(zj) {
		t.Fatalf("subscriber got\n%s\nwant\n%s", got, zj)
	}

	// Bad messages: exit 1, the message and the field named, nothing sent.
	for _, c := range []struct {
		msgs []string
		err  string
	}{
		{[]string{msgs[0], `{"stamp_ns":1,"nope":2}`}, `message 2: field "nope"`},
		{[]string{`{"status":300}`}, `message 1: field "status"`},
		{[]string{`{"points":[{"x":"one"}]}`}, `message 1: field "points[0].x"`},
		{[]string{`{"mode":"SLEEPY"}`}, `message 1: field "mode"`},
		{[]string{`{"frame":"` + strings.Repeat("x", 33) + `"}`}, `message 1: field "frame"`},
		{[]string{`[1]`}, `message 1`},
		{[]string{`{"stamp_ns":1} x`}, `message 1`},
	} {
		b.run(t, "", append([]string{"publish", robot.ImuServiceName}, c.msgs...)...).expect(t, 1, c.err)
	}
	b.run(t, msgs[0]+"\n{\"calibrated\":3}\n", "publish", robot.ImuServiceName).expect(t, 1, `stdin line 2: field "calibrated"`)
	// Of the stdin run, line 1 went out; nothing of the argument runs.
	if got := sub.line(t, 5*time.Second); got != msgs[0] {
		t.Fatalf("subscriber got %s, want the first stdin line", got)
	}
	select {
	case l := <-sub.lines:
		t.Fatalf("a rejected message reached the subscriber: %s", l)
	case <-time.After(300 * time.Millisecond):
	}
}

// publish and subscribe of a slice service with a user header, both the
// CLI; a line of subscribe published again is the same sample.
func TestDataPublishSubscribeSliceHeader(t *testing.T) {
	b := dataSetup(t)
	peer := b.startPeer(t, "points-sub") // creates robot/points, checks with generated code
	peer.line(t, 10*time.Second)
	cli := b.startCLI(t, "subscribe", robot.PointsServiceName, "--count", "2", "--timeout", "20s")
	dataWaitPorts(t, b.config(), robot.PointsServiceName, iox2.PatternPublishSubscribe, 0, 2)
	msg := `{"payload":[{"x":1,"y":2,"z":3},{"x":-1.5,"y":0,"z":1e+300}],"header":{"stamp_ns":77,"seq":5,"sensor_id":2}}`
	b.run(t, "", "publish", robot.PointsServiceName, msg, "[]", "--header", `{"sensor_id":4}`).expect(t, 0)
	want := []string{
		`"payload":[{"x":1,"y":2,"z":3},{"x":-1.5,"y":0,"z":1e+300}],"header":{"stamp_ns":77,"seq":5,"sensor_id":2}}`,
		`"payload":[],"header":{"stamp_ns":0,"seq":0,"sensor_id":4}}`,
	}
	var first string
	for i, w := range want {
		l := cli.line(t, 5*time.Second)
		if !strings.HasSuffix(l, w) || !strings.HasPrefix(l, `{"seq":`+string(rune('0'+i))+`,"publisher":"`) {
			t.Fatalf("subscribe printed\n%s\nwant it to end with\n%s", l, w)
		}
		if i == 0 {
			first = l
		}
	}
	cli.wait(t, 10*time.Second)
	for i, w := range []string{
		`{"header":{"stamp_ns":77,"seq":5,"sensor_id":2},"points":[{"x":1,"y":2,"z":3},{"x":-1.5,"y":0,"z":1e+300}]}`,
		`{"header":{"stamp_ns":0,"seq":0,"sensor_id":4},"points":[]}`,
	} {
		if l := peer.line(t, 5*time.Second); l != w {
			t.Fatalf("generated subscriber, sample %d:\n%s\nwant\n%s", i, l, w)
		}
	}
	// subscribe's line back into publish: the same payload and header.
	b.run(t, first+"\n", "publish", robot.PointsServiceName).expect(t, 0)
	if l := peer.line(t, 5*time.Second); !strings.HasPrefix(l, `{"header":{"stamp_ns":77,"seq":5,"sensor_id":2},"points":[{"x":1`) {
		t.Fatalf("republished line: %s", l)
	}
	// A slice service wants an array.
	b.run(t, "", "publish", robot.PointsServiceName, `{"x":1}`).expect(t, 1, "message 1: a slice service wants a JSON array")
}

// Errors of subscribe, publish and hz.
func TestDataPubSubErrors(t *testing.T) {
	b := dataSetup(t)
	for _, cmd := range []string{"subscribe", "publish", "hz"} {
		b.run(t, "", cmd, "no/such").expect(t, 3, `no publish-subscribe service "no/such"`)
	}
	// An event service of that name is not a publish-subscribe service.
	peer := b.startPeer(t, "alarm-notify")
	peer.line(t, 10*time.Second)
	b.run(t, "", "subscribe", robot.AlarmServiceName).expect(t, 3, `no publish-subscribe service "robot/alarm"`)

	pub := b.startPeer(t, "imu-pub")
	pub.line(t, 10*time.Second)
	b.run(t, "", "subscribe", robot.ImuServiceName, "--timeout", "200ms").expect(t, 4, "no sample within 200ms")
	b.run(t, "", "--json", "subscribe", robot.ImuServiceName, "--timeout", "200ms").expect(t, 4, `"exit_code":4`)
	b.run(t, "", "hz", robot.ImuServiceName, "--duration", "200ms").expect(t, 4, "no sample within 200ms")
	b.run(t, "", "publish", robot.ImuServiceName, "{}", "--header", "{}").expect(t, 2, "has no user header")
}

// iox2 hz reports a rate near the publisher's (50/s) and the latency from
// stamp_ns. The bounds leave room for a loaded machine's scheduling.
func TestDataHz(t *testing.T) {
	b := dataSetup(t)
	pub := b.startPeer(t, "imu-stream", "IOX2_DATA_PERIOD=20ms")
	pub.line(t, 10*time.Second)
	r := b.run(t, "", "hz", robot.ImuServiceName, "--duration", "2500ms", "--json")
	r.expect(t, 0)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 2 reports and a final one: %v", r)
	}
	var rep hzReport
	if err := json.Unmarshal([]byte(lines[2]), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Final || rep.RateHz < 30 || rep.RateHz > 70 || rep.Total < 80 || rep.Lost != 0 || rep.StampFrom != "stamp_ns" {
		t.Errorf("final report %s", lines[2])
	}
	if rep.Interval == nil || rep.Interval.Mean < int64(14*time.Millisecond) || rep.Interval.Mean > int64(33*time.Millisecond) {
		t.Errorf("interval %+v, want a mean near 20ms", rep.Interval)
	}
	if rep.Latency == nil || rep.Latency.Min < 0 || rep.Latency.Mean > int64(50*time.Millisecond) {
		t.Errorf("latency %+v", rep.Latency)
	}
	// Text output.
	r = b.run(t, "", "hz", robot.ImuServiceName, "--duration", "1200ms", "--window", "10")
	r.expect(t, 0)
	if !regexp.MustCompile(`(?m)^rate \d+\.\d/s  interval min \S+ mean \S+ max \S+  latency min \S+ mean \S+ max \S+  \(window 10, total \d+, lost 0, final\)$`).MatchString(r.stdout) {
		t.Errorf("hz printed:\n%s", r.stdout)
	}
}

// Ctrl-C ends subscribe, publish (waiting for stdin), hz, record and
// replay cleanly: exit code 0, the recording flushed, the CLI's nodes gone.
// (The CLI catches the signals with signal.NotifyContext; its node does not
// handle them.)
func TestDataInterrupt(t *testing.T) {
	b := dataSetup(t)
	pub := b.startPeer(t, "imu-pub")
	pub.line(t, 10*time.Second)
	file := filepath.Join(t.TempDir(), "x.rec")
	procs := map[string]*dataProc{
		"subscribe": b.startCLI(t, "subscribe", robot.ImuServiceName),
		"hz":        b.startCLI(t, "hz", robot.ImuServiceName),
		"record":    b.startCLI(t, "record", robot.ImuServiceName, "--output", file),
	}
	dataWaitPorts(t, b.config(), robot.ImuServiceName, iox2.PatternPublishSubscribe, 1, 3)
	procs["publish"] = b.startCLI(t, "publish", robot.ImuServiceName) // reads stdin, which stays open
	pub.stdin.Write([]byte("2\n"))
	pub.line(t, 5*time.Second)
	procs["subscribe"].line(t, 5*time.Second)
	dataWaitPorts(t, b.config(), robot.ImuServiceName, iox2.PatternPublishSubscribe, 2, 3)
	for name, p := range procs {
		p.cmd.Process.Signal(syscall.SIGINT)
		if code := p.wait(t, 10*time.Second); code != 0 {
			t.Errorf("%s after SIGINT: exit code %d\n%s", name, code, p.stderr())
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n != 3 {
		t.Errorf("recording has %d lines, want a header and 2 samples:\n%s", n, data)
	}
	// replay, playing that recording until Ctrl-C.
	rep := b.startCLI(t, "replay", "--input", file, "--repetitions", "0")
	dataWaitPorts(t, b.config(), robot.ImuServiceName, iox2.PatternPublishSubscribe, 2, 0)
	rep.cmd.Process.Signal(syscall.SIGINT)
	if code := rep.wait(t, 10*time.Second); code != 0 {
		t.Errorf("replay after SIGINT: exit code %d\n%s", code, rep.stderr())
	}
	nodes, err := iox2.ListNodes(b.config())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Details != nil && n.Details.Name == dataNodeName {
			t.Errorf("a CLI node is still there after SIGINT: %+v", n)
		}
	}
}

// An idle iox2 subscribe blocks in its subscriber instead of polling: over
// ~3 s on a service whose publisher sends nothing, the process uses almost
// no CPU. The bound (50 ms in 3 s) is generous: it is CPU time, not wall
// time, so a busy machine hardly changes it, and /proc counts it in 10 ms
// ticks; the figure to reach (issue 12) is < 5 ms per 10 s, measured in a
// benchmark, not in a timed test. Blocked, the command reads 0 ms here; the
// polling loop this replaced (a wake-up every 0.5 ms, 6,000 in 3 s) read
// 90 ms on the development machine, so the test fails with it.
func TestDataSubscribeIdleCPU(t *testing.T) {
	b := dataSetup(t)
	pub := b.startPeer(t, "imu-pub")
	pub.line(t, 10*time.Second)
	cli := b.startCLI(t, "subscribe", robot.ImuServiceName, "--history", "0")
	dataWaitPorts(t, b.config(), robot.ImuServiceName, iox2.PatternPublishSubscribe, 1, 1)
	pid := cli.cmd.Process.Pid
	time.Sleep(200 * time.Millisecond) // past the start-up's work (maps, discovery)
	// IOX2GO_IDLE_SECONDS=10 measures the 10 s (docs/BENCHMARKS.md).
	period := 3 * time.Second
	if s, err := strconv.Atoi(os.Getenv("IOX2GO_IDLE_SECONDS")); err == nil && s > 0 {
		period = time.Duration(s) * time.Second
	}
	before, start := procCPU(t, pid), time.Now()
	time.Sleep(period)
	used, idle := procCPU(t, pid)-before, time.Since(start)
	t.Logf("idle iox2 subscribe: %v CPU (utime+stime) in %v", used, idle.Round(time.Millisecond))
	if limit := 50 * time.Millisecond * time.Duration(max(1, period/(3*time.Second))); used >= limit {
		t.Errorf("idle iox2 subscribe used %v CPU in %v, want < %v", used, idle, limit)
	}
	// Still alive and receiving: a sample now is printed at once.
	pub.stdin.Write([]byte("1\n"))
	pub.line(t, 5*time.Second)
	checkImuLine(t, cli.line(t, 5*time.Second), 0)
	cli.cmd.Process.Signal(syscall.SIGINT)
	if code := cli.wait(t, 10*time.Second); code != 0 {
		t.Errorf("subscribe after SIGINT: exit code %d\n%s", code, cli.stderr())
	}
}

// procCPU returns the CPU time (user + system) that process pid has used,
// from /proc/<pid>/stat (fields 14 and 15, in clock ticks of 1/100 s:
// USER_HZ is 100 on Linux).
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// the fields after it start after the last ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	if len(f) < 13 {
		t.Fatalf("/proc/%d/stat: too few fields: %q", pid, s)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	return time.Duration(ut+st) * 10 * time.Millisecond
}
