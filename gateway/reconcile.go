package gateway

import (
	"fmt"
	"sort"

	iox2 "github.com/iox2go/iox2go/runtime"
)

// Refusal is a remote service that the gateway does not bridge, and why.
type Refusal struct {
	Service string `json:"service"`
	Pattern string `json:"pattern"`
	Gateway string `json:"gateway"` // the remote gateway that announced it
	Host    string `json:"host"`
	Reason  string `json:"reason"`
}

// want is a bridge that the remote catalogs ask for.
type want struct {
	static  iox2.StaticConfig
	remotes []string
	servers []string // the remotes with servers (request-response)
	convert bool     // a remote has the other byte order: its payloads are converted
}

// reconcile makes the bridges those that the remote catalogs ask for: a
// service announced by at least one remote gateway, allowed, of a pattern
// the gateway bridges, whose identity agrees with the local one.
func (g *Gateway) reconcile() {
	g.mu.Lock()
	ids := make([]string, 0, len(g.remotes))
	for id := range g.remotes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	wants := map[string]*want{}
	var refused []Refusal
	for _, id := range ids {
		r := g.remotes[id]
		refuse := func(sc iox2.StaticConfig, why string) {
			refused = append(refused, Refusal{Service: sc.Name, Pattern: sc.Pattern, Gateway: id, Host: r.ann.Host, Reason: why})
		}
		hashes := make([]string, 0, len(r.services))
		for h := range r.services {
			hashes = append(hashes, h)
		}
		sort.Strings(hashes)
		for _, h := range hashes {
			sc := r.services[h]
			switch {
			case r.ann.ByteOrder != "little" && r.ann.ByteOrder != "big":
				refuse(sc, fmt.Sprintf("unknown byte order %q", r.ann.ByteOrder))
				continue
			case r.ann.Protocol != iox2.ProtocolVersion:
				refuse(sc, fmt.Sprintf("protocol version %d differs from this host's %d", r.ann.Protocol, iox2.ProtocolVersion))
				continue
			case r.ann.Wire != wireVersion:
				refuse(sc, fmt.Sprintf("gateway message format %d differs from this gateway's %d (run the same iox2go version on both hosts)", r.ann.Wire, wireVersion))
				continue
			case !g.cfg.allowed(sc.Name):
				refuse(sc, "not allowed by this gateway's allow and deny lists")
				continue
			case sc.Pattern != iox2.PatternPublishSubscribe.String() && sc.Pattern != iox2.PatternEvent.String() &&
				sc.Pattern != iox2.PatternRequestResponse.String():
				refuse(sc, fmt.Sprintf("unknown pattern %q", sc.Pattern))
				continue
			}
			if r.ann.ByteOrder != g.order {
				if why := convertible(sc); why != "" {
					refuse(sc, fmt.Sprintf("byte order %s differs from this host's %s, and %s", r.ann.ByteOrder, g.order, why))
					continue
				}
			}
			if l, ok := g.local[h]; ok {
				if d := identityDiff(&l, &sc); d != "" {
					refuse(sc, "type identity differs from the local service's: "+d)
					continue
				}
			}
			if w, ok := wants[h]; ok {
				if d := identityDiff(&w.static, &sc); d != "" {
					refuse(sc, fmt.Sprintf("type identity differs from gateway %s's: %s", w.remotes[0], d))
					continue
				}
				w.remotes = append(w.remotes, id)
				w.convert = w.convert || r.ann.ByteOrder != g.order
				if r.servers[h] {
					w.servers = append(w.servers, id)
				}
				continue
			}
			wants[h] = &want{static: sc, remotes: []string{id}, convert: r.ann.ByteOrder != g.order}
			if r.servers[h] {
				wants[h].servers = []string{id}
			}
		}
	}
	type closing struct {
		b   *bridge
		why string
	}
	var gone []closing
	for h, b := range g.bridges {
		w, ok := wants[h]
		if !ok {
			gone = append(gone, closing{b, "no remote gateway has it any more"})
			delete(g.bridges, h)
			continue
		}
		if d := identityDiff(&b.static, &w.static); d != "" {
			// Re-created elsewhere with another identity: closed here and
			// opened again below, which refuses what the local service
			// cannot carry.
			gone = append(gone, closing{b, "its identity changed: " + d})
			delete(g.bridges, h)
			continue
		}
		b.setRemotes(w.remotes, w.servers)
	}
	var add []*want
	for h, w := range wants {
		if _, ok := g.bridges[h]; !ok {
			add = append(add, w)
		}
	}
	g.mu.Unlock()

	for _, c := range gone {
		g.logf("gateway %s: %s service %q: %s, bridge closed", g.idStr, c.b.static.Pattern, c.b.static.Name, c.why)
		c.b.close()
	}
	var failed []Refusal
	for _, w := range add {
		b, err := g.openBridge(w.static)
		if err != nil {
			for _, id := range w.remotes {
				failed = append(failed, Refusal{Service: w.static.Name, Pattern: w.static.Pattern, Gateway: id, Reason: err.Error()})
			}
			continue
		}
		b.setRemotes(w.remotes, w.servers)
		conv := ""
		if w.convert && w.static.Pattern != iox2.PatternEvent.String() {
			conv = " (payloads converted between byte orders)"
		}
		g.logf("gateway %s: %s service %q bridged with %v%s", g.idStr, w.static.Pattern, w.static.Name, w.remotes, conv)
		g.mu.Lock()
		g.bridges[w.static.Hash] = b
		g.mu.Unlock()
	}
	g.mu.Lock()
	g.refused = append(refused, failed...)
	now := map[string]bool{}
	for _, r := range g.refused {
		k := r.Gateway + "\x00" + r.Pattern + "\x00" + r.Service + "\x00" + r.Reason
		now[k] = true
		if !g.reported[k] {
			g.logf("gateway %s: %s service %q of gateway %s refused: %s", g.idStr, r.Pattern, r.Service, r.Gateway, r.Reason)
		}
	}
	g.reported = now
	g.mu.Unlock()
}

