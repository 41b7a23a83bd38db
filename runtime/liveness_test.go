package runtime

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iox2go/iox2go/runtime/shm"
)

// Tests of the node's peer watch (liveness.go): pidfds, the sweep, and
// what they cost.

// osThreads returns the number of OS threads of this process.
func osThreads(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads line in /proc/self/status")
	return 0
}

// openFDs returns the number of open file descriptors of this process.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// eventually polls cond every millisecond until it holds, or fails the
// test after bound.
func eventually(t testing.TB, bound time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", bound, what())
		}
		time.Sleep(time.Millisecond)
	}
}

// peerModes counts the node's peers by how it watches them, and reports
// whether the sweep's timer is set.
func peerModes(n *Node) (modes map[peerMode]int, armed bool) {
	l := n.live
	l.mu.Lock()
	defer l.mu.Unlock()
	modes = map[peerMode]int{}
	for _, p := range l.peers {
		modes[p.mode]++
	}
	return modes, l.armed
}

// peerModeOf is how the node watches peer id; 0 when it does not.
func peerModeOf(n *Node, id ID) peerMode {
	l := n.live
	l.mu.Lock()
	defer l.mu.Unlock()
	if p := l.peers[id]; p != nil {
		return p.mode
	}
	return 0
}

// chunksBack reports how many of pub's chunks are free or in its history,
// as the publisher of service core would see them, without making the
// publisher do anything: it holds the service's lock around the look, so
// that the discovery goroutine's maintain (which takes the same lock, then
// TryLocks the publisher's) never finds the publisher's lock taken by the
// look and skips its round.
func chunksBack(core *serviceCore, pub *Publisher[msg]) int {
	core.mu.Lock()
	defer core.mu.Unlock()
	pub.p.mu.Lock()
	defer pub.p.mu.Unlock()
	return pub.p.freeLocked() + pub.p.hLen
}

// otherNode returns the ID of the node of cfg's domain that is not self,
// once there is one.
func otherNode(t testing.TB, cfg *Config, self ID) ID {
	t.Helper()
	var id ID
	eventually(t, 10*time.Second, func() bool {
		nodes, _ := ListNodes(cfg)
		for _, n := range nodes {
			if n.ID != self && n.State == NodeAlive {
				id = n.ID
				return true
			}
		}
		return false
	}, func() string { return "no other node" })
	return id
}

// killedSubscriberRound starts a subscriber process that holds samples of
// the publisher's service, waits until node watches it in the given mode,
// kills it with SIGKILL (after a random pause shorter than jitter, if not
// 0) and returns how long it took until every chunk was back in the
// publisher's pool (or its history) and the subscriber's slot was gone,
// with no call to the publisher: the cleanup and the reclaim run in the
// node's own goroutines.
func killedSubscriberRound(t testing.TB, cfg *Config, node *Node, core *serviceCore, pub *Publisher[msg], mode peerMode, jitter, bound time.Duration) time.Duration {
	t.Helper()
	total := pub.p.pool.Cap()
	cmd, out := startHelper(t, cfg, "crash-subscriber")
	if !out.Scan() || out.Text() != "ready" {
		t.Fatalf("subscriber child did not start: %q", out.Text())
	}
	sub := otherNode(t, cfg, node.ID())
	eventually(t, 10*time.Second, func() bool { return peerModeOf(node, sub) == mode },
		func() string {
			return "the subscriber's node is watched as " + peerModeOf(node, sub).String() + ", not " + mode.String()
		})
	// Until the subscriber holds chunks: it connects on its own
	// discovery round, receives on its own.
	eventually(t, 10*time.Second, func() bool {
		pub.SendCopy(msg{Seq: 1})
		return chunksBack(core, pub) < total
	}, func() string { return "the subscriber holds no chunk" })
	if jitter > 0 {
		time.Sleep(rand.N(jitter))
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGKILL)
	var back int
	eventually(t, bound, func() bool {
		back = chunksBack(core, pub)
		return back == total && countActive(core.dyn.Subs) == 0
	}, func() string {
		return strconv.Itoa(back) + " of " + strconv.Itoa(total) + " chunks back, " + strconv.Itoa(countActive(core.dyn.Subs)) + " subscribers"
	})
	took := time.Since(start)
	cmd.Wait()
	eventually(t, 10*time.Second, func() bool { return peerModeOf(node, sub) == 0 },
		func() string {
			return "the dead subscriber's node is still watched as " + peerModeOf(node, sub).String()
		})
	return took
}

