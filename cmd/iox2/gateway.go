package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/iox2go/iox2go/gateway"
)

// stringList is a repeatable flag.
type stringList struct {
	vals []string
	set  bool
}

func (l *stringList) String() string { return strings.Join(l.vals, ",") }
func (l *stringList) Set(v string) error {
	l.vals, l.set = append(l.vals, v), true
	return nil
}

// procsFlag is --gomaxprocs: a count of at least 0, and whether it was
// given.
type procsFlag struct {
	n   int
	set bool
}

func (f *procsFlag) String() string {
	if f == nil || !f.set {
		return ""
	}
	return strconv.Itoa(f.n)
}
func (f *procsFlag) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a count of at least 0", v)
	}
	f.n, f.set = n, true
	return nil
}

// defaultGatewayProcs is the gateway's GOMAXPROCS unless --gomaxprocs or
// the GOMAXPROCS environment variable says otherwise. A gateway hands
// each message from one goroutine to the next (the doorbell's
// dispatcher, the forwarder, the NATS client's flusher and reader); with
// one P those hand-overs stay on one thread, where more Ps wake idle
// threads to take them over (docs/GATEWAY.md, "Threads").
const defaultGatewayProcs = 1

var gw struct {
	nats, namespace string
	allow, deny     stringList
	heartbeat       time.Duration
	procs           procsFlag
}

