package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
)

// Status is a snapshot of a running gateway, as `iox2 gateway status`
// prints it.
type Status struct {
	Gateway string `json:"gateway"` // its ID on NATS
	Host    string `json:"host"`
	PID     int    `json:"pid"`
	// GOMAXPROCS is its process's runtime.GOMAXPROCS: how many threads
	// run Go code at once (iox2 gateway sets 1 by default).
	GOMAXPROCS int            `json:"gomaxprocs"`
	Namespace  string         `json:"namespace"`
	ByteOrder  string         `json:"byte_order"`
	NATS       NATSStatus     `json:"nats"`
	Local      []LocalService `json:"local"`   // announced: used by nodes of this host
	Remotes    []RemoteStatus `json:"remotes"` // the other gateways
	Bridges    []BridgeStatus `json:"bridges"` // services carried
	Refused    []Refusal      `json:"refused"` // remote services not carried, and why
}

// NATSStatus is the NATS connection's state.
type NATSStatus struct {
	URL        string `json:"url"`
	Connected  bool   `json:"connected"`
	State      string `json:"state"` // nats.go's: CONNECTED, RECONNECTING, ...
	Server     string `json:"server,omitempty"`
	Reconnects uint64 `json:"reconnects"`
	// LastError is why the last attempt to connect failed, while not
	// connected (for example "remote error: tls: certificate required").
	LastError string `json:"last_error,omitempty"`
}

// LocalService is a service that the gateway announces.
type LocalService struct {
	Service string `json:"service"`
	Pattern string `json:"pattern"`
}

// RemoteStatus is another gateway of the namespace.
type RemoteStatus struct {
	Gateway   string    `json:"gateway"`
	Host      string    `json:"host"`
	ByteOrder string    `json:"byte_order"`
	Services  int       `json:"services"`
	LastSeen  time.Time `json:"last_seen"`
}

// BridgeStatus is a service carried between this host and others. Sent
// counts the messages sent to NATS (local samples or event wake-ups),
// Received those injected locally, Dropped those lost (NATS unavailable,
// the subscription's pending limits exceeded, no proxy port) and
// Malformed the messages from NATS that could not be decoded.
type BridgeStatus struct {
	Service   string   `json:"service"`
	Pattern   string   `json:"pattern"`
	Subject   string   `json:"subject"`
	Remotes   []string `json:"remotes"`
	Sent      uint64   `json:"sent"`
	Received  uint64   `json:"received"`
	Dropped   uint64   `json:"dropped"`
	Malformed uint64   `json:"malformed"`
	// Undelivered counts the deliveries of injected samples that a full
	// local subscriber queue did not take: discarded (the proxy publisher
	// uses DiscardData) or, with safe overflow, overwritten by a newer one.
	Undelivered uint64 `json:"undelivered"`
}

// Status returns a snapshot of the gateway.
func (g *Gateway) Status() Status {
	st := Status{Gateway: g.idStr, Host: g.host, PID: os.Getpid(), GOMAXPROCS: runtime.GOMAXPROCS(0), Namespace: g.cfg.Namespace, ByteOrder: g.order,
		NATS: NATSStatus{URL: g.cfg.NATSURL, State: "NOT STARTED"}}
	if nc := g.ncStatus.Load(); nc != nil {
		st.NATS.Connected = nc.IsConnected()
		st.NATS.State = nc.Status().String()
		st.NATS.Reconnects = nc.Stats().Reconnects
		if st.NATS.Connected {
			st.NATS.Server = nc.ConnectedUrlRedacted()
		} else if e := g.lastConnErr.Load(); e != nil {
			st.NATS.LastError = *e
		}
	}
	g.mu.Lock()
	for _, sc := range g.local {
		st.Local = append(st.Local, LocalService{Service: sc.Name, Pattern: sc.Pattern})
	}
	for id, r := range g.remotes {
		st.Remotes = append(st.Remotes, RemoteStatus{Gateway: id, Host: r.ann.Host, ByteOrder: r.ann.ByteOrder, Services: len(r.services), LastSeen: r.lastSeen})
	}
	bs := make([]*bridge, 0, len(g.bridges))
	for _, b := range g.bridges {
		bs = append(bs, b)
	}
	st.Refused = append([]Refusal(nil), g.refused...)
	g.mu.Unlock()
	for _, b := range bs {
		b.mu.Lock()
		rs := append([]string(nil), b.remotes...)
		b.mu.Unlock()
		dropped := b.dropped.Load()
		// Samples lost on NATS are counted from the records' numbers
		// (onSample); the other patterns' messages by the subscription.
		if b.natsSub != nil && b.ps == nil {
			if n, err := b.natsSub.Dropped(); err == nil && n > 0 {
				dropped += uint64(n)
			}
		}
		st.Bridges = append(st.Bridges, BridgeStatus{Service: b.static.Name, Pattern: b.static.Pattern, Subject: b.subj, Remotes: rs,
			Sent: b.sent.Load(), Received: b.received.Load(), Dropped: dropped, Malformed: b.malformed.Load(),
			Undelivered: b.undelivered.Load()})
	}
	sort.Slice(st.Local, func(i, j int) bool {
		return st.Local[i].Service+"\x00"+st.Local[i].Pattern < st.Local[j].Service+"\x00"+st.Local[j].Pattern
	})
	sort.Slice(st.Remotes, func(i, j int) bool { return st.Remotes[i].Gateway < st.Remotes[j].Gateway })
	sort.Slice(st.Bridges, func(i, j int) bool {
		return st.Bridges[i].Service+"\x00"+st.Bridges[i].Pattern < st.Bridges[j].Service+"\x00"+st.Bridges[j].Pattern
	})
	return st
}

