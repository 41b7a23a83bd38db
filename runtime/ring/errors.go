package ring

import "errors"

// Errors returned by the constructors (New*) and openers (Attach*). They are
// wrapped with context; test them with errors.Is.
var (
	// ErrMisaligned: the memory does not start at an 8-byte-aligned address.
	ErrMisaligned = errors.New("ring: memory is not 8-byte aligned")
	// ErrTooSmall: the memory is shorter than the structure's MemorySize.
	ErrTooSmall = errors.New("ring: memory too small")
	// ErrCapacity: the capacity is 0 or larger than MaxCapacity.
	ErrCapacity = errors.New("ring: capacity out of range")
	// ErrCapacityMismatch: the opener expects a capacity other than the one
	// the creator recorded in the header.
	ErrCapacityMismatch = errors.New("ring: capacity mismatch")
	// ErrNotInitialized: the header does not hold the magic of the expected
	// structure (the memory is uninitialized, or holds another structure).
	ErrNotInitialized = errors.New("ring: memory not initialized")
)
