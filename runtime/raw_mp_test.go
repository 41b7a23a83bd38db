package runtime

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

func init() { helpers["raw-echo"] = helperRawEcho }

// helperRawEcho opens raw/mp and raw/mp-back without knowing their types
// and sends back, byte for byte, payload and user header of the
// IOX2_TEST_N samples it receives.
func helperRawEcho() error {
	n, _ := strconv.Atoi(os.Getenv("IOX2_TEST_N"))
	node, err := NewNodeBuilder().Name("raw-echo").Config(helperConfig()).SignalHandling(false).Create()
	if err != nil {
		return err
	}
	defer node.Close()
	in, err := PublishSubscribeRaw(node, "raw/mp").Open()
	if err != nil {
		return err
	}
	back, err := PublishSubscribeRaw(node, "raw/mp-back").Open()
	if err != nil {
		return err
	}
	sub, err := in.Subscriber()
	if err != nil {
		return err
	}
	pub, err := back.Publisher(1)
	if err != nil {
		return err
	}
	fmt.Println("ready")
	deadline := time.Now().Add(time.Minute)
	for got := 0; got < n; {
		s, err := sub.Receive()
		if err != nil {
			return err
		}
		if s == nil {
			if time.Now().After(deadline) {
				return errors.New("timed out")
			}
			time.Sleep(100 * time.Microsecond)
			continue
		}
		m, err := pub.LoanUninit(1)
		if err != nil {
			return err
		}
		copy(m.Payload(), s.Payload())
		copy(m.UserHeader(), s.UserHeader())
		s.Release()
		if _, err := m.Send(); err != nil {
			return err
		}
		got++
	}
	return nil
}

// TestRawCrossProcess: another process, with raw ports only, echoes typed
// samples (a payload with the shapes of generated code, and a user
// header) back to typed ports.
func TestRawCrossProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process")
	}
	cfg := testConfig(t)
	cfg.InProcess = false
	node := testNode(t, cfg)
	open := func(name string) *PublishSubscribeService[sensor] {
		svc, err := WithUserHeader[stamp](PublishSubscribe[sensor](node, name)).SubscriberMaxBufferSize(32).Create()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { svc.Close() })
		return svc
	}
	out, back := open("raw/mp"), open("raw/mp-back")
	pub := must[*Publisher[sensor]](t)(out.Publisher())
	sub := must[*Subscriber[sensor]](t)(back.Subscriber())
	const n = 20
	cmd, lines := startHelper(t, cfg, "raw-echo", "IOX2_TEST_N="+strconv.Itoa(n))
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("helper: %q", lines.Text())
	}
	for i := range n {
		s := must[*SampleMut[sensor]](t)(pub.Loan())
		fillSensor(s.Payload(), uint64(i))
		*UserHeader[stamp](s) = stamp{Nanos: uint64(i) * 1000, Origin: [4]byte{'r', 'a', 'w', byte('0' + i%10)}}
		must[int](t)(s.Send())
	}
	deadline := time.Now().Add(time.Minute)
	for got := 0; got < n; {
		r := must[*Sample[sensor]](t)(sub.Receive())
		if r == nil {
			if time.Now().After(deadline) {
				t.Fatalf("received %d of %d echoed samples", got, n)
			}
			time.Sleep(100 * time.Microsecond)
			continue
		}
		p := r.Payload()
		if err := checkSensor(p); err != nil || p.Seq != uint64(got) {
			t.Fatalf("echoed sample %d: seq %d, %v", got, p.Seq, err)
		}
		if h := UserHeader[stamp](r); h.Nanos != uint64(got)*1000 || h.Origin[3] != byte('0'+got%10) {
			t.Fatalf("echoed header %d: %+v", got, h)
		}
		r.Release()
		got++
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
}
