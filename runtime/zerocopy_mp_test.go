package runtime

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"
)

type bigPayload struct{ B [4 << 20]byte }

func init() { helpers["zero-copy-subscriber"] = helperZeroCopy }

// mappedFile returns the file that backs address addr in this process,
// from /proc/self/maps.
func mappedFile(addr uintptr) string {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var lo, hi uintptr
		var rest string
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		fmt.Sscanf(fields[0], "%x-%x", &lo, &hi)
		rest = fields[5]
		if addr >= lo && addr < hi {
			return rest
		}
	}
	return ""
}

// helperZeroCopy receives one 4 MiB sample, reports which file its payload
// lives in, then waits until the publisher changes the payload after the
// send, which only shows through if nothing was copied.
func helperZeroCopy() error {
	node, err := NewNodeBuilder().Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := PublishSubscribe[bigPayload](node, "zero-copy").Open()
	if err != nil {
		return err
	}
	sub, err := svc.Subscriber()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	var s *Sample[bigPayload]
	for deadline := time.Now().Add(time.Minute); s == nil; {
		if s, err = sub.Receive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no sample")
		}
	}
	start := uintptr(unsafe.Pointer(s.Payload()))
	end := start + unsafe.Sizeof(bigPayload{}) - 1
	fmt.Println(mappedFile(start), mappedFile(end), s.Payload().B[0], s.Payload().B[len(s.Payload().B)-1])
	for deadline := time.Now().Add(time.Minute); s.Payload().B[1<<21] != 42; {
		if time.Now().After(deadline) {
			return fmt.Errorf("the change made after the send never showed")
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Println("changed")
	s.Release()
	return nil
}

func TestZeroCopyAcrossProcesses(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc, err := PublishSubscribe[bigPayload](node, "zero-copy").SubscriberMaxBufferSize(1).Create()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := svc.Publisher()
	if err != nil {
		t.Fatal(err)
	}
	cmd, out := startHelper(t, cfg, "zero-copy-subscriber")
	if !out.Scan() || out.Text() != "ready" {
		t.Fatalf("subscriber did not start: %q", out.Text())
	}
	s, err := pub.LoanUninit()
	if err != nil {
		t.Fatal(err)
	}
	p := s.Payload()
	p.B[0], p.B[len(p.B)-1] = 11, 22
	if n, err := s.Send(); n != 1 || err != nil {
		t.Fatalf("Send = %d, %v", n, err)
	}
	if !out.Scan() {
		t.Fatal("subscriber reported nothing")
	}
	want := cfg.ShmDir + "/" + cfg.dataName(pub.ID())
	if got := out.Text(); got != want+" "+want+" 11 22" {
		t.Fatalf("subscriber's payload: %q; want it inside the publisher's segment %s", got, want)
	}
	p.B[1<<21] = 42 // after the send, through the publisher's own pointer
	if !out.Scan() || out.Text() != "changed" {
		t.Fatalf("subscriber did not see the change: %q", out.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}
