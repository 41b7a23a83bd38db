package runtime

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func init() {
	helpers["crash-publisher"] = helperCrashPublisher
	helpers["crash-subscriber"] = helperCrashSubscriber
	helpers["crash-creator"] = helperCrashCreator
	helpers["race-open"] = helperRaceOpen
}

const crashService = "crash/sensor"

func crashBuilder(node *Node) *PublishSubscribeBuilder[msg] {
	return PublishSubscribe[msg](node, crashService).MaxPublishers(3).MaxSubscribers(4).
		SubscriberMaxBufferSize(4).SubscriberMaxBorrowedSamples(2).HistorySize(2)
}

// helperCrashPublisher publishes as fast as it can until it is killed.
func helperCrashPublisher() error {
	node, err := NewNodeBuilder().Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	svc, err := crashBuilder(node).Open()
	if err != nil {
		return err
	}
	pub, err := svc.Publisher()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	for i := uint64(0); ; i++ {
		s, err := pub.Loan()
		if err != nil {
			return err
		}
		s.Payload().Seq = i
		s.Payload().Tail = 0xC0DE
		if _, err := s.Send(); err != nil {
			return err
		}
	}
}

// helperCrashSubscriber receives and holds samples until it is killed.
func helperCrashSubscriber() error {
	node, err := NewNodeBuilder().Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	svc, err := crashBuilder(node).Open()
	if err != nil {
		return err
	}
	sub, err := svc.Subscriber()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	var held []*Sample[msg]
	for {
		s, err := sub.Receive()
		if err != nil {
			return err
		}
		if s == nil {
			continue
		}
		held = append(held, s)
		if len(held) == 2 { // keep the maximum borrowed, then swap
			held[0].Release()
			held = held[1:]
		}
	}
}

// helperCrashCreator creates and removes its own service in a loop until
// it is killed, so that it dies at any point of creation or removal.
func helperCrashCreator() error {
	node, err := NewNodeBuilder().Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	fmt.Println("ready")
	for {
		svc, err := PublishSubscribe[msg](node, "crash/created").OpenOrCreate()
		if err != nil {
			return err
		}
		svc.Close()
	}
}

func startAndKill(t *testing.T, cfg *Config, name string, after time.Duration) {
	t.Helper()
	cmd, out := startHelper(t, cfg, name)
	if !out.Scan() || out.Text() != "ready" {
		t.Fatalf("%s did not start: %q", name, out.Text())
	}
	time.Sleep(after)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
}

