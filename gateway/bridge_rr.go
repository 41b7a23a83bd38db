package gateway

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	iox2 "github.com/iox2go/iox2go/runtime"
)

// Request-response crosses in both directions at once: on the host of a
// client, the gateway's proxy server receives the client's requests and
// sends each to the gateways that announced servers of the service
// (rr.<hash>.<server-gw>, with a reply inbox); on the host of a server,
// the gateway's proxy client sends the request to the local servers and
// streams their responses back to the inbox, then an end marker. The proxy
// server ends the client's stream once every targeted gateway sent its end
// marker, the client gave up, or a targeted gateway was forgotten.

// maxProxySliceBytes bounds the requests and responses of dynamic
// services that cross: the proxy ports are made with room for this many
// bytes.
const maxProxySliceBytes = 1 << 20

func (b *bridge) openReqRes() error {
	node, sc := b.g.node, b.static
	rr, err := iox2.RequestResponseRaw(node, sc.Name).Open()
	if errors.Is(err, iox2.ErrServiceNotExist) {
		cr := iox2.RequestResponseRaw(node, sc.Name)
		for _, a := range sc.Attributes {
			cr.Attribute(a.Key, a.Value)
		}
		rr, err = cr.OpenOrCreate(*sc.RequestResponse)
	}
	if err != nil {
		return err
	}
	b.rr = rr
	have := rr.StaticConfig()
	if d := identityDiff(&have, &sc); d != "" {
		return fmt.Errorf("type identity differs from the local service's: %s", d)
	}
	rs := have.RequestResponse
	b.reqSize, b.respSize = rs.Request.Size, rs.Response.Size
	b.reqConv, _ = newConverter(rs.Request, nil)
	b.respConv, _ = newConverter(rs.Response, nil)
	b.reqSlice, b.respSlice = rs.RequestVariant == "dynamic", rs.ResponseVariant == "dynamic"
	o := iox2.RawServerOptions{MaxSliceLen: 1}
	if b.respSlice {
		o.MaxSliceLen = max(1, int(maxProxySliceBytes/b.respSize))
	}
	b.psrv, err = rr.Server(o)
	if errors.Is(err, iox2.ErrExceedsMaxServers) {
		// The local servers take every server place the service has: the
		// local clients are served here, and the remote ones still reach
		// those servers through the proxy client (onRequest). Only the
		// forwarding of local requests to remote servers is left out.
		b.psrv = nil
		b.g.logf("gateway %s: request_response service %q: its servers are all local (max %d): local requests stay local",
			b.g.idStr, sc.Name, rs.MaxServers)
		return nil
	}
	return err
}

// serveRequests forwards the requests of local clients (not the proxy
// client's) to the gateways with servers, and relays their responses.
func (b *bridge) serveRequests() {
	defer close(b.done)
	if b.psrv == nil {
		return // no proxy server: see openReqRes
	}
	for {
		ar, err := b.psrv.BlockingReceive(b.ctx)
		if err != nil {
			if b.ctx.Err() == nil {
				b.g.logf("gateway %s: %s: receive request: %v", b.g.idStr, b.static.Name, err)
			}
			return
		}
		h := ar.Header()
		if uint64(h.ClientID) == b.ownClient.Load() {
			ar.Close() // a remote client's request, injected by us
			continue
		}
		b.mu.Lock()
		targets := append([]string(nil), b.servers...)
		b.mu.Unlock()
		if len(targets) == 0 {
			ar.Close() // no remote server: this gateway's part of the stream is empty
			continue
		}
		b.forwardRequest(ar, h, targets)
	}
}

func (b *bridge) forwardRequest(ar *iox2.RawActiveRequest, h iox2.RequestHeader, targets []string) {
	nc := b.g.nc
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		ar.Close()
		b.dropped.Add(1)
		return
	}
	sub.SetPendingLimits(b.g.cfg.MaxPendingMessages, b.g.cfg.MaxPendingBytes)
	pl := ar.Payload()
	buf := make([]byte, sampleHeaderLen+len(pl))
	putSampleHeader(buf, sampleHeader{flags: b.g.orderFlag, origin: b.g.id, publisher: uint64(h.ClientID), seq: h.RequestID, elems: uint64(ar.Len())})
	copy(buf[sampleHeaderLen:], pl)
	want := map[uint64]string{}
	for _, t := range targets {
		id, err := strconv.ParseUint(t, 16, 64)
		if err != nil {
			continue
		}
		if err := nc.PublishMsg(&nats.Msg{Subject: b.g.subj("rr." + b.static.Hash + "." + t), Reply: inbox, Data: buf}); err != nil {
			b.dropped.Add(1)
			continue
		}
		b.sent.Add(1)
		want[id] = t
	}
	b.streams.Add(1)
	go b.relay(ar, h, sub, want)
}

