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
// Create reserves the whole segment in the file system (fallocate(2)) before
// it maps it, so that a full directory (a tmpfs at its size limit) makes
// Create fail with an error wrapping syscall.ENOSPC that names the
// directory, instead of the first write to an unbacked page raising SIGBUS
// later. A segment therefore costs its full size from its creation. On a
// file system without fallocate (EOPNOTSUPP), the file stays sparse, as with
// ftruncate alone, and a full directory still means SIGBUS there.
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
		return nil, p.osError("create", name, err, size)
	}
	defer unix.Close(fd) // the mapping outlives the descriptor
	b, err := func() ([]byte, error) {
		// The umask has narrowed the mode of open: set it exactly.
		if err := unix.Fchmod(fd, p.perm); err != nil {
			return nil, err
		}
		// The file stays empty until it is sized below; Open reports
		// ErrNotInitialized for an empty file, so that OpenReady waits.
		// The memory is reserved before that, beyond the end of the empty
		// file, so that nobody maps a segment that is not backed.
		if err := reserve(fd, int64(size)); err != nil {
			return nil, err
		}
		if err := unix.Ftruncate(fd, int64(size)); err != nil {
			return nil, err
		}
		return unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	}()
	if err != nil {
		unix.Unlink(path)
		return nil, p.osError("create", name, err, size)
	}
	return newPosixSegment(name, b, true), nil
}

// reserveStep is the most that reserve asks fallocate(2) for at once: a
// signal makes tmpfs give up (EINTR) and undo the whole call, so smaller
// steps keep what was reserved before a signal.
const reserveStep = 64 << 20

// reserve makes the file system allocate size bytes for fd (an empty file),
// without changing the file's size (FALLOC_FL_KEEP_SIZE), so that writing to
// any page of the segment later cannot fail. tmpfs, ext4, xfs and btrfs
// support it; where the file system does not (EOPNOTSUPP), or the kernel
// does not (ENOSYS), the segment stays sparse as with ftruncate alone: its
// pages are allocated on first touch, and a full file system then raises
// SIGBUS at that touch.
func reserve(fd int, size int64) error {
	for off := int64(0); off < size; {
		n := min(size-off, reserveStep)
		switch err := unix.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE, off, n); err {
		case nil:
			off += n
		case unix.EINTR:
			// Interrupted by a signal; tmpfs undid this step: again.
		case unix.EOPNOTSUPP, unix.ENOSYS:
			return nil
		default:
			return err
		}
	}
	return nil
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
		return nil, p.osError("open", name, err, 0)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, p.osError("open", name, err, 0)
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
		return nil, p.osError("open", name, err, 0)
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
		return p.osError("remove", name, err, 0)
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

// osError is the package's osError for segment name of p. An errno that
// has no sentinel (no space left, a read-only file system, a directory that
// is not one, ...) stays in the chain, for errors.Is, and the error names
// where it happened: the directory when it is full (with the size asked
// for, when creating), else the segment's path, since the segment's name
// alone does not say where it lives.
func (p *posix) osError(op, name string, err error, size int) error {
	e := osError(op, name, err)
	errno, ok := e.(*Error).Err.(unix.Errno)
	switch {
	case !ok:
	case errno == unix.ENOSPC || errno == unix.EDQUOT:
		if size > 0 {
			e.(*Error).Err = fmt.Errorf("%w: %s (reserving %d bytes for the segment)", errno, p.dir, size)
		} else {
			e.(*Error).Err = fmt.Errorf("%w: %s", errno, p.dir)
		}
	default:
		e.(*Error).Err = fmt.Errorf("%w: %s", errno, p.path(name))
	}
	return e
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
