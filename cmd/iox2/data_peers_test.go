package main

// The peer processes of the data command tests: programs written with the
// generated code of examples/gen/robot, as a user would write them, that
// run as separate processes (see dataPeerHook).

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iox2go/iox2go/examples/gen/robot"
	iox2 "github.com/iox2go/iox2go/runtime"
)

// dataPeers are the peer programs, by name. Each returns when its work is
// done or its stdin closes, having closed its node.
var dataPeers = map[string]func() error{
	"alarm-listen": peerAlarmListen,
	"alarm-notify": peerAlarmNotify,
	"imu-pub":      peerImuPub,
	"imu-stream":   peerImuStream,
	"imu-sub":      peerImuSub,
	"points-pub":   peerPointsPub,
	"points-sub":   peerPointsSub,
}

// peerNode creates a peer's node in the domain the test passed down.
func peerNode() (*iox2.Node, error) {
	cfg := iox2.DefaultConfig()
	cfg.Root, cfg.Prefix = os.Getenv(dataRootEnv), os.Getenv(dataPrefixEnv)
	return iox2.NewNodeBuilder().Name("data-peer").Config(cfg).Create()
}

// peerStdin returns the lines of stdin and a context that ends when stdin
// closes (the test is done with the peer).
func peerStdin() (<-chan string, context.Context) {
	ctx, cancel := context.WithCancel(context.Background())
	lines := make(chan string)
	go func() {
		defer cancel()
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	return lines, ctx
}

// peerAlarmListen creates robot/alarm and a listener with the generated
// code, prints "ready", then one line "event <id> <count>" per activation
// until its stdin closes.
func peerAlarmListen() error {
	node, err := peerNode()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := robot.OpenOrCreateAlarm(node)
	if err != nil {
		return err
	}
	l, err := robot.AlarmListener(svc).Create()
	if err != nil {
		return err
	}
	_, ctx := peerStdin()
	fmt.Println("ready")
	for {
		_, err := l.BlockingWait(ctx, func(a iox2.EventActivation) {
			fmt.Printf("event %d %d\n", a.ID, a.Count)
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// peerAlarmNotify creates robot/alarm and a notifier with the generated
// code, prints "ready", then notifies the event id of every line of its
// stdin and answers each with "sent <id> <listeners>".
func peerAlarmNotify() error {
	node, err := peerNode()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := robot.OpenOrCreateAlarm(node)
	if err != nil {
		return err
	}
	n, err := robot.AlarmNotifier(svc).Create()
	if err != nil {
		return err
	}
	lines, ctx := peerStdin()
	fmt.Println("ready")
	for {
		select {
		case <-ctx.Done():
			return nil
		case l := <-lines:
			id, err := strconv.ParseUint(strings.TrimSpace(l), 10, 64)
			if err != nil {
				return err
			}
			k, err := n.NotifyWithCustomEventID(iox2.EventID(id))
			if err != nil {
				return err
			}
			fmt.Printf("sent %d %d\n", id, k)
		}
	}
}

// dataWaitPorts waits until service name of pattern has at least pubs
// publishers (notifiers) and subs subscribers (listeners) in cfg's domain.
func dataWaitPorts(t *testing.T, cfg *iox2.Config, name string, pattern iox2.Pattern, pubs, subs int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		svcs, err := iox2.ListServices(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range svcs {
			if s.Static.Name == name && s.Static.Pattern == pattern.String() &&
				len(s.Publishers) >= pubs && len(s.Subscribers) >= subs {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("service %q (%v) did not get %d publishers and %d subscribers within 10 s", name, pattern, pubs, subs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dataFillImu writes an Imu whose every field derives from seq.
func dataFillImu(m *robot.Imu, seq uint64) {
	m.StampNs = 1_700_000_000_000_000_000 + seq
	m.Mode = []robot.Mode{robot.ModeIdle, robot.ModeActive, robot.ModeFault}[seq%3]
	m.Calibrated = seq%2 == 0
	m.Frame.Set("frame-" + strconv.FormatUint(seq, 10))
	m.Accel = robot.Vec3{X: float64(seq), Y: 1.5, Z: -1}
	m.Gyro = robot.Vec3{X: 0.25, Y: float64(seq) / 2, Z: 3}
	for i := range m.Raw {
		for j := range m.Raw[i] {
			m.Raw[i][j] = int16(seq) - int16(i*4+j)
		}
	}
	m.Status = uint8(200 + seq)
	m.Temperature = 20.125 + float64(seq%10)
	m.Points.Clear()
	for k := uint64(0); k < seq%5; k++ {
		m.Points.Push(robot.Vec3{X: float64(seq), Y: float64(k), Z: 7})
	}
}

// dataImu is the JSON form of a robot.Imu in the tests: typecodec's (field
// names of the IDL, enums by name, strings and sequences as such), written
// by hand from the generated struct.
type dataImu struct {
	StampNs     uint64      `json:"stamp_ns"`
	Mode        string      `json:"mode"`
	Calibrated  bool        `json:"calibrated"`
	Frame       string      `json:"frame"`
	Accel       dataVec3    `json:"accel"`
	Gyro        dataVec3    `json:"gyro"`
	Raw         [2][4]int16 `json:"raw"`
	Status      uint8       `json:"status"`
	Temperature float64     `json:"temperature"`
	Points      []dataVec3  `json:"points"`
}

// dataVec3 is the JSON form of a robot.Vec3.
type dataVec3 struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	Z float64 `json:"z"`
}

func dataVecs(vs []robot.Vec3) []dataVec3 {
	out := []dataVec3{}
	for _, v := range vs {
		out = append(out, dataVec3(v))
	}
	return out
}

func dataImuJSON(m *robot.Imu) dataImu {
	return dataImu{StampNs: m.StampNs, Mode: m.Mode.String(), Calibrated: m.Calibrated, Frame: m.Frame.String(),
		Accel: dataVec3(m.Accel), Gyro: dataVec3(m.Gyro), Raw: m.Raw, Status: m.Status, Temperature: m.Temperature,
		Points: dataVecs(m.Points.Slice())}
}

// peerImuPublisher creates the peer's node and a generated publisher of
// robot/imu; the caller closes the node.
func peerImuPublisher() (*iox2.Node, *iox2.Publisher[robot.Imu], error) {
	node, err := peerNode()
	if err != nil {
		return nil, nil, err
	}
	svc, err := robot.OpenOrCreateImu(node)
	if err == nil {
		var pub *iox2.Publisher[robot.Imu]
		if pub, err = robot.ImuPublisher(svc).Create(); err == nil {
			return node, pub, nil
		}
	}
	node.Close()
	return nil, nil, err
}

// peerImuPub creates robot/imu and a publisher with the generated code,
// prints "ready", then for every line "N" of its stdin publishes the next
// N samples of dataFillImu (sequence 0, 1, ...) and answers "sent N".
func peerImuPub() error {
	node, pub, err := peerImuPublisher()
	if err != nil {
		return err
	}
	defer node.Close()
	lines, ctx := peerStdin()
	fmt.Println("ready")
	var seq uint64
	for {
		select {
		case <-ctx.Done():
			return nil
		case l := <-lines:
			n, err := strconv.Atoi(strings.TrimSpace(l))
			if err != nil {
				return err
			}
			for range n {
				s, err := pub.Loan()
				if err != nil {
					return err
				}
				dataFillImu(s.Payload(), seq)
				seq++
				if _, err := s.Send(); err != nil {
					return err
				}
			}
			fmt.Printf("sent %d\n", n)
		}
	}
}

// peerImuStream publishes an Imu every $IOX2_DATA_PERIOD, stamped with
// the time of sending (stamp_ns, ns since the Unix epoch), until its
// stdin closes.
func peerImuStream() error {
	period, err := time.ParseDuration(os.Getenv("IOX2_DATA_PERIOD"))
	if err != nil {
		return err
	}
	node, pub, err := peerImuPublisher()
	if err != nil {
		return err
	}
	defer node.Close()
	_, ctx := peerStdin()
	fmt.Println("ready")
	tick := time.NewTicker(period)
	defer tick.Stop()
	for seq := uint64(0); ; seq++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		s, err := pub.Loan()
		if err != nil {
			return err
		}
		dataFillImu(s.Payload(), seq)
		s.Payload().StampNs = uint64(time.Now().UnixNano())
		if _, err := s.Send(); err != nil {
			return err
		}
	}
}

// peerImuSub opens (or creates) robot/imu with the generated code, prints
// "ready", then every sample it receives as one line of dataImu JSON,
// until its stdin closes.
func peerImuSub() error {
	node, err := peerNode()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := robot.OpenOrCreateImu(node)
	if err != nil {
		return err
	}
	sub, err := robot.ImuSubscriber(svc).Create()
	if err != nil {
		return err
	}
	return peerPrintSamples(sub, func(s *iox2.Sample[robot.Imu]) any { return dataImuJSON(s.Payload()) })
}

// peerPrintSamples prints "ready", then every sample that sub receives as
// one line of the JSON that line makes of it, until stdin closes.
func peerPrintSamples[T any](sub *iox2.Subscriber[T], line func(*iox2.Sample[T]) any) error {
	_, ctx := peerStdin()
	fmt.Println("ready")
	for ctx.Err() == nil {
		s, err := sub.Receive()
		if err != nil {
			return err
		}
		if s == nil {
			time.Sleep(time.Millisecond)
			continue
		}
		v := line(s)
		s.Release()
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		fmt.Println(string(b))
	}
	return nil
}

// peerPointsPub creates robot/points (a slice of Vec3 with a Stamp user
// header) and publishes, for every line "N" of its stdin, one sample of N
// points {i, -i, 0.5} with the header {stamp_ns: 1000+N, seq: N,
// sensor_id: 9}, answering "sent N".
func peerPointsPub() error {
	node, err := peerNode()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := robot.OpenOrCreatePoints(node)
	if err != nil {
		return err
	}
	pub, err := robot.PointsPublisher(svc).Create()
	if err != nil {
		return err
	}
	lines, ctx := peerStdin()
	fmt.Println("ready")
	for {
		select {
		case <-ctx.Done():
			return nil
		case l := <-lines:
			n, err := strconv.Atoi(strings.TrimSpace(l))
			if err != nil {
				return err
			}
			s, err := pub.LoanSlice(n)
			if err != nil {
				return err
			}
			for i := range s.PayloadSlice() {
				s.PayloadSlice()[i] = robot.Vec3{X: float64(i), Y: -float64(i), Z: 0.5}
			}
			*iox2.UserHeader[robot.Stamp](s) = robot.Stamp{StampNs: 1000 + uint64(n), Seq: uint32(n), SensorId: 9}
			if _, err := s.Send(); err != nil {
				return err
			}
			fmt.Printf("sent %d\n", n)
		}
	}
}

// dataPoints is how the tests print a robot/points sample.
type dataPoints struct {
	Header dataStamp  `json:"header"`
	Points []dataVec3 `json:"points"`
}

// dataStamp is the JSON form of a robot.Stamp.
type dataStamp struct {
	StampNs  uint64 `json:"stamp_ns"`
	Seq      uint32 `json:"seq"`
	SensorID uint32 `json:"sensor_id"`
}

// peerPointsSub opens (or creates) robot/points, prints "ready", then
// every sample as one line of dataPoints JSON until its stdin closes.
func peerPointsSub() error {
	node, err := peerNode()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := robot.OpenOrCreatePoints(node)
	if err != nil {
		return err
	}
	sub, err := robot.PointsSubscriber(svc).Create()
	if err != nil {
		return err
	}
	return peerPrintSamples(sub, func(s *iox2.Sample[robot.Vec3]) any {
		h := iox2.UserHeader[robot.Stamp](s)
		return dataPoints{Header: dataStamp{h.StampNs, h.Seq, h.SensorId}, Points: dataVecs(s.PayloadSlice())}
	})
}