// tellServers passes the client's disconnect hint (flagHint) or its giving
// up (flagEnd) on to the gateways whose part of the stream has not ended.
func (b *bridge) tellServers(h iox2.RequestHeader, want map[uint64]string, flag byte) {
	var m [sampleHeaderLen]byte
	putSampleHeader(m[:], sampleHeader{flags: flag, origin: b.g.id, publisher: uint64(h.ClientID), seq: h.RequestID})
	for _, t := range want {
		b.g.nc.Publish(b.g.subj("rr."+b.static.Hash+"."+t), m[:])
	}
}

// relay injects the responses that arrive on the request's inbox into the
// client's stream until every targeted gateway ended its part. It passes
// the client's disconnect hint and its giving up on to those gateways,
// seen at the next response or within a heartbeat interval.
func (b *bridge) relay(ar *iox2.RawActiveRequest, h iox2.RequestHeader, sub *nats.Subscription, want map[uint64]string) {
	defer b.streams.Done()
	defer sub.Unsubscribe()
	defer ar.Close()
	wait := max(b.g.cfg.HeartbeatInterval, 50*time.Millisecond)
	hinted := false
	for len(want) > 0 {
		if !ar.IsConnected() {
			b.tellServers(h, want, flagEnd)
			return // the client gave up
		}
		if !hinted && ar.HasDisconnectHint() {
			hinted = true
			b.tellServers(h, want, flagHint)
		}
		m, err := sub.NextMsg(wait)
		if b.ctx.Err() != nil {
			return
		}
		if errors.Is(err, nats.ErrTimeout) {
			b.g.mu.Lock()
			for id, t := range want {
				if _, ok := b.g.remotes[t]; !ok {
					delete(want, id) // forgotten: its part of the stream ends
				}
			}
			b.g.mu.Unlock()
			continue
		}
		if err != nil {
			if !errors.Is(err, nats.ErrSlowConsumer) {
				return
			}
			b.dropped.Add(1)
			continue
		}
		rh, _, pl, err := decodeSample(m.Data, b.respSize)
		if err == nil && !b.respSlice && rh.flags&flagEnd == 0 && rh.elems != 1 {
			err = fmt.Errorf("%w: %d elements for a fixed response", errBadMessage, rh.elems)
		}
		if err != nil {
			b.malformed.Add(1)
			b.warnOnce("dropped a response: %v", err)
			continue
		}
		if rh.flags&flagEnd != 0 {
			delete(want, rh.origin)
			continue
		}
		if _, ok := want[rh.origin]; !ok {
			b.malformed.Add(1)
			continue
		}
		foreign := b.g.foreign(rh.flags)
		if foreign && b.respConv == nil {
			b.malformed.Add(1)
			b.warnOnce("dropped a response in the other byte order: the service's types have no layout to convert it by")
			continue
		}
		rm, err := ar.LoanUninit(int(rh.elems))
		if err != nil {
			b.dropped.Add(1)
			b.warnOnce("loan response: %v", err)
			continue
		}
		copy(rm.Payload(), pl)
		if foreign {
			b.respConv.convert(rm.Payload(), int(rh.elems), nil)
		}
		if err := rm.Send(); err != nil {
			b.dropped.Add(1)
			continue
		}
		b.received.Add(1)
	}
}

