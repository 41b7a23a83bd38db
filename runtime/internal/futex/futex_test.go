package futex

import (
	"testing"
	"time"
)

func TestNowIsMonotonic(t *testing.T) {
	a := Now()
	time.Sleep(time.Millisecond)
	b := Now()
	if b-a < int64(time.Millisecond) {
		t.Fatalf("Now advanced %dns over a sleep of 1ms", b-a)
	}
}
