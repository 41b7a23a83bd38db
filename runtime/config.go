package runtime

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
	"github.com/iox2go/iox2go/runtime/shm"
)

// Config is the configuration that a node and everything built through it
// use. Two configurations with a different Root, ShmDir or Prefix are
// separate domains: they never see each other's nodes or services.
type Config struct {
	// Root is the directory that holds the static service configs and the
	// node records. Default: /tmp/iox2go.
	Root string
	// ShmDir is the directory of the shared-memory segments. Default: /dev/shm.
	ShmDir string
	// Prefix starts the name of every file and segment of this domain:
	// 1 to 64 letters, digits, '_', '-' or '.'. Default: "iox2go_".
	Prefix string
	// FileMode is the permission of every file and segment created.
	// Default: 0600 (same user). 0660 lets the members of a group share
	// services and clean up each other's dead nodes. It must include owner
	// read and write, and must not give any permission to other users
	// (0007): a world-writable segment would let any user of the machine
	// write into every sample.
	FileMode os.FileMode
	// CreationTimeout bounds how long an opener waits for a segment whose
	// creator has not finished initializing it. Default: 500ms; at least
	// 1ms (MinCreationTimeout). It also bounds how long a closing publisher
	// (client, server) waits for its receivers to map what it sent; four
	// times it bounds how long the cleanup keeps what a dead one sent for a
	// live receiver that has not mapped it (see docs/ARCHITECTURE.md,
	// "Liveness and cleanup"), and how long CleanupDeadNodes waits for
	// another cleaner of a dead node.
	CreationTimeout time.Duration
	// DiscoveryInterval paced the per-service discovery goroutines of
	// earlier versions. Default: 50ms; still checked to be at least 10ms
	// (MinDiscoveryInterval), so that a file that was valid stays valid.
	//
	// Deprecated: it has no effect. Discovery is driven by events (every
	// change of a service's ports rings the nodes that have it open, see
	// docs/ARCHITECTURE.md, "Waiting and waking"), and dead peers are found
	// through pidfds or swept every LivenessSweepInterval.
	DiscoveryInterval time.Duration
	// LivenessSweepInterval is how often a node probes the peer nodes that
	// it cannot watch through a pidfd: those in another PID namespace
	// (containers that share ShmDir), all of them on a kernel without
	// pidfd_open (before Linux 5.3), and dead ones whose cleanup another
	// cleaner holds or that still drain. A peer in the node's own PID
	// namespace is watched through a pidfd instead and cleaned up as soon
	// as its process ends. The sweep's timer runs only while such peers
	// exist. Default: 1s; at least 10ms (MinLivenessSweepInterval). See
	// docs/ARCHITECTURE.md, "Liveness and cleanup".
	LivenessSweepInterval time.Duration
	// PortMemoryLimit bounds, in bytes, the memory that one port may need
	// by its service's QoS and its own settings, counted at the worst
	// case: the shared memory it creates (a sender's data segment and one
	// connection per receiver that the service allows, a listener's event
	// segment) and the process memory that keeps track of it. A service
	// whose QoS makes a port with the default settings exceed it is
	// refused when it is created and when it is opened, and so is a port
	// whose own settings do (ErrResourceLimit): the QoS of an existing
	// service was written by another process, and must not make this one
	// run out of memory. Default: 1 GiB (DefaultPortMemoryLimit); at least
	// 1 MiB (MinPortMemoryLimit).
	PortMemoryLimit int
	// InProcess keeps the shared-memory segments of this configuration in
	// process memory instead of ShmDir: ports of one process talk to each
	// other exactly as across processes, but nothing is visible outside
	// the process. For tests (it works with the race detector) and for
	// single-process pipelines. Static configs and node locks still live
	// under Root.
	InProcess bool
	// CleanupDeadNodesOnCreation makes NodeBuilder.Create remove what the
	// dead nodes of the domain left behind. Default: true.
	CleanupDeadNodesOnCreation bool
	// CleanupDeadNodesOnDestruction makes Node.Close remove what the dead
	// nodes of the domain left behind. Default: true.
	CleanupDeadNodesOnDestruction bool
	// CleanupDeadNodesOnOpen makes opening a service first remove the
	// ports of its dead nodes. Default: true. The node's watch over the
	// peers of its open services (which returns the chunks that a dead
	// subscriber held) runs regardless.
	CleanupDeadNodesOnOpen bool
	// Defaults holds the QoS a service gets for every value its builder
	// leaves unset.
	Defaults Defaults
	// Gateway holds the settings of the gateway to other hosts (package
	// gateway, `iox2 gateway`): the file's [gateway] table. Nodes ignore it.
	Gateway GatewayConfig
}

