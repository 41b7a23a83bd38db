package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	server "github.com/nats-io/nats-server/v2/server"
)

// The NATS mechanisms (nats-pubsub, gateway-pubsub) talk through one NATS
// server (github.com/nats-io/nats-server/v2) listening on loopback. By
// default it is a process of its own, as NATS is deployed (this program
// executed again as role "nats"; -nats-server process); with -nats-server
// in-a it runs inside process A instead, the yardstick of the earlier
// figures. A starts it at its first Setup of such a mechanism and stops it
// when the run ends (stopNATS, from the runner's clean-up). A writes the
// server's URL into the measurement's directory, where B (and the gateway
// processes) read it.
//
// Where the server runs changes the yardstick: inside A, plain NATS crosses
// one process boundary each way (A's client and server share a Go
// runtime, B is the only other process), and every wake-up that a gateway
// adds is then measured against almost none; as a process of its own, each
// way wakes the server and then B, as in any deployment of NATS.

// natsMaxPayload is the server's max_payload: above the largest default
// size (4 MiB) plus the gateway's sample header. The server's own default
// is 1 MiB, which a 1 MiB sample with any header exceeds.
const natsMaxPayload = 8 << 20

// Where the NATS server runs (-nats-server).
const (
	natsInProcess = "process" // a process of its own
	natsInA       = "in-a"    // inside process A
)

// natsWhere is -nats-server: natsInProcess or natsInA.
var natsWhere = natsInProcess

// roleNATS is the role of the NATS server's process (envRole).
const roleNATS = "nats"

var natsSrv struct {
	sync.Mutex
	s    *server.Server // in A
	proc *childProc     // or a process of its own
	url  string
}