// TestCrashRecovery kills publishers, subscribers and service creators with
// SIGKILL at random moments, round after round, while a surviving publisher
// and subscriber keep working. After every round's cleanup the survivors'
// chunks are all accounted for; at the end no file is left.
func TestCrashRecovery(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 4
	}
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc, err := crashBuilder(node).Create()
	if err != nil {
		t.Fatal(err)
	}
	pub := must[*Publisher[msg]](t)(svc.Publisher())
	sub := must[*Subscriber[msg]](t)(svc.Subscriber())
	total := pub.p.pool.Cap()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for r := 0; r < rounds; r++ {
		// A publisher child whose sample the survivor holds when it dies.
		cmd, out := startHelper(t, cfg, "crash-publisher")
		if !out.Scan() || out.Text() != "ready" {
			t.Fatalf("round %d: publisher child did not start", r)
		}
		var fromDead *Sample[msg]
		for deadline := time.Now().Add(10 * time.Second); fromDead == nil; {
			s, err := sub.Receive()
			if err != nil {
				t.Fatal(err)
			}
			if s != nil && s.Payload().Tail == 0xC0DE {
				fromDead = s
			} else if s != nil {
				s.Release()
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: nothing received from the publisher child", r)
			}
		}
		time.Sleep(time.Duration(rng.IntN(5000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		// A subscriber child and a creator child, killed at random moments.
		startAndKill(t, cfg, "crash-subscriber", time.Duration(rng.IntN(20000))*time.Microsecond)
		startAndKill(t, cfg, "crash-creator", time.Duration(rng.IntN(20000))*time.Microsecond)

		// Each child's node creation cleaned up after the child killed
		// before it (unless the liveness sweep of svc held that one: a
		// creation does not wait); this cleans up after the last one and
		// any such, waiting for the sweep where it holds one: either way
		// every dead node is gone when it returns.
		if st := node.CleanupDeadNodes(); !st.Complete() {
			t.Fatalf("round %d: cleanup %+v, want the last dead node cleaned", r, st)
		}
		if ids := listNodeIDs(cfg); len(ids) != 1 || ids[0] != node.ID() {
			t.Fatalf("round %d: nodes %v left, want only %v", r, ids, node.ID())
		}
		// The dead publisher's sample is still readable.
		if fromDead.Payload().Tail != 0xC0DE {
			t.Fatalf("round %d: a dead publisher's sample changed under the subscriber", r)
		}
		fromDead.Release()
		for s, _ := sub.Receive(); s != nil; s, _ = sub.Receive() {
			s.Release()
		}
		// The survivors still work, and every chunk of the survivor publisher
		// is back: in its pool or its history.
		if n, err := pub.SendCopy(msg{Seq: uint64(r)}); err != nil || n != 1 {
			t.Fatalf("round %d: survivor send reached %d: %v", r, n, err)
		}
		s := must[*Sample[msg]](t)(sub.Receive())
		if s == nil || s.Payload().Seq != uint64(r) {
			t.Fatalf("round %d: survivor did not receive its sample", r)
		}
		s.Release()
		pub.p.mu.Lock()
		pub.p.update()
		pub.p.reclaim()
		free, hist := pub.p.freeLocked(), pub.p.hLen
		pub.p.mu.Unlock()
		if free+hist != total {
			t.Fatalf("round %d: %d chunks free + %d in history, want %d", r, free, hist, total)
		}
		if n := svc.NumberOfPublishers(); n != 1 {
			t.Fatalf("round %d: %d publishers registered after cleanup", r, n)
		}
		if n := svc.NumberOfSubscribers(); n != 1 {
			t.Fatalf("round %d: %d subscribers registered after cleanup", r, n)
		}
	}
	node.Close()
	assertNoFiles(t, cfg)
}

// assertNoFiles fails if anything of cfg's domain is left in /dev/shm or
// under the root.
func assertNoFiles(t testing.TB, cfg *Config) {
	t.Helper()
	if left := shmLeftovers(cfg); len(left) > 0 {
		t.Errorf("left in %s: %v", cfg.ShmDir, left)
	}
	var left []string
	filepath.Walk(cfg.Root, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			left = append(left, path)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("left under %s: %v", cfg.Root, left)
	}
}

// helperRaceOpen opens the shared service, reports its incarnation, waits
// for the go-ahead, then opens-or-creates and closes it 100 times.
func helperRaceOpen() error {
	node, err := NewNodeBuilder().Config(helperConfig()).Create()
	if err != nil {
		return err
	}
	defer node.Close()
	svc, err := PublishSubscribe[msg](node, "race").OpenOrCreate()
	if err != nil {
		return err
	}
	fmt.Println(svc.StaticConfig().UID)
	bufio.NewReader(os.Stdin).ReadString('\n')
	svc.Close()
	for i := 0; i < 100; i++ {
		svc, err := PublishSubscribe[msg](node, "race").OpenOrCreate()
		if err != nil {
			return fmt.Errorf("round %d: %w", i, err)
		}
		svc.Close()
	}
	fmt.Println("done")
	return nil
}

// TestOpenOrCreateRace starts 8 processes that open-or-create the same
// service at once: all succeed and all get the same incarnation (exactly
// one created it); then each opens-or-creates and closes it 100 times
// while the others do the same.
func TestOpenOrCreateRace(t *testing.T) {
	cfg := testConfig(t)
	const procs = 8
	var stdins []*os.File
	var outs []*bufio.Scanner
	var cmds []func() error
	for i := 0; i < procs; i++ {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd, out := startHelperWith(t, cfg, "race-open", r)
		r.Close()
		stdins = append(stdins, w)
		outs = append(outs, out)
		cmds = append(cmds, cmd.Wait)
	}
	uids := map[string]int{}
	for i, out := range outs {
		if !out.Scan() {
			t.Fatalf("process %d reported no incarnation", i)
		}
		uids[out.Text()]++
	}
	if len(uids) != 1 {
		t.Fatalf("the processes opened %d incarnations of the service: %v", len(uids), uids)
	}
	for _, w := range stdins {
		fmt.Fprintln(w, "go")
		w.Close()
	}
	for i, out := range outs {
		if !out.Scan() || out.Text() != "done" {
			t.Errorf("process %d: %q", i, out.Text())
		}
		if err := cmds[i](); err != nil {
			t.Errorf("process %d: %v", i, err)
		}
	}
	assertNoFiles(t, cfg)
}

// TestDeadSubscriberIsReclaimedWithoutCalls kills a subscriber that holds
// samples and checks that the publisher gets every chunk back with no call
// from anyone: the liveness sweep of the publisher's node notices the dead
// node.
func TestDeadSubscriberIsReclaimedWithoutCalls(t *testing.T) {
	cfg := testConfig(t)
	node := testNode(t, cfg)
	svc, err := crashBuilder(node).Create()
	if err != nil {
		t.Fatal(err)
	}
	pub := must[*Publisher[msg]](t)(svc.Publisher())
	total := pub.p.pool.Cap()
	cmd, out := startHelper(t, cfg, "crash-subscriber")
	if !out.Scan() || out.Text() != "ready" {
		t.Fatal("subscriber child did not start")
	}
	for i := 0; i < 100; i++ {
		pub.SendCopy(msg{Seq: uint64(i)})
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	// The sweep frees the dead node's ports first and removes its files
	// last: wait for both, or a look between the two sees the dead node
	// still listed. 10 s is far more than the sweep interval (200 ms) the
	// sweep needs, even on a loaded machine.
	deadline := time.Now().Add(10 * time.Second)
	for {
		pub.p.mu.Lock()
		free, hist := pub.p.freeLocked(), pub.p.hLen
		pub.p.mu.Unlock()
		nodes, _ := ListNodes(cfg)
		if free+hist == total && svc.NumberOfSubscribers() == 0 && len(nodes) == 1 {
			if nodes[0].State != NodeAlive {
				t.Fatalf("nodes after the cleanup: %+v", nodes)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d chunks free + %d in history of %d, %d subscribers, nodes %+v, 10s after the subscriber died",
				free, hist, total, svc.NumberOfSubscribers(), nodes)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