// GatewayConfig is the [gateway] table of the configuration file: how a
// gateway (package gateway) joins the domain to a NATS server. See
// docs/GATEWAY.md.
type GatewayConfig struct {
	// NATSURL is the NATS server's URL, or several separated by commas.
	// Default: "nats://127.0.0.1:4222".
	NATSURL string
	// Namespace is the second token of every subject the gateway uses
	// (iox2go.<namespace>.…): gateways with the same namespace on one NATS
	// server form one domain across hosts. Letters, digits, '_' and '-'.
	// Default "": the domain's prefix without its trailing '_' ('.' becomes '_').
	Namespace string
	// Allow lists the service names (path.Match patterns) that are bridged;
	// empty bridges every service. Deny lists those that are not, and wins
	// over Allow.
	Allow, Deny []string
	// TLSCA, TLSCert and TLSKey are PEM files: the CA that signs the
	// server's certificate, and the client's certificate and key (both or
	// neither). Default: none (TLS only if the URL says tls://).
	TLSCA, TLSCert, TLSKey string
	// Creds is a NATS credentials file (a user JWT and its nkey seed).
	Creds string
	// HeartbeatInterval is how often the gateway announces its services;
	// a remote gateway not heard from for 3 intervals is forgotten.
	// Default 1s; at least MinGatewayHeartbeat.
	HeartbeatInterval time.Duration
	// MaxPendingMessages and MaxPendingBytes bound what each bridged
	// service's NATS subscription may queue before the gateway injects it
	// locally; beyond, messages are dropped and counted. Defaults 65536
	// and 64 MiB; at least 1.
	MaxPendingMessages int
	MaxPendingBytes    int
}

// MinGatewayHeartbeat bounds GatewayConfig.HeartbeatInterval from below.
const MinGatewayHeartbeat = 10 * time.Millisecond

// DefaultGatewayConfig returns the gateway defaults.
func DefaultGatewayConfig() GatewayConfig {
	return GatewayConfig{
		NATSURL:            "nats://127.0.0.1:4222",
		HeartbeatInterval:  time.Second,
		MaxPendingMessages: 65536,
		MaxPendingBytes:    64 << 20,
	}
}

// validate reports the first invalid gateway setting.
func (g *GatewayConfig) validate() error {
	if strings.TrimSpace(g.NATSURL) == "" {
		return fmt.Errorf("gateway nats url must not be empty")
	}
	for i := 0; i < len(g.Namespace); i++ {
		ch := g.Namespace[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '-') {
			return fmt.Errorf("gateway namespace %q may only contain letters, digits, '_' and '-'", g.Namespace)
		}
	}
	for _, list := range [][]string{g.Allow, g.Deny} {
		for _, p := range list {
			if _, err := path.Match(p, ""); err != nil || p == "" {
				return fmt.Errorf("gateway service pattern %q is not a valid pattern (path.Match syntax)", p)
			}
		}
	}
	if (g.TLSCert == "") != (g.TLSKey == "") {
		return fmt.Errorf("gateway tls cert and tls key go together: set both or neither")
	}
	if g.HeartbeatInterval < MinGatewayHeartbeat {
		return fmt.Errorf("gateway heartbeat interval is %v, must be at least %v", g.HeartbeatInterval, MinGatewayHeartbeat)
	}
	if g.MaxPendingMessages < 1 || g.MaxPendingBytes < 1 {
		return fmt.Errorf("gateway max pending messages and bytes must be at least 1")
	}
	return nil
}

