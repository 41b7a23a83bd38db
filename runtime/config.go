package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

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
	// services and clean up each other's dead nodes.
	FileMode os.FileMode
	// CreationTimeout bounds how long an opener waits for a segment whose
	// creator has not finished initializing it. Default: 500ms. It also
	// bounds how long a closing publisher (client, server) waits for its
	// receivers to map what it sent, and four times it how long the
	// cleanup keeps what a dead one sent for a live receiver that has not
	// mapped it (see docs/ARCHITECTURE.md, "Liveness and cleanup").
	CreationTimeout time.Duration
	// DiscoveryInterval is the longest that the discovery goroutine of an
	// open service sleeps. It is woken at once whenever a port of the service
	// comes or goes; the interval only bounds how long an idle publisher
	// leaves released chunks unclaimed. Default: 50ms.
	DiscoveryInterval time.Duration
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
	// ports of its dead nodes. Default: true. An open service's periodic
	// liveness check (which returns the chunks that a dead subscriber
	// held) runs regardless.
	CleanupDeadNodesOnOpen bool
	// Defaults holds the QoS a service gets for every value its builder
	// leaves unset.
	Defaults Defaults
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

// DefaultConfig returns the default configuration.
func DefaultConfig() *Config {
	return &Config{
		Root:              "/tmp/iox2go",
		ShmDir:            "/dev/shm",
		Prefix:            "iox2go_",
		FileMode:          0o600,
		CreationTimeout:   500 * time.Millisecond,
		DiscoveryInterval: 50 * time.Millisecond,

		CleanupDeadNodesOnCreation:    true,
		CleanupDeadNodesOnDestruction: true,
		CleanupDeadNodesOnOpen:        true,

		Defaults: Defaults{PublishSubscribe: DefaultPubSubQoS(), Event: DefaultEventQoS(), RequestResponse: DefaultReqResQoS()},
	}
}

func (c *Config) clone() *Config {
	cc := *c
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
	if c.CreationTimeout <= 0 {
		return fmt.Errorf("iox2: config: creation timeout must be positive")
	}
	if c.DiscoveryInterval <= 0 {
		return fmt.Errorf("iox2: config: discovery interval must be positive")
	}
	return nil
}

func filepathIsAbs(p string) bool { return filepath.IsAbs(p) }

func (c *Config) nodesDir() string { return filepath.Join(c.Root, "nodes") }
func (c *Config) nodeLockPath(id ID) string {
	return filepath.Join(c.nodesDir(), c.Prefix+id.String()+".lock")
}
func (c *Config) nodeDir(id ID) string { return filepath.Join(c.nodesDir(), c.Prefix+id.String()) }
func (c *Config) cleanerPath(id ID) string {
	return filepath.Join(c.nodesDir(), c.Prefix+id.String()+".cleaner")
}
func (c *Config) dynamicName(hash, uid string) string {
	return c.Prefix + hash + "_" + uid + ".dynamic"
}
func (c *Config) dataName(port ID) string { return c.Prefix + port.String() + ".data" }
func (c *Config) connName(from, to ID) string {
	return c.Prefix + from.String() + "_" + to.String() + ".connection"
}

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
