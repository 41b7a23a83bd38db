package runtime

import (
	"os"
	"time"
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
	// Prefix starts the name of every file and segment of this domain.
	// Default: "iox2go_".
	Prefix string
	// FileMode is the permission of every file and segment created.
	// Default: 0600 (same user). 0660 lets the members of a group share
	// services and clean up each other's dead nodes.
	FileMode os.FileMode
	// CreationTimeout bounds how long an opener waits for a segment whose
	// creator has not finished initializing it. Default: 500ms.
	CreationTimeout time.Duration
	// DiscoveryInterval is how often a node's background goroutine looks
	// for new ports, so that idle publishers connect to late subscribers and
	// deliver their history. Default: 2ms.
	DiscoveryInterval time.Duration
	// Defaults holds the QoS a service gets for every value its builder
	// leaves unset.
	Defaults Defaults
}

// Defaults is the QoS of new services, per messaging pattern.
type Defaults struct {
	PublishSubscribe PubSubQoS
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
		DiscoveryInterval: 2 * time.Millisecond,
		Defaults:          Defaults{PublishSubscribe: DefaultPubSubQoS()},
	}
}
