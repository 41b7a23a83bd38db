package shm

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// posix is the cross-process Provider: one file per segment in a directory
// (normally the tmpfs at /dev/shm, which is what shm_open uses), mapped
// MAP_SHARED.
type posix struct {
	dir  string
	perm uint32
}

// NewPosix returns a Provider that keeps each segment in a file of dir
// (DefaultDir when empty) and maps it MAP_SHARED, so that every process that
// opens the same name maps the same memory. Created files get exactly the
// permission bits perm (DefaultPerm when zero), whatever the umask: for
// example 0600 (same user) or 0660 (same group).
//
// A segment's file is sparse: Create only sets its size, so huge segments
// cost nothing until their pages are touched. Touching a page that the file
// system cannot back (a full tmpfs) raises SIGBUS, which crashes a Go
// program; size the tmpfs for the worst case.
func NewPosix(dir string, perm os.FileMode) Provider {
	if dir == "" {
		dir = DefaultDir
	}
	if perm.Perm() == 0 {
		perm = DefaultPerm
	}
	return &posix{dir: dir, perm: uint32(perm.Perm())}
}

func (p *posix) path(name string) string { return filepath.Join(p.dir, name) }

func (p *posix) Create(name string, size int) (Segment, error) {
	if err := ValidateName(name); err != nil {
		return nil, &Error{Op: "create", Name: name, Err: err}
	}
	if size <= 0 {
		return nil, &Error{Op: "create", Name: name, Err: ErrInvalidSize}
	}
	path := p.path(name)
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NOFOLLOW, p.perm)
	if err != nil {
		return nil, osError("create", name, err)
	}
	defer unix.Close(fd) // the mapping outlives the descriptor
	b, err := func() ([]byte, error) {
		// The umask has narrowed the mode of open: set it exactly.
		if err := unix.Fchmod(fd, p.perm); err != nil {
			return nil, err
		}
		// The file stays empty until here; Open reports
		// ErrNotInitialized for an empty file, so that OpenReady waits.
		if err := unix.Ftruncate(fd, int64(size)); err != nil {
			return nil, err
		}
		return unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	}()
	if err != nil {
		unix.Unlink(path)
		return nil, osError("create", name, err)
	}
	return newPosixSegment(name, b, true), nil
}

func (p *posix) Open(name string, writable bool) (Segment, error) {
	if err := ValidateName(name); err != nil {
		return nil, &Error{Op: "open", Name: name, Err: err}
	}
	flags, prot := unix.O_RDONLY, unix.PROT_READ
	if writable {
		flags, prot = unix.O_RDWR, unix.PROT_READ|unix.PROT_WRITE
	}
	fd, err := unix.Open(p.path(name), flags|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, osError("open", name, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, osError("open", name, err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return nil, &Error{Op: "open", Name: name, Err: fmt.Errorf("%w: not a regular file", ErrCorrupt)}
	case st.Size == 0:
		return nil, &Error{Op: "open", Name: name, Err: fmt.Errorf("%w: the segment is still empty", ErrNotInitialized)}
	case st.Size < 0 || uint64(st.Size) > math.MaxInt:
		return nil, &Error{Op: "open", Name: name, Err: fmt.Errorf("%w: size %d cannot be mapped", ErrCorrupt, st.Size)}
	}
	b, err := unix.Mmap(fd, 0, int(st.Size), prot, unix.MAP_SHARED)
	if err != nil {
		return nil, osError("open", name, err)
	}
	return newPosixSegment(name, b, writable), nil
}

func newPosixSegment(name string, b []byte, writable bool) *segment {
	return &segment{name: name, writable: writable, b: b, release: unix.Munmap}
}

func (p *posix) Remove(name string) error {
	if err := ValidateName(name); err != nil {
		return &Error{Op: "remove", Name: name, Err: err}
	}
	if err := unix.Unlink(p.path(name)); err != nil {
		return osError("remove", name, err)
	}
	return nil
}

func (p *posix) List(prefix string) ([]string, error) {
	entries, err := os.ReadDir(p.dir)
	if err != nil {
		return nil, &Error{Op: "list", Name: p.dir, Err: err}
	}
	var names []string // os.ReadDir sorts by name
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// osError wraps an error of the operating system in an *Error, replacing the
// errors that have a sentinel by it.
func osError(op, name string, err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		switch errno {
		case unix.EEXIST:
			err = ErrExist
		case unix.ENOENT:
			if op != "create" { // for create it means the directory is missing
				err = ErrNotExist
			}
		case unix.EACCES, unix.EPERM:
			err = ErrPermission
		case unix.ELOOP: // O_NOFOLLOW met a symbolic link
			err = fmt.Errorf("%w: a symbolic link", ErrCorrupt)
		}
	}
	return &Error{Op: op, Name: name, Err: err}
}

func (p *posix) protectsReadOnly() bool { return true }