// Defaults is the QoS of new services, per messaging pattern.
type Defaults struct {
	PublishSubscribe PubSubQoS
	Event            EventQoS
	RequestResponse  ReqResQoS
}

// PubSubQoS is the quality of service of a publish-subscribe service and the
// default settings of its ports. The defaults are iceoryx2's.
type PubSubQoS struct {
	MaxPublishers                int  // default 2
	MaxSubscribers               int  // default 8
	MaxNodes                     int  // default 20
	HistorySize                  int  // default 0
	SubscriberMaxBufferSize      int  // default 2
	SubscriberMaxBorrowedSamples int  // default 2
	EnableSafeOverflow           bool // default true
	PublisherMaxLoanedSamples    int  // default 2, a publisher setting
	// PublisherBackpressure is what a publisher's Send does with a full
	// subscriber queue when safe overflow is off (a publisher setting,
	// PublisherBuilder.Backpressure). Default RetryUntilDelivered.
	PublisherBackpressure Backpressure
}

// DefaultPubSubQoS returns iceoryx2's publish-subscribe defaults.
func DefaultPubSubQoS() PubSubQoS {
	return PubSubQoS{
		MaxPublishers:                2,
		MaxSubscribers:               8,
		MaxNodes:                     20,
		HistorySize:                  0,
		SubscriberMaxBufferSize:      2,
		SubscriberMaxBorrowedSamples: 2,
		EnableSafeOverflow:           true,
		PublisherMaxLoanedSamples:    2,
	}
}

// Lower bounds of the durations of a Config (and of its file).
const (
	// MinCreationTimeout bounds CreationTimeout from below: a shorter wait
	// makes opening a service that another process is creating fail for
	// nothing, and a closing publisher give up on its subscribers at once.
	MinCreationTimeout = time.Millisecond
	// MinDiscoveryInterval bounds the deprecated DiscoveryInterval from
	// below, as it did when the interval paced a goroutine per service.
	MinDiscoveryInterval = 10 * time.Millisecond
	// MinLivenessSweepInterval bounds LivenessSweepInterval from below: each
	// sweep probes the lock of every peer that cannot be watched through a
	// pidfd.
	MinLivenessSweepInterval = 10 * time.Millisecond
)

// DefaultConfig returns the default configuration.
func DefaultConfig() *Config {
	return &Config{
		Root:              "/tmp/iox2go",
		ShmDir:            "/dev/shm",
		Prefix:            "iox2go_",
		FileMode:          0o600,
		CreationTimeout:   500 * time.Millisecond,
		DiscoveryInterval: 50 * time.Millisecond,
		PortMemoryLimit:   DefaultPortMemoryLimit,

		LivenessSweepInterval: time.Second,

		CleanupDeadNodesOnCreation:    true,
		CleanupDeadNodesOnDestruction: true,
		CleanupDeadNodesOnOpen:        true,

		Defaults: Defaults{PublishSubscribe: DefaultPubSubQoS(), Event: DefaultEventQoS(), RequestResponse: DefaultReqResQoS()},
		Gateway:  DefaultGatewayConfig(),
	}
}

func (c *Config) clone() *Config {
	cc := *c
	cc.Gateway.Allow = slices.Clone(c.Gateway.Allow)
	cc.Gateway.Deny = slices.Clone(c.Gateway.Deny)
	return &cc
}

