package shm

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"
	"unsafe"
)

// The layout of Header is shared between processes (and with the
// shmtest suite, which writes some fields by offset): it must not change
// without changing Magic.
func TestHeaderLayout(t *testing.T) {
	var h Header
	checks := []struct {
		what      string
		got, want uintptr
	}{
		{"Sizeof(Header)", unsafe.Sizeof(h), HeaderSize},
		{"Alignof(Header)", unsafe.Alignof(h), 8},
		{"Offsetof(ready)", unsafe.Offsetof(h.ready), 0},
		{"Offsetof(kind)", unsafe.Offsetof(h.kind), 8},
		{"Offsetof(size)", unsafe.Offsetof(h.size), 16},
		{"Offsetof(creatorPID)", unsafe.Offsetof(h.creatorPID), 24},
		{"Offsetof(createdNanos)", unsafe.Offsetof(h.createdNanos), 32},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
}

func TestBackoffIsBounded(t *testing.T) {
	var b backoff
	deadline := time.Now().Add(time.Hour)
	for range 20 {
		b.d = min(max(2*b.d, minBackoff), maxBackoff)
	}
	if b.d != maxBackoff {
		t.Errorf("backoff grew to %v, want at most %v", b.d, maxBackoff)
	}
	past := time.Now().Add(-time.Second)
	if b.wait(past) {
		t.Error("wait after the deadline returned true")
	}
	start := time.Now()
	b = backoff{}
	b.wait(deadline)
	if d := time.Since(start); d > time.Second {
		t.Errorf("first wait took %v", d)
	}
}

// FuzzOpenReady feeds arbitrary bytes to OpenReady as the content of a
// segment another process wrote. It must never panic, and it must accept
// only what check accepts.
func FuzzOpenReady(f *testing.F) {
	valid := make([]byte, 256)
	binary.NativeEndian.PutUint64(valid[0:], uint64(Magic)<<32|1)
	binary.NativeEndian.PutUint32(valid[8:], 2)
	binary.NativeEndian.PutUint64(valid[16:], 256)
	f.Add(valid, uint32(2), uint32(1))
	f.Add(valid, uint32(2), uint32(9))
	f.Add(valid, uint32(3), uint32(1))
	f.Add(valid[:HeaderSize], uint32(2), uint32(1))
	f.Add(valid[:HeaderSize-1], uint32(2), uint32(1))
	f.Add([]byte{}, uint32(0), uint32(0))
	f.Add(make([]byte, 200), uint32(0), uint32(0))
	f.Fuzz(func(t *testing.T, data []byte, kind, version uint32) {
		p := NewLocal()
		if len(data) == 0 {
			if _, err := p.Create("seg", 0); !errors.Is(err, ErrInvalidSize) {
				t.Fatalf("Create(0): %v", err)
			}
			return
		}
		seg, err := p.Create("seg", len(data))
		if err != nil {
			t.Fatal(err)
		}
		copy(seg.Bytes(), data)
		got, err := OpenReady(p, "seg", kind, version, false, 0)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			for _, s := range []error{ErrNotInitialized, ErrCorrupt, ErrVersionMismatch, ErrWrongKind} {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("unexpected error: %v", err)
		}
		defer got.Close()
		// Accepted: the header must really say so.
		if len(data) < HeaderSize {
			t.Fatalf("accepted %d bytes", len(data))
		}
		w := binary.NativeEndian.Uint64(data)
		if w != uint64(Magic)<<32|uint64(version) ||
			binary.NativeEndian.Uint32(data[8:]) != kind ||
			binary.NativeEndian.Uint64(data[16:]) != uint64(len(data)) {
			t.Fatalf("accepted a header that does not match: % x", data[:24])
		}
	})
}
