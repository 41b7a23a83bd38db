// Package gateway joins a local iox2go domain to a NATS server, so that the
// same service on several hosts behaves as one: each gateway announces the
// services that the nodes of its host use, opens (or creates) locally the
// services that the other gateways announce when their type identity
// agrees, and carries samples, notifications, requests and responses both
// ways through proxy ports, converting payloads between byte orders. `iox2 gateway` runs one; docs/GATEWAY.md describes
// the subjects, the guarantees and the limits.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	iox2 "github.com/iox2go/iox2go/runtime"
)

// Gateway is one domain's gateway. New creates it, Run runs it until its
// context ends; a Gateway runs once.
type Gateway struct {
	// lastConnErr is why the last attempt to connect to NATS failed
	// ("" once connected): for Status.
	lastConnErr atomic.Pointer[string]

	cfg   Config
	ncfg  *iox2.Config
	node  *iox2.Node
	id    uint64 // the node's ID: the gateway's identity on NATS
	idStr string
	host  string
	order string // "little" or "big": announced, and said by the records' flagBigEndian
	// orderFlag is flagBigEndian on a big-endian host (order "big"), else
	// 0: what this gateway's records with a payload carry.
	orderFlag byte

	nc        *nats.Conn // set before anything that uses it starts
	ncStatus  atomic.Pointer[nats.Conn]
	reconnect chan struct{} // NATS reconnected: announce again
	kick      chan struct{} // a remote catalog changed: reconcile
	announceQ chan struct{} // a hello arrived: announce now
	connected atomic.Bool
	started   atomic.Bool

	mu       sync.Mutex
	local    map[string]iox2.StaticConfig // by hash: the services announced
	servers  map[string]bool              // hashes of local request-response services with a server
	remotes  map[string]*remote           // by gateway id
	bridges  map[string]*bridge           // by hash
	refused  []Refusal
	reported map[string]bool // refusals logged already
	// departed holds the gateways that said goodbye, with when: an
	// announcement of theirs that NATS delivers after the goodbye (another
	// subscription, another goroutine) must not bring them back. A
	// gateway's ID is its node's, new at every start.
	departed map[string]time.Time
	missing  map[string]int // local services missed by consecutive scans
}

// remote is what a gateway knows of another.
type remote struct {
	ann      announcement
	lastSeen time.Time
	services map[string]iox2.StaticConfig // by hash
	servers  map[string]bool              // request-response services it has servers of
}

// New checks gwcfg, creates the gateway's node (named NodeName) in the
// domain of nodeCfg (nil: iox2.FindConfig's) and returns the gateway; it
// does not connect yet.
func New(nodeCfg *iox2.Config, gwcfg Config) (*Gateway, error) {
	if nodeCfg == nil {
		c, _, err := iox2.FindConfig()
		if err != nil {
			return nil, err
		}
		nodeCfg = c
	}
	cfg, err := gwcfg.withDefaults(nodeCfg.Prefix)
	if err != nil {
		return nil, err
	}
	node, err := iox2.NewNodeBuilder().Name(NodeName).Config(nodeCfg).Create()
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	g := &Gateway{
		cfg: cfg, ncfg: node.Config(), node: node, id: uint64(node.ID()), idStr: node.ID().String(), host: host,
		order:     nativeByteOrder(),
		reconnect: make(chan struct{}, 1), kick: make(chan struct{}, 1), announceQ: make(chan struct{}, 1),
		local: map[string]iox2.StaticConfig{}, servers: map[string]bool{}, remotes: map[string]*remote{}, bridges: map[string]*bridge{},
		reported: map[string]bool{}, departed: map[string]time.Time{}, missing: map[string]int{},
	}
	if cfg.byteOrder != "" {
		g.order = cfg.byteOrder
	}
	if g.order == "big" {
		g.orderFlag = flagBigEndian
	}
	return g, nil
}

// ID returns the gateway's identity on NATS: its node's ID in hex.
func (g *Gateway) ID() string { return g.idStr }

// Namespace returns the namespace of the gateway's subjects.
func (g *Gateway) Namespace() string { return g.cfg.Namespace }

