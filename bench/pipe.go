package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	Register("pipe", "a pair of pipes (named FIFOs a2b and b2a, default capacity 64 KiB), blocking read(2)/write(2) of the whole payload; copies it twice through the kernel", func() Mechanism { return new(pipePair) })
}

// pipePair is two FIFOs in cfg.Dir: A creates them and writes a2b, B reads
// a2b and writes b2a.
type pipePair struct {
	fdPair
	a2b, b2a string
	created  bool
}

func (p *pipePair) Setup(cfg Config) error {
	p.fdPair = newFdPair(cfg.Size)
	p.a2b, p.b2a = cfg.DirPath(".a2b"), cfg.DirPath(".b2a")
	var err error
	if cfg.Role == RoleA {
		// B waits for b2a, so a2b exists by then too.
		for _, path := range []string{p.a2b, p.b2a} {
			if err := unix.Mkfifo(path, 0o600); err != nil {
				return &os.PathError{Op: "mkfifo", Path: path, Err: err}
			}
			p.created = true
		}
		// The order of the opens is the same on both sides: a2b, b2a.
		if p.wfd, err = openFifo(p.a2b, unix.O_WRONLY, cfg.Timeout); err != nil {
			return err
		}
		p.rfd, err = openFifo(p.b2a, unix.O_RDONLY, cfg.Timeout)
		return err
	}
	if err := retry(cfg.Timeout, func() error { return unix.Access(p.b2a, unix.F_OK) }, unix.ENOENT); err != nil {
		return &os.PathError{Op: "wait for", Path: p.b2a, Err: err}
	}
	if p.rfd, err = openFifo(p.a2b, unix.O_RDONLY, cfg.Timeout); err != nil {
		return err
	}
	// This open succeeds once A has opened b2a for reading, so when B's
	// Setup returns, both ends of both FIFOs are open.
	p.wfd, err = openFifo(p.b2a, unix.O_WRONLY, cfg.Timeout)
	return err
}

// openFifo opens a FIFO without blocking in open(2) (a write-only open
// fails with ENXIO until there is a reader: it is retried for at most
// timeout), then makes the descriptor blocking.
func openFifo(path string, mode int, timeout time.Duration) (int, error) {
	var fd int
	err := retry(timeout, func() (err error) {
		fd, err = unix.Open(path, mode|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		return err
	}, unix.ENXIO)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("%s: %w", path, err)
	}
	return fd, nil
}

func (p *pipePair) Send(seq uint64) error    { return p.send(seq) }
func (p *pipePair) Receive() (uint64, error) { return p.receive() }

func (p *pipePair) Close() error {
	errs := []error{p.close()}
	if p.created {
		for _, path := range []string{p.a2b, p.b2a} {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		p.created = false
	}
	return errors.Join(errs...)
}
