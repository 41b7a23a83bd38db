package main

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestNATSServerWhere: the NATS server of the NATS mechanisms, as a process
// of its own (the default) and inside process A (-nats-server in-a),
// carries a message, and stopNATS ends it (the process's Wait returns).
func TestNATSServerWhere(t *testing.T) {
	defer func(w string) { natsWhere = w }(natsWhere)
	for _, where := range []string{natsInProcess, natsInA} {
		t.Run(where, func(t *testing.T) {
			natsWhere = where
			url, err := startNATS()
			if err != nil {
				t.Fatal(err)
			}
			defer stopNATS()
			proc := natsSrv.proc
			if (proc != nil) != (where == natsInProcess) {
				t.Fatalf("-nats-server %s: server process %v", where, proc)
			}
			if again, err := startNATS(); err != nil || again != url {
				t.Fatalf("second start = %q, %v; want the same server %q", again, err, url)
			}
			nc, err := nats.Connect(url)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			sub, err := nc.SubscribeSync("where")
			if err != nil {
				t.Fatal(err)
			}
			if err := nc.Publish("where", []byte(where)); err != nil {
				t.Fatal(err)
			}
			// Generous: loopback, but the machine may be loaded.
			m, err := sub.NextMsg(10 * time.Second)
			if err != nil || string(m.Data) != where {
				t.Fatalf("received %v, %v; want %q", m, err, where)
			}
			nc.Close()
			stopNATS()
			if proc != nil {
				if st := proc.cmd.ProcessState; st == nil || !st.Exited() || st.ExitCode() != 0 {
					t.Fatalf("the server process after stopNATS: %v, want exited with 0", st)
				}
			}
		})
	}
}
