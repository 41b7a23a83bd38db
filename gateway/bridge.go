package gateway

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	iox2 "github.com/iox2go/iox2go/runtime"
)

// bridge carries one service between the local domain and NATS: a local
// receiving port (subscriber or listener) that forwards what local ports
// send, and a proxy sending port (publisher or notifier), created at the
// first message from NATS, that injects what remote ports sent.
type bridge struct {
	g      *Gateway
	static iox2.StaticConfig
	subj   string

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // the forwarding goroutine ended

	natsSub *nats.Subscription

	// publish-subscribe
	ps       *iox2.RawPubSubService
	sub      *iox2.RawSubscriber
	elemSize uint64
	slice    bool
	conv     *converter // payloads from a host of the other byte order; nil: not convertible

	// events
	ev  *iox2.EventService
	lis *iox2.Listener

	// request-response (bridge_rr.go)
	rr        *iox2.RawReqResService
	psrv      *iox2.RawServer // proxy server: local clients' requests to the remote servers
	ownClient atomic.Uint64   // the proxy client's ID: its requests are not forwarded
	streams   sync.WaitGroup  // response relays and streams
	reqSize   uint64
	respSize  uint64
	reqConv   *converter // requests and responses from a host of the other byte order
	respConv  *converter
	// remoteReqs are the remote clients' requests whose streams run
	// (streamResponses), for their hints and cancellations; guarded by mu.
	remoteReqs map[rrKey]*remoteReq
	reqSlice   bool
	respSlice  bool

	mu       sync.Mutex // guards the proxies, injected, remotes and servers
	pub      *iox2.RawPublisher
	ntf      *iox2.Notifier
	pcl      *iox2.RawClient         // proxy client: remote clients' requests to the local servers
	servers  []string                // the remote gateways with servers of the service
	injected map[iox2.EventID]uint64 // notifications injected, not yet seen by lis
	remotes  []string
	warned   bool // a proxy failure was logged

	sent, received, dropped, malformed atomic.Uint64
	// nextNumber is the record number expected next of each origin
	// gateway (onSample): a jump is records lost on NATS, counted as
	// dropped. Guarded by mu.
	nextNumber map[uint64]uint32
	// The subscription's message limit and what it follows (see
	// adjustPending); guarded by mu.
	pendMsgs    int
	recsPerMsg  float64
	msgs        uint64
	undelivered atomic.Uint64 // deliveries of injected samples lost to full local queues
	pubLost     uint64        // b.pub's Undelivered total when last counted; guarded by mu
	pubFull     bool          // b.pub's last sample reached no subscriber; guarded by mu
}

func (b *bridge) setRemotes(ids, servers []string) {
	b.mu.Lock()
	b.remotes = append([]string(nil), ids...)
	b.servers = append([]string(nil), servers...)
	b.mu.Unlock()
}

// openBridge opens the local service (creating it with the remote's
// static config when it does not exist), its forwarding port and the NATS
// subscription.
func (g *Gateway) openBridge(sc iox2.StaticConfig) (*bridge, error) {
	b := &bridge{g: g, static: sc, done: make(chan struct{}), injected: map[iox2.EventID]uint64{}}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	var err error
	switch sc.Pattern {
	case iox2.PatternPublishSubscribe.String():
		b.subj = g.subj("ps." + sc.Hash)
		err = b.openPubSub()
	case iox2.PatternEvent.String():
		b.subj = g.subj("ev." + sc.Hash)
		err = b.openEvent()
	case iox2.PatternRequestResponse.String():
		b.subj = g.subj("rr." + sc.Hash + "." + g.idStr)
		err = b.openReqRes()
	default:
		err = fmt.Errorf("pattern %s is not bridged", sc.Pattern)
	}
	if err != nil {
		b.cancel()
		b.closePorts()
		return nil, err
	}
	var cb nats.MsgHandler = b.onSample
	if b.ev != nil {
		cb = b.onEvent
	} else if b.rr != nil {
		cb = b.onRequest
	}
	b.natsSub, err = g.nc.Subscribe(b.subj, cb)
	if err != nil {
		b.cancel()
		b.closePorts()
		return nil, fmt.Errorf("subscribe %s: %w", b.subj, err)
	}
	// For publish-subscribe the message limit follows the size of the
	// batches (adjustPending), starting at one sample a message.
	b.pendMsgs, b.recsPerMsg = g.cfg.MaxPendingMessages, 1
	b.natsSub.SetPendingLimits(b.pendMsgs, g.cfg.MaxPendingBytes)
	// Once the server has the subscription, what the others send reaches
	// it: the bridge counts as open (Status) only then. (Without a
	// connection nats.go subscribes again when it reconnects.)
	if g.nc.IsConnected() {
		g.nc.FlushTimeout(2 * time.Second)
	}
	switch {
	case b.ps != nil:
		go b.forwardSamples()
	case b.ev != nil:
		go b.forwardEvents()
	default:
		go b.serveRequests()
	}
	return b, nil
}

