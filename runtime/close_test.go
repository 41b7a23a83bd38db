package runtime

import (
	"testing"
	"time"
)

// TestCloseDoesNotWaitForTheDiscoveryInterval closes services whose
// discovery goroutine would otherwise sleep for an hour: close must wake it
// whatever point of its loop it is at (it once lost the wake-up when it
// came between the goroutine's stop check and its wait).
func TestCloseDoesNotWaitForTheDiscoveryInterval(t *testing.T) {
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