func (g *Gateway) logf(format string, args ...any) { g.cfg.Logf(format, args...) }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Run connects to NATS, serves the status socket and bridges until ctx
// ends; then it says goodbye to the other gateways, closes every proxy
// port and its node, and returns nil. It fails when the status socket
// cannot be served (another gateway runs in the domain) or the NATS
// options are unusable (a missing TLS or credentials file). A NATS server
// that is down is waited for: the gateway connects when it comes.
func (g *Gateway) Run(ctx context.Context) (err error) {
	if !g.started.CompareAndSwap(false, true) {
		return errors.New("gateway: Run called twice")
	}
	defer g.node.Close()
	stopSock, err := g.serveStatus(ctx)
	if err != nil {
		return err
	}
	defer stopSock()

	// Why the connection attempts fail (a server that refuses our TLS
	// certificate or credentials, one that is down) is logged once per
	// reason until the gateway connects: a refusal is not "unreachable",
	// and retrying every reconnectWait must not flood the log.
	var whyMu sync.Mutex
	why := map[string]bool{}
	connected := func() {
		whyMu.Lock()
		clear(why)
		whyMu.Unlock()
	}
	opts := []nats.Option{
		nats.Name(g.cfg.Name),
		nats.NoEcho(),
		nats.SetCustomDialer(rawDialer{timeout: nats.GetDefaultOptions().Timeout}),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.ReconnectJitter(reconnectJitter, reconnectJitter),
		nats.RetryOnFailedConnect(true),
		nats.ConnectHandler(func(*nats.Conn) {
			connected()
			g.connected.Store(true)
			g.logf("gateway %s: connected to NATS", g.idStr)
			signal(g.reconnect)
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			// The others were silent while we were away, not dead: they
			// get 3 heartbeats plus reconnectGrace from now (set before
			// expire can run again), time for them to reconnect too.
			g.mu.Lock()
			for _, r := range g.remotes {
				r.lastSeen = time.Now().Add(reconnectGrace)
			}
			g.mu.Unlock()
			connected()
			g.connected.Store(true)
			g.logf("gateway %s: reconnected to NATS", g.idStr)
			signal(g.reconnect)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			g.connected.Store(false)
			if err != nil {
				g.logf("gateway %s: disconnected from NATS: %v", g.idStr, err)
			}
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil {
				return
			}
			msg := err.Error()
			g.lastConnErr.Store(&msg)
			whyMu.Lock()
			seen := why[err.Error()] || len(why) >= maxConnectErrors
			why[err.Error()] = true
			whyMu.Unlock()
			if !seen {
				g.logf("gateway %s: cannot connect to NATS %s: %v (retrying every %v)", g.idStr, g.cfg.NATSURL, err, reconnectWait)
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				return // counted through the subscription's Dropped
			}
			g.logf("gateway %s: NATS: %v", g.idStr, err)
		}),
	}
	if g.cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(g.cfg.TLSCA))
	}
	if g.cfg.TLSCert != "" {
		opts = append(opts, nats.ClientCert(g.cfg.TLSCert, g.cfg.TLSKey))
	}
	if g.cfg.Creds != "" {
		opts = append(opts, nats.UserCredentials(g.cfg.Creds))
	}
	nc, err := nats.Connect(g.cfg.NATSURL, opts...)
	if err != nil {
		return fmt.Errorf("gateway: NATS %s: %w", g.cfg.NATSURL, err)
	}
	g.nc = nc
	g.ncStatus.Store(nc)
	if nc.IsConnected() {
		g.connected.Store(true)
	}
	defer nc.Close()

	for _, s := range []struct {
		subj string
		cb   nats.MsgHandler
	}{
		{g.subj("gw.*.announce"), g.onAnnounce},
		{g.subj("gw.hello"), func(*nats.Msg) { signal(g.announceQ) }},
		{g.subj("gw.*.bye"), g.onBye},
	} {
		sub, err := nc.Subscribe(s.subj, s.cb)
		if err != nil {
			return fmt.Errorf("gateway: subscribe %s: %w", s.subj, err)
		}
		sub.SetPendingLimits(-1, -1) // control traffic is small and must not drop
	}
	g.logf("gateway %s: domain %s%s, namespace %q, NATS %s", g.idStr, g.ncfg.Root, "/"+g.ncfg.Prefix, g.cfg.Namespace, g.cfg.NATSURL)
	if !nc.IsConnected() {
		g.logf("gateway %s: NATS %s not connected yet: retrying every %v", g.idStr, g.cfg.NATSURL, reconnectWait)
	}

	scanEvery := min(g.cfg.HeartbeatInterval, 250*time.Millisecond)
	hb := time.NewTicker(g.cfg.HeartbeatInterval)
	defer hb.Stop()
	scan := time.NewTicker(scanEvery)
	defer scan.Stop()

	g.scanLocal()
	g.hello()
	g.announce()
	g.reconcile()
	for {
		select {
		case <-ctx.Done():
			g.shutdown()
			g.logf("gateway %s: stopped", g.idStr)
			return nil
		case <-g.reconnect:
			g.hello()
			g.announce()
		case <-g.announceQ:
			g.announce()
		case <-g.kick:
			g.reconcile()
		case <-scan.C:
			if g.scanLocal() {
				g.announce()
				g.reconcile()
			}
		case <-hb.C:
			g.scanLocal()
			g.announce()
			g.expire()
			g.reconcile()
		}
	}
}