// TestDeadSubscriberIsReclaimedThroughPidfd kills a subscriber process
// that holds samples: its chunks are back in the publisher's pool without
// any call and without any timer (the discovery interval and the sweep
// interval are an hour): the pidfd of its process turned readable and the
// node cleaned up at once. Without the peer watch, nothing would look
// before an hour. The bound, 2 s, is generous for a loaded 2-core machine
// (it takes a few milliseconds; BenchmarkDeadSubscriberReclaim measures
// it).
func TestDeadSubscriberIsReclaimedThroughPidfd(t *testing.T) {
	cfg := testConfig(t)
	cfg.DiscoveryInterval, cfg.LivenessSweepInterval = time.Hour, time.Hour
	node := testNode(t, cfg)
	svc := must[*PublishSubscribeService[msg]](t)(crashBuilder(node).Create())
	pub := must[*Publisher[msg]](t)(svc.Publisher())
	took := killedSubscriberRound(t, cfg, node, svc.ps.core, pub, peerPidfd, 0, 2*time.Second)
	t.Logf("chunks back %v after SIGKILL", took)
	node.live.mu.Lock()
	everSet := node.live.timer != nil
	node.live.mu.Unlock()
	if modes, armed := peerModes(node); armed || everSet {
		t.Errorf("the sweep's timer was set (peers %v): every peer could be watched through a pidfd", modes)
	}
	// The cleanup frees the dead node's slots first (the chunks come
	// back then) and removes its files last.
	var nodes []NodeInfo
	eventually(t, 5*time.Second, func() bool {
		nodes, _ = ListNodes(cfg)
		return len(nodes) == 1 && nodes[0].ID == node.ID()
	}, func() string { return fmt.Sprintf("nodes after the cleanup: %+v", nodes) })
}

// TestUnwatchablePeerIsSwept: a peer that cannot be watched through a
// pidfd (here: the node pretends it is in another PID namespace) is
// probed by the sweep, whose timer is set while such a peer exists and
// only then. The bound, 5 s for a 100 ms interval, is generous for a
// loaded machine.
func TestUnwatchablePeerIsSwept(t *testing.T) {
	cfg := testConfig(t)
	cfg.DiscoveryInterval, cfg.LivenessSweepInterval = time.Hour, 100*time.Millisecond
	node := testNode(t, cfg)
	node.live.forceSweep = true // before any service: no goroutine reads it yet
	svc := must[*PublishSubscribeService[msg]](t)(crashBuilder(node).Create())
	pub := must[*Publisher[msg]](t)(svc.Publisher())
	if _, armed := peerModes(node); armed {
		t.Fatal("the sweep's timer is set with no peer")
	}
	took := killedSubscriberRound(t, cfg, node, svc.ps.core, pub, peerSweep, 0, 5*time.Second)
	t.Logf("chunks back %v after SIGKILL (sweep every %v)", took, cfg.LivenessSweepInterval)
	eventually(t, 5*time.Second, func() bool {
		modes, armed := peerModes(node)
		return !armed && modes[peerSweep] == 0
	}, func() string {
		modes, armed := peerModes(node)
		return "the sweep's timer is still set (" + strconv.FormatBool(armed) + ") or peers are left to sweep: " + strings.TrimSpace(strings.ReplaceAll(fmtModes(modes), "\n", " "))
	})
}

func fmtModes(m map[peerMode]int) string {
	var b strings.Builder
	for mode, n := range m {
		b.WriteString(mode.String() + "=" + strconv.Itoa(n) + " ")
	}
	return b.String()
}

// fakePeer is a node record whose lock this test holds (so that the node
// is alive) and whose details name another process: a peer node as cheap
// as a sleep(1) process.
type fakePeer struct {
	id   ID
	lock *shm.Lock
	cmd  *exec.Cmd // nil when the record names a pid of no process
}

