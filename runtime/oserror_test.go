package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Errors of the operating system (a full, read-only or missing directory)
// must say what happened and where, keep their errno for errors.Is, and
// never blame corruption; a full ShmDir must be an error, not SIGBUS.

func init() { helpers["oserr-nospace-shm"] = helperNoSpaceInShmDir }

// checkOSErr reports what is wrong with err, the result of what, which
// should wrap errno and name where.
func checkOSErr(what string, err error, errno syscall.Errno, where string) error {
	switch {
	case err == nil:
		return fmt.Errorf("%s succeeded, want an error wrapping %s", what, unix.ErrnoName(errno))
	case !errors.Is(err, errno):
		return fmt.Errorf("%s: %q does not wrap %s", what, err, unix.ErrnoName(errno))
	case errors.Is(err, ErrServiceCorrupted):
		return fmt.Errorf("%s: %q blames corruption", what, err)
	case !strings.Contains(err.Error(), errno.Error()):
		return fmt.Errorf("%s: %q does not say %q", what, err, errno.Error())
	case !strings.Contains(err.Error(), where):
		return fmt.Errorf("%s: %q does not name %s", what, err, where)
	}
	return nil
}

// mountTmpfs mounts a tmpfs of size (e.g. "64k") on dir until t ends, or
// skips t when that is not allowed.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CAP_SYS_ADMIN): run the test as root to cover full directories")
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("mounting a tmpfs needs root (CAP_SYS_ADMIN): mount on %s: %v", dir, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
}

// readOnly stacks a read-only bind mount of dir over dir, so that every
// later lookup under dir meets a read-only file system while what is open
// or mapped already stays writable. It returns the function that removes
// it.
func readOnly(t *testing.T, dir string) (restore func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a read-only bind mount needs root (CAP_SYS_ADMIN): run the test as root to cover read-only directories")
	}
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("a read-only bind mount needs root (CAP_SYS_ADMIN): bind %s: %v", dir, err)
	}
	if err := unix.Mount("", dir, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		unix.Unmount(dir, unix.MNT_DETACH)
		t.Skipf("a read-only bind mount needs root (CAP_SYS_ADMIN): remount %s read-only: %v", dir, err)
	}
	done := false
	restore = func() {
		if !done {
			done = true
			unix.Unmount(dir, unix.MNT_DETACH)
		}
	}
	t.Cleanup(restore)
	return restore
}

// notADir puts a regular file where dir was (moving dir aside) and returns
// the function that puts dir back.
func notADir(dir string) (restore func(), err error) {
	if err := os.Rename(dir, dir+".away"); err != nil {
		return nil, err
	}
	if err := os.WriteFile(dir, []byte("not a directory\n"), 0o600); err != nil {
		os.Rename(dir+".away", dir)
		return nil, err
	}
	return func() {
		os.Remove(dir)
		os.Rename(dir+".away", dir)
	}, nil
}

const fillerName = "zz-filler"

// fill takes all the free space of the file system of dir but leave bytes
// (rounded up to blocks) with a file of its own, and returns the function
// that frees it.
func fill(dir string, leave int64) (unfill func(), err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return nil, err
	}
	bs := int64(st.Bsize)
	n := int64(st.Bavail)*bs - (leave+bs-1)/bs*bs
	path := filepath.Join(dir, fillerName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if n > 0 {
		if err := unix.Fallocate(int(f.Fd()), 0, 0, n); err != nil {
			os.Remove(path)
			return nil, fmt.Errorf("filling %s with %d bytes: %w", dir, n, err)
		}
	}
	return func() { os.Remove(path) }, nil
}

// listFiles lists the files and directories under the given directories,
// but the filler.
func listFiles(dirs ...string) []string {
	var all []string
	for _, d := range dirs {
		filepath.WalkDir(d, func(path string, e fs.DirEntry, err error) error {
			if err == nil && e.Name() != fillerName {
				all = append(all, path)
			}
			return nil
		})
	}
	slices.Sort(all)
	return all
}

