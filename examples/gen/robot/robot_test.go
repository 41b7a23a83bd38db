package robot

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
	"github.com/iox2go/iox2go/runtime/iox2test"
)

// These tests use the generated API as a user would: robot.OpenOrCreateImu
// and the generated payload types, between goroutines and between processes.

func TestMain(m *testing.M) {
	if os.Getenv("ROBOT_TEST_SUBSCRIBER") != "" {
		if err := subscriberProcess(); err != nil {
			fmt.Fprintln(os.Stderr, "subscriber:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fill writes an Imu whose every field derives from seq.
func fill(m *Imu, seq uint64) error {
	m.StampNs = seq
	m.Mode = []Mode{ModeIdle, ModeActive, ModeFault}[seq%3]
	m.Calibrated = seq%2 == 0
	if err := m.Frame.Set("frame-" + strconv.FormatUint(seq%1000, 10)); err != nil {
		return err
	}
	m.Accel = Vec3{X: float64(seq), Y: 1, Z: -1}
	m.Gyro = Vec3{X: 0.5, Y: float64(seq) / 2, Z: 3}
	for i := range m.Raw {
		for j := range m.Raw[i] {
			m.Raw[i][j] = int16(seq) + int16(i*4+j)
		}
	}
	m.Status = uint8(seq)
	m.Temperature = 20 + float64(seq%10)
	m.Points.Clear()
	for k := uint64(0); k < seq%65; k++ {
		if err := m.Points.Push(Vec3{X: float64(seq), Y: float64(k), Z: 7}); err != nil {
			return err
		}
	}
	return nil
}

// check verifies an Imu written by fill.
func check(m *Imu) error {
	seq := m.StampNs
	var want Imu
	if err := fill(&want, seq); err != nil {
		return err
	}
	if m.Mode != want.Mode || m.Calibrated != want.Calibrated || m.Frame.String() != want.Frame.String() ||
		m.Accel != want.Accel || m.Gyro != want.Gyro || m.Raw != want.Raw || m.Status != want.Status ||
		m.Temperature != want.Temperature || m.Points.Len() != want.Points.Len() {
		return fmt.Errorf("sample %d: fields differ: %+v", seq, *m)
	}
	for k, p := range m.Points.Slice() {
		if p != *want.Points.At(k) {
			return fmt.Errorf("sample %d: point %d is %v", seq, k, p)
		}
	}
	return nil
}

func TestGeneratedPublishSubscribe(t *testing.T) {
	node := iox2test.Node(t, iox2test.Config(t))
	svc, err := OpenOrCreateImu(node)
	if err != nil {
		t.Fatal(err)
	}
	if q := svc.QoS(); q.HistorySize != 4 || q.SubscriberMaxBufferSize != 16 {
		t.Fatalf("QoS from the IDL not applied: %+v", q)
	}
	pub, err := svc.Publisher()
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(0); i < 6; i++ {
		s, err := pub.Loan()
		if err != nil {
			t.Fatal(err)
		}
		if err := fill(s.Payload(), i); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Send(); err != nil {
			t.Fatal(err)
		}
	}
	// A late subscriber gets the 4 samples of history, in order.
	sub, err := svc.Subscriber()
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for deadline := time.Now().Add(5 * time.Second); len(got) < 4 && time.Now().Before(deadline); {
		s, err := sub.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if s == nil {
			time.Sleep(time.Millisecond)
			continue
		}
		if err := check(s.Payload()); err != nil {
			t.Fatal(err)
		}
		got = append(got, s.Payload().StampNs)
		s.Release()
	}
	if fmt.Sprint(got) != "[2 3 4 5]" {
		t.Fatalf("late subscriber got %v, want [2 3 4 5]", got)
	}
	if m := (Imu{}); m.Frame.Set(string(make([]byte, 33))) == nil {
		t.Fatal("Set of a 33-byte string into string<32> did not fail")
	}
}

func TestGeneratedTypeIdentityIsChecked(t *testing.T) {
	node := iox2test.Node(t, iox2test.Config(t))
	if _, err := iox2.PublishSubscribe[Vec3](node, ImuServiceName).Create(); err != nil {
		t.Fatal(err)
	}
	_, err := OpenImu(node)
	if !errors.Is(err, iox2.ErrIncompatibleTypes) {
		t.Fatalf("OpenImu on a service of robot::Vec3 = %v, want ErrIncompatibleTypes", err)
	}
	t.Log(err)
}

type stats struct {
	Received, Lost uint64
	Error          string
}

// subscriberProcess receives n Imu samples, checking each field and the
// order, and prints its stats as JSON.
func subscriberProcess() error {
	n, _ := strconv.ParseUint(os.Getenv("ROBOT_TEST_N"), 10, 64)
	node, err := iox2.NewNodeBuilder().Config(iox2test.ConfigFromEnv()).Create()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := OpenImu(node)
	if err != nil {
		return err
	}
	sub, err := svc.Subscriber()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	var st stats
	for next, deadline := uint64(0), time.Now().Add(2*time.Minute); next < n; {
		s, err := sub.Receive()
		if err != nil {
			return err
		}
		if s == nil {
			if time.Now().After(deadline) {
				st.Error = "timed out"
				break
			}
			continue
		}
		m := s.Payload()
		if err := check(m); err != nil && st.Error == "" {
			st.Error = err.Error()
		}
		if m.StampNs < next && st.Error == "" {
			st.Error = fmt.Sprintf("sample %d after %d", m.StampNs, next-1)
		}
		st.Lost += m.StampNs - next
		st.Received++
		next = m.StampNs + 1
		s.Release()
	}
	return json.NewEncoder(os.Stdout).Encode(st)
}

// TestGeneratedAcrossProcesses sends 100,000 Imu samples (arrays, a nested
// struct, a string and a 64-element sequence) from this process to a
// subscriber process, which checks every field: none is lost, reordered or
// corrupted. The service is the generated one with safe overflow turned off
// by the publisher side's builder, so that no sample may be dropped.
func TestGeneratedAcrossProcesses(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	cfg := iox2test.Config(t)
	node := iox2test.Node(t, cfg)
	svc, err := ImuService(node).EnableSafeOverflow(false).Create()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := svc.Publisher()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), iox2test.HelperEnv(cfg)...), "ROBOT_TEST_SUBSCRIBER=1", "ROBOT_TEST_N="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	out := bufio.NewScanner(stdout)
	if !out.Scan() || out.Text() != "ready" {
		t.Fatalf("subscriber process did not start: %q", out.Text())
	}
	for i := 0; i < n; i++ {
		s, err := pub.LoanUninit()
		if err != nil {
			t.Fatal(err)
		}
		if err := fill(s.Payload(), uint64(i)); err != nil {
			t.Fatal(err)
		}
		if k, err := s.Send(); err != nil || k != 1 {
			t.Fatalf("send %d reached %d subscribers: %v", i, k, err)
		}
	}
	if !out.Scan() {
		t.Fatal("no stats from the subscriber process")
	}
	var st stats
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if st.Error != "" || st.Received != uint64(n) || st.Lost != 0 {
		t.Fatalf("subscriber saw %+v, want %d intact samples in order", st, n)
	}
}
