// Package shm provides named shared-memory segments, the protocol that
// publishes a segment once its creator has initialized it, and liveness
// locks that tell a live process from a dead one.
//
// # Segments
//
// A Provider creates, opens, removes and lists named segments. NewPosix keeps
// each segment in a file of a directory (normally /dev/shm) and maps it
// MAP_SHARED, so every process that opens the name maps the same memory.
// NewLocal keeps segments on the heap, visible within one Provider value, for
// tests and single-process use. Default and Local choose between them, and
// package shmtest holds the conformance suite that both pass.
//
// Names are single path elements, validated by every operation (see
// ValidateName). Removing a name does not invalidate existing mappings, in
// this process or others, exactly like unlink(2): memory stays valid until
// each Segment is closed.
//
// Only offsets may be stored in a segment, never Go pointers; its layout is
// one Go struct of fixed-size fields that starts with a Header, with every
// atomic at an 8-byte-aligned offset (a mapping is page-aligned; Local
// memory is 8-byte aligned).
//
// # Publication protocol
//
// A segment is created empty and filled while other processes may already
// open it, so openers must be able to tell a finished segment from one in
// the making, or one whose creator died halfway. The creator:
//
//  1. calls Provider.Create: the file is created exclusively, empty, its
//     memory reserved (so that a full file system is an error here, not a
//     SIGBUS later), then sized (zero-filled) and mapped;
//  2. lays its struct over Bytes, fills the payload and, optionally, calls
//     Init to fill the Header;
//  3. calls Publish, which writes kind and size into the Header and then
//     stores the ready word (Magic<<32 | protocol version) LAST, atomically.
//
// An opener calls OpenReady. While the file is still empty (step 1 is not
// finished) or the ready word is zero (step 3 has not happened), it sleeps
// and retries with a bounded backoff until its timeout, and then fails with
// ErrNotInitialized: a creator that died before publishing can never make
// an opener hang. Once the ready word is non-zero, the atomic store in
// Publish synchronizes with the atomic load in OpenReady, so everything the
// creator wrote before Publish is visible to the opener. OpenReady then
// checks the magic (ErrCorrupt), the protocol version (ErrVersionMismatch),
// the kind (ErrWrongKind) and that the size in the Header is the size of the
// mapping (ErrCorrupt).
//
// An unpublished segment left by a dead creator is garbage: whoever
// discovers that its creator is dead (see below) removes it.
//
// # Liveness locks
//
// A Lock is a file on which its owner holds an exclusive flock(2) for as long
// as it lives. The kernel drops the lock when the owner's process ends, even
// by SIGKILL, and even before a parent reaps it, so Probe reports Alive
// (someone holds the lock), Dead (the file exists, nobody holds it) or
// Missing. flock locks belong to an open file description, not to a
// process: Probe works from the owner's own process, and closing some other
// descriptor of the file does not drop the lock, which is why this package
// does not use fcntl record locks.
//
// A node holds one Lock for its lifetime (CreateLock). To clean up after a
// node that Probe reports Dead, a process calls TryLock on the same file:
// only one process gets it, and if that cleaner dies in turn, the lock drops
// again and another cleaner can take over. The cleaner removes the dead
// node's resources and finally the lock file itself with Lock.Remove.
//
// # Errors
//
// Operations return *Error, which records the operation and the name and
// wraps one of the sentinel errors (ErrExist, ErrNotExist, ...) or an error
// of the operating system; test for them with errors.Is.
package shm