// addFakePeer registers a fake peer node in service core, with pid as its
// process, its lock held (alive) or not (dead), and a tag of the service,
// so that its cleanup leaves the service as a real node's would.
func addFakePeer(t testing.TB, cfg *Config, core *serviceCore, pid int, alive bool) *fakePeer {
	t.Helper()
	id := newID()
	lk, err := shm.AcquireLock(cfg.nodeLockPath(id), cfg.FileMode)
	if err != nil {
		t.Fatal(err)
	}
	if !alive {
		lk.Release()
	}
	dir := cfg.nodeDir(id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	det := NodeDetails{ID: id.String(), PID: pid, PIDNamespace: ownPIDNamespace(), Version: Version, Created: time.Now().UTC()}
	if err := writeJSONFile(filepath.Join(dir, "details.json"), det, cfg.FileMode); err != nil {
		t.Fatal(err)
	}
	tag := filepath.Join(dir, core.hash+"_"+core.static.UID+"_"+newID().String()+".svc")
	if err := writeJSONFile(tag, struct{}{}, cfg.FileMode); err != nil {
		t.Fatal(err)
	}
	if _, err := core.dyn.join(id); err != nil {
		t.Fatal(err)
	}
	return &fakePeer{id: id, lock: lk}
}

// startSleeps starts n sleep processes, killed when the test ends.
func startSleeps(t testing.TB, n int) []*exec.Cmd {
	t.Helper()
	cmds := make([]*exec.Cmd, n)
	for i := range cmds {
		cmd := exec.Command("sleep", "600")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	t.Cleanup(func() {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
	})
	return cmds
}

// TestPeerWatchesParkWithoutThreads watches 300 peer processes: their
// watchers park in the netpoller and add no OS thread (a goroutine blocked
// in a system call would hold one each). Then half of them die: each is
// cleaned up (its node slot freed) with no timer running. Closing the node
// while the other half are watched ends every goroutine of the watch and
// closes every pidfd.
func TestPeerWatchesParkWithoutThreads(t *testing.T) {
	const peers = 300
	cfg := testConfig(t)
	cfg.DiscoveryInterval, cfg.LivenessSweepInterval = time.Hour, time.Hour
	cmds := startSleeps(t, peers)
	goroutines0, fds0 := goruntime.NumGoroutine(), openFDs(t)
	// Without signal handling: its goroutines would stay after the node.
	node := must[*Node](t)(NewNodeBuilder().Config(cfg).SignalHandling(false).Create())
	t.Cleanup(func() { node.Close() })
	svc := must[*PublishSubscribeService[msg]](t)(PublishSubscribe[msg](node, "live/many").MaxNodes(peers + 1).Create())
	core := svc.ps.core
	fakes := make([]*fakePeer, peers)
	for i, cmd := range cmds {
		fakes[i] = addFakePeer(t, cfg, core, cmd.Process.Pid, true)
	}
	t.Cleanup(func() {
		for _, f := range fakes {
			f.lock.Release()
		}
		CleanupDeadNodes(cfg)
	})
	threads0 := osThreads(t)
	core.dyn.bump() // as a joining node does
	eventually(t, 20*time.Second, func() bool {
		modes, _ := peerModes(node)
		return modes[peerPidfd] == peers
	}, func() string { modes, _ := peerModes(node); return "peers watched: " + fmtModes(modes) })
	time.Sleep(100 * time.Millisecond) // let anything that would park settle
	threads1, goroutines1 := osThreads(t), goruntime.NumGoroutine()
	t.Logf("%d peers watched: OS threads %d -> %d, goroutines %d -> %d", peers, threads0, threads1, goroutines0, goroutines1)
	// A few threads may come and go with the runtime's own needs (the
	// scan of the records makes system calls); one per watcher would be
	// 300.
	if threads1-threads0 > 4 {
		t.Errorf("watching %d peers added %d OS threads", peers, threads1-threads0)
	}
	if goroutines1-goroutines0 < peers {
		t.Errorf("%d goroutines for %d watched peers", goroutines1-goroutines0, peers)
	}

	// Half of them die: their locks go, as with a process's death, then
	// their processes.
	dead := peers / 2
	for i := range dead {
		fakes[i].lock.Release()
		cmds[i].Process.Signal(syscall.SIGKILL)
	}
	eventually(t, 20*time.Second, func() bool {
		modes, armed := peerModes(node)
		return len(core.dyn.nodeIDs()) == 1+peers-dead && modes[peerPidfd] == peers-dead && len(modes) == 1 && !armed
	}, func() string {
		modes, _ := peerModes(node)
		return strconv.Itoa(len(core.dyn.nodeIDs())) + " nodes registered, peers " + fmtModes(modes)
	})
	for _, f := range fakes[:dead] {
		if st := nodeState(cfg, f.id); st != NodeMissing {
			t.Errorf("dead peer %s is %s after its cleanup", f.id, st)
		}
	}

	// Closing the node ends the watchers of the other half.
	node.Close()
	eventually(t, 5*time.Second, func() bool { return goruntime.NumGoroutine() <= goroutines0 },
		func() string {
			buf := make([]byte, 1<<20)
			return "goroutines " + strconv.Itoa(goruntime.NumGoroutine()) + " > " + strconv.Itoa(goroutines0) + " before the node:\n" + string(buf[:goruntime.Stack(buf, true)])
		})
	if fds := openFDs(t); fds > fds0+peers-dead {
		// The fake peers' own lock files are still open: peers-dead.
		t.Errorf("%d file descriptors open after the node closed, %d before it was created (+%d fake locks)", fds, fds0, peers-dead)
	}
}

// TestPeerFoundDeadWhenFirstSeen: a peer whose node is already dead when
// the node first sees it is cleaned up at once, whether its recorded pid
// names no process (pidfd_open fails with ESRCH) or a live process that is
// not the node's (its pid was reused: the probe after pidfd_open finds the
// node's lock free).
func TestPeerFoundDeadWhenFirstSeen(t *testing.T) {
	cfg := testConfig(t)
	cfg.DiscoveryInterval, cfg.LivenessSweepInterval = time.Hour, time.Hour
	node := testNode(t, cfg)
	svc := must[*PublishSubscribeService[msg]](t)(PublishSubscribe[msg](node, "live/dead-at-first").Create())
	core := svc.ps.core
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	reused := startSleeps(t, 1)[0]
	a := addFakePeer(t, cfg, core, gone.Process.Pid, false)
	b := addFakePeer(t, cfg, core, reused.Process.Pid, false)
	core.dyn.bump()
	eventually(t, 5*time.Second, func() bool {
		modes, armed := peerModes(node)
		return len(core.dyn.nodeIDs()) == 1 && len(modes) == 0 && !armed
	}, func() string {
		modes, _ := peerModes(node)
		return strconv.Itoa(len(core.dyn.nodeIDs())) + " nodes registered, peers " + fmtModes(modes)
	})
	for _, f := range []*fakePeer{a, b} {
		if st := nodeState(cfg, f.id); st != NodeMissing {
			t.Errorf("dead peer %s is %s", f.id, st)
		}
	}
	if reused.ProcessState != nil {
		t.Error("the process of the reused pid ended")
	}
}

// TestPeerThatLeavesIsNoLongerWatched: a peer whose process lives on but
// that no service of ours lists any more is let go of: its watcher ends
// and its pidfd is closed.
func TestPeerThatLeavesIsNoLongerWatched(t *testing.T) {
	cfg := testConfig(t)
	cfg.DiscoveryInterval, cfg.LivenessSweepInterval = time.Hour, time.Hour
	sleeper := startSleeps(t, 1)[0]
	node := testNode(t, cfg)
	svc := must[*PublishSubscribeService[msg]](t)(PublishSubscribe[msg](node, "live/leaves").Create())
	core := svc.ps.core
	eventually(t, 5*time.Second, func() bool { modes, _ := peerModes(node); return len(modes) == 0 },
		func() string { return "peers before any" })
	time.Sleep(10 * time.Millisecond)
	goroutines0, fds0 := goruntime.NumGoroutine(), openFDs(t)
	f := addFakePeer(t, cfg, core, sleeper.Process.Pid, true)
	t.Cleanup(func() { f.lock.Release(); CleanupDeadNodes(cfg) })
	core.dyn.bump()
	eventually(t, 5*time.Second, func() bool { return peerModeOf(node, f.id) == peerPidfd },
		func() string { return "the peer is watched as " + peerModeOf(node, f.id).String() })
	core.dyn.leave(f.id, allAt)
	core.dyn.bump()
	eventually(t, 5*time.Second, func() bool {
		modes, _ := peerModes(node)
		return len(modes) == 0 && goruntime.NumGoroutine() <= goroutines0 && openFDs(t) <= fds0+1 // +1: the fake peer's lock
	}, func() string {
		modes, _ := peerModes(node)
		return fmt.Sprintf("peers %s, goroutines %d (%d before), descriptors %d (%d before)", fmtModes(modes), goruntime.NumGoroutine(), goroutines0, openFDs(t), fds0)
	})
	if sleeper.ProcessState != nil {
		t.Error("the peer's process ended")
	}
}

// TestWatchPeersAllocatesNothing: a look at a service's node slots that
// finds no new peer (every discovery round makes one) allocates nothing.
func TestWatchPeersAllocatesNothing(t *testing.T) {
	cfg := testConfig(t)
	a, b := testNode(t, cfg), testNode(t, cfg)
	sa := must[*PublishSubscribeService[msg]](t)(PublishSubscribe[msg](a, "live/allocs").Create())
	must[*PublishSubscribeService[msg]](t)(PublishSubscribe[msg](b, "live/allocs").Open())
	eventually(t, 5*time.Second, func() bool { return peerModeOf(a, b.ID()) == peerLocal },
		func() string { return "b is watched as " + peerModeOf(a, b.ID()).String() })
	if n := testing.AllocsPerRun(100, func() { a.live.watchPeers(sa.ps.core) }); n != 0 {
		t.Errorf("watchPeers allocates %v times per call", n)
	}
}

// TestPeersInThisProcessAreNotWatched: two nodes of one process see each
// other as local peers: no pidfd, no timer.
func TestPeersInThisProcessAreNotWatched(t *testing.T) {
	cfg := testConfig(t)
	a, b := testNode(t, cfg), testNode(t, cfg)
	sa := must[*PublishSubscribeService[msg]](t)(PublishSubscribe[msg](a, "live/local").Create())
	sb := must[*PublishSubscribeService[msg]](t)(PublishSubscribe[msg](b, "live/local").Open())
	_, _ = sa, sb
	for _, n := range []*Node{a, b} {
		eventually(t, 5*time.Second, func() bool {
			modes, armed := peerModes(n)
			return modes[peerLocal] == 1 && len(modes) == 1 && !armed
		}, func() string { modes, _ := peerModes(n); return "peers " + fmtModes(modes) })
	}
	// b leaves: a lets go of it.
	sb.Close()
	eventually(t, 5*time.Second, func() bool { modes, _ := peerModes(a); return len(modes) == 0 },
		func() string { modes, _ := peerModes(a); return "peers of a after b left: " + fmtModes(modes) })
}

// TestStaleCleanerLockIsRemoved: a cleaner lock file that nobody holds,
// of a node that is gone (its cleaner was killed after it removed the
// node's files), is removed by the next cleanup; one that a cleaner holds
// stays.
func TestStaleCleanerLockIsRemoved(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	stale, held := newID(), newID()
	lk, err := shm.AcquireLock(cfg.cleanerPath(stale), cfg.FileMode)
	if err != nil {
		t.Fatal(err)
	}
	lk.Release()
	hl, err := shm.AcquireLock(cfg.cleanerPath(held), cfg.FileMode)
	if err != nil {
		t.Fatal(err)
	}
	node.CleanupDeadNodes()
	if _, err := os.Stat(cfg.cleanerPath(stale)); !os.IsNotExist(err) {
		t.Errorf("stale cleaner lock file: %v, want it removed", err)
	}
	if _, err := os.Stat(cfg.cleanerPath(held)); err != nil {
		t.Errorf("held cleaner lock file: %v, want it kept", err)
	}
	hl.Release()
	os.Remove(cfg.cleanerPath(held))
}

// TestNodeRecordsItsPIDNamespace: details.json names the PID namespace
// that the pid belongs to.
func TestNodeRecordsItsPIDNamespace(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	det, err := readNodeDetails(cfg, node.ID())
	if err != nil {
		t.Fatal(err)
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		t.Skip("no /proc/self/ns/pid:", err)
	}
	if det.PID != os.Getpid() || det.PIDNamespace != ns || !strings.HasPrefix(ns, "pid:[") {
		t.Errorf("details %+v, want pid %d in %s", det, os.Getpid(), ns)
	}
}

// TestLivenessSweepIntervalConfig: the interval's default, its bound and
// its configuration key.
func TestLivenessSweepIntervalConfig(t *testing.T) {
	if got := DefaultConfig().LivenessSweepInterval; got != time.Second {
		t.Errorf("default liveness sweep interval %v, want 1s", got)
	}
	cfg := DefaultConfig()
	cfg.LivenessSweepInterval = 9 * time.Millisecond
	if err := cfg.Validate(); err == nil || err.Error() != "iox2: config: liveness sweep interval is 9ms, must be at least 10ms" {
		t.Errorf("Validate() = %v", err)
	}
	cfg.LivenessSweepInterval = MinLivenessSweepInterval
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}
	path := filepath.Join(t.TempDir(), "f.toml")
	for _, c := range []struct{ text, want string }{
		{"[global]\nliveness-sweep-interval = \"250ms\"\n", ""},
		{"[global]\nliveness-sweep-interval = \"5ms\"\n", `f.toml:2:27: key "global.liveness-sweep-interval": liveness sweep interval is 5ms, must be at least 10ms`},
	} {
		os.WriteFile(path, []byte(c.text), 0o600)
		got, err := ConfigFromFile(path)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.text, err)
		case c.want == "" && got.LivenessSweepInterval != 250*time.Millisecond:
			t.Errorf("%q: interval %v", c.text, got.LivenessSweepInterval)
		case c.want != "" && (err == nil || !strings.HasSuffix(err.Error(), c.want)):
			t.Errorf("%q: error %v, want %q", c.text, err, c.want)
		}
	}
}

