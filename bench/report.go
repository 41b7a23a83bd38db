package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Report is everything one run measured; results.json is its encoding.
type Report struct {
	Meta Meta `json:"meta"`
	// Mechanisms says what each measured mechanism measures.
	Mechanisms map[string]string `json:"mechanisms"`
	// Results are in the order of the run: the floor first, each
	// mechanism at each size, the floor again last.
	Results []Result `json:"results"`
	// Throughput are the measurements of the throughput mode, in the order
	// of the run (after the latencies).
	Throughput []Throughput `json:"throughput,omitempty"`
	// Pairs are the process pairs of the run: Go↔Go, then the C pairs.
	Pairs []PairInfo `json:"pairs"`
}

// PairInfo describes one pair of processes and its floor.
type PairInfo struct {
	Pair       string  `json:"pair"` // go-go, go-c or c-c
	A          string  `json:"process_a"`
	B          string  `json:"process_b"`
	FloorNs    float64 `json:"floor_median_ns"`     // the yardstick of its rows' ratio_to_floor
	FloorEndNs float64 `json:"floor_end_median_ns"` // the same pair at the end
}

// Meta describes the machine and the run.
type Meta struct {
	Date        string  `json:"date"`
	GoVersion   string  `json:"go_version"`
	CPU         string  `json:"cpu"`
	Kernel      string  `json:"kernel"`
	Pinning     string  `json:"pinning"`
	Command     string  `json:"command"`
	Iterations  int     `json:"max_iterations"` // timed round trips per measurement, at most
	BudgetNs    int64   `json:"budget_ns"`      // time per measurement, at most
	TimestampNs float64 `json:"timestamp_cost_ns"`
	FloorNs     float64 `json:"floor_median_ns"`     // the yardstick of the ratios
	FloorEndNs  float64 `json:"floor_end_median_ns"` // the same pair at the end
	// The throughput mode: time and samples per measurement, at most.
	StreamBudgetNs int64  `json:"stream_budget_ns,omitempty"`
	StreamCount    uint64 `json:"stream_max_samples,omitempty"`
	// The C pairs: how the C peer was built, or why they are left out.
	CPeer    string `json:"c_peer,omitempty"`
	CSkipped string `json:"c_skipped,omitempty"`
}

// Result is one mechanism at one payload size. Figures are one-way, in ns.
type Result struct {
	Mechanism string `json:"mechanism"`
	// Pair says which processes measured it: go-go, go-c or c-c (cpeer.go).
	Pair string `json:"pair"`
	Size int    `json:"size_bytes"`
	Summary
	RatioFloor float64  `json:"ratio_to_floor"`                // median / the pair's floor median
	RatioUDS   *float64 `json:"ratio_to_uds_stream,omitempty"` // median / uds-stream median at this size
	RatioFutex *float64 `json:"ratio_to_futex,omitempty"`      // median / futex median at this size
	// RatioPubSub is, for iox2go-pubsub-<n>sub, the median over the
	// iox2go-pubsub median (one subscriber) at this size.
	RatioPubSub *float64 `json:"ratio_to_pubsub_1sub,omitempty"`
	// RatioBare is, for iox2go-pubsub, the median over the zerocopy-bare
	// median at this size: the runtime's share of the latency.
	RatioBare *float64 `json:"ratio_to_zerocopy_bare,omitempty"`
	// FloorAround are, for a mechanism that several pairs measure in turn,
	// the medians of short floor measurements of the row's pair right
	// before and right after the row.
	FloorAround []float64 `json:"floor_around_ns,omitempty"`
	// RatioGoGo is, for a row of a C pair, the median over the Go↔Go
	// median of the same mechanism and size; RatioGoGoByFloor the same
	// with both medians divided by the floor of their own pair (the mean
	// of FloorAround, or else the pair's floor at the start).
	RatioGoGo        *float64 `json:"ratio_to_go_go,omitempty"`
	RatioGoGoByFloor *float64 `json:"ratio_to_go_go_by_floor,omitempty"`
	// RatioNATS is, for gateway-pubsub, the median over the nats-pubsub
	// median at this size: what the gateways add to plain NATS.
	RatioNATS *float64 `json:"ratio_to_nats_pubsub,omitempty"`
	Note      string   `json:"note,omitempty"`
}