func (b *bridge) openPubSub() error {
	node, sc := b.g.node, b.static
	ps, err := iox2.PublishSubscribeRaw(node, sc.Name).Open()
	if errors.Is(err, iox2.ErrServiceNotExist) {
		cr := iox2.PublishSubscribeRaw(node, sc.Name)
		for _, a := range sc.Attributes {
			cr.Attribute(a.Key, a.Value)
		}
		ps, err = cr.OpenOrCreate(*sc.PublishSubscribe)
	}
	if err != nil {
		return err
	}
	b.ps = ps
	have := ps.StaticConfig()
	if d := identityDiff(&have, &sc); d != "" {
		return fmt.Errorf("type identity differs from the local service's: %s", d)
	}
	b.elemSize = have.PublishSubscribe.Payload.Size
	b.slice = ps.IsSlice()
	b.conv, _ = newConverter(have.PublishSubscribe.Payload, have.PublishSubscribe.UserHeader)
	// No history: what a remote host sent before is not this host's.
	b.sub, err = ps.SubscriberWith(0, 0)
	return err
}

func (b *bridge) openEvent() error {
	node, sc := b.g.node, b.static
	ev, err := iox2.Event(node, sc.Name).Open()
	if errors.Is(err, iox2.ErrServiceNotExist) {
		es := sc.Event
		eb := iox2.Event(node, sc.Name).MaxNotifiers(es.MaxNotifiers).MaxListeners(es.MaxListeners).
			MaxNodes(es.MaxNodes).EventIDMaxValue(es.EventIDMaxValue)
		if es.Deadline > 0 {
			eb.Deadline(es.Deadline)
		}
		if es.NotifierCreatedEvent != nil {
			eb.NotifierCreatedEvent(*es.NotifierCreatedEvent)
		}
		if es.NotifierDroppedEvent != nil {
			eb.NotifierDroppedEvent(*es.NotifierDroppedEvent)
		}
		if es.NotifierDeadEvent != nil {
			eb.NotifierDeadEvent(*es.NotifierDeadEvent)
		}
		for _, a := range sc.Attributes {
			eb.Attribute(a.Key, a.Value)
		}
		ev, err = eb.OpenOrCreate()
	}
	if err != nil {
		return err
	}
	b.ev = ev
	b.lis, err = ev.Listener()
	return err
}

// close ends the bridge: no more forwarding nor injection, ports closed.
func (b *bridge) close() {
	b.cancel()
	b.mu.Lock() // a callback that saw the context alive has reserved its stream
	b.mu.Unlock()
	if b.natsSub != nil {
		b.natsSub.Unsubscribe()
	}
	<-b.done
	b.streams.Wait()
	b.closePorts()
}

func (b *bridge) closePorts() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range []interface{ Close() error }{b.sub, b.pub, b.lis, b.ntf, b.psrv, b.pcl, b.ps, b.ev, b.rr} {
		if c != nil && !isNil(c) {
			c.Close()
		}
	}
	b.pub, b.ntf, b.pcl = nil, nil, nil
}

