package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iox2go/iox2go/gateway"
	iox2 "github.com/iox2go/iox2go/runtime"
)

func init() {
	Register(gatewayName, "iox2go publish-subscribe across two domains (\"hosts\": their own Root and prefix) joined by the NATS gateway: A publishes on service a2b in domain A and subscribes to b2a, B the reverse in domain B; each domain has its own gateway process (iox2 gateway's code, this program re-executed) connected to the NATS server (see nats-pubsub); a sample goes publisher -> shared memory -> gateway -> NATS -> gateway -> shared memory -> subscriber; the receivers block in Subscriber.BlockingReceive; read it against nats-pubsub, the same bytes over plain NATS", func() Mechanism { return new(gatewayPubSub) })
	Register(gatewayEmbeddedName, "gateway-pubsub with each domain's gateway in the process of its publisher and subscriber (gateway.New(...).Run in a goroutine of A and of B) instead of a process of its own: a sample goes publisher -> gateway goroutine -> NATS -> gateway goroutine -> subscriber, the hand-overs within a process; the receivers block in Subscriber.BlockingReceive; read it against nats-pubsub and gateway-pubsub", func() Mechanism { return &gatewayPubSub{embedded: true} })
}

// The gateway processes: this program re-executed with envRole=gateway;
// it runs gateway.Run for the domain its environment names until its
// standard input ends (or SIGTERM/SIGINT).
const (
	roleGateway   = "gateway"
	envGWRoot     = "IOX2GO_BENCH_GW_ROOT"
	envGWPrefix   = "IOX2GO_BENCH_GW_PREFIX"
	envGWNATS     = "IOX2GO_BENCH_GW_NATS"
	envGWNS       = "IOX2GO_BENCH_GW_NAMESPACE"
	envGWUnpinned = "IOX2GO_BENCH_GW_UNPINNED"
	envGWProcs    = "IOX2GO_BENCH_GW_GOMAXPROCS" // -gateway-gomaxprocs

	// defaultGatewayProcs is -gateway-gomaxprocs's default: iox2 gateway's
	// GOMAXPROCS (cmd/iox2, defaultGatewayProcs).
	defaultGatewayProcs = 1
)

// gatewayPubSub is iox2go publish-subscribe between two domains, each with
// its own gateway process, through NATS.
type gatewayPubSub struct {
	cfg  Config
	top  string // the directory of both domains' roots
	root string // this domain's
	node *iox2.Node
	pub  *iox2.Publisher[byte]
	sub  *iox2.Subscriber[byte]
	bc   *blockCtx
	gw   *childProc
	prog drainTicker // B's, in the throughput mode

	// embedded: the domain's gateway runs in this process (gateway-
	// embedded-pubsub); stop ends it, and done gives Run's error.
	embedded bool
	stop     context.CancelFunc
	done     chan error
	log      *tailBuffer
	logFile  *os.File // B's copy of log, for A's messages (embeddedLogB)
	// status is the domain's gateway's status (the embedded one's, or
	// the process's through its socket).
	status func() (gateway.Status, error)
}

// embeddedLogB is the file in the measurement's directory where B's
// embedded gateway writes its log.
const embeddedLogB = "gateway-B.log"