func newReport(o *options) *Report {
	r := &Report{
		Meta: Meta{
			Date:        time.Now().UTC().Format("2006-01-02 15:04 UTC"),
			GoVersion:   runtime.Version(),
			CPU:         cpuModel(),
			Kernel:      kernel(),
			Pinning:     o.cpuNote,
			Command:     strings.TrimSpace("go run ./bench " + strings.Join(o.args, " ")),
			Iterations:  o.iters,
			BudgetNs:    int64(o.budget),
			TimestampNs: timestampCost(),
		},
		Mechanisms: map[string]string{},
	}
	if len(o.streams) > 0 {
		r.Meta.StreamBudgetNs, r.Meta.StreamCount = int64(o.streamBudget), o.streamCount
	}
	return r
}

// fanout returns n for iox2go-pubsub-<n>sub, 1 for iox2go-pubsub, and 0
// for the other mechanisms.
func fanout(name string) int {
	if name == "iox2go-pubsub" {
		return 1
	}
	var n int
	if _, err := fmt.Sscanf(name, "iox2go-pubsub-%dsub", &n); err != nil || name != fmt.Sprintf("iox2go-pubsub-%dsub", n) {
		return 0
	}
	return n
}

// pairOf returns the pair of a result ("" in a report of an older run: Go↔Go).
func pairOf(res *Result) string {
	if res.Pair == "" {
		return pairGoGo
	}
	return res.Pair
}

// finish computes the ratios once every result is in.
func (r *Report) finish() {
	uds, futex, pubsub, bare, natsPS := map[int]float64{}, map[int]float64{}, map[int]float64{}, map[int]float64{}, map[int]float64{}
	type key struct {
		mech string
		size int
	}
	goGo := map[key]*Result{}          // Go↔Go rows
	floors := map[string]*[2]float64{} // by pair: start and end
	for _, res := range r.Results {
		r.Mechanisms[res.Mechanism] = registry[res.Mechanism].doc
		if res.Mechanism == floorName {
			if f := floors[pairOf(&res)]; f == nil {
				floors[pairOf(&res)] = &[2]float64{res.Median, 0}
			} else {
				f[1] = res.Median
			}
			continue
		}
		if pairOf(&res) != pairGoGo {
			continue
		}
		goGo[key{res.Mechanism, res.Size}] = &res
		switch {
		case res.Mechanism == "iox2go-pubsub":
			pubsub[res.Size] = res.Median
		case res.Mechanism == "uds-stream":
			uds[res.Size] = res.Median
		case res.Mechanism == "futex":
			futex[res.Size] = res.Median
		case res.Mechanism == zeroCopyName:
			bare[res.Size] = res.Median
		case res.Mechanism == natsName:
			natsPS[res.Size] = res.Median
		}
	}
	floorOf := func(pair string) (start, end float64) {
		if f := floors[pair]; f != nil {
			return f[0], f[1]
		}
		return 0, 0
	}
	r.Meta.FloorNs, r.Meta.FloorEndNs = floorOf(pairGoGo)
	for i := range r.Pairs {
		r.Pairs[i].FloorNs, r.Pairs[i].FloorEndNs = floorOf(r.Pairs[i].Pair)
	}
	ratio := func(v float64, by map[int]float64, size int) *float64 {
		if d, ok := by[size]; ok && d > 0 {
			x := v / d
			return &x
		}
		return nil
	}
	for i := range r.Results {
		res := &r.Results[i]
		floor, _ := floorOf(pairOf(res))
		if floor > 0 {
			res.RatioFloor = res.Median / floor
		}
		if pairOf(res) != pairGoGo {
			if gg := goGo[key{res.Mechanism, res.Size}]; gg != nil && gg.Median > 0 && res.Mechanism != floorName {
				x := res.Median / gg.Median
				res.RatioGoGo = &x
				if f, mine := rowFloor(gg, r.Meta.FloorNs), rowFloor(res, floor); f > 0 && mine > 0 {
					y := x * f / mine
					res.RatioGoGoByFloor = &y
				}
			}
			continue
		}
		if res.Mechanism != floorName {
			res.RatioUDS = ratio(res.Median, uds, res.Size)
			res.RatioFutex = ratio(res.Median, futex, res.Size)
		}
		if isGateway(res.Mechanism) {
			res.RatioNATS = ratio(res.Median, natsPS, res.Size)
		}
		if fanout(res.Mechanism) == 1 {
			if res.RatioBare = ratio(res.Median, bare, res.Size); res.RatioBare != nil {
				note := fmt.Sprintf("%s %s (the same data path without the runtime)", fmtRatio(*res.RatioBare), zeroCopyName)
				res.Note = strings.TrimPrefix(res.Note+"; "+note, "; ")
			}
		}
		if n := fanout(res.Mechanism); n > 1 {
			if res.RatioPubSub = ratio(res.Median, pubsub, res.Size); res.RatioPubSub != nil {
				note := fmt.Sprintf("to the last of %d subscribers: %s iox2go-pubsub", n, fmtRatio(*res.RatioPubSub))
				res.Note = strings.TrimPrefix(res.Note+"; "+note, "; ")
			}
		}
	}
	var udsRate, natsRate float64
	for _, t := range r.Throughput {
		r.Mechanisms[t.Mechanism] = registry[t.Mechanism].doc
		switch t.Mechanism {
		case "uds-stream":
			udsRate = t.PerSecond
		case natsName:
			natsRate = t.PerSecond
		}
	}
	for i := range r.Throughput {
		t := &r.Throughput[i]
		if udsRate > 0 {
			x := t.PerSecond / udsRate
			t.RatioUDS = &x
		}
		if isGateway(t.Mechanism) && natsRate > 0 {
			x := t.PerSecond / natsRate
			t.RatioNATS = &x
		}
	}
}

