package gateway

import (
	"testing"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
)

const evName = "gw/event"
const evPattern = "event"

type evEnd struct {
	ntf *iox2.Notifier
	lis *iox2.Listener
}

func evPorts(t *testing.T, cfg *iox2.Config) evEnd {
	t.Helper()
	node := testNode(t, cfg, "app")
	svc := must[*iox2.EventService](t)(iox2.Event(node, evName).OpenOrCreate())
	t.Cleanup(func() { svc.Close() })
	e := evEnd{ntf: must[*iox2.Notifier](t)(svc.Notifier()), lis: must[*iox2.Listener](t)(svc.Listener())}
	t.Cleanup(func() { e.ntf.Close(); e.lis.Close() })
	return e
}

// counts takes what lis gets within d: notifications per event id.
func counts(t *testing.T, lis *iox2.Listener, d time.Duration) map[iox2.EventID]uint64 {
	t.Helper()
	got := map[iox2.EventID]uint64{}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, err := lis.TimedWait(func(a iox2.EventActivation) { got[a.ID] += a.Count }, 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

// TestEventsBothWays: notifications cross to the other host's listeners
// with their event ids and exact counts, and do not come back.
func TestEventsBothWays(t *testing.T) {
	ns := startNATS(t, 0)
	a, b := domain(t, "a"), domain(t, "b")
	ga := runGateway(t, a, ns.ClientURL(), nil)
	gb := runGateway(t, b, ns.ClientURL(), nil)
	ea, eb := evPorts(t, a), evPorts(t, b)
	eventually(t, "both bridges", func() bool {
		return bridged(ga.Gateway, evName, evPattern, 1) && bridged(gb.Gateway, evName, evPattern, 1)
	})
	for range 3 {
		must[int](t)(ea.ntf.NotifyWithCustomEventID(3))
	}
	must[int](t)(ea.ntf.NotifyWithCustomEventID(9))
	time.Sleep(100 * time.Millisecond)
	for range 2 {
		must[int](t)(eb.ntf.NotifyWithCustomEventID(5))
	}
	want := map[iox2.EventID]uint64{3: 3, 9: 1, 5: 2}
	for name, lis := range map[string]*iox2.Listener{"a": ea.lis, "b": eb.lis} {
		got := counts(t, lis, 500*time.Millisecond)
		if len(got) != len(want) || got[3] != 3 || got[9] != 1 || got[5] != 2 {
			t.Errorf("listener %s got %v, want %v", name, got, want)
		}
	}
	for _, g := range []*testGW{ga, gb} {
		st := bridgeOf(t, g.Gateway, evName, evPattern)
		if st.Dropped != 0 || st.Malformed != 0 || st.Sent == 0 || st.Received == 0 {
			t.Errorf("gateway %s counters %+v", g.ID(), st)
		}
	}
}