func (m *gatewayPubSub) Setup(cfg Config) error {
	m.cfg = cfg
	m.bc = newBlockCtx(cfg)
	url, err := natsURL(cfg)
	if err != nil {
		return err
	}
	// The domains' roots are in a short directory of A's under /tmp: a
	// gateway's status socket is <Root>/gateway/<prefix>gateway.sock, and
	// a socket's path has at most 107 bytes.
	top, err := fromA(cfg, "gw-root", shortDirs.make)
	if err != nil {
		return err
	}
	m.top = top
	side := cfg.Role.String()
	c := iox2.DefaultConfig()
	c.Root = filepath.Join(top, side)
	c.Prefix = cfg.Prefix + side + "_"
	c.PortMemoryLimit = math.MaxInt // as iox2go-pubsub
	m.root = c.Root
	// Both gateways share one namespace, unique to the measurement.
	ns := "bench-" + strings.ReplaceAll(cfg.Prefix, ".", "_")
	if m.embedded {
		if err := m.startEmbedded(c, url, ns); err != nil {
			return err
		}
	} else {
		if m.gw, err = startGateway(side, c.Root, c.Prefix, url, ns); err != nil {
			return err
		}
		m.status = func() (gateway.Status, error) { return gateway.QueryStatus(c) }
	}
	node, err := iox2.NewNodeBuilder().Name("bench-" + side).Config(c).SignalHandling(false).Create()
	if err != nil {
		return err
	}
	m.node = node
	out, in := "a2b", "b2a"
	if cfg.Role == RoleB {
		out, in = in, out
	}
	// The same static config on both sides (either side, or a gateway,
	// may create a service first). Room for the gateway's proxy ports:
	// a publisher and a subscriber of its own on each service.
	service := func(name string) (*iox2.PublishSubscribeService[byte], error) {
		b := iox2.PublishSubscribeSlice[byte](node, name).SubscriberMaxBufferSize(4).MaxPublishers(2).MaxSubscribers(2)
		if cfg.Stream && name == "a2b" {
			b = b.SubscriberMaxBufferSize(streamBufferSize).EnableSafeOverflow(false)
		}
		return b.OpenOrCreate()
	}
	outSvc, err := service(out)
	if err != nil {
		return err
	}
	inSvc, err := service(in)
	if err != nil {
		return err
	}
	if m.pub, err = outSvc.PublisherBuilder().MaxSliceLen(cfg.Size).MaxLoanedSamples(1).Backpressure(iox2.RetryUntilDelivered).Create(); err != nil {
		return err
	}
	if m.sub, err = inSvc.Subscriber(); err != nil {
		return err
	}
	if err := handshake(cfg, m.sendSeq, m.recvCtl); err != nil {
		return fmt.Errorf("%w%s", err, m.logTail())
	}
	return nil
}

// startEmbedded runs the domain's gateway in this process, as a program
// that embeds the gateway package would.
func (m *gatewayPubSub) startEmbedded(c *iox2.Config, url, ns string) error {
	m.log = &tailBuffer{max: 8 << 10}
	// B's gateway also writes its lines into a file of the measurement's
	// directory, where A's error messages find them (logTail): when A
	// reports that B stalled, B's gateway may say why.
	var file *os.File
	if m.cfg.Role == RoleB {
		file, _ = os.OpenFile(m.cfg.DirPath(embeddedLogB), os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_TRUNC, 0o600)
		m.logFile = file
	}
	gw, err := gateway.New(c, gateway.Config{NATSURL: url, Namespace: ns, Logf: func(format string, args ...any) {
		line := fmt.Sprintf("%s gateway: "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
		m.log.Write([]byte(line))
		if file != nil {
			file.Write([]byte(line))
		}
	}})
	if err != nil {
		return err
	}
	var ctx context.Context
	ctx, m.stop = context.WithCancel(context.Background())
	m.done = make(chan error, 1)
	m.status = func() (gateway.Status, error) { return gw.Status(), nil }
	go func() { m.done <- gw.Run(ctx) }()
	return nil
}

// reportLosses prints, in B after a stream, where gateway B lost samples
// of a2b: on NATS (dropped: gaps in the record numbers, the subscription's
// pending limit, a slow consumer at the server) or at B's full queue
// (undelivered). The bench counts them together as lost.
func (m *gatewayPubSub) reportLosses() {
	st, err := m.status()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench (B): %s stream: gateway B's status: %v\n", m.name(), err)
		return
	}
	for _, b := range st.Bridges {
		if b.Service == "a2b" {
			fmt.Fprintf(os.Stderr, "bench (B): %s stream: gateway B injected %d samples of a2b; lost on NATS %d, at B's full queue %d, malformed %d\n",
				m.name(), b.Received, b.Dropped, b.Undelivered, b.Malformed)
		}
	}
}