// rowFloor returns the floor of a row: the mean of the floors around it,
// or else start, the floor of its pair at the start.
func rowFloor(res *Result, start float64) float64 {
	if len(res.FloorAround) == 2 && res.FloorAround[0] > 0 && res.FloorAround[1] > 0 {
		return (res.FloorAround[0] + res.FloorAround[1]) / 2
	}
	return start
}

// floorDrift is the change of the floor between the start and the end of
// the run, as a fraction of the start.
func (r *Report) floorDrift() float64 {
	if r.Meta.FloorNs == 0 {
		return 0
	}
	return r.Meta.FloorEndNs/r.Meta.FloorNs - 1
}

// writeOutputs writes results.md, results.json and latency.svg into dir and
// prints the table.
func writeOutputs(r *Report, dir string, stdout io.Writer) error {
	var md strings.Builder
	writeMarkdown(&md, r)
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	var svg strings.Builder
	writeSVG(&svg, r)
	for name, data := range map[string][]byte{
		"results.md":   []byte(md.String()),
		"results.json": append(js, '\n'),
		"latency.svg":  []byte(svg.String()),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "\n%s\nbench: wrote %s, %s and %s\n", md.String(),
		filepath.Join(dir, "results.md"), filepath.Join(dir, "results.json"), filepath.Join(dir, "latency.svg"))
	return nil
}

