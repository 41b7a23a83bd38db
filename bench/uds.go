package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	Register("uds-stream", "Unix domain socket, SOCK_STREAM, blocking read(2)/write(2) of the whole payload (partial reads and writes continued); copies the payload twice through the kernel, like iceoryx2's UDS peer", func() Mechanism { return &uds{typ: unix.SOCK_STREAM} })
	Register("uds-seqpacket", "Unix domain socket, SOCK_SEQPACKET, blocking; one datagram per payload up to the datagram limit (SO_SNDBUF - 32 bytes, SO_SNDBUF raised to fit the payload where net.core.wmem_max allows), otherwise the payload is cut into datagrams of at most the limit (noted in the results)", func() Mechanism { return &uds{typ: unix.SOCK_SEQPACKET} })
}

// seqpacketOverhead is what the kernel keeps of SO_SNDBUF for itself: a
// datagram may be at most sk_sndbuf - 32 bytes (net/unix/af_unix.c,
// unix_dgram_sendmsg).
const seqpacketOverhead = 32

// uds is a connected pair of Unix domain sockets: A listens on
// cfg.DirPath(".sock") and accepts, B connects.
type uds struct {
	typ  int
	path string // the socket file
	fdPair
	note string
}

func (u *uds) Setup(cfg Config) error {
	u.fdPair = newFdPair(cfg.Size)
	u.path = cfg.DirPath(".sock")
	var fd int
	var err error
	if cfg.Role == RoleA {
		fd, err = u.accept(cfg.Timeout)
	} else {
		fd, err = u.connect(cfg.Timeout)
	}
	if err != nil {
		return err
	}
	u.wfd, u.rfd = fd, fd
	if u.typ == unix.SOCK_SEQPACKET {
		return u.fitDatagram(cfg.Size)
	}
	return nil
}

// accept listens on u.path and waits at most timeout for B.
func (u *uds) accept(timeout time.Duration) (int, error) {
	lfd, err := unix.Socket(unix.AF_UNIX, u.typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(lfd)
	if err := unix.Bind(lfd, &unix.SockaddrUnix{Name: u.path}); err != nil {
		return -1, &os.PathError{Op: "bind", Path: u.path, Err: err}
	}
	defer u.removeSocketFile()
	if err := unix.Listen(lfd, 1); err != nil {
		return -1, fmt.Errorf("listen: %w", err)
	}
	pfd := []unix.PollFd{{Fd: int32(lfd), Events: unix.POLLIN}}
	err = retry(timeout, func() error {
		n, err := unix.Poll(pfd, 100)
		if err == nil && n == 0 {
			err = unix.ETIMEDOUT
		}
		return err
	}, unix.ETIMEDOUT, unix.EINTR)
	if err != nil {
		return -1, fmt.Errorf("waiting for B to connect: %w", err)
	}
	fd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("accept: %w", err)
	}
	return fd, nil
}

// connect connects to u.path, waiting at most timeout for A to listen.
func (u *uds) connect(timeout time.Duration) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, u.typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	err = retry(timeout, func() error {
		return unix.Connect(fd, &unix.SockaddrUnix{Name: u.path})
	}, unix.ENOENT, unix.ECONNREFUSED, unix.EINTR)
	if err != nil {
		unix.Close(fd)
		return -1, &os.PathError{Op: "connect", Path: u.path, Err: err}
	}
	return fd, nil
}

// fitDatagram raises SO_SNDBUF until one datagram holds the payload, as far
// as net.core.wmem_max allows, and otherwise cuts payloads into datagrams of
// the largest size the socket takes. The receiver needs no setting: it reads
// records until it has the whole payload.
func (u *uds) fitDatagram(size int) error {
	sndbuf, err := unix.GetsockoptInt(u.wfd, unix.SOL_SOCKET, unix.SO_SNDBUF)
	if err != nil {
		return fmt.Errorf("SO_SNDBUF: %w", err)
	}
	if sndbuf-seqpacketOverhead < size {
		// The kernel doubles the value and caps it at 2*wmem_max.
		if err := unix.SetsockoptInt(u.wfd, unix.SOL_SOCKET, unix.SO_SNDBUF, size+seqpacketOverhead); err != nil {
			return fmt.Errorf("SO_SNDBUF: %w", err)
		}
		if sndbuf, err = unix.GetsockoptInt(u.wfd, unix.SOL_SOCKET, unix.SO_SNDBUF); err != nil {
			return fmt.Errorf("SO_SNDBUF: %w", err)
		}
	}
	limit := sndbuf - seqpacketOverhead
	u.records = true
	u.chunk = min(size, limit)
	n := (size + u.chunk - 1) / u.chunk
	if n == 1 {
		u.note = fmt.Sprintf("1 datagram (limit %d B)", limit)
	} else {
		u.note = fmt.Sprintf("cut into %d datagrams (limit %d B)", n, limit)
	}
	return nil
}

func (u *uds) Note() string { return u.note }

func (u *uds) Send(seq uint64) error    { return u.send(seq) }
func (u *uds) Receive() (uint64, error) { return u.receive() }

// removeSocketFile removes A's socket file once B is connected (or could
// not be): a connected pair does not need it.
func (u *uds) removeSocketFile() {
	if err := os.Remove(u.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
	}
}

// Close closes the connection. A removed the socket file when it accepted
// (or failed to).
func (u *uds) Close() error { return u.close() }