// name is the mechanism's name.
func (m *gatewayPubSub) name() string {
	if m.embedded {
		return gatewayEmbeddedName
	}
	return gatewayName
}

// logTail returns the end of the gateway's output, for an error message.
func (m *gatewayPubSub) logTail() string {
	if m.embedded {
		var b strings.Builder
		if s := strings.TrimSpace(m.log.String()); s != "" {
			fmt.Fprintf(&b, "\n--- the embedded gateway of %s said:\n%s", m.cfg.Role, s)
		}
		if m.cfg.Role == RoleA {
			if data, err := os.ReadFile(m.cfg.DirPath(embeddedLogB)); err == nil && len(bytes.TrimSpace(data)) > 0 {
				data = bytes.TrimSpace(data[max(0, len(data)-8<<10):])
				fmt.Fprintf(&b, "\n--- the embedded gateway of B said:\n%s", data)
			}
		}
		return b.String()
	}
	return m.gw.logTail()
}

// Streams implements Streamer.
func (m *gatewayPubSub) Streams() string {
	return fmt.Sprintf("a2b lossless in each domain (safe overflow off, subscriber buffer %d, RetryUntilDelivered); across NATS the gateways' bounded queues drop and count", streamBufferSize)
}

func (m *gatewayPubSub) sendSeq(seq uint64) error {
	s, err := m.pub.LoanSliceUninit(m.cfg.Size)
	if err != nil {
		return err
	}
	Stamp(s.PayloadSlice(), seq)
	_, err = s.Send()
	return err
}

func (m *gatewayPubSub) Send(seq uint64) error {
	if err := m.sendSeq(seq); err != nil {
		return err
	}
	if seq == 0 && m.cfg.Stream && m.cfg.Role == RoleA {
		if err := endStream(m.cfg, m.sendSeq, m.recvCtl); err != nil {
			return fmt.Errorf("%w%s", err, m.logTail())
		}
	}
	return nil
}

// recvCtl waits at most d for a sample and returns its seq, 0 for none.
func (m *gatewayPubSub) recvCtl(d time.Duration) (uint64, error) {
	var s *iox2.Sample[byte]
	var err error
	if d <= 0 {
		s, err = m.sub.Receive()
	} else {
		ctx, cancel := context.WithTimeout(m.bc.ctx, d)
		s, err = m.sub.BlockingReceive(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, nil
		}
	}
	if err != nil || s == nil {
		return 0, err
	}
	return m.check(s)
}

func (m *gatewayPubSub) check(s *iox2.Sample[byte]) (uint64, error) {
	defer s.Release()
	if p := s.PayloadSlice(); len(p) != m.cfg.Size {
		return 0, fmt.Errorf("%w: %d bytes, want %d", ErrCorrupt, len(p), m.cfg.Size)
	}
	return Check(s.PayloadSlice())
}

func (m *gatewayPubSub) Receive() (uint64, error) {
	for {
		s, err := m.sub.BlockingReceive(m.bc.start())
		if err = m.bc.end(err); err != nil {
			return 0, fmt.Errorf("%w%s", err, m.logTail())
		}
		seq, err := m.check(s)
		if err != nil {
			return 0, err
		}
		if seq&ctlBit != 0 {
			continue // late handshake
		}
		if seq == 0 && m.cfg.Stream && m.cfg.Role == RoleB {
			return 0, m.sendSeq(ctlEnd)
		}
		if m.cfg.Stream && m.cfg.Role == RoleB {
			if err := m.prog.tick(m.sendSeq); err != nil {
				return 0, err
			}
		}
		return seq, nil
	}
}

