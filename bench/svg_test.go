package main

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// testReport is a report with known numbers: the floor and two mechanisms at
// three sizes.
func testReport() *Report {
	r := &Report{
		Meta:       Meta{Date: "2026-01-02 03:04 UTC", GoVersion: "go1.26.0", CPU: "Test CPU <&>", Kernel: "6.18.0", Pinning: "A pinned to CPU 0, B to CPU 1"},
		Mechanisms: map[string]string{},
	}
	add := func(name string, size int, median float64) {
		r.Results = append(r.Results, Result{Mechanism: name, Size: size, Summary: Summary{N: 10, Median: median, P99: median * 2, Max: median * 3, Min: median / 2, Mean: median}})
	}
	add(floorName, 8, 60)
	for i, size := range []int{64, 65536, 4 << 20} {
		add("futex", size, 20000+float64(i))
		add("uds-stream", size, 10000*math.Pow(10, float64(i)))
	}
	add(floorName, 8, 66)
	r.finish()
	return r
}

func TestLogScale(t *testing.T) {
	s := logScale{lo: 1, hi: 3, from: 400, to: 100}
	for v, want := range map[float64]float64{10: 400, 100: 250, 1000: 100, math.Sqrt(10) * 10: 325} {
		if got := s.pos(v); math.Abs(got-want) > 1e-9 {
			t.Errorf("pos(%v) = %v, want %v", v, got, want)
		}
	}
}

func TestDecadeLabel(t *testing.T) {
	for e, want := range map[int]string{0: "1 ns", 1: "10 ns", 2: "100 ns", 3: "1 µs", 5: "100 µs", 6: "1 ms", 9: "1 s", 11: "100 s"} {
		if got := decadeLabel(e); got != want {
			t.Errorf("decadeLabel(%d) = %q, want %q", e, got, want)
		}
	}
}

func TestWriteSVG(t *testing.T) {
	r := testReport()
	var a, b strings.Builder
	writeSVG(&a, r)
	writeSVG(&b, r)
	svg := a.String()
	if svg != b.String() {
		t.Fatal("two renderings of the same report differ")
	}
	checkSVG(t, []byte(svg), 2)
	for _, s := range []string{
		"Test CPU &lt;&amp;&gt;", // escaped
		"<title>futex</title>", "<title>uds-stream</title>", ">floor (1 cache line)<",
		">64 B<", ">64 KiB<", ">4 MiB<", // x ticks
		">10 ns<", ">1 ms<", // y decades: 60 ns .. 1 ms
		"payload size", "one-way latency",
	} {
		if !strings.Contains(svg, s) {
			t.Errorf("SVG lacks %q", s)
		}
	}
	if strings.Contains(svg, ">1 ns<") || strings.Contains(svg, ">10 ms<") {
		t.Error("the y axis spans more than the decades of the data")
	}
	// uds-stream's 1e4, 1e5, 1e6 ns fall on the 10 µs, 100 µs and 1 ms grid
	// lines: decades 1..6 span plotB..plotT.
	ys := logScale{lo: 1, hi: 6, from: plotB, to: plotT}
	xs := logScale{lo: math.Log10(64) - 0.15, hi: math.Log10(4<<20) + 0.15, from: plotL, to: plotR}
	var pts []string
	for i, size := range []int{64, 65536, 4 << 20} {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", xs.pos(float64(size)), ys.pos(1e4*math.Pow(10, float64(i)))))
	}
	if want := `<polyline points="` + strings.Join(pts, " ") + `"`; !strings.Contains(svg, want) {
		t.Errorf("SVG lacks %s", want)
	}
}
