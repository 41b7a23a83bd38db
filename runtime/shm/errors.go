package shm

import "errors"

// Sentinel errors. Operations return them wrapped in an *Error; test for them
// with errors.Is.
var (
	// ErrExist: the segment or lock file already exists (Create, CreateLock).
	ErrExist = errors.New("shm: already exists")
	// ErrNotExist: the segment or lock file does not exist.
	ErrNotExist = errors.New("shm: does not exist")
	// ErrNotInitialized: the segment was not published within the timeout,
	// or its file is still empty. Its creator may have died while creating it.
	ErrNotInitialized = errors.New("shm: not initialized (its creator may have died while creating it)")
	// ErrVersionMismatch: the segment was published with another layout
	// version. The error text shows both versions.
	ErrVersionMismatch = errors.New("shm: protocol version mismatch")
	// ErrWrongKind: the segment was published as another kind of segment.
	ErrWrongKind = errors.New("shm: wrong kind of segment")
	// ErrCorrupt: the header is garbage (bad magic, a size that disagrees
	// with the mapping, a segment too small for a header, not a regular file).
	ErrCorrupt = errors.New("shm: corrupt segment")
	// ErrInvalidName: the name is empty, ".", "..", longer than MaxNameLen
	// bytes, or contains '/' or NUL.
	ErrInvalidName = errors.New("shm: invalid name")
	// ErrInvalidSize: Create was asked for a size that is not positive.
	ErrInvalidSize = errors.New("shm: invalid size")
	// ErrPermission: the operating system denied access: the file belongs
	// to another user or its mode excludes this process.
	ErrPermission = errors.New("shm: permission denied")
	// ErrLocked: another owner holds the lock (AcquireLock, CreateLock, TryLock).
	ErrLocked = errors.New("shm: locked by another owner")
)

// Error records a failed operation on a named segment or lock file, like
// fs.PathError. Name is the segment name, or the path of a lock file.
type Error struct {
	Op   string // "create", "open", "remove", "list", "lock", "probe", ...
	Name string
	Err  error
}

func (e *Error) Error() string { return e.Op + " " + e.Name + ": " + e.Err.Error() }

// Unwrap returns the underlying error, so errors.Is finds the sentinel.
func (e *Error) Unwrap() error { return e.Err }
