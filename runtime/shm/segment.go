package shm

import (
	"os"
	"sync"
)

// Segment is a mapped shared-memory segment.
//
// A Segment is safe for concurrent use, except that Close must not race with
// the use of the memory that Bytes returned.
type Segment interface {
	// Name returns the name the segment was created or opened with.
	Name() string
	// Bytes returns the whole mapping. Its first byte is 8-byte aligned
	// (page aligned for Posix). The slice is valid until Close; using it
	// afterwards may crash the process. After Close, Bytes returns nil.
	Bytes() []byte
	// Writable reports whether the segment was mapped read-write.
	Writable() bool
	// Close unmaps the segment. It does not remove the name. Close is
	// idempotent: calls after the first return nil.
	Close() error
}

// Provider creates, opens, removes and lists named segments in one namespace.
//
// Implementations: NewPosix (files in a directory, default /dev/shm, mapped
// MAP_SHARED: visible to every process) and NewLocal (heap memory: visible
// within one Provider value, for tests and single-process use). Both behave
// identically for everything this interface specifies; the conformance suite
// in package shmtest checks that. Default and Local choose between them.
type Provider interface {
	// Create creates the segment exclusively (ErrExist when the name is
	// taken), sizes it to size bytes, all zero, and maps it read-write.
	// Posix reserves the memory first: without room for it, Create fails
	// with an error wrapping syscall.ENOSPC that names the directory.
	Create(name string, size int) (Segment, error)
	// Open maps the existing segment at its current size, read-write or
	// read-only. It fails with ErrNotExist when the name does not exist,
	// and with ErrNotInitialized while the segment is still empty (its
	// creator has not sized it yet, or died before it did).
	Open(name string, writable bool) (Segment, error)
	// Remove removes the name (ErrNotExist when missing). Existing
	// mappings, in this and other processes, stay valid until closed.
	Remove(name string) error
	// List returns the names starting with prefix, sorted.
	List(prefix string) ([]string, error)
}

// Defaults of the Posix provider.
const (
	DefaultDir  = "/dev/shm"
	DefaultPerm = os.FileMode(0o600)
)

// Default returns the cross-process provider: Posix segments in DefaultDir
// with mode DefaultPerm.
func Default() Provider { return NewPosix(DefaultDir, DefaultPerm) }

// Local returns a new in-process provider (an alias of NewLocal, the
// counterpart of Default).
func Local() Provider { return NewLocal() }

// segment is the Segment of every provider: the providers differ only in how
// they obtain and release the memory.
type segment struct {
	name     string
	writable bool

	mu      sync.Mutex
	b       []byte
	release func([]byte) error // called once by the first Close
}

func (s *segment) Name() string   { return s.name }
func (s *segment) Writable() bool { return s.writable }

func (s *segment) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b
}

func (s *segment) Close() error {
	s.mu.Lock()
	b, release := s.b, s.release
	s.b, s.release = nil, nil
	s.mu.Unlock()
	if release == nil {
		return nil
	}
	if err := release(b); err != nil {
		return &Error{Op: "close", Name: s.name, Err: err}
	}
	return nil
}

// ProtectsReadOnly reports whether writing through a read-only Segment of p
// faults, as it does for Posix (the mapping is PROT_READ). For Local it
// reports false: the write succeeds, and Writable is only advice.
func ProtectsReadOnly(p Provider) bool {
	r, ok := p.(interface{ protectsReadOnly() bool })
	return ok && r.protectsReadOnly()
}