// identityDiff says how the type identities of two services differ; ""
// when they agree. Only publish-subscribe services have one.
func identityDiff(a, b *iox2.StaticConfig) string {
	if a.Pattern != b.Pattern {
		return fmt.Sprintf("pattern %s vs %s", a.Pattern, b.Pattern)
	}
	if ra, rb := a.RequestResponse, b.RequestResponse; ra != nil && rb != nil {
		if d := typeDiff("request", &ra.Request, &rb.Request); d != "" {
			return d
		}
		if d := typeDiff("response", &ra.Response, &rb.Response); d != "" {
			return d
		}
		if ra.RequestVariant != rb.RequestVariant || ra.ResponseVariant != rb.ResponseVariant {
			return fmt.Sprintf("variants %s/%s vs %s/%s", ra.RequestVariant, ra.ResponseVariant, rb.RequestVariant, rb.ResponseVariant)
		}
		return ""
	}
	pa, pb := a.PublishSubscribe, b.PublishSubscribe
	if pa == nil || pb == nil {
		return ""
	}
	if d := typeDiff("payload", &pa.Payload, &pb.Payload); d != "" {
		return d
	}
	if pa.PayloadVariant != pb.PayloadVariant {
		return fmt.Sprintf("payload variant %s vs %s", pa.PayloadVariant, pb.PayloadVariant)
	}
	switch {
	case pa.UserHeader == nil && pb.UserHeader == nil:
	case pa.UserHeader == nil || pb.UserHeader == nil:
		return "one has a user header, the other none"
	default:
		return typeDiff("user header", pa.UserHeader, pb.UserHeader)
	}
	return ""
}

func typeDiff(what string, a, b *iox2.TypeInfo) string {
	switch {
	case a.Name != b.Name:
		return fmt.Sprintf("%s type %q vs %q", what, a.Name, b.Name)
	case a.Size != b.Size || a.Align != b.Align:
		return fmt.Sprintf("%s %s: size %d align %d vs size %d align %d", what, a.Name, a.Size, a.Align, b.Size, b.Align)
	case a.LayoutHash != b.LayoutHash:
		return fmt.Sprintf("%s %s: layout hash %.12s… vs %.12s…", what, a.Name, a.LayoutHash, b.LayoutHash)
	}
	return ""
}
