package shm

import (
	"slices"
	"strings"
	"sync"
	"unsafe"
)

// local is the in-process Provider: segments are heap memory, names live in
// a map of this Provider value.
type local struct {
	mu    sync.Mutex
	names map[string][]byte // guarded by mu
}

// NewLocal returns an in-process Provider. Its segments are heap memory,
// 8-byte aligned, visible only through this Provider value: two NewLocal
// values are separate namespaces. It behaves like Posix in every respect the
// Provider interface specifies, except that a read-only Segment is writable
// in fact (Go cannot protect heap memory); Writable still reports false.
func NewLocal() Provider { return &local{names: make(map[string][]byte)} }

func (p *local) Create(name string, size int) (Segment, error) {
	if err := ValidateName(name); err != nil {
		return nil, &Error{Op: "create", Name: name, Err: err}
	}
	if size <= 0 {
		return nil, &Error{Op: "create", Name: name, Err: ErrInvalidSize}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.names[name]; ok {
		return nil, &Error{Op: "create", Name: name, Err: ErrExist}
	}
	// []uint64 gives 8-byte alignment on every GOARCH, which the atomics in
	// the segment need; make zero-fills it.
	words := make([]uint64, (size+7)/8)
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), size)
	p.names[name] = b
	return newLocalSegment(name, b, true), nil
}

func (p *local) Open(name string, writable bool) (Segment, error) {
	if err := ValidateName(name); err != nil {
		return nil, &Error{Op: "open", Name: name, Err: err}
	}
	p.mu.Lock()
	b, ok := p.names[name]
	p.mu.Unlock()
	if !ok {
		return nil, &Error{Op: "open", Name: name, Err: ErrNotExist}
	}
	return newLocalSegment(name, b, writable), nil
}

func newLocalSegment(name string, b []byte, writable bool) *segment {
	// The garbage collector keeps the memory alive for as long as a
	// Segment refers to it, so Remove only has to drop the name.
	return &segment{name: name, writable: writable, b: b, release: func([]byte) error { return nil }}
}

func (p *local) Remove(name string) error {
	if err := ValidateName(name); err != nil {
		return &Error{Op: "remove", Name: name, Err: err}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.names[name]; !ok {
		return &Error{Op: "remove", Name: name, Err: ErrNotExist}
	}
	delete(p.names, name)
	return nil
}

func (p *local) List(prefix string) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var names []string
	for name := range p.names {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}
