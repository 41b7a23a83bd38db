package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestCPairs runs the smoke run with the C pairs: the C peer is built (into
// the test's own directory, so that parallel builds of lang/c do not meet)
// and measures iox2go-pubsub against this program (Go↔C) and against itself
// (C↔C), each pair with its floor.
func TestCPairs(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc in PATH: the C pairs need a C compiler (the run leaves them out, TestCPairsWithoutCompiler)")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make in PATH: the C pairs build lang/c with it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	outDir := t.TempDir()
	p, out := startProgram(t, ctx, []string{"CC=gcc"}, "-quick", "-mechanisms", "iox2go-pubsub", "-stream", "none", "-c-build", t.TempDir(), "-out", outDir)
	if err := p.wait(out); err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, p.stdout.String(), p.stderr.String())
	}
	p.checkNothingLeft(t)
	if !strings.Contains(p.stdout.String(), "bench: C peer: "+cSource) {
		t.Errorf("no line on the C peer's build:\n%s", p.stdout.String())
	}

	data, err := os.ReadFile(filepath.Join(outDir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	// The floors of the three pairs, the pairs in turn at each size, the
	// floors again.
	var want []string
	for _, pair := range []string{pairGoGo, pairGoC, pairCC} {
		want = append(want, "floor 8 "+pair)
	}
	for _, size := range []string{"64", "65536"} {
		// The first pair changes with the size.
		pairs := []string{pairGoGo, pairGoC, pairCC}
		if size == "65536" {
			pairs = []string{pairGoC, pairCC, pairGoGo}
		}
		for _, pair := range pairs {
			want = append(want, "iox2go-pubsub "+size+" "+pair)
		}
	}
	want = append(want, want[:3]...)
	var got []string
	for _, r := range rep.Results {
		got = append(got, fmt.Sprintf("%s %d %s", r.Mechanism, r.Size, r.Pair))
		if r.N < 1 || r.N > quickIters || !(0 < r.Min && r.Min <= r.Median && r.Median <= r.P99 && r.P99 <= r.Max) {
			t.Errorf("%s %d %s: implausible summary %+v", r.Mechanism, r.Size, r.Pair, r.Summary)
		}
		if r.RatioFloor <= 0 {
			t.Errorf("%s %d %s: ratio to floor %v", r.Mechanism, r.Size, r.Pair, r.RatioFloor)
		}
		if c := r.Pair != pairGoGo && r.Mechanism != floorName; c != (r.RatioGoGo != nil) || c != (r.RatioGoGoByFloor != nil) {
			t.Errorf("%s %d %s: ratios to Go↔Go %v %v", r.Mechanism, r.Size, r.Pair, r.RatioGoGo, r.RatioGoGoByFloor)
		}
		if around := r.Mechanism != floorName; around != (len(r.FloorAround) == 2 && r.FloorAround[0] > 0 && r.FloorAround[1] > 0) {
			t.Errorf("%s %d %s: floor around %v", r.Mechanism, r.Size, r.Pair, r.FloorAround)
		}
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("results: got %v, want %v", got, want)
	}
	if len(rep.Pairs) != 3 || rep.Meta.CPeer == "" || rep.Meta.CSkipped != "" {
		t.Errorf("pairs %+v, C peer %q, skipped %q", rep.Pairs, rep.Meta.CPeer, rep.Meta.CSkipped)
	}
	for _, pi := range rep.Pairs {
		if pi.FloorNs <= 0 || pi.FloorEndNs <= 0 || pi.A == "" || pi.B == "" {
			t.Errorf("pair %+v", pi)
		}
	}

	md, err := os.ReadFile(filepath.Join(outDir, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	// The main table holds the Go↔Go rows only; the C pairs have theirs.
	if rows := regexp.MustCompile(`(?m)^\| (floor|iox2go-pubsub) \| \d+ (B|KiB) \| \d+ \|`).FindAll(md, -1); len(rows) != 4 {
		t.Errorf("results.md: %d rows in the main table, want 4:\n%s", len(rows), md)
	}
	if rows := regexp.MustCompile(`(?m)^\| (Go↔Go|Go↔C|C↔C) \| iox2go-pubsub \| \d+ (B|KiB) \| \d+ \|.* → .*\|$`).FindAll(md, -1); len(rows) != 6 {
		t.Errorf("results.md: %d rows of the three pairs, want 6:\n%s", len(rows), md)
	}
	if rows := regexp.MustCompile(`(?m)^\| iox2go-pubsub \| \d+ (B|KiB) \|( [\d.]+ [nµ]s \([\d.]+×\) \|){3}( [\d.]+× \([\d.]+×\) \|){2}( \d+\*?( /)?){3} ns \|$`).FindAll(md, -1); len(rows) != 2 {
		t.Errorf("results.md: %d comparison rows, want 2:\n%s", len(rows), md)
	}
	svg, err := os.ReadFile(filepath.Join(outDir, "latency.svg"))
	if err != nil {
		t.Fatal(err)
	}
	checkSVG(t, svg, 3)
}

// TestCPairsWithoutCompiler runs with no C compiler in PATH: the C rows are
// left out with a line that says why, and the rest of the run goes on.
func TestCPairsWithoutCompiler(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	outDir := t.TempDir()
	p, out := startProgram(t, ctx, []string{"PATH=" + t.TempDir(), "CC="}, "-quick", "-mechanisms", "iox2go-pubsub", "-stream", "none", "-out", outDir)
	if err := p.wait(out); err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, p.stdout.String(), p.stderr.String())
	}
	p.checkNothingLeft(t)
	if !strings.Contains(p.stdout.String(), "bench: C rows skipped: no gcc in PATH") {
		t.Errorf("no skip line:\n%s", p.stdout.String())
	}
	md, err := os.ReadFile(filepath.Join(outDir, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "- C rows skipped: no gcc in PATH") || strings.Contains(string(md), "Go↔C") {
		t.Errorf("results.md:\n%s", md)
	}
}

func TestParsePairs(t *testing.T) {
	for in, want := range map[string]string{
		"none": "", "go-c,c-c": "go-c,c-c", "c-c, go-c": "go-c,c-c", "go-go": "", "go-go,c-c": "c-c",
	} {
		got, err := parsePairs(in)
		if err != nil || strings.Join(got, ",") != want {
			t.Errorf("parsePairs(%q) = %v, %v; want %q", in, got, err, want)
		}
	}
	if _, err := parsePairs("go-c,rust"); err == nil {
		t.Error("parsePairs accepts an unknown pair")
	}
}

// TestPairRatios checks the ratios of the C pairs: to their own floor, and
// to Go↔Go, of the medians and by floor; and that the Go↔Go ratios and the
// fan-out table ignore them.
func TestPairRatios(t *testing.T) {
	r := &Report{Mechanisms: map[string]string{}, Pairs: []PairInfo{{Pair: pairGoGo}, {Pair: pairGoC}}}
	add := func(name, pair string, size int, median float64, around ...float64) {
		r.Results = append(r.Results, Result{Mechanism: name, Pair: pair, Size: size, Summary: Summary{N: 1, Median: median}, FloorAround: around})
	}
	add(floorName, pairGoGo, 8, 60)
	add(floorName, pairGoC, 8, 120)
	add("iox2go-pubsub", pairGoGo, 64, 180)
	add("iox2go-pubsub", pairGoC, 64, 300)
	add("iox2go-pubsub-2sub", pairGoGo, 64, 360)
	// With floors around the rows: they, not the start floors, divide.
	add("iox2go-pubsub", pairGoGo, 1024, 180, 50, 70)
	add("iox2go-pubsub", pairGoC, 1024, 300, 100, 140)
	add(floorName, pairGoGo, 8, 66)
	add(floorName, pairGoC, 8, 110)
	r.finish()
	near := func(x *float64, want float64) bool { return x != nil && math.Abs(*x-want) < 1e-9 }
	if r.Meta.FloorNs != 60 || r.Meta.FloorEndNs != 66 || r.Pairs[1].FloorNs != 120 || r.Pairs[1].FloorEndNs != 110 {
		t.Errorf("floors: meta %v %v, pairs %+v", r.Meta.FloorNs, r.Meta.FloorEndNs, r.Pairs)
	}
	gc := r.Results[3]
	if gc.RatioFloor != 2.5 || !near(gc.RatioGoGo, 300.0/180) || !near(gc.RatioGoGoByFloor, 2.5/3) || gc.RatioBare != nil || gc.RatioUDS != nil {
		t.Errorf("Go↔C row: %+v", gc)
	}
	if gg := r.Results[2]; gg.RatioFloor != 3 || gg.RatioGoGo != nil {
		t.Errorf("Go↔Go row: %+v", gg)
	}
	if two := r.Results[4]; !near(two.RatioPubSub, 2) {
		t.Errorf("2 subscribers: ratio to one %v, want 2 (to Go↔Go's)", two.RatioPubSub)
	}
	if gc := r.Results[6]; !near(gc.RatioGoGo, 300.0/180) || !near(gc.RatioGoGoByFloor, (300.0/120)/(180.0/60)) {
		t.Errorf("Go↔C row with floors around: %+v", gc)
	}
	var md strings.Builder
	writeMarkdown(&md, r)
	for _, s := range []string{
		"| 1 | 180.0 ns |", // the fan-out table: Go↔Go
		"| iox2go-pubsub | 64 B | 180.0 ns | 300.0 ns | — | 1.67× (0.83×) | — | — / — / — ns |",
		"| iox2go-pubsub | 1 KiB | 180.0 ns (3.00×) | 300.0 ns (2.50×) | — | 1.67× (0.83×) | — | 60* / 120* / — ns |",
		"| Go↔C | iox2go-pubsub | 1 KiB | 1 | 300.0 ns | 0.0 ns | 0.0 ns | 100.0 → 140.0 ns | 2.50× | 1.67× | 0.83× |",
	} {
		if !strings.Contains(md.String(), s) {
			t.Errorf("results.md lacks %q:\n%s", s, md.String())
		}
	}
}
