package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
	"github.com/iox2go/iox2go/runtime/ring"
)

// The memory of a loan or of a held sample stays mapped when its port, its
// service or its node is closed under it, until the loan ends or the sample
// is released: writing into a loan or reading a sample then is harmless,
// and Send reports ErrClosed.

// closeWays closes the port, the service or the node that a test set up.
var closeWays = []string{"port", "service", "node"}

func closeBy(t *testing.T, way string, port interface{ Close() error }, svc interface{ Close() error }, node *Node) {
	t.Helper()
	var err error
	switch way {
	case "port":
		err = port.Close()
	case "service":
		err = svc.Close()
	case "node":
		err = node.Close()
	}
	if err != nil {
		t.Fatalf("close %s: %v", way, err)
	}
}

func TestLoanOutlivesItsClosedPublisher(t *testing.T) {
	for _, way := range closeWays {
		for _, end := range []string{"send", "release"} {
			t.Run(way+"/"+end, func(t *testing.T) {
				cfg := testConfig(t)
				node := testNode(t, cfg)
				svc := must[*PublishSubscribeService[[64]uint64]](t)(PublishSubscribe[[64]uint64](node, "linger/pub").Create())
				pub := must[*Publisher[[64]uint64]](t)(svc.PublisherBuilder().MaxLoanedSamples(2).Create())
				s1 := must[*SampleMut[[64]uint64]](t)(pub.Loan())
				s2 := must[*SampleMut[[64]uint64]](t)(pub.LoanUninit())
				closeBy(t, way, pub, svc, node)
				// The data segment's file is gone at once; its mapping is not.
				for _, f := range shmLeftovers(cfg) {
					if strings.HasSuffix(f, ".data") {
						t.Fatalf("data segment file left after close with loans out: %s", f)
					}
				}
				for i := range s1.Payload() {
					s1.Payload()[i] = uint64(i)
					s2.Payload()[i] = uint64(i)
				}
				if pub.p.data == nil {
					t.Fatal("data segment unmapped while samples are on loan")
				}
				var err error
				if end == "send" {
					_, err = s1.Send()
				} else {
					s1.Release()
				}
				if end == "send" && !errors.Is(err, ErrClosed) {
					t.Fatalf("Send after close = %v, want ErrClosed", err)
				}
				if pub.p.data == nil {
					t.Fatal("data segment unmapped while a sample is still on loan")
				}
				if _, err := s2.Send(); !errors.Is(err, ErrClosed) {
					t.Fatalf("second Send after close = %v, want ErrClosed", err)
				}
				if pub.p.data != nil {
					t.Fatal("data segment still mapped after the last loan ended")
				}
				if _, err := s1.Send(); !errors.Is(err, ErrSampleNotOwned) {
					t.Fatalf("Send of an ended loan = %v, want ErrSampleNotOwned", err)
				}
				node.Close()
				assertNoShm(t, cfg)
			})
		}
	}
}

func TestHeldSampleOutlivesItsClosedSubscriber(t *testing.T) {
	for _, way := range closeWays {
		for _, raw := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/raw=%v", way, raw), func(t *testing.T) {
				cfg := testConfig(t)
				pnode := testNode(t, cfg)
				psvc := must[*PublishSubscribeService[uint64]](t)(PublishSubscribe[uint64](pnode, "linger/sub").SubscriberMaxBorrowedSamples(2).Create())
				pub := must[*Publisher[uint64]](t)(psvc.Publisher())
				snode := testNode(t, cfg)
				var (
					read    func() uint64
					release func()
					port    interface{ Close() error }
					svc     interface{ Close() error }
					subPort *receiver
				)
				if raw {
					rsvc := must[*RawPubSubService](t)(PublishSubscribeRaw(snode, "linger/sub").Open())
					sub := must[*RawSubscriber](t)(rsvc.Subscriber())
					mustSend(t, pub, 41)
					mustSend(t, pub, 42)
					a := receiveRaw(t, sub)
					b := receiveRaw(t, sub)
					read = func() uint64 {
						return binary.LittleEndian.Uint64(a.Payload()) + binary.LittleEndian.Uint64(b.Payload())
					}
					release = func() { a.Release(); b.Release() }
					port, svc, subPort = sub, rsvc, sub.s
				} else {
					ssvc := must[*PublishSubscribeService[uint64]](t)(PublishSubscribe[uint64](snode, "linger/sub").Open())
					sub := must[*Subscriber[uint64]](t)(ssvc.Subscriber())
					mustSend(t, pub, 41)
					mustSend(t, pub, 42)
					a := receiveTyped(t, sub)
					b := receiveTyped(t, sub)
					read = func() uint64 { return *a.Payload() + *b.Payload() }
					release = func() { a.Release(); b.Release() }
					port, svc, subPort = sub, ssvc, sub.s
				}
				closeBy(t, way, port, svc, snode)
				pub.Close() // the publisher's files go too: the subscriber's mapping remains
				if got := read(); got != 83 {
					t.Fatalf("held samples read %d after close, want 83", got)
				}
				release()
				subPort.mu.Lock()
				borrowed := subPort.borrowed
				subPort.mu.Unlock()
				if borrowed != 0 {
					t.Fatalf("%d samples still counted as held after release", borrowed)
				}
				snode.Close()
				pnode.Close()
				assertNoShm(t, cfg)
			})
		}
	}
}