// SocketPath is where the gateway of the domain of cfg serves its status:
// <Root>/gateway/<Prefix>gateway.sock.
func SocketPath(cfg *iox2.Config) string {
	return filepath.Join(cfg.Root, "gateway", cfg.Prefix+"gateway.sock")
}

// maxSocketPath is the longest unix socket path Linux takes (108 bytes
// with the terminating NUL).
const maxSocketPath = 107

// ErrNotRunning is QueryStatus's error when no gateway runs in the domain.
var ErrNotRunning = errors.New("no gateway runs in this domain")

// QueryStatus asks the gateway running in cfg's domain for its status. A
// socket that nobody serves (its gateway was killed) is removed, and
// ErrNotRunning returned.
func QueryStatus(cfg *iox2.Config) (Status, error) {
	var st Status
	path := SocketPath(cfg)
	conn, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			os.Remove(path) // a dead gateway's
			return st, fmt.Errorf("%w (removed the socket %s of a gateway that died)", ErrNotRunning, path)
		}
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOENT) {
			return st, fmt.Errorf("%w (no socket %s)", ErrNotRunning, path)
		}
		return st, fmt.Errorf("gateway status: %w", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("status\n")); err != nil {
		return st, fmt.Errorf("gateway status: %w", err)
	}
	dec := json.NewDecoder(bufio.NewReader(conn))
	if err := dec.Decode(&st); err != nil {
		return st, fmt.Errorf("gateway status: malformed reply on %s: %w", path, err)
	}
	return st, nil
}

// serveStatus listens on the status socket; another live gateway of the
// domain is an error, a dead one's socket is replaced.
func (g *Gateway) serveStatus(ctx context.Context) (stop func(), err error) {
	path := SocketPath(g.ncfg)
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("gateway: status socket path %s is %d bytes, longer than the %d a unix socket allows: use a shorter root directory", path, len(path), maxSocketPath)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700|g.ncfg.FileMode&0o070); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("gateway: another gateway runs in this domain (its status socket %s answers)", path)
	}
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("gateway: status socket: %w", err)
	}
	os.Chmod(path, g.ncfg.FileMode)
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go g.serveConn(c)
		}
	}()
	return func() {
		ln.Close()
		<-done
	}, nil
}

func (g *Gateway) serveConn(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && line == "" {
		return
	}
	switch strings.TrimSpace(line) {
	case "status":
		b, _ := json.Marshal(g.Status())
		c.Write(append(b, '\n'))
	default:
		fmt.Fprintf(c, "{\"error\":%q}\n", "unknown request: want status")
	}
}

// bridgeServers returns the remote gateways with servers of the bridged
// request-response service name (tests).
func (g *Gateway) bridgeServers(name string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, b := range g.bridges {
		if b.static.Name == name && b.rr != nil {
			b.mu.Lock()
			defer b.mu.Unlock()
			return append([]string(nil), b.servers...)
		}
	}
	return nil
}