func (g *Gateway) hello() {
	if g.connected.Load() {
		g.nc.Publish(g.subj("gw.hello"), []byte(g.idStr))
	}
}

// announce publishes the catalog: the heartbeat.
func (g *Gateway) announce() {
	if !g.connected.Load() {
		return
	}
	g.mu.Lock()
	a := announcement{Gateway: g.idStr, Host: g.host, ByteOrder: g.order, Protocol: iox2.ProtocolVersion,
		Wire: wireVersion, HeartbeatNS: int64(g.cfg.HeartbeatInterval), Services: make([]iox2.StaticConfig, 0, len(g.local))}
	for _, sc := range g.local {
		a.Services = append(a.Services, sc)
	}
	for h := range g.servers {
		a.Servers = append(a.Servers, h)
	}
	g.mu.Unlock()
	sort.Slice(a.Services, func(i, j int) bool { return a.Services[i].Hash < a.Services[j].Hash })
	sort.Strings(a.Servers)
	b, err := json.Marshal(&a)
	if err != nil {
		g.logf("gateway %s: announcement: %v", g.idStr, err)
		return
	}
	if err := g.nc.Publish(g.subj("gw."+g.idStr+".announce"), b); err != nil {
		g.logf("gateway %s: announce: %v", g.idStr, err)
	}
}

