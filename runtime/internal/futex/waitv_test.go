package futex

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestWaitVIsSupported(t *testing.T) {
	if err := Supported(); err != nil {
		t.Fatalf("this kernel (the project requires 5.16+): %v", err)
	}
}

func TestWaitVWakesOnAnyWord(t *testing.T) {
	var words [MaxWords]atomic.Uint32
	for _, k := range []int{0, 1, MaxWords - 1} {
		ws := make([]Word, MaxWords)
		for i := range ws {
			if i%2 == 0 {
				ws[i] = Shared(&words[i], words[i].Load())
			} else {
				ws[i] = Private(&words[i], words[i].Load())
			}
		}
		go func() {
			time.Sleep(10 * time.Millisecond)
			words[k].Add(1)
			if k%2 == 0 {
				WakeAll(&words[k])
			} else {
				WakePrivate(&words[k])
			}
		}()
		i, err := WaitV(ws, Now()+int64(5*time.Second))
		if err != nil || i != k && i != -1 {
			t.Fatalf("WaitV woken through word %d returned %d, %v", k, i, err)
		}
		if words[k].Load() == 0 {
			t.Fatalf("WaitV returned before word %d changed", k)
		}
	}
}

func TestWaitVHonoursDeadlineAndValues(t *testing.T) {
	var w atomic.Uint32
	start := time.Now()
	if i, err := WaitV([]Word{Shared(&w, 0)}, Now()+int64(20*time.Millisecond)); i != -1 || err != nil {
		t.Fatalf("timed out WaitV = %d, %v", i, err)
	}
	if d := time.Since(start); d < 15*time.Millisecond || d > 2*time.Second {
		t.Fatalf("WaitV with a 20ms deadline returned after %v", d)
	}
	start = time.Now()
	if i, err := WaitV([]Word{Shared(&w, 1)}, NoDeadline); i != -1 || err != nil {
		t.Fatalf("WaitV on a changed value = %d, %v", i, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("WaitV on a changed value blocked for %v", d)
	}
	if _, err := WaitV(nil, NoDeadline); err == nil {
		t.Fatal("WaitV of no words succeeded")
	}
	if _, err := WaitV(make([]Word, MaxWords+1), NoDeadline); err == nil {
		t.Fatal("WaitV of too many words succeeded")
	}
}

func TestNowIsMonotonicAndAllocationFree(t *testing.T) {
	a := Now()
	time.Sleep(time.Millisecond)
	if b := Now(); b-a < int64(time.Millisecond) {
		t.Fatalf("Now advanced by %dns over a 1ms sleep", b-a)
	}
	if n := testing.AllocsPerRun(100, func() { Now() }); n != 0 {
		t.Fatalf("Now allocates %v times", n)
	}
}