// writeMarkdown writes the results as markdown: the run's description, the
// table, and what each mechanism measures.
func writeMarkdown(w io.Writer, r *Report) {
	m := r.Meta
	fmt.Fprintf(w, "# iox2go benchmark results\n\n")
	fmt.Fprintf(w, "- date: %s; command: `%s`\n", m.Date, m.Command)
	fmt.Fprintf(w, "- CPU: %s; kernel: Linux %s; %s\n", m.CPU, m.Kernel, m.GoVersion)
	fmt.Fprintf(w, "- %s\n", m.Pinning)
	fmt.Fprintf(w, "- per measurement: a warm-up, then at most %d timed round trips or %v, whichever ends first; one-way = round trip / 2; a timestamp costs %.1f ns (inside every round trip)\n",
		m.Iterations, time.Duration(m.BudgetNs), m.TimestampNs)
	fmt.Fprintf(w, "- floor: median %s at the start, %s at the end (%+.0f%%)", fmtNs(m.FloorNs), fmtNs(m.FloorEndNs), 100*r.floorDrift())
	if math.Abs(r.floorDrift()) > 0.2 {
		fmt.Fprintf(w, ": **the floor moved during the run, the ratios are approximate**")
	}
	fmt.Fprintf(w, "\n")
	switch {
	case m.CPeer != "":
		fmt.Fprintf(w, "- C peer: %s (see [Go and C processes](#go-and-c-processes))\n", m.CPeer)
	case m.CSkipped != "":
		fmt.Fprintf(w, "- C rows skipped: %s\n", m.CSkipped)
	}
	fmt.Fprintf(w, "\n")
	fmt.Fprintf(w, "| mechanism | size | n | median | p99 | max | × floor | × uds-stream | × futex | note |\n")
	fmt.Fprintf(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, res := range r.Results {
		if pairOf(&res) == pairGoGo {
			fmt.Fprintf(w, "| %s |\n", strings.Join(row(res), " | "))
		}
	}
	fmt.Fprintf(w, "\nOne-way latencies; × floor, × uds-stream and × futex are ratios of medians measured in this run, by the same two processes.\n\n")
	writeCPairs(w, r)
	writeFanout(w, r)
	writeThroughput(w, r)
	writeGateway(w, r)
	for _, name := range mechanismNames() {
		if doc, ok := r.Mechanisms[name]; ok {
			fmt.Fprintf(w, "- **%s**: %s\n", name, doc)
		}
	}
}

// row formats one result for the tables.
func row(res Result) []string {
	opt := func(x *float64) string {
		if x == nil {
			return "—"
		}
		return fmtRatio(*x)
	}
	return []string{
		res.Mechanism, sizeLabel(res.Size), fmt.Sprint(res.N),
		fmtNs(res.Median), fmtNs(res.P99), fmtNs(res.Max),
		fmtRatio(res.RatioFloor), opt(res.RatioUDS), opt(res.RatioFutex), res.Note,
	}
}

// progress prints one row of the table that A prints as results come: the
// cells of row, with the ratio to the floor computed from floorNs (the
// other ratios come with the final table). With res nil it prints the
// header. fmt pads by runes, so µ and × keep the columns.
func progress(w io.Writer, res *Result, floorNs float64) {
	c := []string{"mechanism", "size", "n", "median", "p99", "max", "× floor", "note"}
	if res != nil {
		r := row(*res)
		if p := pairOf(res); p != pairGoGo {
			r[0] += " " + pairLabel(p)
		}
		note := res.Note
		if len(res.FloorAround) == 2 {
			note = strings.TrimPrefix(fmt.Sprintf("%s; floor around %s", note, fmtAround(res.FloorAround)), "; ")
		}
		c = []string{r[0], r[1], r[2], r[3], r[4], r[5], fmtRatio(res.Median / floorNs), note}
	}
	fmt.Fprintf(w, "%-20s %8s %7s %11s %11s %11s %8s  %s\n", c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7])
}

// fmtAround writes the floors before and after a row: "55.0 → 60.5 ns".
func fmtAround(f []float64) string {
	before, after := fmtNs(f[0]), fmtNs(f[1])
	if u := before[strings.LastIndexByte(before, ' '):]; strings.HasSuffix(after, u) {
		before = strings.TrimSuffix(before, u)
	}
	return before + " → " + after
}

// sizeLabel writes a payload size as 64 B, 1 KiB, 4 MiB.
func sizeLabel(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// fmtNs writes a duration in ns with four significant digits (at least one
// decimal below 1 µs): 61.5 ns, 1.234 µs, 12.35 µs, 123.4 µs, 1.234 ms.
func fmtNs(ns float64) string {
	unit, v := "ns", ns
	switch {
	case ns >= 1e9:
		unit, v = "s", ns/1e9
	case ns >= 1e6:
		unit, v = "ms", ns/1e6
	case ns >= 1e3:
		unit, v = "µs", ns/1e3
	}
	dec := 3
	switch {
	case unit == "ns" || v >= 100:
		dec = 1
	case v >= 10:
		dec = 2
	}
	return fmt.Sprintf("%.*f %s", dec, v, unit)
}

// fmtRatio writes a ratio with three significant digits: 1.00×, 12.3×, 456×.
func fmtRatio(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f×", x)
	case x >= 10:
		return fmt.Sprintf("%.1f×", x)
	}
	return fmt.Sprintf("%.2f×", x)
}

