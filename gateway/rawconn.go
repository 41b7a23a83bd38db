package gateway

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/iox2go/iox2go/internal/rawio"
)

// rawDialer dials the gateway's TCP connections to NATS as rawConns
// (nats.SetCustomDialer). TLS, when configured, still wraps them.
type rawDialer struct{ timeout time.Duration }

func (d rawDialer) Dial(network, address string) (net.Conn, error) {
	c, err := (&net.Dialer{Timeout: d.timeout}).Dial(network, address)
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	return newRawConn(tc)
}

// rawConn is a TCP connection whose reads and writes are raw system calls
// (no entersyscall and exitsyscall) made through the netpoller: Go keeps
// the socket non-blocking, so a call never sleeps in the kernel, and while
// there is nothing to read, or no room to write, the goroutine parks in
// the netpoller as with net.TCPConn.
//
// Why (internal/rawio): a counted system call made after the process was
// idle first wakes the runtime's sysmon thread; a gateway that forwards one
// message at a time paid that for each. The runtime's doorbells do the
// same (runtime/bell.go). Deadlines, Close and the rest are net.TCPConn's.
type rawConn struct {
	*net.TCPConn
	rc syscall.RawConn

	rmu    sync.Mutex // one Read at a time: rbuf and the result are shared with readFn
	rbuf   []byte
	rn     int
	rerr   syscall.Errno
	readFn func(fd uintptr) bool // c.read, made once: no allocation per call

	wmu     sync.Mutex
	wbuf    []byte
	wn      int
	werr    syscall.Errno
	writeFn func(fd uintptr) bool
}

func newRawConn(tc *net.TCPConn) (*rawConn, error) {
	rc, err := tc.SyscallConn()
	if err != nil {
		tc.Close()
		return nil, err
	}
	c := &rawConn{TCPConn: tc, rc: rc}
	c.readFn, c.writeFn = c.read, c.write
	return c, nil
}

// read is called by rc.Read with the socket: it reports false (wait until
// readable) on EAGAIN.
func (c *rawConn) read(fd uintptr) bool {
	c.rn, c.rerr = rawio.Read(fd, c.rbuf)
	return c.rerr != syscall.EAGAIN
}

// write writes what is left of wbuf, and reports false (wait until
// writable) on EAGAIN.
func (c *rawConn) write(fd uintptr) bool {
	for c.wn < len(c.wbuf) {
		n, e := rawio.Write(fd, c.wbuf[c.wn:])
		switch e {
		case 0:
			c.wn += n
		case syscall.EAGAIN:
			return false
		default:
			c.werr = e
			return true
		}
	}
	return true
}

func (c *rawConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.rbuf, c.rn, c.rerr = p, 0, 0
	err := c.result("read", c.rc.Read(c.readFn), c.rerr)
	c.rbuf = nil
	if err == nil && c.rn == 0 {
		err = io.EOF
	}
	return c.rn, err
}

func (c *rawConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf, c.wn, c.werr = p, 0, 0
	err := c.result("write", c.rc.Write(c.writeFn), c.werr)
	c.wbuf = nil
	return c.wn, err
}

// result is the error of a Read or Write: what rc.Read or rc.Write
// returned (a deadline, a closed socket), else the system call's.
func (c *rawConn) result(op string, err error, errno syscall.Errno) error {
	switch {
	case err != nil:
		return c.opError(op, err)
	case errno != 0:
		return c.opError(op, os.NewSyscallError(op, errno))
	}
	return nil
}

// opError wraps err as net.TCPConn would, so that errors.Is (for example
// os.ErrDeadlineExceeded, net.ErrClosed) and Timeout() keep working. The
// raw connection's own errors (a deadline, a closed socket) come wrapped
// already, as a "raw-read" or "raw-write": they get op's name.
func (c *rawConn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		e := *oe
		e.Op = op
		return &e
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
