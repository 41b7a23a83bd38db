package runtime

import (
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
)

// A dead node's files are found from the node's own directory, never only
// from a service's dynamic segment, which any process of the domain can
// write garbage into: after such damage and the death of every port, the
// cleanup leaves nothing of the domain (issue 11, point 6).

func init() {
	helpers["journal-port"] = helperJournalPort
}

// journalPatterns are the services of these tests: the two port kinds of
// each pattern, and the files that the two ports have once they met
// (suffixes of the names in the shared-memory directory).
var journalPatterns = []struct {
	name   string
	a, b   string // roles of helperJournalPort
	files  []string
	single string // a role whose port has files even with no peer
}{
	{"publish-subscribe", "pub", "sub", []string{".data", ".connection", ".dynamic"}, "pub"},
	{"request-response", "client", "server", []string{".data", ".data", ".connection", ".connection", ".dynamic"}, "client"},
	{"event", "notifier", "listener", []string{".event", ".dynamic"}, "listener"},
}

// helperJournalPort creates a node (in-process shared memory with
// $IOX2_TEST_INPROC=1), opens or creates the service of role
// $IOX2_TEST_ROLE, creates its port, prints "ready" and waits to be
// killed, or, when its stdin is not empty, until its stdin ends: then it
// closes its node and exits.
func helperJournalPort() error {
	cfg := helperConfig()
	cfg.InProcess = os.Getenv("IOX2_TEST_INPROC") == "1"
	noWatch := os.Getenv("IOX2_TEST_NO_WATCH") == "1"
	if noWatch {
		cfg.LivenessSweepInterval = time.Hour
	}
	node, err := NewNodeBuilder().Config(cfg).Create()
	if err != nil {
		return err
	}
	// With $IOX2_TEST_NO_WATCH=1 the node does not watch its peers
	// through pidfds (and sweeps once an hour): it cleans up after none of
	// them, and a test sees who else does.
	node.live.forceSweep = noWatch
	if err := openJournalPort(node, os.Getenv("IOX2_TEST_ROLE")); err != nil {
		return err
	}
	fmt.Println("ready")
	if os.Getenv("IOX2_TEST_STDIN") != "1" {
		// Not select {}: a node with in-process shared memory has no
		// goroutine in the netpoller and no timer, and the Go runtime
		// would end the process as deadlocked before it is killed.
		for {
			time.Sleep(time.Hour)
		}
	}
	io.Copy(io.Discard, os.Stdin)
	node.Close() // its errors say what the damage did; the files must go anyway
	return nil
}

// openJournalPort opens the service of role and creates the role's port;
// both stay open until node closes.
func openJournalPort(node *Node, role string) error {
	var err error
	switch role {
	case "pub", "sub":
		var svc *PublishSubscribeService[msg]
		if svc, err = PublishSubscribe[msg](node, "journal/ps").OpenOrCreate(); err == nil {
			if role == "pub" {
				_, err = svc.Publisher()
			} else {
				_, err = svc.Subscriber()
			}
		}
	case "client", "server":
		var svc *RequestResponseService[rqMsg, rsMsg]
		if svc, err = RequestResponse[rqMsg, rsMsg](node, "journal/rr").OpenOrCreate(); err == nil {
			if role == "client" {
				_, err = svc.Client()
			} else {
				_, err = svc.Server()
			}
		}
	case "notifier", "listener":
		var svc *EventService
		if svc, err = Event(node, "journal/ev").OpenOrCreate(); err == nil {
			if role == "notifier" {
				_, err = svc.Notifier()
			} else {
				_, err = svc.Listener()
			}
		}
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	return err
}

// startJournalPort starts helperJournalPort with role in cfg's domain and
// waits until its port exists.
func startJournalPort(t *testing.T, cfg *Config, role string, inProc bool, extraEnv ...string) *exec.Cmd {
	t.Helper()
	env := append([]string{"IOX2_TEST_ROLE=" + role}, extraEnv...)
	if inProc {
		env = append(env, "IOX2_TEST_INPROC=1")
	}
	cmd, out := startHelper(t, cfg, "journal-port", env...)
	expectLine(t, role, out, "ready")
	return cmd
}

// killHelper ends a helper with SIGKILL (it may have died already, of the
// damage done to its segments) and reaps it.
func killHelper(cmd *exec.Cmd) {
	cmd.Process.Kill()
	cmd.Wait()
}

// shmSuffixes returns the suffixes (".data", ...) of the domain's files in
// the shared-memory directory, sorted.
func shmSuffixes(cfg *Config) []string {
	var s []string
	for _, f := range shmLeftovers(cfg) {
		s = append(s, filepath.Ext(f))
	}
	sort.Strings(s)
	return s
}

// awaitShmFiles waits until the domain's files in the shared-memory
// directory have the suffixes want: the ports have met. The bound is
// generous (a discovery round takes a DiscoveryInterval of 50 ms; the
// machine may be loaded by parallel tests).
func awaitShmFiles(t *testing.T, cfg *Config, want []string) {
	t.Helper()
	want = append([]string(nil), want...)
	sort.Strings(want)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		have := shmSuffixes(cfg)
		if strings.Join(have, " ") == strings.Join(want, " ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ports' files are %v after 20 s, want %v", have, want)
		}
	}
}

