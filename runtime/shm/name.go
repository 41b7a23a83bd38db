package shm

import (
	"fmt"
	"strings"
)

// MaxNameLen is the longest valid segment name, in bytes (NAME_MAX).
const MaxNameLen = 255

// ValidateName reports whether name can name a segment: a single non-empty
// path element of at most MaxNameLen bytes, not "." or "..", without '/' or
// NUL. The error wraps ErrInvalidName.
//
// Every Provider method validates its name argument, even though the runtime
// derives names from hashes and never from user input.
func ValidateName(name string) error {
	var why string
	switch {
	case name == "":
		why = "empty"
	case name == "." || name == "..":
		why = "is " + name
	case len(name) > MaxNameLen:
		why = fmt.Sprintf("longer than %d bytes", MaxNameLen)
	case strings.IndexByte(name, '/') >= 0:
		why = "contains '/'"
	case strings.IndexByte(name, 0) >= 0:
		why = "contains NUL"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalidName, why)
}
