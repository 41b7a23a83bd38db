package runtime

import (
	"os"
	"syscall"
	"testing"
)

// TestInterruptedCleanupResumes leaves a dead node half cleaned, the way a
// cleaner killed in the middle of its work would, at each step of the
// cleanup in turn, and checks that the next cleanup finishes the job: no
// port, no file and no service is left.
func TestInterruptedCleanupResumes(t *testing.T) {
	steps := []struct {
		name string
		do   func(cfg *Config, d *dynamic, dead ID)
	}{
		{"data segment removed, connections left", func(cfg *Config, d *dynamic, dead ID) {
			for i := range d.Pubs {
				if id := ID(d.Pubs[i].ID.Load()); id != 0 {
					cfg.provider().Remove(cfg.dataName(id))
				}
			}
		}},
		{"files removed, ports left", func(cfg *Config, d *dynamic, dead ID) {
			names, _ := cfg.provider().List(cfg.Prefix)
			for _, n := range names {
				if n != d.seg.Name() {
					cfg.provider().Remove(n)
				}
			}
		}},
		{"left the service, tag left", func(cfg *Config, d *dynamic, dead ID) {
			removePortsOf(cfg, cfg.provider(), d, dead, journaledPorts(cfg.nodeDir(dead)))
			d.leave(dead, allAt)
		}},
		{"marked the service for removal, then died", func(cfg *Config, d *dynamic, dead ID) {
			removePortsOf(cfg, cfg.provider(), d, dead, journaledPorts(cfg.nodeDir(dead)))
			for i := range d.Nodes {
				d.Nodes[i].ID.CompareAndSwap(uint64(dead), 0)
			}
			d.Hdr.Destroyer.Store(uint64(dead))
		}},
		{"service removed, node files left", func(cfg *Config, d *dynamic, dead ID) {
			cleanupServiceOfNode(cfg, cfg.provider(), serviceHash("resume", PatternPublishSubscribe), uidOf(d, cfg), dead, journaledPorts(cfg.nodeDir(dead)))
		}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			cfg := testConfig(t)
			// A child process creates the service with a publisher and a
			// subscriber, and is killed.
			cmd, out := startHelper(t, cfg, "resume-owner")
			if !out.Scan() || out.Text() != "ready" {
				t.Fatal("owner did not start")
			}
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			nodes, _ := ListNodes(cfg)
			if len(nodes) != 1 || nodes[0].State != NodeDead {
				t.Fatalf("nodes %+v, want one dead", nodes)
			}
			dead := nodes[0].ID
			svcs, _ := ListServices(cfg)
			if len(svcs) != 1 {
				t.Fatalf("services %+v", svcs)
			}
			d, err := openDynamicAny(cfg.provider(), cfg.dynamicName(svcs[0].Static.Hash, svcs[0].Static.UID), cfg)
			if err != nil {
				t.Fatal(err)
			}
			step.do(cfg, d, dead)
			d.close()
			if st := CleanupDeadNodes(cfg); st.FailedCleanups != 0 {
				t.Fatalf("cleanup %+v", st)
			}
			assertNoFiles(t, cfg)
		})
	}
}

func uidOf(d *dynamic, cfg *Config) string {
	svcs, _ := ListServices(cfg)
	for _, s := range svcs {
		if cfg.dynamicName(s.Static.Hash, s.Static.UID) == d.seg.Name() {
			return s.Static.UID
		}
	}
	return ""
}

func init() { helpers["resume-owner"] = helperResumeOwner }

func helperResumeOwner() error {
	node, err := NewNodeBuilder().Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	svc, err := PublishSubscribe[msg](node, "resume").HistorySize(1).Create()
	if err != nil {
		return err
	}
	pub, err := svc.Publisher()
	if err != nil {
		return err
	}
	if _, err := svc.Subscriber(); err != nil {
		return err
	}
	pub.SendCopy(msg{Seq: 1})
	os.Stdout.WriteString("ready\n")
	select {}
}