// dynamicPath returns the path of the domain's only dynamic segment.
func dynamicPath(t *testing.T, cfg *Config) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(cfg.ShmDir, cfg.Prefix+"*.dynamic"))
	if len(m) != 1 {
		t.Fatalf("want one dynamic segment, have %v", m)
	}
	return m[0]
}

// damageDynamic writes random bytes over the whole dynamic segment at
// path ("garbage") or truncates it to 1000 bytes ("truncate").
func damageDynamic(t *testing.T, path, how string, seed int64) {
	t.Helper()
	switch how {
	case "garbage":
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, st.Size())
		rand.New(rand.NewSource(seed)).Read(b)
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.WriteAt(b, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	case "truncate":
		if err := os.Truncate(path, 1000); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unknown damage %q", how)
	}
}

// TestDeadNodesLeaveNothingAfterCorruptDynamic: the two ports of a
// service in two processes, the service's dynamic segment overwritten
// with garbage or truncated, both processes killed: the cleanup of the
// dead nodes removes every file of the domain (the ports' data and event
// segments and connections included, which the dynamic segment no longer
// names), and a second cleanup finds nothing to do.
func TestDeadNodesLeaveNothingAfterCorruptDynamic(t *testing.T) {
	for pi, pat := range journalPatterns {
		for di, how := range []string{"garbage", "truncate"} {
			t.Run(pat.name+"/"+how, func(t *testing.T) {
				cfg := testConfig(t)
				cfg.InProcess = false
				a := startJournalPort(t, cfg, pat.a, false)
				b := startJournalPort(t, cfg, pat.b, false)
				awaitShmFiles(t, cfg, pat.files)
				damageDynamic(t, dynamicPath(t, cfg), how, int64(pi*2+di+1))
				killHelper(a)
				killHelper(b)
				// b may clean up after a before it dies itself: its node
				// watches a's process through a pidfd.
				if st := CleanupDeadNodes(cfg); !st.Complete() || st.Cleanups+st.CleanedByOthers == 0 {
					t.Errorf("cleanup: %+v, want the dead nodes cleaned", st)
				}
				assertNoFiles(t, cfg)
				if st := CleanupDeadNodes(cfg); !reflect.DeepEqual(st, CleanupState{}) {
					t.Errorf("second cleanup: %+v, want nothing", st)
				}
			})
		}
	}
}

