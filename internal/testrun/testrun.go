// Package testrun tags the shared-memory files of one run of the test
// suite. `make test` sets Env to a fresh value; every prefix that the
// project's tests make carries Tag(), and .ci/shm-guard.sh then looks for
// files with that tag only, so that two runs at once, or other programs'
// segments in the same directory, never disturb each other's check.
package testrun

import "os"

// Env names the environment variable that holds the run's tag.
const Env = "IOX2GO_TEST_RUN"

// Tag returns the run's tag from Env: its ASCII letters and digits, at most
// 12 of them, so that it always fits a prefix; "" when Env is unset.
func Tag() string {
	var b []byte
	for _, r := range os.Getenv(Env) {
		if len(b) == 12 {
			break
		}
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
			b = append(b, byte(r))
		}
	}
	return string(b)
}
