package shm_test

// Tests with real peer processes: the test binary runs itself again as the
// peer, which TestMain recognizes by the environment variable peerEnv (as
// cmd/stringer's and os/exec's tests do).

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/iox2go/iox2go/runtime/shm"
)

const (
	peerEnv = "IOX2GO_SHM_TEST_PEER" // the role of the peer process; its arguments are os.Args[1:]

	peerKind    = 11
	peerVersion = 5
)

func TestMain(m *testing.M) {
	if role := os.Getenv(peerEnv); role != "" {
		os.Exit(peer(role, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// peer runs the peer process's role and returns its exit code. It reports
// progress on stdout, one line per step, and waits for the parent's
// instructions on stdin.
func peer(role string, args []string) int {
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "peer %s: %v\n", role, err)
		return 1
	}
	stdin := bufio.NewReader(os.Stdin)
	switch role {
	case "publish": // dir name: publish, write a second value on request
		p := shm.NewPosix(args[0], 0)
		seg, err := p.Create(args[1], 4096)
		if err != nil {
			return fail(err)
		}
		*word(seg) = 0x1111
		shm.Publish(seg, peerKind, peerVersion)
		fmt.Println("published")
		stdin.ReadString('\n')
		*word(seg) = 0x2222
		fmt.Println("written")
		stdin.ReadString('\n')
		return 0

	case "die-before-publish": // dir name
		p := shm.NewPosix(args[0], 0)
		seg, err := p.Create(args[1], 4096)
		if err != nil {
			return fail(err)
		}
		shm.Init(seg, peerKind)
		*word(seg) = 0x3333
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		sleepForever()

	case "hold-lock": // path: hold the lock until killed
		l, err := shm.CreateLock(args[0], 0)
		if err != nil {
			return fail(err)
		}
		_ = l
		fmt.Println("locked")
		sleepForever()

	case "probe": // path: print Probe's answer for every line read
		for {
			if _, err := stdin.ReadString('\n'); err != nil {
				return 0
			}
			s, err := shm.Probe(args[0])
			if err != nil {
				return fail(err)
			}
			fmt.Println(s)
		}

	case "create-with-perm": // dir name perm: under umask 077
		syscall.Umask(0o077)
		perm, err := strconv.ParseUint(args[2], 8, 32)
		if err != nil {
			return fail(err)
		}
		seg, err := shm.NewPosix(args[0], os.FileMode(perm)).Create(args[1], 64)
		if err != nil {
			return fail(err)
		}
		seg.Close()
		l, err := shm.CreateLock(filepath.Join(args[0], args[1]+".lock"), os.FileMode(perm))
		if err != nil {
			return fail(err)
		}
		l.Release()
		return 0

	case "churn": // dir name: create, publish and remove one name until killed
		p := shm.NewPosix(args[0], 0)
		for i := uint64(1); ; i++ {
			seg, err := p.Create(args[1], 4096)
			if errors.Is(err, shm.ErrExist) {
				continue // the parent is removing a leftover
			}
			if err != nil {
				return fail(err)
			}
			*word(seg) = i
			shm.Publish(seg, peerKind, peerVersion)
			seg.Close()
			if err := p.Remove(args[1]); err != nil && !errors.Is(err, shm.ErrNotExist) {
				return fail(err)
			}
		}
	}
	return fail(errors.New("unknown role"))
}

// sleepForever blocks until the process is killed. (An empty select would
// make the runtime report a deadlock and exit.)
func sleepForever() {
	for {
		time.Sleep(time.Hour)
	}
}

// word returns the first uint64 after the Header.
func word(seg shm.Segment) *uint64 {
	return (*uint64)(unsafe.Pointer(&seg.Bytes()[shm.HeaderSize]))
}

// peerProc is a running peer process.
type peerProc struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	once sync.Once
	err  error // how the peer ended, set by wait
}

// startPeer starts the test binary as a peer with role and args. The peer is
// killed and reaped when t ends.
func startPeer(t *testing.T, role string, args ...string) *peerProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), peerEnv+"="+role)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &peerProc{cmd: cmd, in: in, out: bufio.NewReader(out)}
	t.Cleanup(func() {
		cmd.Process.Kill()
		p.wait(t)
	})
	return p
}

// expect reads the peer's next line and fails unless it is want.
func (p *peerProc) expect(t *testing.T, want string) {
	t.Helper()
	line, err := p.out.ReadString('\n')
	if got := strings.TrimSpace(line); got != want {
		t.Fatalf("peer said %q (%v), want %q", got, err, want)
	}
}

func (p *peerProc) send(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(p.in, "\n"); err != nil {
		t.Fatal(err)
	}
}

// wait reaps the peer (once) and returns how it ended.
func (p *peerProc) wait(t *testing.T) error {
	t.Helper()
	p.once.Do(func() {
		p.in.Close()
		p.err = p.cmd.Wait()
	})
	return p.err
}

