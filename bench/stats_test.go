package main

import (
	"math/rand/v2"
	"testing"
)

func TestSummarize(t *testing.T) {
	seq := func(n int) []int64 { // 2, 4, …, 2n in a shuffled order
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(2 * (i + 1))
		}
		rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { v[i], v[j] = v[j], v[i] })
		return v
	}
	for _, tc := range []struct {
		rtts                 []int64
		median, p99, max, mn float64
		mean                 float64
	}{
		{rtts: []int64{10}, median: 5, p99: 5, max: 5, mn: 5, mean: 5},
		{rtts: []int64{30, 10, 20}, median: 10, p99: 15, max: 15, mn: 5, mean: 10},
		{rtts: []int64{40, 10, 30, 20}, median: 12.5, p99: 20, max: 20, mn: 5, mean: 12.5},
		// One-way i for i in 1..100: p99 is the 99th value, not the max.
		{rtts: seq(100), median: 50.5, p99: 99, max: 100, mn: 1, mean: 50.5},
		// 1..1000: nearest rank 990.
		{rtts: seq(1000), median: 500.5, p99: 990, max: 1000, mn: 1, mean: 500.5},
		// 1..101: rank ceil(99.99) = 100.
		{rtts: seq(101), median: 51, p99: 100, max: 101, mn: 1, mean: 51},
	} {
		n := len(tc.rtts)
		s := summarize(tc.rtts)
		want := Summary{N: n, Median: tc.median, P99: tc.p99, Max: tc.max, Min: tc.mn, Mean: tc.mean}
		if s != want {
			t.Errorf("summarize(%d samples) = %+v, want %+v", n, s, want)
		}
	}
	if s := summarize(nil); s != (Summary{}) {
		t.Errorf("summarize(nil) = %+v", s)
	}
}

func TestPercentile(t *testing.T) {
	v := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for p, want := range map[int]int64{1: 1, 10: 1, 11: 2, 50: 5, 90: 9, 91: 10, 99: 10, 100: 10} {
		if got := percentile(v, p); got != want {
			t.Errorf("percentile(1..10, %d) = %d, want %d", p, got, want)
		}
	}
}

func TestFormats(t *testing.T) {
	for ns, want := range map[float64]string{
		61.5: "61.5 ns", 999.94: "999.9 ns", 1234: "1.234 µs", 12345: "12.35 µs",
		123456: "123.5 µs", 1.5e6: "1.500 ms", 2e9: "2.000 s",
	} {
		if got := fmtNs(ns); got != want {
			t.Errorf("fmtNs(%v) = %q, want %q", ns, got, want)
		}
	}
	for n, want := range map[int]string{8: "8 B", 64: "64 B", 1000: "1000 B", 1024: "1 KiB", 65536: "64 KiB", 1536: "1536 B", 4 << 20: "4 MiB"} {
		if got := sizeLabel(n); got != want {
			t.Errorf("sizeLabel(%d) = %q, want %q", n, got, want)
		}
	}
	for x, want := range map[float64]string{1: "1.00×", 9.994: "9.99×", 12.34: "12.3×", 1234.5: "1234×"} {
		if got := fmtRatio(x); got != want {
			t.Errorf("fmtRatio(%v) = %q, want %q", x, got, want)
		}
	}
}

func TestParseSizes(t *testing.T) {
	got, err := parseSizes("4M, 64,1K,64K,64,1M")
	if err != nil || len(got) != 5 || got[0] != 64 || got[1] != 1024 || got[2] != 65536 || got[3] != 1<<20 || got[4] != 4<<20 {
		t.Errorf("parseSizes = %v, %v", got, err)
	}
	for _, bad := range []string{"", "4", "x", "-1", "1G", "2048M"} {
		if _, err := parseSizes(bad); err == nil {
			t.Errorf("parseSizes(%q) accepted", bad)
		}
	}
}

func TestParseMechanisms(t *testing.T) {
	got, err := parseMechanisms("uds-stream,floor,futex")
	if err != nil || len(got) != 2 || got[0] != "futex" || got[1] != "uds-stream" {
		t.Errorf("parseMechanisms = %v, %v", got, err)
	}
	if _, err := parseMechanisms("futex,nope"); err == nil {
		t.Error("an unknown mechanism was accepted")
	}
}