func isNil(c interface{ Close() error }) bool {
	switch v := c.(type) {
	case *iox2.RawSubscriber:
		return v == nil
	case *iox2.RawPublisher:
		return v == nil
	case *iox2.Listener:
		return v == nil
	case *iox2.Notifier:
		return v == nil
	case *iox2.RawPubSubService:
		return v == nil
	case *iox2.EventService:
		return v == nil
	case *iox2.RawServer:
		return v == nil
	case *iox2.RawClient:
		return v == nil
	case *iox2.RawReqResService:
		return v == nil
	}
	return false
}

// maxBatchBytes and maxBatchRecords bound a batch: the records that the
// forwarder packs into one NATS message when it finds several samples
// waiting (or the server's max_payload, when that is less). A record
// larger than that travels alone.
const (
	maxBatchBytes   = 64 << 10
	maxBatchRecords = 1024
)

// forwardSamples sends every sample of a local publisher (not this
// gateway's proxy) to NATS. The samples that are waiting when it looks
// travel together, as one message of records (a batch), so that a busy
// service pays NATS's per-message cost once per batch; it never waits for
// more to come (a lone sample leaves at once).
func (b *bridge) forwardSamples() {
	defer close(b.done)
	nc, origin := b.g.nc, b.g.id
	var buf []byte    // the batch
	records := 0      // in buf
	var number uint32 // the next record's number (sampleHeader.number)
	limit := 0        // of the batch: maxBatchBytes, or the server's max_payload if less
	flush := func() {
		if records == 0 {
			return
		}
		// Publish copies buf; while NATS is away it buffers up to the
		// client's reconnect buffer, then fails: counted drops.
		if err := nc.Publish(b.subj, buf); err != nil {
			number -= uint32(records) // not sent: no gap for the receivers
			b.dropped.Add(uint64(records))
			if errors.Is(err, nats.ErrMaxPayload) { // a record alone: batches stay within limit
				b.warnOnce("a sample of %d bytes exceeds the NATS server's max_payload of %d bytes: dropped", len(buf), nc.MaxPayload())
			}
		} else {
			b.sent.Add(uint64(records))
		}
		buf, records = buf[:0], 0
	}
	// next is the sequence number expected of each local publisher: a
	// gap is samples that the gateway's subscriber lost (its queue
	// overflowed while it could not keep up), counted as dropped.
	next := map[iox2.ID]uint64{}
	// The wait parks at once, without BlockingReceive's spin: the
	// gateway shares the CPUs with the processes that carry its messages
	// (the NATS server, the other gateway, the subscribers). What the
	// gateway's own proxy injects never reaches this subscriber (the
	// proxy excludes it), so everything it receives is local.
	wait, stop, err := newParkingWait(b.sub)
	if err != nil {
		b.g.logf("gateway %s: %s: waitset: %v", b.g.idStr, b.static.Name, err)
		return
	}
	defer stop()
	// When the gateway stops (b.ctx ends), the forwarder first sends what
	// its subscriber holds, for at most drainFor: what local publishers
	// sent before the stop still reaches the other hosts.
	var drainUntil time.Time
	for {
		s, err := b.sub.Receive()
		if err == nil && s == nil {
			flush()
			if !drainUntil.IsZero() {
				return // drained
			}
			if err = wait(b.ctx); err == nil {
				continue
			}
			if b.ctx.Err() != nil {
				drainUntil = time.Now().Add(drainFor)
				continue
			}
		}
		if err == nil && !drainUntil.IsZero() && records == 0 && time.Now().After(drainUntil) {
			s.Release()
			return // publishers that keep sending: what is left is not forwarded
		}
		if err != nil {
			if b.ctx.Err() == nil {
				b.g.logf("gateway %s: %s: receive: %v", b.g.idStr, b.static.Name, err)
			}
			return
		}
		if want, ok := next[s.Publisher()]; ok && s.Sequence() > want {
			b.dropped.Add(s.Sequence() - want)
		}
		if len(next) > 4096 { // publishers come and go: forget them now and then
			clear(next)
		}
		next[s.Publisher()] = s.Sequence() + 1
		uh, pl := s.UserHeader(), s.Payload()
		n := sampleHeaderLen + len(uh) + len(pl)
		if records > 0 && (len(buf)+n > limit || records == maxBatchRecords) {
			flush()
		}
		if records == 0 {
			limit = maxBatchBytes
			if mp := nc.MaxPayload(); mp > 0 && mp < int64(limit) {
				limit = int(mp)
			}
		}
		at := len(buf)
		buf = slices.Grow(buf, n)[:at+n]
		putSampleHeader(buf[at:], sampleHeader{flags: b.g.orderFlag, origin: origin, publisher: uint64(s.Publisher()), seq: s.Sequence(),
			userHeaderLen: uint32(len(uh)), number: number, elems: uint64(s.Len())})
		number++
		copy(buf[at+sampleHeaderLen:], uh)
		copy(buf[at+sampleHeaderLen+len(uh):], pl)
		s.Release()
		records++
		if len(buf) >= limit || records == maxBatchRecords {
			flush()
		}
	}
}