// osWorld is a domain that works until its Root or ShmDir is made
// unusable: a node with a publish-subscribe service, its publisher and a
// connected subscriber, and an event service.
type osWorld struct {
	logf func(format string, args ...any) // shows the errors met
	cfg  *Config
	node *Node
	svc  *PublishSubscribeService[msg]
	pub  *Publisher[msg]
	sub  *Subscriber[msg]
	ev   *EventService
}

func newOSWorld(cfg *Config, logf func(string, ...any)) (*osWorld, error) {
	w := &osWorld{cfg: cfg, logf: logf}
	var err error
	if w.node, err = NewNodeBuilder().Config(cfg).Create(); err != nil {
		return nil, err
	}
	if w.svc, err = PublishSubscribe[msg](w.node, "os/exists").Create(); err == nil {
		if w.sub, err = w.svc.Subscriber(); err == nil {
			if w.pub, err = w.svc.Publisher(); err == nil {
				w.ev, err = Event(w.node, "os/event").Create()
			}
		}
	}
	if err != nil {
		w.node.Close()
		return nil, err
	}
	return w, nil
}

// osOps are the operations that an unusable directory makes fail.
type osOps struct {
	create, open, openOrCreate bool // services: Root or ShmDir
	ports                      bool // publisher, subscriber (its connection), listener: ShmDir
}

// run runs ops while the directory where (Root or ShmDir) is unusable and
// returns what is wrong with their errors. The subscriber it creates, if
// any, is returned: its connection is to come once the directory is back.
func (w *osWorld) run(ops osOps, errno syscall.Errno, where string) (sub *Subscriber[msg], errs []error) {
	check := func(what string, err error) {
		w.logf("%s: %v", what, err)
		if e := checkOSErr(what, err, errno, where); e != nil {
			errs = append(errs, e)
		}
	}
	if ops.create {
		s, err := PublishSubscribe[msg](w.node, "os/new").Create()
		check("create service", closeOK(s, err))
		e, err := Event(w.node, "os/new-event").Create()
		check("create event service", closeOK(e, err))
	}
	if ops.open {
		s, err := PublishSubscribe[msg](w.node, "os/exists").Open()
		check("open service", closeOK(s, err))
	}
	if ops.openOrCreate {
		s, err := PublishSubscribe[msg](w.node, "os/exists").OpenOrCreate()
		check("open or create an existing service", closeOK(s, err))
		s, err = PublishSubscribe[msg](w.node, "os/new").OpenOrCreate()
		check("open or create a new service", closeOK(s, err))
	}
	if ops.ports {
		p, err := w.svc.Publisher()
		check("create publisher", closeOK(p, err))
		l, err := w.ev.Listener()
		check("create listener", closeOK(l, err))
		// A subscriber creates no file: its publisher creates the
		// connection, and the publisher's Send says that it could not.
		sub, err = w.svc.Subscriber()
		if err != nil {
			errs = append(errs, fmt.Errorf("create subscriber: %v; want success (it creates no file)", err))
		} else {
			n, err := w.pub.SendCopy(msg{Seq: 1})
			check(fmt.Sprintf("send to a new subscriber (delivered to %d)", n), err)
		}
	}
	return sub, errs
}

// after checks, once the directory is usable again, that the failures left
// nothing behind (the files are those of before, but for the connection to
// sub that the publisher's node's dispatcher may make as soon as the
// directory is back), and that the publisher reaches the subscriber it
// could not connect to.
func (w *osWorld) after(before []string, sub *Subscriber[msg]) (errs []error) {
	now := listFiles(w.cfg.Root, w.cfg.ShmDir)
	if sub != nil {
		conn := filepath.Join(w.cfg.ShmDir, w.cfg.connName(w.pub.ID(), sub.ID()))
		now = slices.DeleteFunc(now, func(f string) bool { return f == conn })
	}
	if !slices.Equal(now, before) {
		errs = append(errs, fmt.Errorf("the failures left files behind:\nbefore %q\nafter  %q", before, now))
	}
	if sub != nil {
		if n, err := w.pub.SendCopy(msg{Seq: 2}); n != 2 || err != nil {
			errs = append(errs, fmt.Errorf("send once the directory is back = %d, %v; want 2, nil", n, err))
		}
		s, err := sub.Receive()
		if err != nil || s == nil || s.Payload().Seq != 2 {
			errs = append(errs, fmt.Errorf("the new subscriber receives %v, %v; want the sample sent once the directory is back", s, err))
		}
		if s != nil {
			s.Release()
		}
	}
	return errs
}

