package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	_ "unsafe" // for go:linkname

	"golang.org/x/sys/unix"
)

// nanotime is the Go runtime's monotonic clock (a vDSO clock_gettime, about
// 10-30 ns here). time.Now reads two clocks and time.Since one more; the
// runtime keeps nanotime linkable on purpose (go.dev/issue/67401).
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// singleCPU is true when this process may run on one CPU only: the two
// processes then share it, and busy waits yield (see Waiter.Poll).
var singleCPU = allowedCPUCount() < 2

func osYield() { unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }

// allowedCPUs returns the CPUs this process may run on, in order.
func allowedCPUs() []int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		cpus := make([]int, runtime.NumCPU())
		for i := range cpus {
			cpus[i] = i
		}
		return cpus
	}
	var cpus []int
	for i := 0; i < len(set)*64; i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return cpus
}

func allowedCPUCount() int { return len(allowedCPUs()) }

// pin locks the calling goroutine to its OS thread and that thread to cpu.
// A negative cpu only locks the thread.
func pin(cpu int) error {
	runtime.LockOSThread()
	if cpu < 0 {
		return nil
	}
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("pin to CPU %d: %w", cpu, err)
	}
	return nil
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// kernel returns the running kernel's release, for example "6.18.44".
func kernel() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// timestampCost returns the median cost of one nanotime call, in ns.
func timestampCost() float64 {
	const n = 20001
	d := make([]int64, n)
	for i := range d {
		t0 := nanotime()
		t1 := nanotime()
		d[i] = t1 - t0
	}
	return median(d)
}
