package gateway

import (
	"testing"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
)

type reading struct {
	Seq   uint64
	Value [3]int32
	Tail  uint32
}

type stamp struct {
	Nanos  uint64
	Origin [8]byte
}

const psName = "gw/pubsub"
const psPattern = "publish_subscribe"

type psEnd struct {
	pub *iox2.Publisher[reading]
	sub *iox2.Subscriber[reading]
}

func psPorts(t *testing.T, cfg *iox2.Config) psEnd {
	t.Helper()
	node := testNode(t, cfg, "app")
	svc := must[*iox2.PublishSubscribeService[reading]](t)(iox2.WithUserHeader[stamp](iox2.PublishSubscribe[reading](node, psName)).SubscriberMaxBufferSize(16).OpenOrCreate())
	t.Cleanup(func() { svc.Close() })
	e := psEnd{pub: must[*iox2.Publisher[reading]](t)(svc.Publisher()), sub: must[*iox2.Subscriber[reading]](t)(svc.SubscriberBuilder().BufferSize(16).Create())}
	t.Cleanup(func() { e.pub.Close(); e.sub.Close() })
	return e
}

func send(t *testing.T, p *iox2.Publisher[reading], v reading, origin string) {
	t.Helper()
	s := must[*iox2.SampleMut[reading]](t)(p.Loan())
	*s.Payload() = v
	h := iox2.UserHeader[stamp](s)
	h.Nanos = v.Seq * 1000
	copy(h.Origin[:], origin)
	must[int](t)(s.Send())
}

// receiveAll takes what sub holds within d.
func receiveAll(t *testing.T, sub *iox2.Subscriber[reading], d time.Duration) (got []reading, origins []string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		s, err := sub.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if s == nil {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		got = append(got, *s.Payload())
		h := iox2.UserHeader[stamp](s)
		if h.Nanos != s.Payload().Seq*1000 {
			t.Errorf("user header nanos %d for seq %d", h.Nanos, s.Payload().Seq)
		}
		origins = append(origins, string(h.Origin[:1]))
		s.Release()
	}
	return got, origins
}

// TestPubSubBothWays: two hosts with a publisher and a subscriber each;
// every sample reaches the other host's subscriber once, user header and
// all, and nothing comes back.
func TestPubSubBothWays(t *testing.T) {
	ns := startNATS(t, 0)
	a, b := domain(t, "a"), domain(t, "b")
	ga := runGateway(t, a, ns.ClientURL(), nil)
	gb := runGateway(t, b, ns.ClientURL(), nil)
	ea, eb := psPorts(t, a), psPorts(t, b)
	eventually(t, "both bridges", func() bool {
		return bridged(ga.Gateway, psName, psPattern, 1) && bridged(gb.Gateway, psName, psPattern, 1)
	})
	for i := uint64(1); i <= 5; i++ {
		send(t, ea.pub, reading{Seq: i, Value: [3]int32{int32(i), -int32(i), 7}, Tail: 0xa}, "A")
		send(t, eb.pub, reading{Seq: 100 + i, Value: [3]int32{1, 2, 3}, Tail: 0xb}, "B")
	}
	for _, c := range []struct {
		name string
		sub  *iox2.Subscriber[reading]
	}{{"a", ea.sub}, {"b", eb.sub}} {
		got, origins := receiveAll(t, c.sub, 500*time.Millisecond)
		var fromA, fromB []uint64
		for i, r := range got {
			switch origins[i] {
			case "A":
				if r.Tail != 0xa || r.Value != [3]int32{int32(r.Seq), -int32(r.Seq), 7} {
					t.Errorf("%s: bad sample from A %+v", c.name, r)
				}
				fromA = append(fromA, r.Seq)
			case "B":
				if r.Tail != 0xb || r.Value != [3]int32{1, 2, 3} {
					t.Errorf("%s: bad sample from B %+v", c.name, r)
				}
				fromB = append(fromB, r.Seq)
			default:
				t.Errorf("%s: sample of unknown origin %q", c.name, origins[i])
			}
		}
		if want := []uint64{1, 2, 3, 4, 5}; !equal(fromA, want) {
			t.Errorf("%s: from A got %v, want %v (in order, once each)", c.name, fromA, want)
		}
		if want := []uint64{101, 102, 103, 104, 105}; !equal(fromB, want) {
			t.Errorf("%s: from B got %v, want %v (in order, once each)", c.name, fromB, want)
		}
	}
	for _, g := range []*testGW{ga, gb} {
		st := bridgeOf(t, g.Gateway, psName, psPattern)
		if st.Sent != 5 || st.Received != 5 || st.Dropped != 0 || st.Malformed != 0 {
			t.Errorf("gateway %s counters %+v, want sent 5 received 5", g.ID(), st)
		}
	}
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
