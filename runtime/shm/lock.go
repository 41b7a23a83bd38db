package shm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Lock is a liveness lock: an exclusive flock(2) on a file, held for as long
// as its owner lives. The kernel drops it when the owner's process ends in
// any way, SIGKILL included, so Probe tells a live owner from a dead one.
//
// flock locks belong to an open file description, not to a process: a second
// open of the same file in the same process conflicts with the first, and
// closing another descriptor of the file does not drop the lock (unlike
// fcntl record locks). The descriptor is close-on-exec, so child processes
// do not inherit the lock. A Lock that is dropped without Release stays held
// until the process exits.
type Lock struct {
	path string

	mu sync.Mutex
	fd int // -1 once released; guarded by mu
}

// State is the liveness of a lock file's owner, as Probe sees it.
type State int

const (
	// Alive: someone holds the lock (its owner, or a cleaner that took it
	// over with TryLock).
	Alive State = iota + 1
	// Dead: the file exists and nobody holds the lock: its owner released
	// it or died.
	Dead
	// Missing: there is no such file.
	Missing
)

func (s State) String() string {
	switch s {
	case Alive:
		return "Alive"
	case Dead:
		return "Dead"
	case Missing:
		return "Missing"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// AcquireLock takes the lock of path, creating the file with permission bits
// perm (DefaultPerm when zero, whatever the umask) if it does not exist. It
// fails with ErrLocked when another owner holds the lock. An existing file is
// taken over: use CreateLock where a dead owner's file must not be reused.
func AcquireLock(path string, perm os.FileMode) (*Lock, error) {
	if err := validatePath(path); err != nil {
		return nil, &Error{Op: "lock", Name: path, Err: err}
	}
	for {
		l, err := createLock("lock", path, lockPerm(perm))
		if !errors.Is(err, ErrExist) {
			return l, err
		}
		l, err = lockExisting("lock", path)
		if !errors.Is(err, ErrNotExist) {
			return l, err
		}
		// Removed between our two attempts: create it again.
	}
}

// CreateLock creates the file path with permission bits perm (DefaultPerm
// when zero) and takes its lock. It fails with ErrExist when the file exists.
//
// Where the file system supports O_TMPFILE (tmpfs, ext4, xfs, btrfs), the
// file is created unnamed, locked, and only then linked under path, so path
// never exists unlocked while its owner lives: Probe cannot see a starting
// owner as Dead, and a process that dies while creating leaves nothing.
// Elsewhere the file is created and then locked, and Probe may see Dead in
// between.
func CreateLock(path string, perm os.FileMode) (*Lock, error) {
	if err := validatePath(path); err != nil {
		return nil, &Error{Op: "lock", Name: path, Err: err}
	}
	return createLock("lock", path, lockPerm(perm))
}

// TryLock takes the lock of the existing file path; it never creates it. It
// fails with ErrNotExist when the file is missing and with ErrLocked when
// another owner holds the lock. Taking the lock of a dead owner's file is how
// a cleaner gets the exclusive right to clean up after it: if the cleaner
// dies too, the lock drops and another cleaner can take over.
func TryLock(path string) (*Lock, error) {
	if err := validatePath(path); err != nil {
		return nil, &Error{Op: "trylock", Name: path, Err: err}
	}
	return lockExisting("trylock", path)
}

// Path returns the path of the lock file.
func (l *Lock) Path() string { return l.path }

// Release unlocks and closes the lock file; it does not remove it, so Probe
// reports Dead afterwards. Release is idempotent.
func (l *Lock) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.release()
}

func (l *Lock) release() error {
	if l.fd < 0 {
		return nil
	}
	fd := l.fd
	l.fd = -1
	// Closing the only descriptor of the open file description drops the
	// lock too; unlocking first makes the order explicit.
	unix.Flock(fd, unix.LOCK_UN)
	if err := unix.Close(fd); err != nil {
		return &Error{Op: "unlock", Name: l.path, Err: err}
	}
	return nil
}

// Remove removes the lock file while still holding the lock, then releases
// it. A process that opened the file before the removal and locks it after
// notices the removal and does not count as its owner (AcquireLock creates
// a new file, TryLock fails with ErrNotExist).
func (l *Lock) Remove() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fd < 0 {
		return &Error{Op: "remove", Name: l.path, Err: os.ErrClosed}
	}
	var err error
	if same, serr := sameFile(l.fd, l.path); serr != nil {
		err = osError("remove", l.path, serr)
	} else if !same {
		err = &Error{Op: "remove", Name: l.path, Err: fmt.Errorf("%w: the file was replaced", ErrNotExist)}
	} else if uerr := unix.Unlink(l.path); uerr != nil {
		err = osError("remove", l.path, uerr)
	}
	if rerr := l.release(); err == nil {
		err = rerr
	}
	return err
}

