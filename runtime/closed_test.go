package runtime

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// closedKit is one open service of every kind, all through one node: a
// typed publish-subscribe service, the raw view of it (a handle of its
// own), an event service and a request-response service.
type closedKit struct {
	ps  *PublishSubscribeService[uint64]
	raw *RawPubSubService
	ev  *EventService
	rr  *RequestResponseService[uint64, uint64]
}

func openClosedKit(t *testing.T, node *Node, prefix string) *closedKit {
	t.Helper()
	k := &closedKit{}
	k.ps = must[*PublishSubscribeService[uint64]](t)(PublishSubscribe[uint64](node, prefix+"/ps").
		MaxPublishers(8).MaxSubscribers(8).Create())
	k.raw = must[*RawPubSubService](t)(PublishSubscribeRaw(node, prefix+"/ps").Open())
	k.ev = must[*EventService](t)(Event(node, prefix+"/ev").MaxNotifiers(8).MaxListeners(8).Create())
	k.rr = must[*RequestResponseService[uint64, uint64]](t)(RequestResponse[uint64, uint64](node, prefix+"/rr").
		MaxClients(8).MaxServers(8).Create())
	return k
}

// close closes every handle of the kit.
func (k *closedKit) close() error {
	return errors.Join(k.ps.Close(), k.raw.Close(), k.ev.Close(), k.rr.Close())
}

// closer turns a port constructor's result into an io.Closer without
// making a typed nil into a non-nil interface.
func closer[P io.Closer](p P, err error) (io.Closer, error) {
	if err != nil {
		return nil, err
	}
	return p, nil
}

type closedCreator struct {
	name string
	f    func() (io.Closer, error)
}

// creators lists every way to create a port of a service of the kit.
func (k *closedKit) creators() []closedCreator {
	return []closedCreator{
		{"Publisher", func() (io.Closer, error) { return closer(k.ps.Publisher()) }},
		{"PublisherBuilder().Create", func() (io.Closer, error) {
			return closer(k.ps.PublisherBuilder().MaxLoanedSamples(1).Create())
		}},
		{"Subscriber", func() (io.Closer, error) { return closer(k.ps.Subscriber()) }},
		{"SubscriberBuilder().Create", func() (io.Closer, error) {
			return closer(k.ps.SubscriberBuilder().BufferSize(1).Create())
		}},
		{"raw Publisher", func() (io.Closer, error) { return closer(k.raw.Publisher(1)) }},
		{"raw PublisherWith", func() (io.Closer, error) {
			return closer(k.raw.PublisherWith(RawPublisherOptions{MaxLoanedSamples: 1}))
		}},
		{"raw Subscriber", func() (io.Closer, error) { return closer(k.raw.Subscriber()) }},
		{"raw SubscriberWith", func() (io.Closer, error) { return closer(k.raw.SubscriberWith(1, 0)) }},
		{"Notifier", func() (io.Closer, error) { return closer(k.ev.Notifier()) }},
		{"NotifierBuilder().Create", func() (io.Closer, error) {
			return closer(k.ev.NotifierBuilder().DefaultEventID(1).Create())
		}},
		{"Listener", func() (io.Closer, error) { return closer(k.ev.Listener()) }},
		{"ListenerBuilder().Create", func() (io.Closer, error) { return closer(k.ev.ListenerBuilder().Create()) }},
		{"Client", func() (io.Closer, error) { return closer(k.rr.Client()) }},
		{"ClientBuilder().Create", func() (io.Closer, error) {
			return closer(k.rr.ClientBuilder().MaxActiveRequests(1).Create())
		}},
		{"Server", func() (io.Closer, error) { return closer(k.rr.Server()) }},
		{"ServerBuilder().Create", func() (io.Closer, error) {
			return closer(k.rr.ServerBuilder().MaxLoanedResponsesPerRequest(1).Create())
		}},
	}
}

type closedCount struct {
	name string
	f    func() int
}

// counts lists every port count of the services of the kit.
func (k *closedKit) counts() []closedCount {
	return []closedCount{
		{"NumberOfPublishers", k.ps.NumberOfPublishers},
		{"NumberOfSubscribers", k.ps.NumberOfSubscribers},
		{"raw NumberOfPublishers", k.raw.NumberOfPublishers},
		{"raw NumberOfSubscribers", k.raw.NumberOfSubscribers},
		{"NumberOfNotifiers", k.ev.NumberOfNotifiers},
		{"NumberOfListeners", k.ev.NumberOfListeners},
		{"NumberOfClients", k.rr.NumberOfClients},
		{"NumberOfServers", k.rr.NumberOfServers},
	}
}