// TestDeadNodeWithoutServiceLeavesNothing: a port's files are removed
// even when its node's service tag is gone (a cleaner that died after it
// removed the tag, or a tag that someone deleted): the port's own journal
// entry names them.
func TestDeadNodeWithoutServiceLeavesNothing(t *testing.T) {
	for _, pat := range journalPatterns {
		t.Run(pat.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.InProcess = false
			a := startJournalPort(t, cfg, pat.single, false)
			want := []string{".dynamic", ".data"}
			if pat.single == "listener" {
				want[1] = ".event"
			}
			awaitShmFiles(t, cfg, want)
			killHelper(a)
			// The service goes as a whole (static config, dynamic segment,
			// the node's tag): what is left of the port is found only
			// through the node's directory.
			tags, _ := filepath.Glob(filepath.Join(cfg.nodesDir(), cfg.Prefix+"*", "*.svc"))
			if len(tags) != 1 {
				t.Fatalf("tags: %v", tags)
			}
			os.Remove(tags[0])
			os.Remove(dynamicPath(t, cfg))
			statics, _ := filepath.Glob(filepath.Join(cfg.servicesDir(), "*"))
			for _, s := range statics {
				os.Remove(s)
			}
			if st := CleanupDeadNodes(cfg); st.Cleanups != 1 {
				t.Errorf("cleanup: %+v, want 1 node cleaned", st)
			}
			assertNoFiles(t, cfg)
		})
	}
}

// TestInProcessNodeNextToProcesses: a node with in-process shared memory
// in a domain whose other nodes are processes. Its creation cleans up
// after a killed process exactly as a node of a process would: the dead
// publisher's files go, its slot is freed, and the service that a live
// subscriber process holds stays. Its own service is left alone by the
// cleanups of the other processes while it lives, and once it is closed
// nothing of it is left.
func TestInProcessNodeNextToProcesses(t *testing.T) {
	cfg := testConfig(t)
	cfg.InProcess = false
	// The subscriber's process does not watch the publisher's: its
	// cleanup would race the in-process node's, which does not wait for
	// another cleaner at work.
	sub := startJournalPort(t, cfg, "sub", false, "IOX2_TEST_NO_WATCH=1")
	pub := startJournalPort(t, cfg, "pub", false)
	awaitShmFiles(t, cfg, []string{".dynamic", ".data", ".connection"})
	static, _ := filepath.Glob(filepath.Join(cfg.servicesDir(), "*.service"))
	dyn := dynamicPath(t, cfg)
	killHelper(pub)

	ic := cfg.clone()
	ic.InProcess = true
	inode := testNode(t, ic) // cleans up after the dead publisher
	if left := shmSuffixes(cfg); strings.Join(left, " ") != ".dynamic" {
		t.Errorf("after the in-process node's creation, the domain's shared memory holds %v, want the live subscriber's service only", left)
	}
	if len(static) != 1 {
		t.Fatalf("static configs: %v", static)
	}
	if _, err := os.Stat(static[0]); err != nil {
		t.Errorf("the in-process node's cleanup removed the static config of a service that a live process holds: %v", err)
	}
	if _, err := os.Stat(dyn); err != nil {
		t.Errorf("the in-process node's cleanup removed the dynamic segment of a service that a live process holds: %v", err)
	}
	// The dead publisher's slot is free: a real node sees no publisher.
	rnode := noCleanupNode(t, cfg)
	svc, err := PublishSubscribe[msg](rnode, "journal/ps").Open()
	if err != nil {
		t.Fatal(err)
	}
	if n := svc.NumberOfPublishers(); n != 0 {
		t.Errorf("%d publishers after the in-process node cleaned up after the dead one", n)
	}
	rnode.Close()

	// The in-process node's own ports, next to the processes.
	if err := openJournalPort(inode, "client"); err != nil {
		t.Fatal(err)
	}
	if err := openJournalPort(inode, "listener"); err != nil {
		t.Fatal(err)
	}
	if st := CleanupDeadNodes(cfg); st.Cleanups != 0 || st.CorruptServices != 0 {
		t.Errorf("a cleanup of the processes' domain with the in-process node alive: %+v", st)
	}
	if left := shmSuffixes(cfg); strings.Join(left, " ") != ".dynamic" {
		t.Errorf("the in-process node's ports put %v into the shared-memory directory", left)
	}
	if _, err := Event(inode, "journal/ev").Open(); err != nil {
		t.Errorf("the in-process node's event service after another cleanup: %v", err)
	}
	killHelper(sub)
	inode.Close()
	assertNoFiles(t, cfg)
}