func mustSend(t *testing.T, pub *Publisher[uint64], v uint64) {
	t.Helper()
	if _, err := pub.SendCopy(v); err != nil {
		t.Fatal(err)
	}
}

func receiveTyped(t *testing.T, sub *Subscriber[uint64]) *Sample[uint64] {
	t.Helper()
	return receiveWithin(t, sub.Receive)
}

func receiveRaw(t *testing.T, sub *RawSubscriber) *RawSample {
	t.Helper()
	return receiveWithin(t, sub.Receive)
}

// receiveWithin polls receive until it returns a sample, for at most 5 s.
func receiveWithin[S any](t *testing.T, receive func() (*S, error)) *S {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		s, err := receive()
		if err != nil {
			t.Fatal(err)
		}
		if s != nil {
			return s
		}
	}
	t.Fatal("no sample within 5 s")
	return nil
}

func TestRequestAndResponseLoansOutliveTheirClosedPorts(t *testing.T) {
	for _, way := range closeWays {
		t.Run(way, func(t *testing.T) {
			cfg := testConfig(t)
			node := testNode(t, cfg)
			svc := must[*RequestResponseService[[32]uint64, [32]uint64]](t)(RequestResponse[[32]uint64, [32]uint64](node, "linger/rr").Create())
			client := must[*Client[[32]uint64, [32]uint64]](t)(svc.Client())
			server := must[*Server[[32]uint64, [32]uint64]](t)(svc.Server())
			if _, err := client.SendCopy([32]uint64{1}); err != nil {
				t.Fatal(err)
			}
			var active *ActiveRequest[[32]uint64, [32]uint64]
			for deadline := time.Now().Add(5 * time.Second); active == nil && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				active = must[*ActiveRequest[[32]uint64, [32]uint64]](t)(server.Receive())
			}
			if active == nil {
				t.Fatal("no request within 5 s")
			}
			req := must[*RequestMut[[32]uint64, [32]uint64]](t)(client.LoanUninit())
			resp := must[*ResponseMut[[32]uint64]](t)(active.LoanUninit())
			switch way {
			case "port":
				client.Close()
				server.Close()
			case "service":
				svc.Close()
			case "node":
				node.Close()
			}
			for i := range req.Payload() {
				req.Payload()[i] = uint64(i)
				resp.Payload()[i] = uint64(i)
			}
			if _, err := req.Send(); !errors.Is(err, ErrClosed) {
				t.Fatalf("request Send after close = %v, want ErrClosed", err)
			}
			resp.Release()
			if client.c.snd.data != nil || server.s.snd.data != nil {
				t.Fatal("a data segment is still mapped after its last loan ended")
			}
			node.Close()
			assertNoShm(t, cfg)
		})
	}
}

// TestCloseUnderConcurrentSends closes a publisher's node while goroutines
// loan, write and send as fast as they can: no write may hit unmapped
// memory (a crash of the test binary), every call returns nil or an error.
func TestCloseUnderConcurrentSends(t *testing.T) {
	for round := range 20 {
		cfg := testConfig(t)
		node := testNode(t, cfg)
		svc := must[*PublishSubscribeService[[128]uint64]](t)(PublishSubscribeSlice[[128]uint64](node, fmt.Sprintf("linger/race%d", round)).
			SubscriberMaxBufferSize(4).Create())
		pub := must[*Publisher[[128]uint64]](t)(svc.PublisherBuilder().MaxSliceLen(2).MaxLoanedSamples(8).Create())
		sub := must[*Subscriber[[128]uint64]](t)(svc.Subscriber())
		var wg sync.WaitGroup
		var stop atomic.Bool
		for g := range 4 {
			wg.Go(func() {
				for n := 0; !stop.Load(); n++ {
					switch (g + n) % 3 {
					case 0:
						pub.SendCopy([128]uint64{uint64(n)})
					case 1:
						if s, err := pub.LoanSlice(2); err == nil {
							s.PayloadSlice()[1][127] = uint64(n)
							s.Send()
						}
					default:
						if s, err := sub.Receive(); err == nil && s != nil {
							_ = s.PayloadSlice()
							s.Release()
						}
					}
				}
			})
		}
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		if err := node.Close(); err != nil {
			t.Fatal(err)
		}
		stop.Store(true)
		wg.Wait()
		assertNoShm(t, cfg)
	}
}