// TestClosedServiceRefusesPortsAndCounts creates ports on services that
// are closed, or whose node is: every constructor fails with ErrClosed and
// every count is 0. They once used the unmapped dynamic config and died of
// SIGSEGV.
func TestClosedServiceRefusesPortsAndCounts(t *testing.T) {
	for _, how := range []string{"service", "node"} {
		t.Run(how, func(t *testing.T) {
			cfg := testConfig(t)
			node := testNode(t, cfg)
			k := openClosedKit(t, node, "closed/ports/"+how)
			var ports []io.Closer
			for _, c := range k.creators() {
				p, err := c.f()
				if err != nil {
					t.Fatalf("%s on an open service: %v", c.name, err)
				}
				ports = append(ports, p)
			}
			for _, c := range k.counts() {
				if n := c.f(); n < 2 {
					t.Errorf("%s on an open service with at least 2 of them: %d", c.name, n)
				}
			}
			switch how {
			case "service":
				if err := k.close(); err != nil {
					t.Fatal(err)
				}
			case "node":
				if err := node.Close(); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range k.creators() {
				p, err := c.f()
				if !errors.Is(err, ErrClosed) {
					t.Errorf("%s after the %s's Close: got %v, want ErrClosed", c.name, how, err)
				}
				if p != nil {
					p.Close()
				}
			}
			for _, c := range k.counts() {
				if n := c.f(); n != 0 {
					t.Errorf("%s after the %s's Close: %d, want 0", c.name, how, n)
				}
			}
			// The ports were closed with their service: closing them again,
			// and the services, is harmless.
			for _, p := range ports {
				p.Close()
			}
			if err := k.close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestClosedNodeRefusesServices opens, creates and opens-or-creates
// services of every kind through a closed node, both services that exist
// (opened by another node) and services that do not: all fail with
// ErrClosed, not with ErrServiceCorrupted about the node's removed
// directory.
func TestClosedNodeRefusesServices(t *testing.T) {
	cfg := testConfig(t)
	other := testNode(t, cfg)
	existing := openClosedKit(t, other, "closed/open/exists")
	defer existing.close()
	st := *existing.ps.StaticConfig().PublishSubscribe
	node := testNode(t, cfg)
	if err := node.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"closed/open/exists", "closed/open/new"} {
		for _, c := range []struct {
			op string
			f  func() error
		}{
			{"PublishSubscribe.Create", func() error { _, err := PublishSubscribe[uint64](node, name+"/ps").Create(); return err }},
			{"PublishSubscribe.Open", func() error { _, err := PublishSubscribe[uint64](node, name+"/ps").Open(); return err }},
			{"PublishSubscribe.OpenOrCreate", func() error {
				_, err := PublishSubscribe[uint64](node, name+"/ps").OpenOrCreate()
				return err
			}},
			{"PublishSubscribeRaw.Create", func() error { _, err := PublishSubscribeRaw(node, name+"/ps").Create(st); return err }},
			{"PublishSubscribeRaw.Open", func() error { _, err := PublishSubscribeRaw(node, name+"/ps").Open(); return err }},
			{"PublishSubscribeRaw.OpenOrCreate", func() error {
				_, err := PublishSubscribeRaw(node, name+"/ps").OpenOrCreate(st)
				return err
			}},
			{"Event.Create", func() error { _, err := Event(node, name+"/ev").Create(); return err }},
			{"Event.Open", func() error { _, err := Event(node, name+"/ev").Open(); return err }},
			{"Event.OpenOrCreate", func() error { _, err := Event(node, name+"/ev").OpenOrCreate(); return err }},
			{"RequestResponse.Create", func() error {
				_, err := RequestResponse[uint64, uint64](node, name+"/rr").Create()
				return err
			}},
			{"RequestResponse.Open", func() error {
				_, err := RequestResponse[uint64, uint64](node, name+"/rr").Open()
				return err
			}},
			{"RequestResponse.OpenOrCreate", func() error {
				_, err := RequestResponse[uint64, uint64](node, name+"/rr").OpenOrCreate()
				return err
			}},
		} {
			if err := c.f(); !errors.Is(err, ErrClosed) {
				t.Errorf("%s(%q) through a closed node: got %v, want ErrClosed", c.op, name, err)
			}
		}
	}
	// The services that exist are still there, untouched.
	if n := existing.ps.NumberOfPublishers(); n != 0 {
		t.Errorf("the existing service has %d publishers", n)
	}
	if _, err := existing.ps.Publisher(); err != nil {
		t.Errorf("the existing service, open through another node: %v", err)
	}
}

// TestClosedNodeWaitFails checks that Wait fails with ErrClosed on a closed
// node, and that a Close ends a Wait in progress, so that the loop
// `for node.Wait(d) == nil {}` ends. With and without signal handling.
func TestClosedNodeWaitFails(t *testing.T) {
	for _, signals := range []bool{true, false} {
		t.Run(fmt.Sprint("signals=", signals), func(t *testing.T) {
			cfg := testConfig(t)
			node, err := NewNodeBuilder().Config(cfg).SignalHandling(signals).Create()
			if err != nil {
				t.Fatal(err)
			}
			defer node.Close()
			if err := node.Wait(time.Millisecond); err != nil {
				t.Fatalf("Wait on an open node: %v", err)
			}
			done := make(chan error, 1)
			go func() { done <- node.Wait(time.Hour) }()
			time.Sleep(20 * time.Millisecond)
			if err := node.Close(); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if !errors.Is(err, ErrClosed) {
					t.Errorf("a Wait that Close ended: got %v, want ErrClosed", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Close did not end a Wait in progress")
			}
			for _, d := range []time.Duration{0, time.Millisecond, time.Hour} {
				if err := node.Wait(d); !errors.Is(err, ErrClosed) {
					t.Errorf("Wait(%v) on a closed node: got %v, want ErrClosed", d, err)
				}
			}
			loops := 0
			for node.Wait(time.Millisecond) == nil {
				if loops++; loops > 100 {
					t.Fatal("the Wait loop does not end on a closed node")
				}
			}
		})
	}
}

// TestClosedRacesWithPortCreation closes services, or their node, while
// other goroutines create and close ports of every kind and count them:
// nothing crashes, every creation either succeeds or fails with ErrClosed,
// and nothing is left in /dev/shm. Run it with -race; the in-process
// transport lets the race detector see the segments too.
func TestClosedRacesWithPortCreation(t *testing.T) {
	const (
		rounds     = 12
		goroutines = 4
	)
	for _, inProc := range []bool{false, true} {
		for _, how := range []string{"service", "node"} {
			t.Run(fmt.Sprintf("inprocess=%v/%s", inProc, how), func(t *testing.T) {
				var created atomic.Int64
				for round := range rounds {
					cfg := testConfig(t)
					cfg.InProcess = inProc
					node := testNode(t, cfg)
					k := openClosedKit(t, node, "closed/race")
					creators, counts := k.creators(), k.counts()
					var wg sync.WaitGroup
					errs := make(chan error, goroutines)
					start := make(chan struct{})
					for g := range goroutines {
						wg.Add(1)
						go func() {
							defer wg.Done()
							<-start
							// Until every constructor has failed with ErrClosed.
							refused := map[string]bool{}
							for i := g; len(refused) < len(creators); i++ {
								c := creators[i%len(creators)]
								counts[i%len(counts)].f()
								p, err := c.f()
								switch {
								case err == nil:
									created.Add(1)
									if err := p.Close(); err != nil {
										errs <- fmt.Errorf("%s: Close: %w", c.name, err)
										return
									}
								case errors.Is(err, ErrClosed):
									refused[c.name] = true
								default:
									errs <- fmt.Errorf("%s: %w", c.name, err)
									return
								}
							}
						}()
					}
					close(start)
					// Let the creations run for a while that differs by round.
					time.Sleep(time.Duration(round) * 300 * time.Microsecond)
					var err error
					if how == "service" {
						err = k.close()
					} else {
						err = node.Close()
					}
					if err != nil {
						t.Fatalf("round %d: %v", round, err)
					}
					done := make(chan struct{})
					go func() { wg.Wait(); close(done) }()
					select {
					case <-done:
					case <-time.After(30 * time.Second):
						t.Fatalf("round %d: the creating goroutines still run 30 s after Close", round)
					}
					close(errs)
					for err := range errs {
						t.Errorf("round %d: %v", round, err)
					}
					k.close()
					node.Close()
					if left := shmLeftovers(cfg); len(left) > 0 {
						t.Fatalf("round %d: left in %s: %v", round, cfg.ShmDir, left)
					}
				}
				t.Logf("%d ports created in %d rounds", created.Load(), rounds)
			})
		}
	}
}
