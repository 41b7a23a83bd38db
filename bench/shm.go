package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// shmFile is a MAP_SHARED mapping of a /dev/shm file.
type shmFile struct {
	path    string
	mem     []byte
	created bool // this side created the file and removes it in close
}

// createShm creates the file path of size bytes (mode 0600), maps it, calls
// init on the mapping (if not nil), and only then gives the file its name (a
// rename), so that an opener never sees a file that is still being sized or
// initialized.
func createShm(path string, size int, init func(mem []byte)) (*shmFile, error) {
	tmp := path + ".tmp"
	fd, err := unix.Open(tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &os.PathError{Op: "create", Path: tmp, Err: err}
	}
	defer unix.Close(fd)
	fail := func(op string, err error) (*shmFile, error) {
		unix.Unlink(tmp)
		return nil, &os.PathError{Op: op, Path: tmp, Err: err}
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return fail("truncate", err)
	}
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail("mmap", err)
	}
	if init != nil {
		init(mem)
	}
	if err := unix.Rename(tmp, path); err != nil {
		unix.Munmap(mem)
		return fail("rename", err)
	}
	return &shmFile{path: path, mem: mem, created: true}, nil
}

// openShm maps the file path, waiting up to timeout for it to appear.
func openShm(path string, timeout time.Duration) (*shmFile, error) {
	var fd int
	err := retry(timeout, func() (err error) {
		fd, err = unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
		return err
	}, unix.ENOENT)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	mem, err := unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, &os.PathError{Op: "mmap", Path: path, Err: err}
	}
	return &shmFile{path: path, mem: mem}, nil
}

// close unmaps the file and, on the side that created it, removes it.
func (s *shmFile) close() error {
	if s == nil {
		return nil
	}
	var errs []error
	if s.mem != nil {
		errs = append(errs, unix.Munmap(s.mem))
		s.mem = nil
	}
	if s.created {
		if err := unix.Unlink(s.path); err != nil && err != unix.ENOENT {
			errs = append(errs, &os.PathError{Op: "remove", Path: s.path, Err: err})
		}
		s.created = false
	}
	return errors.Join(errs...)
}

// retry calls f until it returns nil or an error other than one of
// transient, for at most timeout.
func retry(timeout time.Duration, f func() error, transient ...error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		again := false
		for _, t := range transient {
			again = again || errors.Is(err, t)
		}
		if !again {
			return err
		}
		if peerGone.Load() {
			return ErrPeerGone
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w (still after %v)", err, timeout)
		}
		time.Sleep(200 * time.Microsecond)
	}
}
