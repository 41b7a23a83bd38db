package shm

// NoTmpfile makes CreateLock and AcquireLock use their fallback, which
// creates the file and then locks it, instead of O_TMPFILE.
var NoTmpfile = &noTmpfile