// writeFanout writes the latencies of publish-subscribe to 1, 2, ... n
// subscribers by size, with their ratio to one subscriber, if the run has
// a multi-subscriber mechanism.
func writeFanout(w io.Writer, r *Report) {
	type key struct{ n, size int }
	by := map[key]Result{}
	var ns, sizes []int
	for _, res := range r.Results {
		n := fanout(res.Mechanism)
		if n == 0 || pairOf(&res) != pairGoGo {
			continue
		}
		if _, ok := by[key{n, 0}]; !ok {
			ns = append(ns, n)
			by[key{n, 0}] = res
		}
		if !slices.Contains(sizes, res.Size) {
			sizes = append(sizes, res.Size)
		}
		by[key{n, res.Size}] = res
	}
	if len(ns) < 2 {
		return
	}
	slices.Sort(ns)
	slices.Sort(sizes)
	fmt.Fprintf(w, "## Publish-subscribe to several subscribers\n\n")
	fmt.Fprintf(w, "Median one-way latency to the last of n subscribers (process B hosts the n subscribers of a2b, polls them in turn and answers on b2a when the last one has the sample), and in parentheses its ratio to one subscriber (iox2go-pubsub) at the same size:\n\n")
	fmt.Fprintf(w, "| subscribers |")
	for _, size := range sizes {
		fmt.Fprintf(w, " %s |", sizeLabel(size))
	}
	fmt.Fprintf(w, "\n|--:|%s\n", strings.Repeat("--:|", len(sizes)))
	for _, n := range ns {
		fmt.Fprintf(w, "| %d |", n)
		for _, size := range sizes {
			res, ok := by[key{n, size}]
			switch {
			case !ok:
				fmt.Fprintf(w, " — |")
			case res.RatioPubSub != nil:
				fmt.Fprintf(w, " %s (%s) |", fmtNs(res.Median), fmtRatio(*res.RatioPubSub))
			default:
				fmt.Fprintf(w, " %s |", fmtNs(res.Median))
			}
		}
		fmt.Fprintf(w, "\n")
	}
	fmt.Fprintf(w, "\n")
}

// writeThroughput writes the table of the throughput mode, if any.
func writeThroughput(w io.Writer, r *Report) {
	if len(r.Throughput) == 0 {
		return
	}
	fmt.Fprintf(w, "## Throughput\n\n")
	fmt.Fprintf(w, "One way, no ping-pong: A sends samples of %s (the seq) as fast as the mechanism takes them, for at most %v or %d samples, then an end marker; B receives as fast as it can and checks that the seqs come in order. samples/s = received / B's time from the arrival of the first sample to the arrival of the end marker; lost = sent - received.\n\n",
		sizeLabel(r.Throughput[0].Size), time.Duration(r.Meta.StreamBudgetNs), r.Meta.StreamCount)
	fmt.Fprintf(w, "| mechanism | size | samples/s | sent | received | lost | elapsed | × uds-stream | note |\n")
	fmt.Fprintf(w, "|---|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, t := range r.Throughput {
		ratio := "—"
		if t.RatioUDS != nil {
			ratio = fmtRatio(*t.RatioUDS)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %d | %d | %d | %s | %s | %s |\n", t.Mechanism, sizeLabel(t.Size), fmtRate(t.PerSecond),
			t.Sent, t.Received, t.Lost, fmtNs(float64(t.ElapsedNs)), ratio, t.Note)
	}
	fmt.Fprintf(w, "\n")
}