// BenchmarkDeadSubscriberReclaim measures the time from the SIGKILL of a
// subscriber process that holds samples to every chunk being back in the
// publisher's pool, with no call to the publisher: through the pidfd of
// the subscriber's process ("pidfd"), and through the sweep at its default
// interval, 1 s ("sweep": the node pretends the subscriber is in another
// PID namespace; the kill comes at a random moment of the sweep's period,
// as a real death does, so the times spread over the interval). One op is
// one kill; ns/op is the mean, and the median and the maximum are reported
// too. Run it with a fixed count:
//
//	go test -run '^$' -bench BenchmarkDeadSubscriberReclaim -benchtime 20x ./runtime/
func BenchmarkDeadSubscriberReclaim(b *testing.B) {
	for _, c := range []struct {
		name  string
		mode  peerMode
		sweep time.Duration
	}{
		{"pidfd", peerPidfd, 0},
		{"sweep", peerSweep, DefaultConfig().LivenessSweepInterval},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg := testConfig(b)
			cfg.DiscoveryInterval, cfg.LivenessSweepInterval = time.Hour, time.Hour
			if c.mode == peerSweep {
				cfg.LivenessSweepInterval = c.sweep
			}
			node := testNode(b, cfg)
			node.live.forceSweep = c.mode == peerSweep
			svc, err := crashBuilder(node).Create()
			if err != nil {
				b.Fatal(err)
			}
			pub, err := svc.Publisher()
			if err != nil {
				b.Fatal(err)
			}
			var took []time.Duration
			b.ResetTimer()
			b.StopTimer()
			for range b.N {
				took = append(took, killedSubscriberRound(b, cfg, node, svc.ps.core, pub, c.mode, c.sweep, 30*time.Second))
			}
			var sum time.Duration
			for _, d := range took {
				sum += d
			}
			slices.Sort(took)
			b.ReportMetric(float64(sum.Nanoseconds())/float64(len(took)), "ns/op")
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "median-ms")
			b.ReportMetric(float64(took[len(took)-1].Microseconds())/1000, "max-ms")
		})
	}
}