// drainFor bounds how long a forwarder keeps sending what its local port
// holds once the gateway stops.
const drainFor = 200 * time.Millisecond

// minProxySliceBytes is the payload room a dynamic service's proxy
// publisher starts with; it grows to the largest sample that arrives.
const minProxySliceBytes = 64 << 10

// onSample injects the samples of a message from NATS (one or a batch)
// through the proxy publisher, in their order.
func (b *bridge) onSample(m *nats.Msg) {
	// A message that left the local subscribers' queues full ends with a
	// yield of the processor (after the lock is released): in a program
	// that embeds the gateway, the goroutines that drain those queues then
	// run before more of a flood is read from NATS only to be discarded.
	full := false
	defer func() {
		if full {
			runtime.Gosched()
		}
	}()
	b.mu.Lock()
	defer b.mu.Unlock()
	records := 0
	// The record number expected next of the origin of the record before
	// (a message comes from one gateway): the map is read and written
	// once per message and origin, not per record.
	var origin uint64
	var want uint32
	known, cached := false, false
	defer func() {
		if cached {
			b.nextNumber[origin] = want
		}
		b.countUndeliveredLocked()
		b.adjustPending(records)
		full = b.pubFull
	}()
	if b.ctx.Err() != nil {
		return
	}
	for rest := m.Data; len(rest) > 0; {
		h, uh, pl, more, err := nextRecord(rest, b.elemSize)
		if err == nil && h.origin == b.g.id {
			return // our own (NoEcho makes this unreachable)
		}
		if err == nil && !b.slice && h.elems != 1 {
			err = fmt.Errorf("%w: %d elements for a fixed payload", errBadMessage, h.elems)
		}
		if err != nil {
			// The rest of the message cannot be split: dropped with it.
			b.malformed.Add(1)
			b.warnLocked("dropped a message from %s: %v", m.Subject, err)
			return
		}
		if !cached || h.origin != origin {
			if cached {
				b.nextNumber[origin] = want
			}
			if b.nextNumber == nil || len(b.nextNumber) > 4096 { // gateways come and go
				b.nextNumber = map[uint64]uint32{}
			}
			origin, cached = h.origin, true
			want, known = b.nextNumber[origin]
		}
		if known && h.number-want < 1<<31 {
			b.dropped.Add(uint64(h.number - want))
		}
		want, known = h.number+1, true
		b.injectLocked(int(h.elems), uh, pl, b.g.foreign(h.flags))
		records++
		rest = more
	}
}

