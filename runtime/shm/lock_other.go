//go:build !linux

package shm

// createLockedTmpfile needs O_TMPFILE, which only Linux has.
func createLockedTmpfile(path string, perm uint32) (int, error) { return -1, errNoTmpfile }
