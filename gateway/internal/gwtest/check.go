package gwtest

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// Tracker follows the numbered samples of one kind ("imu", "points") that
// a subscriber process prints, per publisher, over the whole test: each
// must arrive exactly once, in order, without a gap, with every field
// right.
type Tracker struct {
	t    testing.TB
	p    *Proc
	kind string
	last map[uint32]uint64
}

// Track starts following subscriber p's samples of kind.
func Track(t testing.TB, p *Proc, kind string) *Tracker {
	return &Tracker{t: t, p: p, kind: kind, last: map[uint32]uint64{}}
}

// Skip makes the tracker accept that publisher pub's samples up to seq
// were not received (sent while the route was down).
func (tr *Tracker) Skip(pub uint32, seq uint64) { tr.last[pub] = seq }

// Expect waits up to Patience until publisher pub's samples up to
// want[pub] have all arrived, for every pub in want, and then Quiet more
// to see that nothing else (a duplicate, an echo) arrives.
func (tr *Tracker) Expect(want map[uint32]uint64) {
	tr.t.Helper()
	done := func() bool {
		for pub, seq := range want {
			if tr.last[pub] < seq {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(Patience)
	for !done() {
		m, ok := tr.p.Await(func(m Msg) bool { return m.Kind == tr.kind }, time.Until(deadline))
		if !ok {
			tr.t.Fatalf("%s: %s samples: have up to %v, want up to %v within %v", tr.p.Name, tr.kind, tr.last, want, Patience)
		}
		tr.see(m, want)
	}
	for _, m := range tr.p.Drain(Quiet) {
		if m.Kind == tr.kind {
			tr.see(m, want)
		}
	}
	for pub, seq := range want {
		if tr.last[pub] != seq {
			tr.t.Errorf("%s: %s samples of publisher %d up to %d, want up to %d (extra samples)", tr.p.Name, tr.kind, pub, tr.last[pub], seq)
		}
	}
}

func (tr *Tracker) see(m Msg, want map[uint32]uint64) {
	tr.t.Helper()
	if m.Err != "" {
		tr.t.Errorf("%s: %s", tr.p.Name, m.Err)
	}
	if _, ok := want[m.Pub]; !ok {
		tr.t.Errorf("%s: %s sample %d of publisher %d, which must not reach it", tr.p.Name, tr.kind, m.Seq, m.Pub)
		return
	}
	last := tr.last[m.Pub]
	switch {
	case m.Seq <= last:
		tr.t.Errorf("%s: %s sample %d of publisher %d again or out of order (after %d)", tr.p.Name, tr.kind, m.Seq, m.Pub, last)
		return
	case m.Seq != last+1:
		tr.t.Errorf("%s: %s samples %d..%d of publisher %d lost", tr.p.Name, tr.kind, last+1, m.Seq-1, m.Pub)
	}
	tr.last[m.Pub] = m.Seq
}

// WaitWarm waits up to Patience for subscriber (or listener, or client) p
// to report a warm-up sample of publisher pub (0 for a listener or
// client): the route from pub to p is open.
func WaitWarm(p *Proc, pub uint32) {
	p.t.Helper()
	p.Expect(func(m Msg) bool { return m.Kind == "warm" && m.Pub == pub }, fmt.Sprintf("warm-up sample from publisher %d", pub))
}

// ExpectEvents waits up to Patience until listener p has received count
// notifications of id (summing coalesced ones), then Quiet more, and
// fails the test unless exactly count arrived.
func ExpectEvents(t testing.TB, p *Proc, id, count uint64) {
	t.Helper()
	var got uint64
	deadline := time.Now().Add(Patience)
	for got < count {
		m, ok := p.Await(func(m Msg) bool { return m.Kind == "event" }, time.Until(deadline))
		if !ok {
			t.Fatalf("%s: %d of %d notifications of id %d within %v", p.Name, got, count, id, Patience)
		}
		if m.ID != id {
			t.Errorf("%s: notification of id %d, want only %d", p.Name, m.ID, id)
			continue
		}
		got += m.Count
	}
	for _, m := range p.Drain(Quiet) {
		if m.Kind == "event" {
			got += m.Count
			if m.ID != id {
				t.Errorf("%s: notification of id %d, want only %d", p.Name, m.ID, id)
			}
		}
	}
	if got != count {
		t.Errorf("%s: %d notifications of id %d, want exactly %d", p.Name, got, id, count)
	}
}

// FindRefusal looks in a gateway status for a refused service named name
// and returns its reason: an object under a key containing "refus" that
// has name as a value and a non-empty string under a key containing
// "reason".
func FindRefusal(status map[string]any, name string) (string, bool) {
	var walk func(v any, refused bool) (string, bool)
	walk = func(v any, refused bool) (string, bool) {
		switch v := v.(type) {
		case map[string]any:
			if s, ok := v[name].(string); ok && refused && s != "" {
				return s, true // {"refused": {"name": "reason"}}
			}
			if refused {
				hasName, reason := false, ""
				for k, x := range v {
					if s, ok := x.(string); ok {
						if s == name {
							hasName = true
						}
						if strings.Contains(strings.ToLower(k), "reason") {
							reason = s
						}
					}
				}
				if hasName && reason != "" {
					return reason, true
				}
			}
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if r, ok := walk(v[k], refused || strings.Contains(strings.ToLower(k), "refus")); ok {
					return r, true
				}
			}
		case []any:
			for _, x := range v {
				if r, ok := walk(x, refused); ok {
					return r, true
				}
			}
		}
		return "", false
	}
	return walk(status, false)
}
