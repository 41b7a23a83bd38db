package gateway

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rawPair returns a rawConn dialled through rawDialer and the listener's
// end of the same connection (a plain net.Conn).
func rawPair(t *testing.T) (*rawConn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	c, err := rawDialer{timeout: 5 * time.Second}.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); peer.Close() })
	rc, ok := c.(*rawConn)
	if !ok {
		t.Fatalf("rawDialer returned a %T", c)
	}
	return rc, peer
}

// TestRawConnCarriesBytes: 16 MiB each way at once, more than the socket
// buffers hold, so that writes are partial and wait for room and reads
// wait for data; every byte arrives, in order.
func TestRawConnCarriesBytes(t *testing.T) {
	c, peer := rawPair(t)
	want := make([]byte, 16<<20)
	for i := range want {
		want[i] = byte(rand.Uint32())
	}
	echoed := make(chan error, 1)
	go func() { // the peer echoes what it reads
		_, err := io.Copy(peer, io.LimitReader(peer, int64(len(want))))
		echoed <- err
	}()
	wrote := make(chan error, 1)
	go func() {
		n, err := c.Write(want)
		if err == nil && n != len(want) {
			err = io.ErrShortWrite
		}
		wrote <- err
	}()
	// Generous: 32 MiB over loopback take well under a second even on a
	// loaded machine; the deadline turns a lost byte into a failure, not a
	// hang.
	c.SetReadDeadline(time.Now().Add(time.Minute))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		select {
		case werr := <-wrote:
			t.Fatalf("read: %v (write: %v)", err, werr)
		default:
			t.Fatalf("read: %v", err)
		}
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if err := <-echoed; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the bytes read back differ from those written")
	}
}

// TestRawConnEnds: a deadline, the peer's close and our own close end a
// read with the errors a net.TCPConn gives.
func TestRawConnEnds(t *testing.T) {
	c, peer := rawPair(t)
	buf := make([]byte, 64)
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := c.Read(buf)
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("read past its deadline: %v, want a timeout (os.ErrDeadlineExceeded)", err)
	}
	if err != nil && !strings.HasPrefix(err.Error(), "read tcp ") || strings.Contains(err.Error(), "raw-") {
		t.Errorf("read past its deadline: %q, want it to read as net.TCPConn's (\"read tcp ...: i/o timeout\")", err)
	}
	c.SetReadDeadline(time.Time{})
	peer.Write([]byte("last"))
	peer.Close()
	if n, err := c.Read(buf); n != 4 || err != nil || string(buf[:4]) != "last" {
		t.Errorf("read %q, %v; want \"last\"", buf[:n], err)
	}
	if _, err := c.Read(buf); err != io.EOF {
		t.Errorf("read after the peer closed: %v, want io.EOF", err)
	}
	c.Close()
	if _, err := c.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after Close: %v, want net.ErrClosed", err)
	}
	if _, err := c.Write(buf); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after Close: %v, want net.ErrClosed", err)
	}
}

// TestRawConnAllocatesNothing: a read and a write of a message allocate
// nothing.
func TestRawConnAllocatesNothing(t *testing.T) {
	c, peer := rawPair(t)
	msg := []byte("PUB iox2go.x 4\r\nabcd\r\n")
	buf := make([]byte, len(msg))
	roundTrip := func() {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(peer, buf); err != nil {
			t.Fatal(err)
		}
		if _, err := peer.Write(buf); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
	}
	roundTrip()
	if a := testing.AllocsPerRun(200, roundTrip); a != 0 {
		t.Errorf("a write and a read allocate %v times", a)
	}
}

// TestRawConnReset: a connection the peer reset ends a read with
// ECONNRESET and no bytes, as net.TCPConn's does.
func TestRawConnReset(t *testing.T) {
	c, peer := rawPair(t)
	peer.(*net.TCPConn).SetLinger(0) // Close sends a reset
	peer.Close()
	buf := make([]byte, 64)
	c.SetReadDeadline(time.Now().Add(time.Minute)) // a lost reset fails, not hangs
	n, err := c.Read(buf)
	if n != 0 || !errors.Is(err, syscall.ECONNRESET) || !strings.HasPrefix(err.Error(), "read tcp ") {
		t.Errorf("read after a reset: %d, %v; want 0 and \"read tcp ...: connection reset by peer\"", n, err)
	}
}