// newNATSServer starts a NATS server on a free loopback port.
func newNATSServer() (*server.Server, error) {
	s, err := server.NewServer(&server.Options{
		ServerName: "iox2go-bench",
		Host:       "127.0.0.1",
		Port:       -1, // any free port
		NoLog:      true,
		NoSigs:     true,
		MaxPayload: natsMaxPayload,
	})
	if err != nil {
		return nil, fmt.Errorf("NATS server: %w", err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, errors.New("NATS server: not ready after 10s")
	}
	return s, nil
}

// startNATS starts the server once per process A and returns its client
// URL.
func startNATS() (string, error) {
	natsSrv.Lock()
	defer natsSrv.Unlock()
	if natsSrv.url != "" {
		return natsSrv.url, nil
	}
	if natsWhere == natsInA {
		s, err := newNATSServer()
		if err != nil {
			return "", err
		}
		natsSrv.s, natsSrv.url = s, s.ClientURL()
		return natsSrv.url, nil
	}
	p, url, err := startNATSProcess()
	if err != nil {
		return "", err
	}
	natsSrv.proc, natsSrv.url = p, url
	return url, nil
}

// startNATSProcess starts the server's process (runNATS) and reads its
// URL, the first line it prints.
func startNATSProcess() (*childProc, string, error) {
	urls := make(chan string, 1)
	p, err := startChild("NATS server", append(os.Environ(), envRole+"="+roleNATS), urls)
	if err != nil {
		return nil, "", err
	}
	select {
	case url := <-urls:
		if strings.HasPrefix(url, "nats://") {
			return p, url, nil
		}
	case <-time.After(15 * time.Second):
	}
	p.cmd.Process.Kill()
	<-p.done
	return nil, "", fmt.Errorf("the NATS server's process printed no URL%s", p.logTail())
}

// runNATS is the NATS server's process: it prints the server's URL and
// serves until its input ends (stopNATS closes it).
func runNATS() error {
	if err := unpin(); err != nil {
		return err
	}
	s, err := newNATSServer()
	if err != nil {
		return err
	}
	fmt.Println(s.ClientURL())
	io.Copy(io.Discard, os.Stdin)
	s.Shutdown()
	s.WaitForShutdown()
	return nil
}

// stopNATS stops the server that this process started, if any.
func stopNATS() {
	natsSrv.Lock()
	defer natsSrv.Unlock()
	if natsSrv.s != nil {
		natsSrv.s.Shutdown()
		natsSrv.s.WaitForShutdown()
		natsSrv.s = nil
	}
	if natsSrv.proc != nil {
		if err := natsSrv.proc.stop(10 * time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		}
		natsSrv.proc = nil
	}
	natsSrv.url = ""
}

// natsURL is A's and B's way to the server: A starts it (once) and hands
// its URL to B (fromA).
func natsURL(cfg Config) (string, error) {
	return fromA(cfg, "nats-url", startNATS)
}

// fromA hands a string from A's Setup to B's: A computes it with make and
// writes it into the measurement's file cfg.DirPath(name), where B waits
// for it. A's Close removes the file (removeFromA).
func fromA(cfg Config, name string, make func() (string, error)) (string, error) {
	file := cfg.DirPath(name)
	if cfg.Role == RoleA {
		v, err := make()
		if err != nil {
			return "", err
		}
		tmp := file + ".tmp"
		if err := os.WriteFile(tmp, []byte(v), 0o600); err != nil {
			return "", err
		}
		return v, os.Rename(tmp, file)
	}
	for deadline := time.Now().Add(cfg.Timeout); ; time.Sleep(5 * time.Millisecond) {
		data, err := os.ReadFile(file)
		if err == nil {
			return string(data), nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		if peerGone.Load() {
			return "", ErrPeerGone
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%w: nothing from A in %s after %v", ErrStalled, file, cfg.Timeout)
		}
	}
}

// removeFromA removes A's file of fromA (Close, in A).
func removeFromA(cfg Config, name string) {
	if cfg.Role == RoleA {
		os.Remove(cfg.DirPath(name))
	}
}

// Control messages: seqs with the top bit set, never a seq of the run.
// The receivers of the NATS mechanisms skip them (they may arrive late,
// before the first sample of the run); see handshake.
const (
	ctlBit      uint64 = 1 << 63
	ctlHello           = ctlBit | 1 // "I am here"
	ctlHeard           = ctlBit | 2 // "I am here and I have heard you"
	ctlEnd             = ctlBit | 3 // B got the end of a stream (seq 0)
	ctlProgress        = ctlBit | 4 // B still receives the samples of a stream (see drainTicker)
)

// drainTicker is B's side of a stream's end over NATS: every 100 ms at most
// while samples still arrive, B says so on the way back, and A (endStream)
// waits for the end's confirmation as long as it hears it. Without flow
// control, the samples that A sent faster than B takes them are queued
// along the route (the server's buffer for B's connection, B's or its
// gateway's pending messages), and on a loaded machine B may take longer
// than the timeout to reach the end marker behind them.
type drainTicker struct {
	n    uint32
	last int64
}

// tick counts a sample and, every 1024 samples, sends ctlProgress if the
// last one is 100 ms old.
func (p *drainTicker) tick(send func(uint64) error) error {
	if p.n++; p.n&1023 != 0 {
		return nil
	}
	if t := nanotime(); t-p.last >= int64(100*time.Millisecond) {
		p.last = t
		return send(ctlProgress)
	}
	return nil
}

// handshake makes sure that both routes, a2b and b2a, carry messages
// before the run starts: over NATS (and through gateways) a message sent
// before the subscriptions along the route exist is lost. Each side sends
// hello every few milliseconds, heard once it has received anything from
// the other; it is done when it has received heard (the other side has
// received one of its messages, so its route to the other side works),
// and then sends one last heard, which arrives (the route works) and ends
// the other side's handshake. Every message is sent before the run's
// first, so the late ones arrive before it. recv waits at most d for a
// control message and returns 0 when none came.
func handshake(cfg Config, send func(uint64) error, recv func(d time.Duration) (uint64, error)) error {
	heard := false
	deadline := time.Now().Add(cfg.Timeout)
	for {
		msg := ctlHello
		if heard {
			msg = ctlHeard
		}
		if err := send(msg); err != nil {
			return fmt.Errorf("handshake: %w", err)
		}
		for wait := 10 * time.Millisecond; ; wait = 0 {
			got, err := recv(wait)
			if err != nil {
				return fmt.Errorf("handshake: %w", err)
			}
			if got == 0 {
				break
			}
			heard = true
			if got == ctlHeard {
				if err := send(ctlHeard); err != nil {
					return fmt.Errorf("handshake: %w", err)
				}
				return nil
			}
		}
		if peerGone.Load() {
			return ErrPeerGone
		}
		if time.Now().After(deadline) {
			what := "nothing from the other side"
			if heard {
				what = "the other side does not hear this one"
			}
			return fmt.Errorf("%w: handshake: %s after %v", ErrStalled, what, cfg.Timeout)
		}
	}
}

// The names of the two NATS mechanisms: the gateway and its yardstick.
const (
	natsName            = "nats-pubsub"
	gatewayName         = "gateway-pubsub"
	gatewayEmbeddedName = "gateway-embedded-pubsub"
)

// isGateway reports whether mechanism name goes through gateways (its
// rows carry the ratio to nats-pubsub).
func isGateway(name string) bool { return name == gatewayName || name == gatewayEmbeddedName }

// isNATS reports whether mechanism name crosses NATS, where a slow
// receiver drops (counted) instead of slowing the sender.
func isNATS(name string) bool { return name == natsName || isGateway(name) }

// The targets of issue 14 for the gateway, against plain NATS in the same run.
const (
	gatewayLatencyTarget    = 1.3  // gateway-pubsub median / nats-pubsub median, at most
	gatewayThroughputTarget = 0.70 // gateway-pubsub samples/s / nats-pubsub's, at least
)