// TestDeadInProcessNodeLeavesNothing: a process whose node has in-process
// shared memory is killed while its ports are open: the cleanup by a
// process (the usual configuration) removes everything it left in the
// root.
func TestDeadInProcessNodeLeavesNothing(t *testing.T) {
	for _, pat := range journalPatterns {
		t.Run(pat.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.InProcess = false
			killHelper(startJournalPort(t, cfg, pat.single, true))
			if left := shmLeftovers(cfg); len(left) > 0 {
				t.Errorf("an in-process node put %v into the shared-memory directory", left)
			}
			if st := CleanupDeadNodes(cfg); st.Cleanups != 1 {
				t.Errorf("cleanup: %+v, want 1 node cleaned", st)
			}
			assertNoFiles(t, cfg)
		})
	}
}

// TestLiveSenderLeavesNothingAfterCorruptDynamic: a service's dynamic
// segment overwritten with garbage, then its receiving port's process
// killed while the sending one lives on. The cleanup of the dead node
// removes the dead port's own files; the connection that the live sender
// created to it is the sender's, which removes it when it closes. Once
// the sender's process has closed its node, nothing of the domain is
// left.
func TestLiveSenderLeavesNothingAfterCorruptDynamic(t *testing.T) {
	for pi, pat := range journalPatterns {
		t.Run(pat.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.InProcess = false
			dead := startJournalPort(t, cfg, pat.b, false)
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			live, out := startHelperWith(t, cfg, "journal-port", r, "IOX2_TEST_ROLE="+pat.a, "IOX2_TEST_STDIN=1")
			r.Close()
			expectLine(t, pat.a, out, "ready")
			awaitShmFiles(t, cfg, pat.files)
			damageDynamic(t, dynamicPath(t, cfg), "garbage", int64(pi+11))
			killHelper(dead)
			// The live process's node watches the dead one and may clean
			// up after it first (at once, through a pidfd): either way
			// the dead node is gone once this cleanup returns.
			if st := CleanupDeadNodes(cfg); !st.Complete() || st.Cleanups+st.CleanedByOthers > 1 {
				t.Errorf("cleanup after the receiver's death: %+v", st)
			}
			if nodes, _ := ListNodes(cfg); len(nodes) != 1 || nodes[0].State != NodeAlive {
				t.Errorf("nodes after the receiver's death and a cleanup: %+v, want the live one", nodes)
			}
			w.Close()
			done := make(chan error, 1)
			go func() { done <- live.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("the live %s's process: %v", pat.a, err)
				}
			case <-time.After(20 * time.Second): // a close waits CreationTimeout (500 ms) at most for receivers
				live.Process.Kill()
				t.Fatalf("the live %s's process did not close its node within 20 s", pat.a)
			}
			if st := CleanupDeadNodes(cfg); !reflect.DeepEqual(st, CleanupState{}) {
				t.Errorf("cleanup after the sender closed its node: %+v, want nothing", st)
			}
			assertNoFiles(t, cfg)
		})
	}
}

// TestInProcessAndProcessesDoNotRemoveEachOthersService: a service name
// that processes of a domain use cannot be opened by a node with
// in-process shared memory of the same domain, and the reverse: the
// segments are not where the opener looks. The opener gets a clear error
// and removes nothing: the service's static config, which the opener
// used to take for an orphan, stays, and the service goes on.
func TestInProcessAndProcessesDoNotRemoveEachOthersService(t *testing.T) {
	cfg := testConfig(t)
	cfg.InProcess = false
	ic := cfg.clone()
	ic.InProcess = true

	// Processes hold journal/ps; an in-process node opens it.
	pub := startJournalPort(t, cfg, "pub", false)
	awaitShmFiles(t, cfg, []string{".dynamic", ".data"})
	inode := testNode(t, ic)
	for _, open := range []func() error{
		func() error { _, err := PublishSubscribe[msg](inode, "journal/ps").Open(); return err },
		func() error { _, err := PublishSubscribe[msg](inode, "journal/ps").OpenOrCreate(); return err },
	} {
		start := time.Now()
		err := open()
		if !errors.Is(err, ErrServiceCorrupted) || !strings.Contains(err.Error(), "InProcess") {
			t.Errorf("in-process open of the processes' service: %v, want ErrServiceCorrupted saying why", err)
		} else {
			t.Log(err)
		}
		if d := time.Since(start); d > 4*ic.CreationTimeout {
			t.Errorf("the in-process open took %v to fail", d)
		}
	}
	rnode := noCleanupNode(t, cfg)
	svc, err := PublishSubscribe[msg](rnode, "journal/ps").Open()
	if err != nil {
		t.Fatalf("a process's open after the in-process one: %v", err)
	}
	if n := svc.NumberOfPublishers(); n != 1 {
		t.Errorf("the service that processes share has %d publishers after the in-process open, want the 1 of the helper", n)
	}
	svc.Close()

	// The in-process node holds journal/ev; a process's node opens it.
	isvc, err := Event(inode, "journal/ev").Create()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Event(rnode, "journal/ev").OpenOrCreate(); !errors.Is(err, ErrServiceCorrupted) {
		t.Errorf("a process's open of the in-process service: %v, want ErrServiceCorrupted", err)
	}
	if again, err := Event(inode, "journal/ev").Open(); err != nil {
		t.Errorf("the in-process service after a process tried to open it: %v", err)
	} else {
		again.Close()
	}
	isvc.Close()
	if _, err := Event(rnode, "journal/ev").OpenOrCreate(); err != nil {
		t.Errorf("a process's open once the in-process node let go of the name: %v", err)
	}

	killHelper(pub)
	rnode.Close()
	inode.Close()
	CleanupDeadNodes(cfg)
	assertNoFiles(t, cfg)
}