// Probe reports whether someone holds the lock of path: Alive (held), Dead
// (the file exists and nobody holds it) or Missing (no file). It works from
// any process, the owner's included: it opens the file anew, and its open
// file description conflicts with the owner's.
//
// Probe holds a shared lock for an instant; AcquireLock and TryLock retry
// for a moment when they meet it.
func Probe(path string) (State, error) {
	if err := validatePath(path); err != nil {
		return 0, &Error{Op: "probe", Name: path, Err: err}
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err == unix.ENOENT {
		return Missing, nil
	}
	if err != nil {
		return 0, osError("probe", path, err)
	}
	defer unix.Close(fd)
	// A shared lock conflicts with the owner's exclusive lock but not with
	// other probes, so concurrent probes do not see each other as owners.
	switch err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB); err {
	case nil:
		unix.Flock(fd, unix.LOCK_UN)
		return Dead, nil
	case unix.EWOULDBLOCK:
		return Alive, nil
	default:
		return 0, osError("probe", path, err)
	}
}

func lockPerm(perm os.FileMode) uint32 {
	if perm.Perm() == 0 {
		perm = DefaultPerm
	}
	return uint32(perm.Perm())
}

func validatePath(path string) error {
	if strings.IndexByte(path, 0) >= 0 {
		return fmt.Errorf("%w: contains NUL", ErrInvalidName)
	}
	return ValidateName(filepath.Base(path))
}

// noTmpfile makes createLock use its fallback (tests set it).
var noTmpfile bool

// createLock creates path locked. It fails with ErrExist when path exists.
func createLock(op, path string, perm uint32) (*Lock, error) {
	if !noTmpfile {
		fd, err := createLockedTmpfile(path, perm)
		if err == nil {
			return &Lock{path: path, fd: fd}, nil
		}
		if err != errNoTmpfile {
			return nil, createError(op, path, err)
		}
	}
	for {
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NOFOLLOW, perm)
		if err != nil {
			return nil, createError(op, path, err)
		}
		l, err := lockFD(op, path, fd, func() error { return unix.Fchmod(fd, perm) })
		switch {
		case errors.Is(err, ErrNotExist):
			continue // a cleaner removed the file before we locked it
		case err == errReplaced:
			// Removed and created again by another process.
			return nil, &Error{Op: op, Name: path, Err: ErrExist}
		}
		return l, err
	}
}

var errNoTmpfile = errors.New("O_TMPFILE not supported")

// createError is osError for the creation of path, where ENOENT means that
// the directory is missing, not path.
func createError(op, path string, err error) error {
	if err == unix.ENOENT {
		return &Error{Op: op, Name: path, Err: fmt.Errorf("directory %s: %w", filepath.Dir(path), err)}
	}
	return osError(op, path, err)
}

// lockExisting locks the existing file path.
func lockExisting(op, path string) (*Lock, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != nil {
			return nil, osError(op, path, err)
		}
		l, err := lockFD(op, path, fd, nil)
		if errors.Is(err, errReplaced) {
			continue
		}
		return l, err
	}
}

var errReplaced = errors.New("replaced")

// lockFD takes the exclusive lock of fd, opened from path, and checks that
// path still names the locked file: a process that opened the file just
// before a cleaner removed it must not count as its owner. It closes fd on
// error. prepare, when not nil, runs once the lock is held.
func lockFD(op, path string, fd int, prepare func() error) (_ *Lock, err error) {
	defer func() {
		if err != nil {
			unix.Close(fd)
		}
	}()
	if err := flockRetry(fd); err == unix.EWOULDBLOCK {
		return nil, &Error{Op: op, Name: path, Err: ErrLocked}
	} else if err != nil {
		return nil, osError(op, path, err)
	}
	same, err := sameFile(fd, path)
	switch {
	case err == unix.ENOENT:
		return nil, &Error{Op: op, Name: path, Err: ErrNotExist}
	case err != nil:
		return nil, osError(op, path, err)
	case !same:
		return nil, errReplaced
	}
	if prepare != nil {
		if err := prepare(); err != nil {
			return nil, osError(op, path, err)
		}
	}
	return &Lock{path: path, fd: fd}, nil
}

// flockRetry takes an exclusive lock without blocking, retrying for about a
// millisecond, so that a concurrent Probe's momentary shared lock does not
// make it fail.
func flockRetry(fd int) error {
	d := 50 * time.Microsecond
	for i := 0; ; i++ {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EWOULDBLOCK || i == 4 {
			return err
		}
		time.Sleep(d)
		d *= 2
	}
}

// sameFile reports whether path names the file open as fd.
func sameFile(fd int, path string) (bool, error) {
	var a, b unix.Stat_t
	if err := unix.Fstat(fd, &a); err != nil {
		return false, err
	}
	if err := unix.Lstat(path, &b); err != nil {
		return false, err
	}
	return a.Dev == b.Dev && a.Ino == b.Ino, nil
}
