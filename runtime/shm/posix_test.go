package shm_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iox2go/iox2go/runtime/shm"
	"github.com/iox2go/iox2go/runtime/shm/shmtest"
)

func TestPosixTempDir(t *testing.T) {
	shmtest.Run(t, func(t *testing.T) shm.Provider { return shm.NewPosix(t.TempDir(), 0o600) })
}

// TestPosixDevShm runs the suite where segments live in production: in
// /dev/shm, shared with everything else on the machine, under a prefix
// unique to each test and process.
func TestPosixDevShm(t *testing.T) {
	if _, err := os.Stat(shm.DefaultDir); err != nil {
		t.Skipf("no %s: %v", shm.DefaultDir, err)
	}
	shmtest.Run(t, func(t *testing.T) shm.Provider {
		p := shm.Default()
		prefix := shmtest.Prefix(t)
		// Runs after the suite's own cleanup: check that it left nothing.
		t.Cleanup(func() {
			left, _ := filepath.Glob(filepath.Join(shm.DefaultDir, prefix+"*"))
			for _, f := range left {
				t.Errorf("left behind: %s", f)
				os.Remove(f)
			}
		})
		return p
	})
}

// devShmName returns a name in /dev/shm for t and removes it when t ends.
func devShmName(t *testing.T) string {
	t.Helper()
	name := shmtest.Prefix(t) + "seg"
	t.Cleanup(func() { os.Remove(filepath.Join(shm.DefaultDir, name)) })
	return name
}

func TestPosixHugeSegment(t *testing.T) {
	if strconv.IntSize < 64 {
		t.Skip("needs a 64-bit address space")
	}
	shift := 30        // not a constant, so that 32-bit builds compile
	size := 3 << shift // 3 GiB: reserved at creation, only two pages get touched
	for _, dir := range []string{shm.DefaultDir, t.TempDir()} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			// Create reserves the whole segment: it costs 3 GiB of memory in
			// a tmpfs for a moment. Leave room for everything else.
			var st unix.Statfs_t
			if err := unix.Statfs(dir, &st); err != nil {
				t.Fatal(err)
			}
			if free := uint64(st.Bavail) * uint64(st.Bsize); free < 2*uint64(size) {
				t.Skipf("%s has %d bytes free; reserving %d bytes there needs twice that", dir, free, size)
			}
			p := shm.NewPosix(dir, 0)
			name := devShmName(t)
			seg, err := p.Create(name, size)
			if err != nil {
				t.Fatalf("Create(%d): %v", size, err)
			}
			defer p.Remove(name)
			defer seg.Close()
			seg.Bytes()[0], seg.Bytes()[size-1] = 1, 2
			o, err := p.Open(name, false)
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			if len(o.Bytes()) != size || o.Bytes()[0] != 1 || o.Bytes()[size-1] != 2 {
				t.Errorf("Open sees %d bytes, first %d, last %d; want %d, 1, 2", len(o.Bytes()), o.Bytes()[0], o.Bytes()[size-1], size)
			}
		})
	}
}

// A segment is reserved when it is created: a directory without room for
// it makes Create fail with ENOSPC, naming the directory, and leaves no
// file; before, Create succeeded on a sparse file and the first write to a
// page that the tmpfs could not back raised SIGBUS.
func TestPosixCreateReservesTheSegment(t *testing.T) {
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CAP_SYS_ADMIN): run the test as root to cover a full directory")
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("mounting a tmpfs needs root (CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	free := func() int {
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err != nil {
			t.Fatal(err)
		}
		return int(st.Bavail) * int(st.Bsize)
	}
	p := shm.NewPosix(dir, 0)
	_, err := p.Create("big", 128<<10)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "big") {
		t.Errorf("Create of 128 KiB in a 64 KiB tmpfs: %v; want ENOSPC naming %s and the segment", err, dir)
	}
	if names, _ := p.List(""); len(names) != 0 {
		t.Errorf("the failed Create left %q", names)
	}
	f := free()
	seg, err := p.Create("small", 32<<10)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Remove("small")
	defer seg.Close()
	if got := f - free(); got != 32<<10 {
		t.Errorf("Create of 32 KiB took %d bytes of the tmpfs; want all of it, reserved at once", got)
	}
	// The rest does not fit either, and says so instead of raising SIGBUS.
	if _, err := p.Create("rest", f); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Create of %d bytes with %d free: %v, want ENOSPC", f, free(), err)
	}
}

// A file that exists but is still empty is a segment whose creator is
// between open and ftruncate, or died there.
func TestPosixEmptyFileIsNotInitialized(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "seg"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p := shm.NewPosix(dir, 0)
	if _, err := p.Open("seg", false); !errors.Is(err, shm.ErrNotInitialized) {
		t.Errorf("Open: %v, want ErrNotInitialized", err)
	}
	if _, err := shm.OpenReady(p, "seg", 1, 1, false, 30*time.Millisecond); !errors.Is(err, shm.ErrNotInitialized) {
		t.Errorf("OpenReady: %v, want ErrNotInitialized", err)
	}
}

func TestPosixRefusesSymlinksAndDirectories(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	p := shm.NewPosix(dir, 0)
	for _, name := range []string{"link", "dir"} {
		if seg, err := p.Open(name, false); err == nil {
			seg.Close()
			t.Errorf("Open(%q) succeeded", name)
		}
	}
	if names, _ := p.List(""); len(names) != 1 || names[0] != "target" {
		t.Errorf("List = %q, want only the regular file", names)
	}
	if _, err := p.Create("link", 64); !errors.Is(err, shm.ErrExist) {
		t.Errorf("Create over a symlink: %v, want ErrExist", err)
	}
}

func TestPosixPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root is never denied")
	}
	dir := t.TempDir()
	p := shm.NewPosix(dir, 0o400)
	seg, err := p.Create("seg", 4096)
	if err != nil {
		t.Fatal(err)
	}
	seg.Close()
	if _, err := p.Open("seg", true); !errors.Is(err, shm.ErrPermission) {
		t.Errorf("writable Open of a 0400 segment: %v, want ErrPermission", err)
	}
}

func TestPosixCreateInMissingDirectory(t *testing.T) {
	p := shm.NewPosix(filepath.Join(t.TempDir(), "missing"), 0)
	_, err := p.Create("seg", 64)
	if err == nil || errors.Is(err, shm.ErrExist) {
		t.Errorf("Create: %v, want an error", err)
	}
	if _, err := p.List(""); err == nil {
		t.Error("List of a missing directory succeeded")
	}
}
