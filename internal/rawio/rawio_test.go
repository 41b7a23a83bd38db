package rawio

import (
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadWrite: on a non-blocking pipe, an empty read and a full write
// answer EAGAIN with 0 bytes; what is written reads back; a closed
// descriptor answers EBADF with 0 bytes; nothing allocates.
func TestReadWrite(t *testing.T) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	r, w := uintptr(fds[0]), uintptr(fds[1])
	defer unix.Close(fds[0])
	buf := make([]byte, 64<<10)
	if n, e := Read(r, buf); n != 0 || e != syscall.EAGAIN {
		t.Errorf("read of an empty pipe: %d, %v; want 0, EAGAIN", n, e)
	}
	if n, e := Write(w, []byte("token!!!")); n != 8 || e != 0 {
		t.Errorf("write: %d, %v", n, e)
	}
	if n, e := Read(r, buf); n != 8 || e != 0 || string(buf[:8]) != "token!!!" {
		t.Errorf("read: %d, %v, %q", n, e, buf[:n])
	}
	for {
		n, e := Write(w, buf)
		if e == syscall.EAGAIN {
			if n != 0 {
				t.Errorf("write to a full pipe: %d bytes with EAGAIN", n)
			}
			break
		}
		if e != 0 {
			t.Fatalf("filling the pipe: %v", e)
		}
	}
	p := make([]byte, 8)
	if a := testing.AllocsPerRun(100, func() { Read(r, p); Write(w, p) }); a != 0 {
		t.Errorf("Read and Write allocate %v times", a)
	}
	unix.Close(fds[1])
	if n, e := Write(w, p); n != 0 || e != syscall.EBADF {
		t.Errorf("write to a closed descriptor: %d, %v; want 0, EBADF", n, e)
	}
}
