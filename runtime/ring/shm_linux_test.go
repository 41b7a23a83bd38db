//go:build linux

package ring_test

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/iox2go/iox2go/runtime/ring/ringtest"
)

// sharedMemory maps one file in /dev/shm twice, MAP_SHARED: the creator and
// the opener see the same bytes at different addresses, as two processes do.
// The file is removed before sharedMemory returns (the mappings keep the
// memory alive), so a crashed test leaves nothing behind; the mappings are
// released in t.Cleanup.
func sharedMemory(t *testing.T, size int) (creator, opener []byte) {
	t.Helper()
	name := strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
			return r
		}
		return '_'
	}, t.Name())
	f, err := os.CreateTemp("/dev/shm", "iox2go-ringtest-"+name[:min(len(name), 80)]+"-*")
	if err != nil {
		t.Fatalf("shared memory: %v", err)
	}
	defer f.Close()
	defer os.Remove(f.Name())
	if err := f.Truncate(int64(size)); err != nil {
		t.Fatalf("shared memory: %v", err)
	}
	mmap := func() []byte {
		m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			t.Fatalf("shared memory: mmap %s: %v", f.Name(), err)
		}
		t.Cleanup(func() {
			if err := unix.Munmap(m); err != nil {
				t.Errorf("munmap: %v", err)
			}
		})
		return m
	}
	return mmap(), mmap()
}

func TestSharedMemory(t *testing.T) { ringtest.Run(t, sharedMemory) }
