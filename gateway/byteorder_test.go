package gateway

import (
	"context"
	"math/bits"
	"testing"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
)

// The tests below run on a little-endian machine and make one gateway
// announce "big" (Config.byteOrder): that gateway converts what it
// receives from the other and flags what it sends as big-endian, so its
// domain sees every multi-byte field of the other's values reversed, and
// the other domain sees its values reversed. A real big-endian host would
// see them right; here the reversal is what proves the conversion, field
// by field.

func swap64(v uint64) uint64 { return bits.ReverseBytes64(v) }
func swap32(v uint32) uint32 { return bits.ReverseBytes32(v) }

// TestByteOrderConverted: samples with user headers, requests and
// responses cross between hosts of different byte orders, converted field
// by field in both directions; bytes without an order stay.
func TestByteOrderConverted(t *testing.T) {
	if nativeByteOrder() != "little" {
		t.Skip("written for a little-endian machine")
	}
	ns := startNATS(t, 0)
	a, b := domain(t, "a"), domain(t, "b")
	ga := runGateway(t, a, ns.ClientURL(), nil)
	gb := runGateway(t, b, ns.ClientURL(), func(c *Config) { c.byteOrder = "big" })
	ea, eb := psPorts(t, a), psPorts(t, b)
	eventually(t, "both bridges", func() bool {
		return bridged(ga.Gateway, psName, psPattern, 1) && bridged(gb.Gateway, psName, psPattern, 1)
	})
	v := reading{Seq: 0x0102030405060708, Value: [3]int32{1, -2, 0x01020304}, Tail: 0x0a0b0c0d}
	swapped := reading{Seq: swap64(v.Seq), Tail: swap32(v.Tail)}
	for i, x := range v.Value {
		swapped.Value[i] = int32(swap32(uint32(x)))
	}
	for _, c := range []struct {
		from, to psEnd
		origin   string
	}{{ea, eb, "A"}, {eb, ea, "B"}} {
		send(t, c.from.pub, v, c.origin) // user header: Nanos = Seq*1000, Origin
		var s *iox2.Sample[reading]
		eventually(t, "the sample from "+c.origin, func() bool {
			s = must[*iox2.Sample[reading]](t)(c.to.sub.Receive())
			if s != nil && string(iox2.UserHeader[stamp](s).Origin[:1]) != c.origin {
				s.Release() // its own publisher's, from the round before
				s = nil
			}
			return s != nil
		})
		h := iox2.UserHeader[stamp](s)
		if *s.Payload() != swapped || h.Nanos != swap64(v.Seq*1000) || string(h.Origin[:1]) != c.origin {
			t.Errorf("from %s: %+v with header %d %q; want %+v with header %d %q", c.origin,
				*s.Payload(), h.Nanos, h.Origin[:1], swapped, swap64(v.Seq*1000), c.origin)
		}
		s.Release()
	}

	if !ga.log.has(`service "gw/pubsub" bridged with [` + gb.ID() + `] (payloads converted between byte orders)`) {
		t.Errorf("the conversion is not logged: %q", ga.log.lines)
	}

	// Request-response: a client on A, a server on B.
	sa, sb := rrService(t, a), rrService(t, b)
	ca := must[*iox2.Client[query, answer]](t)(sa.Client())
	defer ca.Close()
	seen := make(chan uint64, 1)
	serveWith(t, context.Background(), sb, func(_ context.Context, ar *iox2.ActiveRequest[query, answer]) {
		seen <- ar.Payload().N
		a := answer{N: ar.Payload().N, I: 1}
		copy(a.By[:], "B")
		if err := ar.SendCopy(a); err != nil {
			t.Errorf("respond: %v", err)
		}
	})
	eventually(t, "a bridged with b's server", func() bool {
		return bridged(ga.Gateway, rrName, rrPattern, 1) && len(ga.Gateway.bridgeServers(rrName)) == 1
	})
	got := ask(t, ca, 0x0102030405060708)
	select {
	case n := <-seen:
		if n != swap64(0x0102030405060708) {
			t.Errorf("server on B got N %#x, want %#x", n, swap64(0x0102030405060708))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server saw no request")
	}
	// The response's N went through two conversions; I and By through one.
	if len(got) != 1 || got[0].N != 0x0102030405060708 || got[0].I != swap64(1) || by(got[0]) != "B" {
		t.Errorf("responses %+v; want one {N: %#x, I: %#x, By: B}", got, uint64(0x0102030405060708), swap64(1))
	}
}