// close closes the node and checks that nothing of it is left.
func (w *osWorld) close() error {
	if err := w.node.Close(); err != nil {
		return err
	}
	var left []string
	for _, f := range listFiles(w.cfg.Root, w.cfg.ShmDir) {
		if b := filepath.Base(f); strings.HasPrefix(b, w.cfg.Prefix) || strings.HasSuffix(filepath.Dir(f), "nodes") {
			left = append(left, f)
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("left after the node closed: %q", left)
	}
	return nil
}

// osConfig is testConfig with a ShmDir of its own under dir.
func osConfig(t *testing.T, root, shmDir string) *Config {
	cfg := testConfig(t)
	cfg.Root, cfg.ShmDir = root, shmDir
	for _, d := range []string{root, shmDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}

func reportAll(t *testing.T, errs []error) {
	t.Helper()
	for _, err := range errs {
		t.Error(err)
	}
}

// worldWith builds a world and runs ops while breakDir (the world's Root or
// ShmDir) is broken by breakIt, then checks what is left.
func worldWith(t *testing.T, cfg *Config, breakDir string, breakIt func() func(), ops osOps, errno syscall.Errno) {
	t.Helper()
	w, err := newOSWorld(cfg, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := w.close(); err != nil {
			t.Error(err)
		}
	}()
	before := listFiles(cfg.Root, cfg.ShmDir)
	restore := breakIt()
	sub, errs := w.run(ops, errno, breakDir)
	restore()
	reportAll(t, errs)
	reportAll(t, w.after(before, sub))
}

// ENOTDIR: Root or ShmDir is a regular file. Needs no privilege.
func TestRootOrShmDirNotADirectory(t *testing.T) {
	t.Run("node", func(t *testing.T) {
		for _, key := range []string{"Root", "ShmDir"} {
			dir := t.TempDir()
			cfg := osConfig(t, filepath.Join(dir, "root"), filepath.Join(dir, "shm"))
			file := &cfg.Root
			if key == "ShmDir" {
				file = &cfg.ShmDir
			}
			*file = filepath.Join(dir, "file")
			if err := os.WriteFile(*file, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			n, err := NewNodeBuilder().Config(cfg).Create()
			if err == nil {
				n.Close()
			}
			t.Logf("create node with %s a regular file: %v", key, err)
			if err := checkOSErr("create node with "+key+" a regular file", err, syscall.ENOTDIR, *file); err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("Root", func(t *testing.T) {
		dir := t.TempDir()
		cfg := osConfig(t, filepath.Join(dir, "root"), filepath.Join(dir, "shm"))
		worldWith(t, cfg, cfg.Root, func() func() {
			restore, err := notADir(cfg.Root)
			if err != nil {
				t.Fatal(err)
			}
			return restore
		}, osOps{create: true, open: true, openOrCreate: true}, syscall.ENOTDIR)
	})
	t.Run("ShmDir", func(t *testing.T) {
		dir := t.TempDir()
		cfg := osConfig(t, filepath.Join(dir, "root"), filepath.Join(dir, "shm"))
		worldWith(t, cfg, cfg.ShmDir, func() func() {
			restore, err := notADir(cfg.ShmDir)
			if err != nil {
				t.Fatal(err)
			}
			return restore
		}, osOps{create: true, open: true, openOrCreate: true, ports: true}, syscall.ENOTDIR)
	})
}

// EROFS: Root or ShmDir on a read-only file system. Needs root.
func TestRootOrShmDirReadOnly(t *testing.T) {
	t.Run("node", func(t *testing.T) {
		dir := t.TempDir()
		cfg := osConfig(t, filepath.Join(dir, "root"), filepath.Join(dir, "shm"))
		for _, d := range []string{cfg.nodesDir(), cfg.servicesDir()} {
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		restore := readOnly(t, cfg.Root)
		defer restore()
		n, err := NewNodeBuilder().Config(cfg).Create()
		if err == nil {
			n.Close()
		}
		t.Logf("create node with a read-only Root: %v", err)
		if err := checkOSErr("create node with a read-only Root", err, syscall.EROFS, cfg.Root); err != nil {
			t.Error(err)
		}
	})
	t.Run("Root", func(t *testing.T) {
		dir := t.TempDir()
		cfg := osConfig(t, filepath.Join(dir, "root"), filepath.Join(dir, "shm"))
		worldWith(t, cfg, cfg.Root, func() func() { return readOnly(t, cfg.Root) },
			osOps{create: true, open: true, openOrCreate: true}, syscall.EROFS)
	})
	t.Run("ShmDir", func(t *testing.T) {
		dir := t.TempDir()
		cfg := osConfig(t, filepath.Join(dir, "root"), filepath.Join(dir, "shm"))
		worldWith(t, cfg, cfg.ShmDir, func() func() { return readOnly(t, cfg.ShmDir) },
			osOps{create: true, open: true, openOrCreate: true, ports: true}, syscall.EROFS)
	})
}

// ENOSPC in Root: a full tmpfs. Needs root. (A full ShmDir is
// TestFullShmDirIsAnError.)
func TestFullRootIsAnError(t *testing.T) {
	t.Run("node", func(t *testing.T) {
		dir := t.TempDir()
		mountTmpfs(t, dir, "64k")
		cfg := osConfig(t, filepath.Join(dir, "root"), filepath.Join(t.TempDir(), "shm"))
		unfill, err := fill(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unfill()
		before := listFiles(cfg.Root)
		n, err := NewNodeBuilder().Config(cfg).Create()
		if err == nil {
			n.Close()
		}
		t.Logf("create node with a full Root: %v", err)
		if err := checkOSErr("create node with a full Root", err, syscall.ENOSPC, cfg.Root); err != nil {
			t.Error(err)
		}
		if now := listFiles(cfg.Root); len(now) != len(before)+2 { // + nodes, services
			t.Errorf("the failed node creation left files behind: before %q, after %q", before, now)
		}
	})
	t.Run("Root", func(t *testing.T) {
		dir := t.TempDir()
		mountTmpfs(t, dir, "64k")
		cfg := osConfig(t, filepath.Join(dir, "root"), filepath.Join(t.TempDir(), "shm"))
		worldWith(t, cfg, cfg.Root, func() func() {
			unfill, err := fill(dir, 0)
			if err != nil {
				t.Fatal(err)
			}
			return unfill
		}, osOps{create: true, open: true, openOrCreate: true}, syscall.ENOSPC)
	})
}

// ENOSPC in ShmDir: a full tmpfs made the first write to a segment raise
// SIGBUS, which kills the process; so the operations run in a child
// process (helperNoSpaceInShmDir), which must end normally. Needs root.
func TestFullShmDirIsAnError(t *testing.T) {
	base := t.TempDir()
	root, shmDir := filepath.Join(base, "root"), filepath.Join(base, "shm")
	cfg := osConfig(t, root, shmDir)
	mountTmpfs(t, root, "64k")
	mountTmpfs(t, shmDir, "64k")
	// Generous: the child does a few dozen file operations; a minute
	// allows for a machine whose every core is busy.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "IOX2_TEST_HELPER=oserr-nospace-shm", "IOX2_TEST_ROOT="+root,
		"IOX2_TEST_PREFIX="+cfg.Prefix, "IOX2_TEST_SHMDIR="+shmDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the child process failed (%v):\n%s", err, out)
	}
	if !strings.Contains(string(out), "checked") {
		t.Fatalf("the child process did not finish its checks:\n%s", out)
	}
	t.Logf("the child process:\n%s", out)
	if left := listFiles(shmDir); len(left) != 1 { // shmDir itself
		t.Errorf("left in ShmDir: %q", left[1:])
	}
	if left := listFiles(cfg.nodesDir(), cfg.servicesDir()); len(left) != 2 {
		t.Errorf("left in Root: %q", left)
	}
}

// helperNoSpaceInShmDir runs the operations of TestFullShmDirIsAnError in
// their own process: ShmDir is a 64 KiB tmpfs.
func helperNoSpaceInShmDir() error {
	cfg := helperConfig()
	cfg.ShmDir = os.Getenv("IOX2_TEST_SHMDIR")
	logf := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	w, err := newOSWorld(cfg, logf)
	if err != nil {
		return err
	}
	var errs []error
	// The report's case: a 64 KiB payload on a 64 KiB tmpfs.
	big, err := PublishSubscribe[[64 << 10]byte](w.node, "os/big").Create()
	if err != nil {
		return err
	}
	before := listFiles(cfg.Root, cfg.ShmDir)
	p, err := big.Publisher()
	if err == nil {
		p.Close()
	}
	logf("create a publisher of 64 KiB samples: %v", err)
	errs = append(errs, checkOSErr("create a publisher of 64 KiB samples", err, syscall.ENOSPC, cfg.ShmDir))
	if now := listFiles(cfg.Root, cfg.ShmDir); !slices.Equal(now, before) {
		errs = append(errs, fmt.Errorf("the failed publisher left files: before %q, after %q", before, now))
	}
	big.Close()

	// A full ShmDir: no dynamic segment (service creation), connection
	// (a new subscriber, then the publisher's Send) or event segment
	// (listener) fits. Opening a service needs no room there.
	before = listFiles(cfg.Root, cfg.ShmDir)
	unfill, err := fill(cfg.ShmDir, 0)
	if err != nil {
		return err
	}
	sub, errs2 := w.run(osOps{create: true, ports: true}, syscall.ENOSPC, cfg.ShmDir)
	errs = append(errs, errs2...)
	s, err := PublishSubscribe[msg](w.node, "os/new").OpenOrCreate()
	logf("open or create a new service: %v", err)
	errs = append(errs, checkOSErr("open or create a new service", closeOK(s, err), syscall.ENOSPC, cfg.ShmDir))
	unfill()
	errs = append(errs, w.after(before, sub)...)

	// Room for the data segment of a publisher, not for its connection to
	// the subscribers that exist: its creation fails.
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(cfg.ShmDir, cfg.dataName(w.pub.ID())), &st); err != nil {
		return err
	}
	before = listFiles(cfg.Root, cfg.ShmDir)
	if unfill, err = fill(cfg.ShmDir, st.Size); err != nil {
		return err
	}
	p2, err := w.svc.Publisher()
	logf("create a publisher whose connections do not fit: %v", err)
	errs = append(errs, checkOSErr("create a publisher whose connections do not fit", closeOK(p2, err), syscall.ENOSPC, cfg.ShmDir))
	if err != nil && !strings.Contains(err.Error(), "connecting to port") {
		errs = append(errs, fmt.Errorf("create a publisher whose connections do not fit: %q does not say that it failed to connect", err))
	}
	unfill()
	if now := listFiles(cfg.Root, cfg.ShmDir); !slices.Equal(now, before) {
		errs = append(errs, fmt.Errorf("the failed publisher left files: before %q, after %q", before, now))
	}
	errs = append(errs, w.close())
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Println("checked")
	return nil
}

func closeOK(c interface{ Close() error }, err error) error {
	if err == nil {
		c.Close()
	}
	return err
}