// adjustPending keeps the subscription's message limit at
// max-pending-messages samples' worth of messages: max-pending-messages
// divided by the records a message holds, on average (a moving average
// over about 16 messages, applied every 64 messages when it moved by a
// quarter). A slow receiver then lets about as many samples pile up, and
// adds as much latency, whether they come one a message or in batches.
// b.mu is held.
func (b *bridge) adjustPending(records int) {
	b.recsPerMsg += (float64(records) - b.recsPerMsg) / 16
	if b.msgs++; b.msgs%64 != 0 {
		return
	}
	want := max(1, int(float64(b.g.cfg.MaxPendingMessages)/max(1, b.recsPerMsg)))
	if want > b.pendMsgs*5/4 || want < b.pendMsgs*3/4 {
		b.pendMsgs = want
		b.natsSub.SetPendingLimits(want, b.g.cfg.MaxPendingBytes)
	}
}

// injectLocked sends one sample of n elements through the proxy publisher,
// creating it (or a larger one) first when needed; foreign: its bytes are
// in the other byte order, and converted. b.mu is held.
func (b *bridge) injectLocked(n int, uh, pl []byte, foreign bool) {
	if foreign && b.conv == nil {
		// Not bridged with a host of the other order (reconcile refuses
		// it): a record that says so is malformed.
		b.malformed.Add(1)
		b.warnLocked("dropped a sample in the other byte order: the service's types have no layout to convert it by")
		return
	}
	if b.pub == nil || n > b.pub.MaxSliceLen() {
		if b.pub != nil {
			b.countUndeliveredLocked()
			b.pub.Close()
			b.pub = nil
		}
		maxSlice := 1
		if b.slice {
			maxSlice = max(n, int(minProxySliceBytes/max(b.elemSize, 1)), 1)
			if maxSlice > n && n > 0 {
				maxSlice = max(maxSlice, 2*n)
			}
		}
		// Exclude: what the proxy injects is not delivered to the
		// gateway's own forwarding subscriber (it would wake it, only to
		// be dropped there as the gateway's own).
		p, err := b.ps.PublisherWith(iox2.RawPublisherOptions{MaxSliceLen: maxSlice, Backpressure: iox2.DiscardData, Exclude: b.sub.ID()})
		if err != nil {
			b.dropped.Add(1)
			b.warnLocked("no proxy publisher, sample dropped: %v", err)
			return
		}
		b.pub, b.pubLost, b.pubFull = p, 0, false
	}
	if want := b.pub.UserHeaderSize(); len(uh) != want {
		b.malformed.Add(1)
		b.warnLocked("dropped a sample with a user header of %d bytes, the service's is %d", len(uh), want)
		return
	}
	// While the local subscribers' queues are full (the last sample
	// reached none of them), a sample that every one of them would
	// discard is counted as discarded without being loaned, copied and
	// sent: a flood from NATS then leaves the CPU to the subscribers that
	// drain the queues.
	if b.pubFull && b.pub.DiscardIfFull() {
		b.received.Add(1)
		return
	}
	s, err := b.pub.LoanUninit(n)
	if err != nil {
		b.dropped.Add(1)
		b.warnLocked("loan: %v", err)
		return
	}
	copy(s.UserHeader(), uh)
	copy(s.Payload(), pl)
	if foreign {
		b.conv.convert(s.Payload(), n, s.UserHeader())
	}
	delivered, err := s.Send()
	if err != nil {
		b.dropped.Add(1)
		b.warnLocked("send: %v", err)
		return
	}
	b.pubFull = delivered == 0
	b.received.Add(1)
}

// countUndeliveredLocked adds what the proxy publisher could not deliver
// since the last count to b.undelivered: once per message from NATS (and
// before the publisher is replaced), not per sample, for its lock. b.mu
// is held.
func (b *bridge) countUndeliveredLocked() {
	if b.pub == nil {
		return
	}
	if d, o := b.pub.Undelivered(); d+o != b.pubLost {
		b.undelivered.Add(d + o - b.pubLost)
		b.pubLost = d + o
	}
}

