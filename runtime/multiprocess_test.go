package runtime

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// The test binary re-executes itself as the peer process of the
// multi-process tests: with IOX2_TEST_HELPER set, TestMain runs that helper
// instead of the tests.
func TestMain(m *testing.M) {
	if name := os.Getenv("IOX2_TEST_HELPER"); name != "" {
		h, ok := helpers[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown helper %q\n", name)
			os.Exit(2)
		}
		if err := h(); err != nil {
			fmt.Fprintf(os.Stderr, "helper %s: %v\n", name, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var helpers = map[string]func() error{
	"mp-subscriber": helperSubscriber,
}

// helperConfig rebuilds the parent's configuration from the environment.
func helperConfig() *Config {
	cfg := DefaultConfig()
	cfg.Root = os.Getenv("IOX2_TEST_ROOT")
	cfg.Prefix = os.Getenv("IOX2_TEST_PREFIX")
	return cfg
}

// startHelper starts the test binary as helper name, with cfg's domain and
// the extra environment, and returns the command and its stdout lines.
func startHelper(t testing.TB, cfg *Config, name string, env ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	return startHelperWith(t, cfg, name, nil, env...)
}

func startHelperWith(t testing.TB, cfg *Config, name string, stdin *os.File, env ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.Env = append(os.Environ(), "IOX2_TEST_HELPER="+name, "IOX2_TEST_ROOT="+cfg.Root, "IOX2_TEST_PREFIX="+cfg.Prefix)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, bufio.NewScanner(out)
}

type vec3 struct{ X, Y, Z float64 }

// sensor is a payload with the shapes generated code has: a small enum, a
// 2-D array, a nested struct and a bounded sequence (StaticVec layout).
type sensor struct {
	Seq    uint64
	Mode   uint8
	_      [7]byte
	Raw    [2][4]int16
	Accel  vec3
	Points struct {
		Data [64]vec3
		Len  uint64
	}
	Check uint64
}

func fillSensor(s *sensor, seq uint64) {
	s.Seq = seq
	s.Mode = uint8(seq % 3)
	for i := range s.Raw {
		for j := range s.Raw[i] {
			s.Raw[i][j] = int16(seq*7) + int16(i*4+j)
		}
	}
	s.Accel = vec3{float64(seq), -float64(seq), 0.5}
	s.Points.Len = seq % 65
	for k := uint64(0); k < s.Points.Len; k++ {
		s.Points.Data[k] = vec3{float64(seq + k), float64(k), 1}
	}
	s.Check = seq*31 + s.Points.Len
}

func checkSensor(s *sensor) error {
	seq := s.Seq
	if s.Mode != uint8(seq%3) || s.Accel != (vec3{float64(seq), -float64(seq), 0.5}) || s.Points.Len != seq%65 || s.Check != seq*31+s.Points.Len {
		return fmt.Errorf("sample %d: header fields corrupted", seq)
	}
	for i := range s.Raw {
		for j := range s.Raw[i] {
			if s.Raw[i][j] != int16(seq*7)+int16(i*4+j) {
				return fmt.Errorf("sample %d: raw[%d][%d] = %d", seq, i, j, s.Raw[i][j])
			}
		}
	}
	for k := uint64(0); k < s.Points.Len; k++ {
		if s.Points.Data[k] != (vec3{float64(seq + k), float64(k), 1}) {
			return fmt.Errorf("sample %d: points[%d] = %v", seq, k, s.Points.Data[k])
		}
	}
	return nil
}

type mpStats struct {
	Received, Gaps, Lost, Last uint64
	Error                      string
}

// helperSubscriber receives sensor samples until it has seen sequence
// number n-1, checking every field and the order, and prints its stats.
func helperSubscriber() error {
	n, _ := strconv.ParseUint(os.Getenv("IOX2_TEST_N"), 10, 64)
	node, err := NewNodeBuilder().Name("mp-subscriber").Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := PublishSubscribe[sensor](node, "mp/sensor").Open()
	if err != nil {
		return err
	}
	sub, err := svc.Subscriber()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	var st mpStats
	next := uint64(0)
	deadline := time.Now().Add(2 * time.Minute)
	for next < n {
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
		p := s.Payload()
		if err := checkSensor(p); err != nil && st.Error == "" {
			st.Error = err.Error()
		}
		switch {
		case p.Seq < next:
			st.Error = fmt.Sprintf("sample %d arrived after %d: reordered", p.Seq, next-1)
		case p.Seq > next:
			st.Gaps++
			st.Lost += p.Seq - next
		}
		if s.Header().Sequence != p.Seq {
			st.Error = fmt.Sprintf("header sequence %d for payload %d", s.Header().Sequence, p.Seq)
		}
		st.Received++
		st.Last = p.Seq
		next = p.Seq + 1
		s.Release()
	}
	return json.NewEncoder(os.Stdout).Encode(st)
}

func runMultiProcess(t *testing.T, n uint64, safeOverflow bool) (mpStats, *Publisher[sensor]) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc, err := PublishSubscribe[sensor](node, "mp/sensor").
		SubscriberMaxBufferSize(16).EnableSafeOverflow(safeOverflow).Create()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := svc.Publisher()
	if err != nil {
		t.Fatal(err)
	}
	cmd, out := startHelper(t, cfg, "mp-subscriber", "IOX2_TEST_N="+strconv.FormatUint(n, 10))
	if !out.Scan() || out.Text() != "ready" {
		t.Fatalf("subscriber process did not start: %q", out.Text())
	}
	for i := uint64(0); i < n; i++ {
		s, err := pub.LoanUninit()
		if err != nil {
			t.Fatalf("loan %d: %v", i, err)
		}
		fillSensor(s.Payload(), i)
		if k, err := s.Send(); err != nil || k != 1 {
			t.Fatalf("send %d reached %d subscribers: %v", i, k, err)
		}
	}
	if !out.Scan() {
		t.Fatal("subscriber process printed no stats")
	}
	var st mpStats
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("stats %q: %v", out.Text(), err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("subscriber process: %v", err)
	}
	return st, pub
}

func TestMultiProcessNoLossWithoutOverflow(t *testing.T) {
	n := uint64(100_000)
	if testing.Short() {
		n = 10_000
	}
	st, _ := runMultiProcess(t, n, false)
	if st.Error != "" || st.Received != n || st.Lost != 0 || st.Last != n-1 {
		t.Fatalf("subscriber saw %+v, want all %d samples intact and in order", st, n)
	}
}

func TestMultiProcessOverflowLossIsCounted(t *testing.T) {
	n := uint64(100_000)
	if testing.Short() {
		n = 10_000
	}
	st, pub := runMultiProcess(t, n, true)
	if st.Error != "" || st.Last != n-1 || st.Received+st.Lost != n {
		t.Fatalf("subscriber saw %+v for %d samples", st, n)
	}
	pub.p.mu.Lock()
	overflows := pub.p.overflows
	pub.p.mu.Unlock()
	if overflows != st.Lost {
		t.Fatalf("publisher took back %d samples on overflow, subscriber missed %d", overflows, st.Lost)
	}
	t.Logf("received %d of %d, %d replaced on overflow (in %d gaps)", st.Received, n, st.Lost, st.Gaps)
}