// writeCPairs writes the section of the C pairs, if the run has them: the
// pairs and their floors, the rows of the mechanisms they measured (in
// every pair), and the comparison with Go↔Go.
func writeCPairs(w io.Writer, r *Report) {
	type key struct {
		mech string
		size int
	}
	by := map[key]map[string]*Result{}
	var keys []key
	for i := range r.Results {
		res := &r.Results[i]
		if res.Mechanism == floorName {
			continue
		}
		k := key{res.Mechanism, res.Size}
		if by[k] == nil {
			by[k] = map[string]*Result{}
			keys = append(keys, k)
		}
		by[k][pairOf(res)] = res
	}
	keys = slices.DeleteFunc(keys, func(k key) bool { return by[k][pairGoC] == nil && by[k][pairCC] == nil })
	if len(keys) == 0 {
		return
	}
	fmt.Fprintf(w, "## Go and C processes\n\n")
	fmt.Fprintf(w, "The same mechanism between three pairs of processes: Go↔Go (the rows above), Go↔C (A this program, B the C peer on the C library) and C↔C (A and B both the C peer; A times the round trips with clock_gettime(CLOCK_MONOTONIC)). Each pair measures its own floor at the start and at the end of the run; at each size the pairs take turns, and each pair's floor is measured again right before and right after its row (a tenth of a measurement each), because the cost of moving a cache line changes during a run on this VM.\n\n")
	fmt.Fprintf(w, "| pair | process A | process B | floor start | floor end |\n|---|---|---|--:|--:|\n")
	for _, p := range r.Pairs {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", pairLabel(p.Pair), p.A, p.B, fmtNs(p.FloorNs), fmtNs(p.FloorEndNs))
	}
	opt := func(x *float64) string {
		if x == nil {
			return "—"
		}
		return fmtRatio(*x)
	}
	around := func(res *Result) (string, string) {
		if len(res.FloorAround) != 2 {
			return "—", "—"
		}
		return fmtAround(res.FloorAround), fmtRatio(res.Median / rowFloor(res, 0))
	}
	fmt.Fprintf(w, "\n| pair | mechanism | size | n | median | p99 | max | floor around | × floor around | × Go↔Go | × Go↔Go by floor |\n")
	fmt.Fprintf(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, k := range keys {
		for _, pair := range []string{pairGoGo, pairGoC, pairCC} {
			res := by[k][pair]
			if res == nil {
				continue
			}
			fl, x := around(res)
			fmt.Fprintf(w, "| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", pairLabel(pair), res.Mechanism, sizeLabel(res.Size), res.N,
				fmtNs(res.Median), fmtNs(res.P99), fmtNs(res.Max), fl, x, opt(res.RatioGoGo), opt(res.RatioGoGoByFloor))
		}
	}
	fmt.Fprintf(w, "\nfloor around: the pair's floor right before → right after the row; × floor around divides by their mean. × Go↔Go is the ratio of the medians; × Go↔Go by floor divides each median by its own floor around first (fairer when the floor moved between the rows).\n\n")

	fmt.Fprintf(w, "In short, median one-way latency (× its floor around), the ratios to Go↔Go (of the medians; by floor in parentheses), and the floors around the three rows (the mean of before and after; * where a floor moved by more than 20%% during the row, so that the row's regime is uncertain):\n\n")
	fmt.Fprintf(w, "| mechanism | size | Go↔Go | Go↔C | C↔C | Go↔C ÷ Go↔Go | C↔C ÷ Go↔Go | floors around |\n|---|--:|--:|--:|--:|--:|--:|--:|\n")
	cell := func(res *Result) string {
		if res == nil {
			return "—"
		}
		if _, x := around(res); x != "—" {
			return fmt.Sprintf("%s (%s)", fmtNs(res.Median), x)
		}
		return fmtNs(res.Median)
	}
	ratios := func(res *Result) string {
		if res == nil || res.RatioGoGo == nil {
			return "—"
		}
		return fmt.Sprintf("%s (%s)", fmtRatio(*res.RatioGoGo), opt(res.RatioGoGoByFloor))
	}
	floors := func(m map[string]*Result) string {
		var f []string
		for _, pair := range []string{pairGoGo, pairGoC, pairCC} {
			res := m[pair]
			if res == nil || len(res.FloorAround) != 2 {
				f = append(f, "—")
				continue
			}
			x := fmt.Sprintf("%.0f", rowFloor(res, 0))
			if b, a := res.FloorAround[0], res.FloorAround[1]; math.Abs(a/b-1) > 0.2 {
				x += "*"
			}
			f = append(f, x)
		}
		return strings.Join(f, " / ") + " ns"
	}
	for _, k := range keys {
		m := by[k]
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", k.mech, sizeLabel(k.size), cell(m[pairGoGo]), cell(m[pairGoC]), cell(m[pairCC]), ratios(m[pairGoC]), ratios(m[pairCC]), floors(m))
	}
	fmt.Fprintf(w, "\n")
}

// writeGateway writes the section of the gateway, if the run measured
// gateway-pubsub or gateway-embedded-pubsub: their latency and throughput
// next to plain NATS (nats-pubsub) of the same run, and the ratios
// against the targets.
func writeGateway(w io.Writer, r *Report) {
	type key struct {
		mech string
		size int
	}
	lat := map[key]*Result{}
	var gws []string // the gateway mechanisms measured, in name order
	var sizes []int
	for i := range r.Results {
		res := &r.Results[i]
		if pairOf(res) != pairGoGo || !isNATS(res.Mechanism) {
			continue
		}
		lat[key{res.Mechanism, res.Size}] = res
		if !slices.Contains(sizes, res.Size) {
			sizes = append(sizes, res.Size)
		}
		if isGateway(res.Mechanism) && !slices.Contains(gws, res.Mechanism) {
			gws = append(gws, res.Mechanism)
		}
	}
	tput := map[string]*Throughput{}
	var tgws []string
	for i := range r.Throughput {
		t := &r.Throughput[i]
		if isNATS(t.Mechanism) {
			tput[t.Mechanism] = t
		}
		if isGateway(t.Mechanism) {
			tgws = append(tgws, t.Mechanism)
		}
	}
	if len(gws) == 0 && len(tgws) == 0 {
		return
	}
	slices.Sort(sizes)
	slices.Sort(gws)
	slices.Sort(tgws)
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**missed**"
	}
	fmt.Fprintf(w, "## Across hosts: the gateway\n\n")
	fmt.Fprintf(w, "A sample goes: publisher in domain A → gateway A → NATS → gateway B → subscriber in domain B (and back on b2a). gateway-pubsub: each gateway a process of its own (iox2 gateway); gateway-embedded-pubsub: each gateway runs in the process of its domain's publisher and subscriber (the gateway package); nats-pubsub: the same bytes between two plain nats.go connections, through the same NATS server (a process of its own unless -nats-server in-a put it inside process A; see the command above). The receivers block. Median one-way latency, and its ratio to plain NATS (target: at most %.1f×):\n\n", gatewayLatencyTarget)
	fmt.Fprintf(w, "| mechanism | size | nats-pubsub | gateway | × nats-pubsub | target | nats-pubsub p99 | gateway p99 |\n|---|--:|--:|--:|--:|---|--:|--:|\n")
	cell := func(res *Result, f func(*Result) float64) string {
		if res == nil {
			return "—"
		}
		return fmtNs(f(res))
	}
	med := func(res *Result) float64 { return res.Median }
	p99 := func(res *Result) float64 { return res.P99 }
	for _, gw := range gws {
		for _, size := range sizes {
			n, g := lat[key{natsName, size}], lat[key{gw, size}]
			if g == nil {
				continue
			}
			ratio, target := "—", "—"
			if g.RatioNATS != nil {
				ratio = fmtRatio(*g.RatioNATS)
				target = verdict(*g.RatioNATS <= gatewayLatencyTarget)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", gw, sizeLabel(size), cell(n, med), cell(g, med), ratio, target, cell(n, p99), cell(g, p99))
		}
	}
	if len(tgws) > 0 {
		fmt.Fprintf(w, "\nThroughput (the throughput mode above), and its ratio to plain NATS (target: at least %.0f%%):\n\n", 100*gatewayThroughputTarget)
		fmt.Fprintf(w, "| mechanism | size | nats-pubsub | gateway | gateway ÷ nats | target | lost (nats / gateway) |\n|---|--:|--:|--:|--:|---|--:|\n")
		rate := func(t *Throughput) string {
			if t == nil {
				return "—"
			}
			return fmtRate(t.PerSecond)
		}
		lost := func(t *Throughput) string {
			if t == nil {
				return "—"
			}
			return fmt.Sprint(t.Lost)
		}
		for _, gw := range tgws {
			g, n := tput[gw], tput[natsName]
			ratio, target := "—", "—"
			if g.RatioNATS != nil {
				ratio = fmt.Sprintf("%.0f%%", 100**g.RatioNATS)
				target = verdict(*g.RatioNATS >= gatewayThroughputTarget)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s / %s |\n", gw, sizeLabel(g.Size), rate(n), rate(g), ratio, target, lost(n), lost(g))
		}
	}
	fmt.Fprintf(w, "\n")
}