func TestProcessPublishIsSeenByParent(t *testing.T) {
	dir := t.TempDir()
	p := shm.NewPosix(dir, 0)
	child := startPeer(t, "publish", dir, "seg")
	child.expect(t, "published")
	seg, err := shm.OpenReady(p, "seg", peerKind, peerVersion, false, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	if got := *word(seg); got != 0x1111 {
		t.Errorf("parent reads %#x, want 0x1111", got)
	}
	h := shm.HeaderOf(seg)
	if h.CreatorPID() != child.cmd.Process.Pid {
		t.Errorf("CreatorPID() = %d, want the child's %d", h.CreatorPID(), child.cmd.Process.Pid)
	}
	// The mapping is live: a later write of the child shows.
	child.send(t)
	child.expect(t, "written")
	if got := *word(seg); got != 0x2222 {
		t.Errorf("parent reads %#x after the child's second write, want 0x2222", got)
	}
	child.send(t)
	if err := child.wait(t); err != nil {
		t.Errorf("child: %v", err)
	}
	// The segment outlives its creator.
	if got := *word(seg); got != 0x2222 {
		t.Errorf("after the child exited, parent reads %#x, want 0x2222", got)
	}
	if err := p.Remove("seg"); err != nil {
		t.Error(err)
	}
}

func TestProcessCreatorDiesBeforePublish(t *testing.T) {
	dir := t.TempDir()
	p := shm.NewPosix(dir, 0)
	child := startPeer(t, "die-before-publish", dir, "seg")
	err := child.wait(t)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want SIGKILL", err)
	}
	const timeout = 100 * time.Millisecond
	start := time.Now()
	_, err = shm.OpenReady(p, "seg", peerKind, peerVersion, false, timeout)
	if !errors.Is(err, shm.ErrNotInitialized) {
		t.Fatalf("OpenReady: %v, want ErrNotInitialized", err)
	}
	if d := time.Since(start); d < timeout || d > timeout+5*time.Second {
		t.Errorf("OpenReady gave up after %v, want about %v", d, timeout)
	}
	if err := p.Remove("seg"); err != nil {
		t.Error(err)
	}
}

func TestProcessLockOfKilledOwnerTurnsDead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.lock")
	child := startPeer(t, "hold-lock", path)
	child.expect(t, "locked")
	if s, err := shm.Probe(path); err != nil || s != shm.Alive {
		t.Fatalf("Probe while the child lives = %v, %v; want Alive", s, err)
	}
	if _, err := shm.TryLock(path); !errors.Is(err, shm.ErrLocked) {
		t.Fatalf("TryLock while the child lives: %v, want ErrLocked", err)
	}
	if err := child.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The kernel drops the lock when the process exits, before its parent
	// reaps it: poll before Wait, so a zombie would show as Alive.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := shm.Probe(path)
		if err != nil {
			t.Fatal(err)
		}
		if s == shm.Dead {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Probe = %v 10s after SIGKILL, want Dead", s)
		}
		time.Sleep(time.Millisecond)
	}
	child.wait(t)
	// A cleaner can now take the lock.
	l, err := shm.TryLock(path)
	if err != nil {
		t.Fatalf("TryLock after the owner died: %v", err)
	}
	if err := l.Remove(); err != nil {
		t.Fatal(err)
	}
}

func TestProcessProbeSeesParentLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.lock")
	l, err := shm.CreateLock(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	child := startPeer(t, "probe", path)
	child.send(t)
	child.expect(t, "Alive")
	l.Release()
	child.send(t)
	child.expect(t, "Dead")
	os.Remove(path)
	child.send(t)
	child.expect(t, "Missing")
}

func TestProcessPermissionsAreExact(t *testing.T) {
	for _, perm := range []os.FileMode{0, 0o600, 0o660, 0o640} {
		t.Run(fmt.Sprintf("%04o", perm), func(t *testing.T) {
			dir := t.TempDir()
			child := startPeer(t, "create-with-perm", dir, "seg", strconv.FormatUint(uint64(perm), 8))
			if err := child.wait(t); err != nil {
				t.Fatalf("child: %v", err)
			}
			want := perm
			if want == 0 {
				want = shm.DefaultPerm
			}
			for _, f := range []string{"seg", "seg.lock"} {
				fi, err := os.Stat(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm(); got != want {
					t.Errorf("%s has mode %04o under umask 077, want %04o", f, got, want)
				}
			}
		})
	}
}

// A peer creates, publishes and removes one name in a loop while the parent
// opens it, then dies by SIGKILL at a random moment. Every OpenReady must
// end in time with a published segment or a clean error; whatever the peer
// leaves behind can be removed.
func TestProcessCrashAtRandomMoments(t *testing.T) {
	dir := t.TempDir()
	p := shm.NewPosix(dir, 0)
	rounds := 5
	if testing.Short() {
		rounds = 2
	}
	for range rounds {
		child := startPeer(t, "churn", dir, "seg")
		stop := time.Now().Add(time.Duration(20+rand.IntN(80)) * time.Millisecond)
		opened := 0
		for time.Now().Before(stop) {
			seg, err := shm.OpenReady(p, "seg", peerKind, peerVersion, false, 50*time.Millisecond)
			switch {
			case err == nil:
				opened++
				if *word(seg) == 0 {
					t.Error("a published segment lacks the payload written before Publish")
				}
				seg.Close()
			case !errors.Is(err, shm.ErrNotExist) && !errors.Is(err, shm.ErrNotInitialized):
				t.Fatalf("OpenReady: %v", err)
			}
		}
		child.cmd.Process.Signal(syscall.SIGKILL)
		child.wait(t)
		start := time.Now()
		seg, err := shm.OpenReady(p, "seg", peerKind, peerVersion, false, 50*time.Millisecond)
		switch {
		case err == nil:
			seg.Close()
		case !errors.Is(err, shm.ErrNotExist) && !errors.Is(err, shm.ErrNotInitialized):
			t.Fatalf("OpenReady after the crash: %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("OpenReady after the crash took %v", d)
		}
		if err := p.Remove("seg"); err != nil && !errors.Is(err, shm.ErrNotExist) {
			t.Fatal(err)
		}
		t.Logf("opened %d segments before the crash", opened)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}