func (m *gatewayPubSub) Close() error {
	var errs []error
	if m.bc != nil {
		m.bc.close()
	}
	if m.cfg.Stream && m.cfg.Role == RoleB && m.status != nil {
		m.reportLosses()
	}
	if m.node != nil {
		errs = append(errs, m.node.Close())
	}
	if m.gw != nil {
		errs = append(errs, m.gw.stop(m.cfg.Timeout))
	}
	if m.stop != nil {
		m.stop()
		select {
		case err := <-m.done:
			if err != nil {
				errs = append(errs, fmt.Errorf("embedded gateway: %w%s", err, m.logTail()))
			}
		case <-time.After(m.cfg.Timeout):
			errs = append(errs, fmt.Errorf("embedded gateway did not stop in %v%s", m.cfg.Timeout, m.logTail()))
		}
	}
	if m.logFile != nil {
		m.logFile.Close()
		os.Remove(m.cfg.DirPath(embeddedLogB))
	}
	removeFromA(m.cfg, "nats-url")
	// The domain's directories, once the node and the gateway have left
	// them empty (what is not empty is an error: something was left).
	if m.root != "" {
		for _, d := range []string{"nodes", "services", "gateway", ""} {
			if err := os.Remove(filepath.Join(m.root, d)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	if m.cfg.Role == RoleA && m.top != "" {
		removeFromA(m.cfg, "gw-root")
		shortDirs.remove(m.top)
	}
	return errors.Join(errs...)
}

// childProc is a process of this program that A starts: a domain's
// gateway, or the NATS server.
type childProc struct {
	name string // what the messages call it
	cmd  *exec.Cmd
	in   io.WriteCloser
	log  *tailBuffer
	done chan error
}

// startChild starts this program again with env (which names its role),
// from the spawner thread (spawn). Its output goes to its log, but for
// the first line when firstLine is not nil: that line is sent there. Its
// input stays open until stop.
func startChild(name string, env []string, firstLine chan<- string) (*childProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	c := &childProc{name: name, log: &tailBuffer{max: 8 << 10}, done: make(chan error, 1)}
	c.cmd = exec.Command(exe)
	c.cmd.Env = env
	c.cmd.Stderr = c.log
	var out io.Reader
	if firstLine == nil {
		c.cmd.Stdout = c.log
	} else if out, err = c.cmd.StdoutPipe(); err != nil {
		return nil, err
	}
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := spawn(c.cmd); err != nil {
		return nil, fmt.Errorf("start the %s: %w", name, err)
	}
	go func() {
		if out != nil {
			r := bufio.NewReader(out)
			line, _ := r.ReadString('\n')
			firstLine <- strings.TrimSpace(line)
			io.Copy(c.log, r)
		}
		c.done <- c.cmd.Wait()
	}()
	return c, nil
}

// startGateway starts the gateway process of a domain; it widens its own
// CPU affinity (runGateway), so that it runs on any CPU.
func startGateway(side, root, prefix, url, ns string) (*childProc, error) {
	// GOMAXPROCS: -gateway-gomaxprocs, 1 by default as iox2 gateway's;
	// 0 leaves Go's default (one per CPU).
	env := slices.DeleteFunc(os.Environ(), func(v string) bool { return strings.HasPrefix(v, "GOMAXPROCS=") })
	if n := os.Getenv(envGWProcs); n != "0" {
		if n == "" {
			n = strconv.Itoa(defaultGatewayProcs)
		}
		env = append(env, "GOMAXPROCS="+n)
	}
	return startChild("gateway of domain "+side, append(env,
		envRole+"="+roleGateway,
		envGWRoot+"="+root,
		envGWPrefix+"="+prefix,
		envGWNATS+"="+url,
		envGWNS+"="+ns), nil)
}

// stop ends the process (the end of its input) and waits for it; it kills
// it after timeout.
func (g *childProc) stop(timeout time.Duration) error {
	g.in.Close()
	select {
	case err := <-g.done:
		if err != nil {
			return fmt.Errorf("%s: %w%s", g.name, err, g.logTail())
		}
		return nil
	case <-time.After(timeout):
		g.cmd.Process.Kill()
		<-g.done
		return fmt.Errorf("%s did not stop in %v; killed%s", g.name, timeout, g.logTail())
	}
}

// logTail returns the end of the process's output, for an error message.
func (g *childProc) logTail() string {
	if g == nil {
		return ""
	}
	s := strings.TrimSpace(g.log.String())
	if s == "" {
		return ""
	}
	return fmt.Sprintf("\n--- %s said:\n%s", g.name, s)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b.Write(p)
	if over := t.b.Len() - t.max; over > 0 {
		t.b.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.b.String()
}

// runGateway is a gateway process. Its parent's thread was pinned to one
// CPU, which it inherited; it first widens its affinity to every CPU and
// executes itself again, so that the Go runtime starts with all of them.
func runGateway() error {
	if err := unpin(); err != nil {
		return err
	}
	c := iox2.DefaultConfig()
	c.Root = os.Getenv(envGWRoot)
	c.Prefix = os.Getenv(envGWPrefix)
	c.PortMemoryLimit = math.MaxInt
	gw, err := gateway.New(c, gateway.Config{
		NATSURL:   os.Getenv(envGWNATS),
		Namespace: os.Getenv(envGWNS),
		Logf: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "gateway: "+format+"\n", args...)
		},
	})
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	return gw.Run(ctx)
}

// unpin undoes, in a process that A started (a gateway, the NATS server),
// the CPU affinity inherited from A's pinned thread: it widens it to every
// CPU and executes the program again, so that the Go runtime starts with
// all of them. It returns in the process executed again.
func unpin() error {
	if os.Getenv(envGWUnpinned) != "" {
		return nil
	}
	runtime.LockOSThread() // the affinity is the thread's
	var all unix.CPUSet
	for i := range 1024 {
		all.Set(i)
	}
	if err := unix.SchedSetaffinity(0, &all); err != nil {
		return fmt.Errorf("widen the CPU affinity: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return syscall.Exec(exe, os.Args, append(os.Environ(), envGWUnpinned+"=1"))
}

// shortDirs are the directories of the domains' roots that A made; the
// runner's clean-up removes those that a failed run left.
var shortDirs dirList

type dirList struct {
	sync.Mutex
	dirs []string
}

func (l *dirList) make() (string, error) {
	d, err := os.MkdirTemp("/tmp", "iox2gw-")
	if err != nil {
		return "", err
	}
	l.Lock()
	l.dirs = append(l.dirs, d)
	l.Unlock()
	return d, nil
}

// remove removes d (after its gateways have stopped) and forgets it.
func (l *dirList) remove(d string) {
	os.RemoveAll(d)
	l.Lock()
	l.dirs = slices.DeleteFunc(l.dirs, func(x string) bool { return x == d })
	l.Unlock()
}

// removeAll removes every directory of the list.
func (l *dirList) removeAll() {
	l.Lock()
	defer l.Unlock()
	for _, d := range l.dirs {
		os.RemoveAll(d)
	}
	l.dirs = nil
}

// spawnReqs go to the spawner: a goroutine locked to a thread of its own
// that never ends. The gateway processes are started from it, not from the
// caller's thread: that one is pinned (a child inherits its CPU), and
// PR_SET_PDEATHSIG kills a child when the thread that started it ends
// (which a goroutine that exits locked to its thread does).
var (
	spawnReqs = make(chan *exec.Cmd)
	spawnErrs = make(chan error)
	spawnOnce sync.Once
)

func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		go func() {
			runtime.LockOSThread() // for good: the thread never ends
			for c := range spawnReqs {
				spawnErrs <- c.Start()
			}
		}()
	})
	spawnReqs <- cmd
	return <-spawnErrs
}