func init() {
	register(&command{
		path:    "gateway",
		summary: "join this domain to other hosts' through a NATS server (runs in the foreground)",
		help: `Runs a gateway in the foreground until Ctrl-C or SIGTERM: it connects to the
NATS server, announces the services that the nodes of this domain use,
opens the services that the gateways of other hosts announce (same
namespace, same type identity and byte order) and carries their samples and
notifications both ways, and requests to the servers of other hosts with
their response streams back.

The settings come from the [gateway] table of the configuration file
(docs/CONFIG.md); the flags override it. --allow and --deny take service
name patterns (path.Match syntax, such as "robot/*") and may be repeated:
given on the command line, they replace the file's lists.

The gateway runs Go code on one thread at a time unless --gomaxprocs or
the GOMAXPROCS environment variable allows more: its work is a chain of
hand-overs, which one thread does with the least latency.

One gateway runs per domain: its status socket <root>/gateway/<prefix>gateway.sock
answers "iox2 gateway status". Log lines go to stderr. docs/GATEWAY.md
describes the subjects, the guarantees and the limits.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&gw.nats, "nats", "", "the NATS server `URL` (default: the file's gateway.nats-url, else nats://127.0.0.1:4222)")
			fs.StringVar(&gw.namespace, "namespace", "", "the subjects' `NAMESPACE` (default: the file's, else the prefix without its trailing '_')")
			fs.Var(&gw.allow, "allow", "bridge only services whose name matches `PATTERN` (repeatable)")
			fs.Var(&gw.deny, "deny", "never bridge services whose name matches `PATTERN` (repeatable)")
			fs.DurationVar(&gw.heartbeat, "heartbeat", 0, "announcement `INTERVAL` (default: the file's gateway.heartbeat-interval, else 1s)")
			fs.Var(&gw.procs, "gomaxprocs", "the gateway's GOMAXPROCS, `N` threads running Go code at once; 0 is Go's default, one per CPU (default: the GOMAXPROCS environment variable, else 1)")
		},
		maxArgs: 0,
		run:     runGateway,
	})
	register(&command{
		path:    "gateway status",
		summary: "show the state of the gateway running in this domain",
		help: `Asks the gateway of this domain (through its status socket) for its state:
its NATS connection, the services it announces, the other gateways, the
services it carries with their counters (sent to NATS, received and injected,
dropped, malformed) and the remote services it refuses with the reason. With
--json the whole state is one JSON object (gateway.Status). No gateway
running is exit code 3; the socket of a gateway that died is removed.`,
		maxArgs: 0,
		run:     runGatewayStatus,
	})
}

func runGateway(e *env, _ []string) error {
	switch {
	case gw.procs.set && gw.procs.n == 0:
		runtime.SetDefaultGOMAXPROCS()
	case gw.procs.set:
		runtime.GOMAXPROCS(gw.procs.n)
	case os.Getenv("GOMAXPROCS") == "":
		runtime.GOMAXPROCS(defaultGatewayProcs)
	}
	cfg := gateway.ConfigFrom(e.cfg)
	if gw.nats != "" {
		cfg.NATSURL = gw.nats
	}
	if gw.namespace != "" {
		cfg.Namespace = gw.namespace
	}
	if gw.allow.set {
		cfg.Allow = gw.allow.vals
	}
	if gw.deny.set {
		cfg.Deny = gw.deny.vals
	}
	if gw.heartbeat != 0 {
		cfg.HeartbeatInterval = gw.heartbeat
	}
	var mu sync.Mutex
	cfg.Logf = func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(e.stderr, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
	}
	g, err := gateway.New(e.cfg, cfg)
	if err != nil {
		if strings.HasPrefix(err.Error(), "gateway: ") {
			return usagef("%s", err.Error())
		}
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return g.Run(ctx)
}

func runGatewayStatus(e *env, _ []string) error {
	st, err := gateway.QueryStatus(e.cfg)
	if err != nil {
		if errors.Is(err, gateway.ErrNotRunning) {
			return notFoundf("%s", err.Error())
		}
		return err
	}
	if e.json {
		return printJSON(e.stdout, st)
	}
	w := e.stdout
	fmt.Fprintf(w, "gateway %s on host %q (pid %d, GOMAXPROCS %d), namespace %q, byte order %s\n", st.Gateway, st.Host, st.PID, st.GOMAXPROCS, st.Namespace, st.ByteOrder)
	server := st.NATS.Server
	if server == "" {
		server = st.NATS.URL
	}
	fmt.Fprintf(w, "NATS: %s %s, %d reconnects\n", st.NATS.State, server, st.NATS.Reconnects)
	if st.NATS.LastError != "" {
		fmt.Fprintf(w, "NATS: last attempt to connect failed: %s\n", st.NATS.LastError)
	}
	fmt.Fprintf(w, "\nannounced (used on this host): %d\n", len(st.Local))
	if len(st.Local) > 0 {
		t := newTable(w, "  PATTERN", "SERVICE")
		for _, l := range st.Local {
			t.row("  "+l.Pattern, l.Service)
		}
		t.flush()
	}
	fmt.Fprintf(w, "\nother gateways: %d\n", len(st.Remotes))
	if len(st.Remotes) > 0 {
		t := newTable(w, "  GATEWAY", "HOST", "BYTE ORDER", "SERVICES", "LAST SEEN")
		for _, r := range st.Remotes {
			t.row("  "+r.Gateway, r.Host, r.ByteOrder, fmt.Sprint(r.Services), time.Since(r.LastSeen).Round(time.Millisecond).String()+" ago")
		}
		t.flush()
	}
	fmt.Fprintf(w, "\nbridged: %d\n", len(st.Bridges))
	if len(st.Bridges) > 0 {
		t := newTable(w, "  PATTERN", "SERVICE", "SENT", "RECEIVED", "DROPPED", "MALFORMED", "UNDELIVERED", "WITH")
		for _, b := range st.Bridges {
			t.row("  "+b.Pattern, b.Service, fmt.Sprint(b.Sent), fmt.Sprint(b.Received), fmt.Sprint(b.Dropped), fmt.Sprint(b.Malformed), fmt.Sprint(b.Undelivered), strings.Join(b.Remotes, ","))
		}
		t.flush()
	}
	fmt.Fprintf(w, "\nrefused: %d\n", len(st.Refused))
	for _, r := range st.Refused {
		fmt.Fprintf(w, "  %s %q of gateway %s (%s): %s\n", r.Pattern, r.Service, r.Gateway, r.Host, r.Reason)
	}
	return nil
}
