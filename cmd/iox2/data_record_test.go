package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/iox2go/iox2go/examples/gen/robot"
	iox2 "github.com/iox2go/iox2go/runtime"
)

// dataOtherDomain returns b with a domain of its own (another root and
// prefix): a fresh, empty domain for the same binary.
func (b *dataBin) otherDomain(t *testing.T) *dataBin {
	o := *b
	o.root = filepath.Join(t.TempDir(), "root")
	o.prefix = b.prefix + "x"
	o.domain = []string{"--root", o.root, "--prefix", o.prefix}
	t.Cleanup(func() {
		left, _ := filepath.Glob(filepath.Join("/dev/shm", o.prefix+"*"))
		if len(left) > 0 {
			t.Errorf("left in /dev/shm: %v", left)
		}
	})
	return &o
}

// Record 5 samples of a generated publisher process, check the file byte
// for byte, replay them into a fresh domain (the service does not exist
// there: replay creates it from the recorded static config) and check that
// a generated subscriber process receives identical payloads.
func TestDataRecordReplay(t *testing.T) {
	b := dataSetup(t)
	pub := b.startPeer(t, "imu-pub")
	pub.line(t, 10*time.Second)
	file := filepath.Join(t.TempDir(), "imu.rec")
	rec := b.startCLI(t, "record", robot.ImuServiceName, "--output", file, "--count", "5", "--duration", "30s")
	dataWaitPorts(t, b.config(), robot.ImuServiceName, iox2.PatternPublishSubscribe, 1, 1)
	pub.stdin.Write([]byte("5\n"))
	pub.line(t, 5*time.Second)
	if code := rec.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("record: exit code %d\n%s", code, rec.stderr())
	}
	if l := rec.line(t, time.Second); !strings.HasPrefix(l, `recorded 5 samples of "robot/imu" (8440 payload bytes)`) {
		t.Errorf("record summary %q", l)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 6 {
		t.Fatalf("recording has %d lines, want 6:\n%s", len(lines), data)
	}
	var hdr recordHeader
	if err := json.Unmarshal([]byte(lines[0]), &hdr); err != nil {
		t.Fatal(err)
	}
	if hdr.Format != recordFormat || hdr.Service != robot.ImuServiceName || hdr.Static.PublishSubscribe.Payload.LayoutHash != robot.ImuTypeInfo.LayoutHash || hdr.StartUnixNs <= 0 {
		t.Errorf("header %s", lines[0])
	}
	for i, l := range lines[1:] {
		var rs recordSample
		if err := json.Unmarshal([]byte(l), &rs); err != nil {
			t.Fatal(err)
		}
		var want robot.Imu
		dataFillImu(&want, uint64(i))
		wb := unsafe.Slice((*byte)(unsafe.Pointer(&want)), unsafe.Sizeof(want))
		if rs.Seq != uint64(i) || rs.Len != 1 || !bytes.Equal(rs.Payload, wb) || rs.Header != nil {
			t.Errorf("sample %d: seq %d len %d, payload equal %v, header %v", i, rs.Seq, rs.Len, bytes.Equal(rs.Payload, wb), rs.Header)
		}
		if strings.Contains(l, `"header"`) {
			t.Errorf("sample %d has a header field: %s", i, l)
		}
	}

	// Replay into a fresh domain, where robot/imu does not exist.
	o := b.otherDomain(t)
	rep := o.startCLI(t, "replay", "--input", file, "--time-factor", "0", "--wait-for-subscribers", "20s", "--json")
	dataWaitPorts(t, o.config(), robot.ImuServiceName, iox2.PatternPublishSubscribe, 1, 0)
	sub := o.startPeer(t, "imu-sub") // opens the service replay created, with the generated code
	sub.line(t, 10*time.Second)
	if code := rep.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("replay: exit code %d\n%s", code, rep.stderr())
	}
	var sum replaySummary
	if err := json.Unmarshal([]byte(rep.line(t, time.Second)), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Service != robot.ImuServiceName || !sum.Created || sum.Sent != 5 || sum.Repetitions != 1 || sum.Samples != 5 {
		t.Errorf("replay summary %+v", sum)
	}
	for i := range 5 {
		var want robot.Imu
		dataFillImu(&want, uint64(i))
		wj, _ := json.Marshal(dataImuJSON(&want))
		if l := sub.line(t, 5*time.Second); l != string(wj) {
			t.Fatalf("subscriber got\n%s\nwant\n%s", l, wj)
		}
	}

	// Replaying into an existing service of another type fails, naming
	// both types; so does a malformed recording, naming the line.
	pts := o.startPeer(t, "points-pub")
	pts.line(t, 10*time.Second)
	o.run(t, "", "replay", "--input", file, robot.PointsServiceName).expect(t, 1,
		"incompatible types: recorded payload robot::Imu (size 1688, align 8, layout "+robot.ImuTypeInfo.LayoutHash+"), service has robot::Vec3")
	bad := filepath.Join(t.TempDir(), "bad.rec")
	for _, c := range []struct{ content, err string }{
		{lines[0] + "\n" + lines[1] + "\n{\"t_ns\": 99999999999, \"seq\": 1, \"len\": 1, \"payload\": \"AAAA\"}\n", "bad.rec:3: bad sample: 3 payload bytes, want len 1 x 1688 bytes of robot::Imu"},
		{lines[0] + "\nnot json\n", "bad.rec:2: bad sample: invalid character"},
		{`{"format":"other/1"}` + "\n", `bad.rec:1: format "other/1", want "iox2go-record/1"`},
		{lines[0] + "\n" + strings.Replace(lines[1], `"len":1`, `"len":1,"extra":2`, 1) + "\n", `bad.rec:2: bad sample: json: unknown field "extra"`},
		{"", "bad.rec: empty file"},
	} {
		if err := os.WriteFile(bad, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		o.run(t, "", "replay", "--input", bad).expect(t, 1, c.err)
	}
}

// Record and replay a slice service with a user header: the lengths and
// headers survive.
func TestDataRecordReplaySliceHeader(t *testing.T) {
	b := dataSetup(t)
	pub := b.startPeer(t, "points-pub")
	pub.line(t, 10*time.Second)
	file := filepath.Join(t.TempDir(), "points.rec")
	rec := b.startCLI(t, "record", robot.PointsServiceName, "--output", file, "--count", "3")
	dataWaitPorts(t, b.config(), robot.PointsServiceName, iox2.PatternPublishSubscribe, 1, 1)
	for _, n := range []int{0, 3, 1} {
		fmt.Fprintf(pub.stdin, "%d\n", n)
		pub.line(t, 5*time.Second)
	}
	if code := rec.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("record: exit code %d\n%s", code, rec.stderr())
	}
	// Replay into the same domain, where the service exists, to a
	// generated subscriber.
	sub := b.startPeer(t, "points-sub")
	sub.line(t, 10*time.Second)
	dataWaitPorts(t, b.config(), robot.PointsServiceName, iox2.PatternPublishSubscribe, 1, 1)
	r := b.run(t, "", "replay", "--input", file, "--time-factor", "10")
	r.expect(t, 0)
	if !strings.HasPrefix(r.stdout, "replayed 3 samples of "+file+` (1 x 3) to "robot/points" (opened)`) {
		t.Errorf("replay printed %q", r.stdout)
	}
	for _, n := range []int{0, 3, 1} {
		var d dataPoints
		if err := json.Unmarshal([]byte(sub.line(t, 5*time.Second)), &d); err != nil {
			t.Fatal(err)
		}
		if d.Header != (dataStamp{1000 + uint64(n), uint32(n), 9}) || len(d.Points) != n {
			t.Fatalf("sample of %d points: got %+v", n, d)
		}
		for i, p := range d.Points {
			if p != (dataVec3{X: float64(i), Y: -float64(i), Z: 0.5}) {
				t.Fatalf("sample of %d points: point %d is %v", n, i, p)
			}
		}
	}
}

// record on a service that does not exist, and with nothing before the
// duration.
func TestDataRecordErrors(t *testing.T) {
	b := dataSetup(t)
	file := filepath.Join(t.TempDir(), "x.rec")
	b.run(t, "", "record", "no/such", "--output", file).expect(t, 3, `no publish-subscribe service "no/such"`)
	b.run(t, "", "record", "no/such").expect(t, 2, "--output FILE is required")
	pub := b.startPeer(t, "imu-pub")
	pub.line(t, 10*time.Second)
	r := b.run(t, "", "record", robot.ImuServiceName, "--output", file, "--duration", "200ms")
	r.expect(t, 4, "no sample within 200ms")
	if data, _ := os.ReadFile(file); bytes.Count(data, []byte("\n")) != 1 {
		t.Errorf("recording of nothing: %q", data)
	}
}
