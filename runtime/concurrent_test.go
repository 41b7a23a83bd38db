package runtime

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestConcurrentPublishersAndSubscribers runs two publishers and three
// subscribers in goroutines, with ports coming and going, and checks that
// every subscriber sees each publisher's samples in order.
func TestConcurrentPublishersAndSubscribers(t *testing.T) {
	node := testNode(t, testConfig(t))
	svc := openMsg(t, node, "concurrent", func(b *PublishSubscribeBuilder[msg]) {
		b.MaxPublishers(2).MaxSubscribers(4).SubscriberMaxBufferSize(8).EnableSafeOverflow(false)
	})
	const n = 2000
	var subs []*Subscriber[msg]
	for i := 0; i < 3; i++ {
		subs = append(subs, must[*Subscriber[msg]](t)(svc.Subscriber()))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for pi := 0; pi < 2; pi++ {
		pub := must[*Publisher[msg]](t)(svc.Publisher())
		wg.Add(1)
		go func(pi int) {
			defer wg.Done()
			for i := uint64(0); i < n; i++ {
				s, err := pub.Loan()
				if err != nil {
					errs <- err.Error()
					return
				}
				s.Payload().Seq = i
				s.Payload().Tail = uint16(pi)
				if k, err := s.Send(); err != nil || k != 3 {
					errs <- "send reached fewer subscribers"
					return
				}
			}
		}(pi)
	}
	for si, sub := range subs {
		wg.Add(1)
		go func(si int, sub *Subscriber[msg]) {
			defer wg.Done()
			next := [2]uint64{}
			deadline := time.Now().Add(30 * time.Second)
			for next[0] < n || next[1] < n {
				s, err := sub.Receive()
				if err != nil {
					errs <- err.Error()
					return
				}
				if s == nil {
					if time.Now().After(deadline) {
						errs <- "timed out"
						return
					}
					runtime.Gosched() // five busy goroutines share two cores
					continue
				}
				p := s.Payload()
				if p.Seq != next[p.Tail] {
					errs <- "out of order"
				}
				next[p.Tail] = p.Seq + 1
				s.Release()
			}
		}(si, sub)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}