// maxInjectedCount bounds the notifications one event message injects.
const maxInjectedCount = 1 << 16

// forwardEvents sends what the local notifiers (not this gateway's proxy)
// notify to NATS, one message per event id and wake-up.
func (b *bridge) forwardEvents() {
	defer close(b.done)
	nc, origin := b.g.nc, b.g.id
	var buf [eventMsgLen]byte
	forward := func(a iox2.EventActivation) {
		b.mu.Lock()
		inj := min(b.injected[a.ID], a.Count)
		if inj > 0 {
			b.injected[a.ID] -= inj
		}
		b.mu.Unlock()
		count := a.Count - inj
		if count == 0 {
			return
		}
		putEvent(buf[:], uint64(a.ID), count, origin)
		if err := nc.Publish(b.subj, buf[:]); err != nil {
			b.dropped.Add(1)
			return
		}
		b.sent.Add(1)
	}
	for {
		_, err := b.lis.BlockingWait(b.ctx, forward)
		if err != nil {
			if b.ctx.Err() == nil {
				b.g.logf("gateway %s: %s: wait: %v", b.g.idStr, b.static.Name, err)
				return
			}
			// The gateway stops: what the listener holds goes too (see
			// forwardSamples).
			b.lis.TryWait(forward)
			return
		}
	}
}

// onEvent injects notifications from NATS through the proxy notifier.
func (b *bridge) onEvent(m *nats.Msg) {
	id, count, origin, err := decodeEvent(m.Data)
	if err == nil && origin == b.g.id {
		return
	}
	if err == nil && id > uint64(b.static.Event.EventIDMaxValue) {
		err = fmt.Errorf("%w: event id %d above the service's maximum %d", errBadMessage, id, b.static.Event.EventIDMaxValue)
	}
	if err != nil {
		b.malformed.Add(1)
		b.warnOnce("dropped a message from %s: %v", m.Subject, err)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx.Err() != nil {
		return
	}
	if b.ntf == nil {
		// A notifier-created event of the proxy is ours, not the host's.
		if ce := b.static.Event.NotifierCreatedEvent; ce != nil {
			b.injected[*ce]++
		}
		ntf, err := b.ev.Notifier()
		if err != nil {
			if ce := b.static.Event.NotifierCreatedEvent; ce != nil {
				b.injected[*ce]--
			}
			b.dropped.Add(1)
			b.warnLocked("no proxy notifier, event dropped: %v", err)
			return
		}
		b.ntf = ntf
	}
	eid := iox2.EventID(id)
	for range min(count, maxInjectedCount) {
		b.injected[eid]++
		if _, err := b.ntf.NotifyWithCustomEventID(eid); err != nil {
			b.injected[eid]--
			b.dropped.Add(1)
			b.warnLocked("notify: %v", err)
			return
		}
	}
	b.received.Add(1)
}

func (b *bridge) warnOnce(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.warnLocked(format, args...)
}

func (b *bridge) warnLocked(format string, args ...any) {
	if b.warned {
		return
	}
	b.warned = true
	b.g.logf("gateway %s: %s service %q: "+format+" (further ones only counted)", append([]any{b.g.idStr, b.static.Pattern, b.static.Name}, args...)...)
}

// newParkingWait returns a wait for w that parks until w may have
// something to take (or ctx ends, or w closes), never spinning, and the
// function that releases it.
func newParkingWait(w iox2.Waitable) (wait func(context.Context) error, stop func(), err error) {
	ws, err := iox2.NewWaitSetBuilder().Create()
	if err != nil {
		return nil, nil, err
	}
	guard, err := ws.AttachNotification(w)
	if err != nil {
		ws.Close()
		return nil, nil, err
	}
	cb := func(iox2.AttachmentID) iox2.CallbackProgression { return iox2.Continue }
	wait = func(ctx context.Context) error {
		_, err := ws.WaitAndProcessOnce(ctx, cb)
		return err
	}
	return wait, func() { guard.Detach(); ws.Close() }, nil
}
