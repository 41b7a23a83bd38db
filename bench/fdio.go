package main

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// fdPair is the copying side shared by the socket and pipe mechanisms: it
// writes payloads to one blocking file descriptor and reads them from
// another (the same one for a socket). The calls are plain read(2) and
// write(2) on the goroutine's own locked thread, not Go's netpoller, so a
// receiver blocks in the kernel, as a C peer would.
type fdPair struct {
	wfd, rfd int
	out, in  []byte // payloads to send and to receive; in has one spare byte
	// chunk is the largest write: the whole payload for a stream (the
	// kernel may still take it in parts), the datagram limit for a
	// SOCK_SEQPACKET socket, whose writes are all-or-nothing.
	chunk int
	// records is true for a socket that keeps message boundaries: a read
	// then returns one record, and one longer than expected is an error.
	records bool
}

func newFdPair(size int) fdPair {
	return fdPair{wfd: -1, rfd: -1, out: make([]byte, size), in: make([]byte, size+1), chunk: size}
}

func (p *fdPair) send(seq uint64) error {
	Stamp(p.out, seq)
	for off := 0; off < len(p.out); {
		n, err := unix.Write(p.wfd, p.out[off:min(off+p.chunk, len(p.out))])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		off += n
	}
	return nil
}

func (p *fdPair) receive() (uint64, error) {
	size := len(p.out)
	end := size
	if p.records {
		end++ // room to see a record that is too long
	}
	for off := 0; off < size; {
		n, err := unix.Read(p.rfd, p.in[off:end])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("read: %w", err)
		}
		if n == 0 {
			return 0, fmt.Errorf("%w: end of file after %d of %d bytes", ErrPeerGone, off, size)
		}
		off += n
		if off > size {
			return 0, fmt.Errorf("%w: a record ends %d bytes past the payload", ErrCorrupt, off-size)
		}
	}
	return Check(p.in[:size])
}

// close closes the descriptors (once, also when wfd == rfd).
func (p *fdPair) close() error {
	var err error
	if p.wfd >= 0 {
		err = unix.Close(p.wfd)
	}
	if p.rfd >= 0 && p.rfd != p.wfd {
		if e := unix.Close(p.rfd); err == nil {
			err = e
		}
	}
	p.wfd, p.rfd = -1, -1
	return err
}

// Streams implements Streamer for the socket and pipe mechanisms.
func (p *fdPair) Streams() string {
	return "lossless: a blocking write(2) waits for room; one write(2) and one read(2) per message"
}
