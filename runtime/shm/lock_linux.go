package shm

import (
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// createLockedTmpfile creates an unnamed file in path's directory, locks it,
// and links it as path: path appears already locked.
func createLockedTmpfile(path string, perm uint32) (int, error) {
	fd, err := unix.Open(filepath.Dir(path), unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, perm)
	switch err {
	case nil:
	case unix.EOPNOTSUPP, unix.EISDIR, unix.EINVAL:
		// The file system (EOPNOTSUPP) or kernel (EISDIR) has no O_TMPFILE.
		return -1, errNoTmpfile
	default:
		return -1, err
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	if err := unix.Fchmod(fd, perm); err != nil {
		return -1, err
	}
	// Nobody else can reach the unnamed file, so this cannot fail with
	// EWOULDBLOCK.
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return -1, err
	}
	// linkat fails with EEXIST when path exists: this is the exclusive
	// creation. Linking through /proc/self/fd needs no privilege (unlike
	// AT_EMPTY_PATH).
	err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW)
	switch err {
	case nil:
		ok = true
		return fd, nil
	case unix.ENOENT:
		// The directory was open a moment ago: /proc is not mounted.
		return -1, errNoTmpfile
	default:
		return -1, err
	}
}
