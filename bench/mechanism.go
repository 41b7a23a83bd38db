package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Mechanism moves a payload of a fixed size between process A and process B
// over two channels, a2b and b2a. The harness drives it as a ping-pong:
//
//	A: Send(seq) on a2b, then Receive() on b2a, expecting seq back
//	B: Receive() on a2b, then Send(seq) on b2a, until it receives seq 0
//
// One value is used by one goroutine (locked to one OS thread) of one process;
// it need not be safe for concurrent use. Send and Receive are the timed hot
// path: they must not allocate, and Receive busy-waits (or blocks, for a
// mechanism that measures blocking) until a message is there.
type Mechanism interface {
	// Setup creates the resources (RoleA) or opens them (RoleB). The harness
	// calls it in A and in B at about the same time: each side waits, for at
	// most cfg.Timeout, for what the other side has to create or accept.
	// When both Setups have returned, Send and Receive work in both
	// directions. Every resource's name starts with cfg.Prefix, or lives
	// in cfg.Dir.
	Setup(cfg Config) error
	// Send writes seq (> 0, or 0 to end the run) into the first 8 bytes of
	// a payload of cfg.Size bytes, sets its last byte to byte(seq) (see
	// Stamp) and sends it on a2b (in A) or b2a (in B).
	Send(seq uint64) error
	// Receive waits for the next payload on b2a (in A) or a2b (in B), checks
	// it (see Check) and returns its seq. A wait that sees no progress polls
	// a Waiter, so that it gives up when the peer is gone or stalls.
	Receive() (uint64, error)
	// Close releases what Setup took and removes every resource it created,
	// also after a failed Setup. It is called once, in both roles.
	Close() error
}

// Streamer is implemented by a mechanism that can also be measured in the
// throughput mode (-stream): there A Sends seq 1, 2, 3, ... on a2b without
// waiting for any answer, then seq 0, and B Receives until seq 0; b2a is not
// used. The a2b channel must queue messages, in order. Streams says in one
// line how the mechanism streams: whether it is lossless (a full channel
// holds the sender up) or drops messages (B then counts gaps).
type Streamer interface {
	Streams() string
}

// Noter is implemented by a mechanism that has something to say about a run
// after its Setup in A, for example that it cut a payload into datagrams.
// The note goes into the results next to the figures.
type Noter interface {
	Note() string
}

// Role says which side of the ping-pong a process plays.
type Role int

const (
	RoleA Role = iota // creates the resources, sends first, measures
	RoleB             // opens the resources, echoes
)

func (r Role) String() string {
	if r == RoleA {
		return "A"
	}
	return "B"
}

// Config is what a mechanism gets in Setup.
type Config struct {
	Role Role
	// Prefix is unique to one measurement of one run (for example
	// "iox2go-bench-4242-3-pipe"); use it for names in /dev/shm, sockets, files.
	Prefix string
	// Dir is a private directory of this run for file-system resources
	// (sockets, FIFOs); the harness removes it at the end.
	Dir string
	// Size is the payload size in bytes, at least 9 (the seq and a last
	// byte), or 8 in the throughput mode (the seq alone).
	Size int
	// Stream is set in the throughput mode (see Streamer): A only sends,
	// B only receives, and a2b should be configured for it (say, a larger
	// queue).
	Stream bool
	// Timeout bounds every wait for the peer: in Setup, and in a Receive
	// that sees nothing arrive.
	Timeout time.Duration
}

// ShmPath is the path of a /dev/shm file of this measurement.
func (c Config) ShmPath(suffix string) string { return "/dev/shm/" + c.Prefix + suffix }

// DirPath is the path of a file of this measurement in the run's directory.
func (c Config) DirPath(suffix string) string { return c.Dir + "/" + c.Prefix + suffix }

// Stamp writes seq into the first 8 bytes of payload (little endian) and
// byte(seq) into its last byte: the same two writes for every mechanism. An
// 8-byte payload (the throughput mode) is the seq alone.
func Stamp(payload []byte, seq uint64) {
	binary.LittleEndian.PutUint64(payload, seq)
	if len(payload) > 8 {
		payload[len(payload)-1] = byte(seq)
	}
}

// Check reads the seq of a payload written by Stamp and checks its last byte.
func Check(payload []byte) (uint64, error) {
	seq := binary.LittleEndian.Uint64(payload)
	if last := payload[len(payload)-1]; len(payload) > 8 && last != byte(seq) {
		return 0, fmt.Errorf("%w: seq %d, last byte %#x", ErrCorrupt, seq, last)
	}
	return seq, nil
}

var (
	// ErrCorrupt reports a payload whose last byte does not match its seq.
	ErrCorrupt = errors.New("corrupt payload")
	// ErrStalled reports a wait that saw no message for Config.Timeout.
	ErrStalled = errors.New("peer stalled")
	// ErrPeerGone reports that the other process ended or failed.
	ErrPeerGone = errors.New("peer gone")
)

// peerGone is set by the control channel's reader when the other process
// ends or reports a failure, so that a busy wait on a dead peer stops;
// peerGoneCh is closed then too, for the blocking waits (setPeerGone).
var (
	peerGone     atomic.Bool
	peerGoneCh   = make(chan struct{})
	peerGoneOnce sync.Once
)

// setPeerGone records that the other process is gone.
func setPeerGone() {
	peerGone.Store(true)
	peerGoneOnce.Do(func() { close(peerGoneCh) })
}

// Waiter bounds a wait for the peer without putting a clock read on the
// fast path: a busy-waiting Receive calls Reset when it starts and Poll
// every pollEvery spins (a blocking one, after each timed-out sleep).
type Waiter struct {
	timeout int64 // ns
	start   int64 // nanotime of the first Poll of this wait, 0 before it
}

// pollEvery is how many spins a busy wait makes between two calls of Poll.
const pollEvery = 1024

// NewWaiter returns a Waiter that gives up after cfg.Timeout.
func NewWaiter(cfg Config) Waiter { return Waiter{timeout: int64(cfg.Timeout)} }

// Reset starts a new wait.
func (w *Waiter) Reset() { w.start = 0 }

// Poll returns ErrPeerGone or ErrStalled when the wait should give up. On a
// machine with a single CPU it also yields the CPU, so that a busy wait does
// not hold it for a whole time slice while the peer has the message ready.
func (w *Waiter) Poll() error {
	if singleCPU {
		osYield()
	}
	if peerGone.Load() {
		return ErrPeerGone
	}
	now := nanotime()
	if w.start == 0 {
		w.start = now
		return nil
	}
	if now-w.start > w.timeout {
		return fmt.Errorf("%w: nothing for %v", ErrStalled, time.Duration(w.timeout))
	}
	return nil
}

// mechanismInfo is one registered mechanism.
type mechanismInfo struct {
	name, doc string
	new       func() Mechanism
}

var registry = map[string]mechanismInfo{}

// Register makes a mechanism available to -mechanisms under name; call it
// from an init function in the mechanism's file. doc says in one line what
// it measures (printed by -list and written into results.md).
func Register(name, doc string, new func() Mechanism) {
	if _, dup := registry[name]; dup || name == "" || strings.ContainsAny(name, ", \t\n") {
		panic(fmt.Sprintf("bench: bad or duplicate mechanism name %q", name))
	}
	registry[name] = mechanismInfo{name: name, doc: doc, new: new}
}

// mechanismNames returns the registered names, sorted.
func mechanismNames() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