// Validate reports the first invalid setting.
func (c *Config) Validate() error {
	if c.Root == "" || !filepathIsAbs(c.Root) {
		return fmt.Errorf("iox2: config: root %q must be an absolute path", c.Root)
	}
	if c.ShmDir == "" || !filepathIsAbs(c.ShmDir) {
		return fmt.Errorf("iox2: config: shm directory %q must be an absolute path", c.ShmDir)
	}
	if c.Prefix == "" {
		// Every file of the domain, in a shared-memory directory that other
		// software uses too, must be recognizable as one of ours.
		return fmt.Errorf("iox2: config: prefix must not be empty: it starts the name of every file of the domain")
	}
	for i := 0; i < len(c.Prefix); i++ {
		ch := c.Prefix[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '-' || ch == '.') {
			return fmt.Errorf("iox2: config: prefix %q may only contain letters, digits, '_', '-' and '.'", c.Prefix)
		}
	}
	if len(c.Prefix) > 64 {
		return fmt.Errorf("iox2: config: prefix %q is longer than 64 bytes", c.Prefix)
	}
	if c.FileMode&^0o777 != 0 || c.FileMode&0o600 != 0o600 {
		return fmt.Errorf("iox2: config: file mode %#o must include owner read and write and hold only permission bits", c.FileMode)
	}
	if w := c.FileMode & 0o007; w != 0 {
		// Group modes are fine (the group is chosen); world bits would let
		// every user of the machine read or write every segment.
		return fmt.Errorf("iox2: config: file mode %#o gives permissions to every user (world bits %#o): use 0600, or 0660 to share with a group", c.FileMode, w)
	}
	if c.CreationTimeout < MinCreationTimeout {
		return fmt.Errorf("iox2: config: creation timeout is %v, must be at least %v", c.CreationTimeout, MinCreationTimeout)
	}
	if c.DiscoveryInterval < MinDiscoveryInterval {
		return fmt.Errorf("iox2: config: discovery interval is %v, must be at least %v (deprecated, without effect)", c.DiscoveryInterval, MinDiscoveryInterval)
	}
	if c.LivenessSweepInterval < MinLivenessSweepInterval {
		return fmt.Errorf("iox2: config: liveness sweep interval is %v, must be at least %v", c.LivenessSweepInterval, MinLivenessSweepInterval)
	}
	if c.PortMemoryLimit < MinPortMemoryLimit {
		return fmt.Errorf("iox2: config: port memory limit is %d bytes, must be at least %d (1 MiB)", c.PortMemoryLimit, MinPortMemoryLimit)
	}
	if err := c.Gateway.validate(); err != nil {
		return fmt.Errorf("iox2: config: %w", err)
	}
	return nil
}

func filepathIsAbs(p string) bool { return filepath.IsAbs(p) }

// The domain's names, from protocol's naming scheme (naming.go).
func (c *Config) nodesDir() string              { return protocol.NodesPath(c.Root) }
func (c *Config) nodeLockPath(id ID) string     { return protocol.NodeLockPath(c.Root, c.Prefix, id) }
func (c *Config) nodeDir(id ID) string          { return protocol.NodeDirPath(c.Root, c.Prefix, id) }
func (c *Config) cleanerPath(id ID) string      { return protocol.CleanerPath(c.Root, c.Prefix, id) }
func (c *Config) servicesDir() string           { return protocol.ServicesPath(c.Root) }
func (c *Config) staticPath(hash string) string { return protocol.StaticPath(c.Root, c.Prefix, hash) }
func (c *Config) dynamicName(hash, uid string) string {
	return protocol.DynamicName(c.Prefix, hash, uid)
}
func (c *Config) dataName(port ID) string     { return protocol.DataName(c.Prefix, port) }
func (c *Config) connName(from, to ID) string { return protocol.ConnName(c.Prefix, from, to) }
func (c *Config) eventName(port ID) string    { return protocol.EventName(c.Prefix, port) }

var (
	localMu        sync.Mutex
	localProviders = map[string]shm.Provider{}
)

// provider is the one place that chooses the shared-memory implementation.
func (c *Config) provider() shm.Provider {
	if !c.InProcess {
		return shm.NewPosix(c.ShmDir, c.FileMode)
	}
	localMu.Lock()
	defer localMu.Unlock()
	key := c.Root + "\x00" + c.ShmDir + "\x00" + c.Prefix
	p, ok := localProviders[key]
	if !ok {
		p = shm.NewLocal()
		localProviders[key] = p
	}
	return p
}

// filesProvider is the provider of the domain's segments that outlive
// their process: the files in ShmDir, whatever InProcess says. The cleanup
// of dead nodes and of corrupted services works on them: a dead node's
// process is gone, and with it whatever it had on its heap (a node of a
// live process holds its lock, so it is never dead), while a node with
// in-process shared memory in one process must still clean up after the
// dead processes of the domain as they would.
func (c *Config) filesProvider() shm.Provider { return shm.NewPosix(c.ShmDir, c.FileMode) }
