//go:build race

package ringtest

// raceEnabled reports whether the race detector is on; it makes every
// atomic operation far slower, so the long loops of the suite run shorter.
const raceEnabled = true