// TestCleanupDeletesOnlyFilesOfItsJournal: a slot of the dynamic segment is
// only a claim (any process of the domain can write it), so the cleanup of
// a dead node deletes the files of the ports that its own journal names,
// never those of a port that a damaged slot attributes to it. Here the dead
// node's publisher slot is made to name the live publisher: the cleanup
// frees the slot but leaves the live publisher's data segment, which a new
// subscriber still maps.
func TestCleanupDeletesOnlyFilesOfItsJournal(t *testing.T) {
	cfg := testConfig(t)
	if cfg.InProcess {
		t.Skip("needs the files of a real process")
	}
	node, err := NewNodeBuilder().Config(cfg).SignalHandling(false).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	svc, err := PublishSubscribe[msg](node, "journal/ps").OpenOrCreate()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := svc.Publisher()
	if err != nil {
		t.Fatal(err)
	}
	child := startJournalPort(t, cfg, "pub", false)
	d := svc.ps.core.dyn
	var deadPub ID
	for i := range d.Pubs {
		s := &d.Pubs[i]
		if id := ID(s.ID.Load()); id != 0 && id != pub.ID() && s.State.Load() == protocol.SlotActive {
			deadPub = id
			s.ID.Store(uint64(pub.ID())) // the damage: the slot claims the live publisher
		}
	}
	if deadPub == 0 {
		t.Fatal("the child's publisher slot was not found")
	}
	killHelper(child)
	// The test's node watches the child's through a pidfd and may have
	// cleaned up after it already, by the same journal: then this
	// cleanup finds nothing to do.
	if st := CleanupDeadNodes(cfg); !st.Complete() || st.Cleanups+st.CleanedByOthers > 1 {
		t.Fatalf("cleanup: %+v, want the dead node gone", st)
	}
	if nodes, err := ListNodes(cfg); err != nil || len(nodes) != 1 || nodes[0].ID != node.ID() {
		t.Fatalf("nodes after the cleanup: %+v, %v; want only the test's", nodes, err)
	}
	live := filepath.Join(cfg.ShmDir, cfg.dataName(pub.ID()))
	if _, err := os.Stat(live); err != nil {
		t.Fatalf("the live publisher's data segment: %v; the cleanup of another node deleted it", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.ShmDir, cfg.dataName(deadPub))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dead publisher's data segment: %v, want it removed through the journal", err)
	}
	sub, err := svc.Subscriber()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := pub.SendCopy(msg{Seq: 7}); n != 1 || err != nil {
		t.Fatalf("send after the cleanup = %d, %v; want 1, nil", n, err)
	}
	s, err := sub.Receive()
	if err != nil || s == nil || s.Payload().Seq != 7 {
		t.Fatalf("receive after the cleanup = %v, %v; want sample 7", s, err)
	}
	s.Release()
}
