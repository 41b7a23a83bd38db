package gateway

import (
	"fmt"
	"log"
	"os"
	"path"
	"strings"
	"time"

	iox2 "github.com/iox2go/iox2go/runtime"
)

// NodeName is the name of a gateway's node. A gateway announces only the
// services that nodes with another name use, so gateways never announce
// each other's proxies.
const NodeName = "iox2-gateway"

// Config configures a gateway. ConfigFrom fills it from the [gateway] table
// of a node configuration; zero values take the defaults of
// iox2.DefaultGatewayConfig.
type Config struct {
	// NATSURL is the NATS server (several URLs separated by commas).
	NATSURL string
	// Namespace is the second token of every subject (iox2go.<ns>.…);
	// "" is the domain's prefix without its trailing '_' ('.' becomes '_').
	Namespace string
	// Allow and Deny are service-name patterns (path.Match syntax): a
	// service is bridged when Allow is empty or one of its patterns
	// matches, and no pattern of Deny matches.
	Allow, Deny []string
	// TLSCA, TLSCert, TLSKey: PEM files for the NATS connection.
	TLSCA, TLSCert, TLSKey string
	// Creds is a NATS credentials file.
	Creds string
	// Name is the NATS connection's name; "" is "iox2-gateway <host>".
	Name string
	// HeartbeatInterval is the period of the announcement; a remote
	// gateway not heard from for 3 of its intervals is forgotten.
	HeartbeatInterval time.Duration
	// MaxPendingMessages and MaxPendingBytes bound each NATS
	// subscription's queue; beyond, messages are dropped and counted.
	MaxPendingMessages, MaxPendingBytes int
	// Logf receives the gateway's log lines (nil: the standard logger).
	Logf func(format string, args ...any)

	// byteOrder overrides the announced byte order (tests).
	byteOrder string
}

// ConfigFrom returns the gateway configuration of the [gateway] table of c.
func ConfigFrom(c *iox2.Config) Config {
	g := c.Gateway
	return Config{
		NATSURL: g.NATSURL, Namespace: g.Namespace,
		Allow: append([]string(nil), g.Allow...), Deny: append([]string(nil), g.Deny...),
		TLSCA: g.TLSCA, TLSCert: g.TLSCert, TLSKey: g.TLSKey, Creds: g.Creds,
		HeartbeatInterval:  g.HeartbeatInterval,
		MaxPendingMessages: g.MaxPendingMessages, MaxPendingBytes: g.MaxPendingBytes,
	}
}

// withDefaults fills the zero values and checks the result.
func (c Config) withDefaults(prefix string) (Config, error) {
	d := iox2.DefaultGatewayConfig()
	if c.NATSURL == "" {
		c.NATSURL = d.NATSURL
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = d.HeartbeatInterval
	}
	if c.MaxPendingMessages == 0 {
		c.MaxPendingMessages = d.MaxPendingMessages
	}
	if c.MaxPendingBytes == 0 {
		c.MaxPendingBytes = d.MaxPendingBytes
	}
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace(prefix)
	}
	if c.Name == "" {
		host, _ := os.Hostname()
		c.Name = NodeName + " " + host
	}
	if c.Logf == nil {
		c.Logf = log.Printf
	}
	// The runtime's checks of the [gateway] table apply to code too.
	chk := iox2.DefaultConfig()
	chk.Gateway = iox2.GatewayConfig{
		NATSURL: c.NATSURL, Namespace: c.Namespace, Allow: c.Allow, Deny: c.Deny,
		TLSCA: c.TLSCA, TLSCert: c.TLSCert, TLSKey: c.TLSKey, Creds: c.Creds,
		HeartbeatInterval: c.HeartbeatInterval, MaxPendingMessages: c.MaxPendingMessages, MaxPendingBytes: c.MaxPendingBytes,
	}
	if err := chk.Validate(); err != nil {
		return c, fmt.Errorf("gateway: %s", strings.TrimPrefix(err.Error(), "iox2: config: "))
	}
	if c.Namespace == "" {
		return c, fmt.Errorf("gateway: the namespace is empty")
	}
	return c, nil
}

// DefaultNamespace is the namespace of a domain whose configuration sets
// none: its prefix without the trailing '_', with '.' replaced by '_'
// ("iox2go_" gives "iox2go").
func DefaultNamespace(prefix string) string {
	ns := strings.TrimSuffix(prefix, "_")
	if ns == "" {
		ns = prefix
	}
	return strings.ReplaceAll(ns, ".", "_")
}

// allowed reports whether the service name passes the allow and deny lists.
func (c *Config) allowed(name string) bool {
	for _, p := range c.Deny {
		if ok, _ := path.Match(p, name); ok {
			return false
		}
	}
	if len(c.Allow) == 0 {
		return true
	}
	for _, p := range c.Allow {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}