// scanLocal reads the domain's services and keeps those that live nodes
// other than gateways use and that the allow and deny lists pass. It
// reports whether the set changed.
func (g *Gateway) scanLocal() bool {
	svcs, err := iox2.ListServices(g.ncfg)
	if err != nil {
		g.logf("gateway %s: listing services: %v", g.idStr, err)
		return false
	}
	nodes, err := iox2.ListNodes(g.ncfg)
	if err != nil {
		g.logf("gateway %s: listing nodes: %v", g.idStr, err)
		return false
	}
	user := map[iox2.ID]bool{}
	for _, n := range nodes {
		if n.State == iox2.NodeAlive && n.Details != nil && n.Details.Name != NodeName {
			user[n.ID] = true
		}
	}
	found := map[string]iox2.StaticConfig{}
	servers := map[string]bool{}
	for _, s := range svcs {
		if !g.cfg.allowed(s.Static.Name) || !slices.ContainsFunc(s.Nodes, func(id iox2.ID) bool { return user[id] }) {
			continue
		}
		found[s.Static.Hash] = s.Static
		if slices.ContainsFunc(s.Servers, func(p iox2.PortInfo) bool { return user[p.Node] }) {
			servers[s.Static.Hash] = true
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	// A service leaves the catalog when two scans in a row miss it: one
	// scan may miss a service whose dynamic config it could not map at
	// that moment, and a withdrawal tears down the other hosts' proxies.
	for h := range g.missing {
		if _, ok := found[h]; ok {
			delete(g.missing, h)
		}
	}
	for h, sc := range g.local {
		if _, ok := found[h]; ok {
			continue
		}
		if g.missing[h]++; g.missing[h] < 2 {
			found[h] = sc
		} else {
			delete(g.missing, h)
		}
	}
	changed := len(found) != len(g.local) || !maps.Equal(servers, g.servers)
	for h, sc := range found {
		if old, ok := g.local[h]; !ok || old.UID != sc.UID {
			changed = true
		}
	}
	g.local, g.servers = found, servers
	return changed
}

func (g *Gateway) onAnnounce(m *nats.Msg) {
	var a announcement
	if err := json.Unmarshal(m.Data, &a); err != nil || a.Gateway == "" {
		g.logf("gateway %s: malformed announcement on %s (%d bytes)", g.idStr, m.Subject, len(m.Data))
		return
	}
	if a.Gateway == g.idStr || !strings.HasSuffix(m.Subject, ".gw."+a.Gateway+".announce") {
		return
	}
	svcs := map[string]iox2.StaticConfig{}
	for _, sc := range a.Services {
		svcs[sc.Hash] = sc
	}
	servers := map[string]bool{}
	for _, h := range a.Servers {
		servers[h] = true
	}
	g.mu.Lock()
	if _, gone := g.departed[a.Gateway]; gone {
		g.mu.Unlock()
		return
	}
	r, known := g.remotes[a.Gateway]
	if !known {
		r = &remote{}
		g.remotes[a.Gateway] = r
		g.logf("gateway %s: gateway %s on host %q joined (%d services)", g.idStr, a.Gateway, a.Host, len(a.Services))
	}
	changed := !known || !sameCatalog(r.services, svcs) || !maps.Equal(r.servers, servers) || r.ann.ByteOrder != a.ByteOrder || r.ann.Protocol != a.Protocol || r.ann.Wire != a.Wire
	r.ann, r.services, r.servers, r.lastSeen = a, svcs, servers, time.Now()
	g.mu.Unlock()
	if !known {
		signal(g.announceQ) // so that it learns of us at once
	}
	if changed {
		signal(g.kick)
	}
}

func sameCatalog(a, b map[string]iox2.StaticConfig) bool {
	if len(a) != len(b) {
		return false
	}
	for h, x := range a {
		if y, ok := b[h]; !ok || x.UID != y.UID {
			return false
		}
	}
	return true
}

func (g *Gateway) onBye(m *nats.Msg) {
	id := strings.TrimSuffix(strings.TrimPrefix(m.Subject, g.subj("gw.")), ".bye")
	g.mu.Lock()
	_, ok := g.remotes[id]
	delete(g.remotes, id)
	g.departed[id] = time.Now()
	g.mu.Unlock()
	if ok {
		g.logf("gateway %s: gateway %s left", g.idStr, id)
		signal(g.kick)
	}
}

// expire forgets the remote gateways not heard from for 3 of their
// heartbeat intervals (not while this gateway is itself cut off).
func (g *Gateway) expire() {
	if !g.connected.Load() {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for id, t := range g.departed {
		if time.Since(t) > time.Minute {
			delete(g.departed, id)
		}
	}
	for id, r := range g.remotes {
		iv := max(r.ann.heartbeat(), MinHeartbeat)
		if time.Since(r.lastSeen) > 3*iv {
			g.logf("gateway %s: gateway %s on host %q not heard from for %v: forgotten", g.idStr, id, r.ann.Host, time.Since(r.lastSeen).Round(time.Millisecond))
			delete(g.remotes, id)
		}
	}
}

// The NATS reconnection: attempts reconnectWait apart plus up to
// reconnectJitter; after its own reconnection a gateway gives the others
// reconnectGrace more than 3 heartbeats to announce again, since they may
// reconnect up to an attempt later.
const (
	reconnectWait   = 250 * time.Millisecond
	reconnectJitter = 100 * time.Millisecond
	reconnectGrace  = time.Second
	// maxConnectErrors bounds the distinct reasons of failed connection
	// attempts logged between two connections.
	maxConnectErrors = 16
)

// MinHeartbeat is the least heartbeat interval a remote gateway is
// assumed to have.
const MinHeartbeat = iox2.MinGatewayHeartbeat

// shutdown stops the bridges and says goodbye. The forwarders stop first
// and send what their local ports hold (forwardSamples, drainFor), then
// NATS is flushed and the goodbye follows: the other gateways close their
// bridges at the goodbye, after what this one still sent.
func (g *Gateway) shutdown() {
	g.mu.Lock()
	bs := g.bridges
	g.bridges = map[string]*bridge{}
	g.mu.Unlock()
	for _, b := range bs {
		b.cancel()
	}
	for _, b := range bs {
		<-b.done
	}
	if g.connected.Load() {
		g.nc.FlushTimeout(time.Second)
		g.nc.Publish(g.subj("gw."+g.idStr+".bye"), nil)
		g.nc.FlushTimeout(time.Second)
	}
	for _, b := range bs {
		b.close()
	}
}