// TestHostileReceiverCannotDrainThePool steals every sample from one
// subscriber's queue (a consumer that never gives chunks back, as a broken
// process or a corrupted connection would): the publisher keeps serving
// the other subscriber, without running out of chunks.
func TestHostileReceiverCannotDrainThePool(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc := must[*PublishSubscribeService[uint64]](t)(PublishSubscribe[uint64](node, "hostile/drain").
		MaxSubscribers(2).SubscriberMaxBufferSize(2).Create())
	pub := must[*Publisher[uint64]](t)(svc.Publisher())
	victim := must[*Subscriber[uint64]](t)(svc.Subscriber())
	good := must[*Subscriber[uint64]](t)(svc.Subscriber())
	// The thief: a second consumer handle of the victim's queue.
	pub.p.mu.Lock()
	pub.p.update()
	var stolen *sendConn
	for _, c := range pub.p.conns {
		if c != nil && c.peer == victim.s.id {
			stolen = c
		}
	}
	pub.p.mu.Unlock()
	if stolen == nil {
		t.Fatal("no connection to the victim")
	}
	l := protocol.NewConnLayout(1, 2, completionCap(stolen.limit))
	thief, err := ring.AttachQueue(l.Sub(stolen.conn.seg.Bytes(), 0), 2)
	if err != nil {
		t.Fatal(err)
	}
	for v := uint64(1); v <= 200; v++ {
		thief.Pop()
		if _, err := pub.SendCopy(v); err != nil {
			t.Fatalf("send %d: %v", v, err)
		}
		s := receiveTyped(t, good)
		if *s.Payload() != v {
			t.Fatalf("good subscriber received %d, want %d", *s.Payload(), v)
		}
		s.Release()
	}
	pub.p.mu.Lock()
	n, limit := stolen.n, stolen.limit
	pub.p.mu.Unlock()
	if n > limit+1 {
		t.Fatalf("%d chunks in flight on the thief's connection, limit %d", n, limit)
	}
}

// TestCapSparesReceiversThatFollowTheProtocol runs a subscriber that always
// holds its max borrowed samples (release the oldest, receive the next) in
// a tight loop against a publisher that waits for room
// (RetryUntilDelivered) or evicts (safe overflow): the per-connection chunk
// cap must never take it for a broken one. Every sample must arrive
// (RetryUntilDelivered), or at least the newest of every burst (safe
// overflow).
func TestCapSparesReceiversThatFollowTheProtocol(t *testing.T) {
	const n = 20000
	for _, tc := range []struct {
		safe        bool
		buf, borrow int
	}{{false, 2, 1}, {false, 1, 2}, {false, 4, 4}, {true, 2, 1}, {true, 2, 2}} {
		t.Run(fmt.Sprintf("safe=%v/buf=%d/borrow=%d", tc.safe, tc.buf, tc.borrow), func(t *testing.T) {
			cfg := testConfig(t)
			node := testNode(t, cfg)
			svc := must[*PublishSubscribeService[uint64]](t)(PublishSubscribe[uint64](node, "cap/spare").
				EnableSafeOverflow(tc.safe).SubscriberMaxBufferSize(tc.buf).SubscriberMaxBorrowedSamples(tc.borrow).Create())
			pub := must[*Publisher[uint64]](t)(svc.PublisherBuilder().Backpressure(RetryUntilDelivered).Create())
			sub := must[*Subscriber[uint64]](t)(svc.Subscriber())
			var undelivered atomic.Int64
			done := make(chan struct{})
			go func() {
				defer close(done)
				for v := uint64(1); v <= n; v++ {
					k, err := pub.SendCopy(v)
					if err != nil {
						t.Error(err)
						return
					}
					if k != 1 {
						undelivered.Add(1)
					}
				}
			}()
			var held []*Sample[uint64]
			var got, last uint64
			deadline := time.Now().Add(30 * time.Second)
			for last < n && time.Now().Before(deadline) {
				if len(held) == tc.borrow {
					held[0].Release()
					held = held[1:]
				}
				s, err := sub.Receive()
				if err != nil {
					t.Error(err)
					break
				}
				if s == nil {
					continue
				}
				v := *s.Payload()
				if v <= last || !tc.safe && v != last+1 {
					t.Errorf("received %d after %d (lost with RetryUntilDelivered, or out of order)", v, last)
					break
				}
				last = v
				got++
				held = append(held, s)
			}
			// A publisher waiting for room (RetryUntilDelivered) gives up
			// once its subscriber is gone.
			for _, s := range held {
				s.Release()
			}
			sub.Close()
			<-done
			if t.Failed() {
				return
			}
			if u := undelivered.Load(); u != 0 {
				t.Fatalf("%d sends did not reach the subscriber", u)
			}
			if last != n {
				t.Fatalf("the last sample received is %d, want %d", last, n)
			}
			t.Logf("received %d of %d", got, n)
		})
	}
}