// onRequest sends a remote client's request to the local servers through
// the proxy client and streams their responses back.
func (b *bridge) onRequest(m *nats.Msg) {
	nc := b.g.nc
	end := func() {
		var e [sampleHeaderLen]byte
		putSampleHeader(e[:], sampleHeader{flags: flagEnd, origin: b.g.id})
		nc.Publish(m.Reply, e[:])
	}
	h, _, pl, err := decodeSample(m.Data, b.reqSize)
	if err == nil && h.flags&(flagHint|flagEnd) != 0 && h.elems == 0 && m.Reply == "" {
		b.control(h)
		return
	}
	if err == nil && !b.reqSlice && h.elems != 1 {
		err = fmt.Errorf("%w: %d elements for a fixed request", errBadMessage, h.elems)
	}
	if err == nil && m.Reply == "" {
		err = fmt.Errorf("%w: a request without a reply subject", errBadMessage)
	}
	foreign := b.g.foreign(h.flags)
	if err == nil && foreign && b.reqConv == nil {
		err = fmt.Errorf("%w: a request in the other byte order, and the service's types have no layout to convert it by", errBadMessage)
	}
	if err != nil {
		b.malformed.Add(1)
		b.warnOnce("dropped a message from %s: %v", m.Subject, err)
		if m.Reply != "" {
			end()
		}
		return
	}
	b.mu.Lock()
	if b.ctx.Err() != nil {
		b.mu.Unlock()
		return
	}
	// Reserved under b.mu, which close takes after cancelling: close's
	// Wait then sees it.
	b.streams.Add(1)
	spawned := false
	defer func() {
		if !spawned {
			b.streams.Done()
		}
	}()
	if b.pcl == nil {
		o := iox2.RawClientOptions{MaxSliceLen: 1, Backpressure: iox2.DiscardData}
		if b.reqSlice {
			o.MaxSliceLen = max(1, int(maxProxySliceBytes/b.reqSize))
		}
		c, err := b.rr.Client(o)
		if err != nil {
			b.mu.Unlock()
			b.dropped.Add(1)
			b.warnOnce("no proxy client, request dropped: %v", err)
			end()
			return
		}
		b.pcl = c
		b.ownClient.Store(uint64(c.ID()))
	}
	pcl := b.pcl
	b.mu.Unlock()
	rq, err := pcl.LoanUninit(int(h.elems))
	if err == nil {
		copy(rq.Payload(), pl)
		if foreign {
			b.reqConv.convert(rq.Payload(), int(h.elems), nil)
		}
		var pend *iox2.RawPendingResponse
		if pend, err = rq.Send(); err == nil {
			b.received.Add(1)
			spawned = true
			k := rrKey{origin: h.origin, client: h.publisher, request: h.seq}
			ctx, cancel := context.WithCancel(b.ctx)
			b.mu.Lock()
			if b.remoteReqs == nil {
				b.remoteReqs = map[rrKey]*remoteReq{}
			}
			b.remoteReqs[k] = &remoteReq{pend: pend, cancel: cancel}
			b.mu.Unlock()
			go b.streamResponses(ctx, k, pend, m.Reply)
			return
		}
	}
	b.dropped.Add(1)
	b.warnOnce("request dropped: %v", err)
	end()
}

// rrKey names a remote client's request: its gateway, client port and
// request ID.
type rrKey struct{ origin, client, request uint64 }

// remoteReq is a remote client's request in the hands of the local
// servers (streamResponses).
type remoteReq struct {
	pend   *iox2.RawPendingResponse
	cancel context.CancelFunc // ends the stream: the client gave up
}

// control applies a remote client's disconnect hint or giving up to its
// request, if its stream still runs.
func (b *bridge) control(h sampleHeader) {
	b.mu.Lock()
	r := b.remoteReqs[rrKey{origin: h.origin, client: h.publisher, request: h.seq}]
	b.mu.Unlock()
	switch {
	case r == nil: // ended already
	case h.flags&flagEnd != 0:
		r.cancel()
	default:
		r.pend.SetDisconnectHint()
	}
}

// streamResponses sends the local servers' responses to a remote client's
// inbox, then the end marker. ctx ends when the client gives up (control):
// the local servers then see the request disconnected.
func (b *bridge) streamResponses(ctx context.Context, k rrKey, pend *iox2.RawPendingResponse, reply string) {
	defer b.streams.Done()
	defer func() {
		b.mu.Lock()
		if r := b.remoteReqs[k]; r != nil && r.pend == pend { // not a later request that reused the key
			delete(b.remoteReqs, k)
			r.cancel()
		}
		b.mu.Unlock()
	}()
	defer pend.Close()
	nc := b.g.nc
	var buf []byte
	var n uint64
	for {
		r, err := pend.BlockingReceive(ctx)
		if err != nil {
			break // the stream ended (or the client gave up, or the bridge closes)
		}
		pl := r.Payload()
		if cap(buf) < sampleHeaderLen+len(pl) {
			buf = make([]byte, sampleHeaderLen+len(pl))
		}
		buf = buf[:sampleHeaderLen+len(pl)]
		putSampleHeader(buf, sampleHeader{flags: b.g.orderFlag, origin: b.g.id, publisher: uint64(r.Header().ServerID), seq: n, elems: uint64(r.Len())})
		copy(buf[sampleHeaderLen:], pl)
		r.Release()
		n++
		if err := nc.Publish(reply, buf); err != nil {
			b.dropped.Add(1)
			continue
		}
		b.sent.Add(1)
	}
	var e [sampleHeaderLen]byte
	putSampleHeader(e[:], sampleHeader{flags: flagEnd, origin: b.g.id, seq: n})
	nc.Publish(reply, e[:])
}
