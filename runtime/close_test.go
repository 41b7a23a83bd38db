package runtime

import (
	"testing"
	"time"
)

// TestCloseDoesNotWaitForATimer closes services, right after a port was
// made (whose round may be running in the dispatcher), with the longest
// discovery interval: close must not wait for any timer. (It once waited
// for the service's discovery goroutine, which lost the wake-up when it
// came between its stop check and its futex wait; the goroutine is gone,
// and a round in progress ends without sleeping.)
func TestCloseDoesNotWaitForATimer(t *testing.T) {
	cfg := testConfig(t)
	cfg.DiscoveryInterval = time.Hour
	node := testNode(t, cfg)
	for i := range 200 {
		svc, err := PublishSubscribe[uint64](node, "close/fast").OpenOrCreate()
		if err != nil {
			t.Fatal(err)
		}
		sub, err := svc.Subscriber()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		start := time.Now()
		go func() { sub.Close(); done <- svc.Close() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: close still waits after %v", i, time.Since(start))
		}
	}
}
