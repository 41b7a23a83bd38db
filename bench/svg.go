package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// The plot's geometry, in SVG user units.
const (
	svgW, svgH      = 860, 540
	plotL, plotT    = 90, 78   // top left corner of the plot area
	plotR, plotB    = 650, 470 // bottom right corner
	legendX         = 670
	svgMarkerRadius = 3.5
)

// svgColors are the series colors, in the order of the mechanisms' names.
var svgColors = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"}

// logScale maps a positive value to a coordinate: log(lo) to from and
// log(hi) to to, linearly in the logarithm.
type logScale struct {
	lo, hi   float64 // log10 of the ends of the domain
	from, to float64
}

func (s logScale) pos(v float64) float64 {
	return s.from + (math.Log10(v)-s.lo)/(s.hi-s.lo)*(s.to-s.from)
}

// series is one mechanism's line: medians by payload size.
type series struct {
	name   string
	sizes  []int
	median []float64
	// A line of a C pair takes the color of its mechanism's Go↔Go line
	// (color, its index among the lines) with a dash of its own.
	color int
	dash  string
}

// pairDash is the dash pattern of the lines of the C pairs.
var pairDash = map[string]string{pairGoC: "7 3", pairCC: "2 3"}

// plotSeries collects the lines to draw: every mechanism but the floor, in
// the order of their names, then those of the C pairs, and the sizes
// measured.
func plotSeries(r *Report) ([]series, []int) {
	type key struct{ mech, pair string }
	by := map[key]*series{}
	var sizes []int
	for _, res := range r.Results {
		if res.Mechanism == floorName {
			continue
		}
		k := key{res.Mechanism, pairOf(&res)}
		s := by[k]
		if s == nil {
			s = &series{name: res.Mechanism, dash: pairDash[k.pair]}
			if k.pair != pairGoGo {
				s.name += " " + pairLabel(k.pair)
			}
			by[k] = s
		}
		s.sizes = append(s.sizes, res.Size)
		s.median = append(s.median, res.Median)
		sizes = append(sizes, res.Size)
	}
	var out []series
	color := map[string]int{}
	for _, n := range mechanismNames() {
		if s := by[key{n, pairGoGo}]; s != nil {
			s.color = len(out)
			color[n] = s.color
			out = append(out, *s)
		}
	}
	for _, p := range []string{pairGoC, pairCC} {
		for _, n := range mechanismNames() {
			if s := by[key{n, p}]; s != nil {
				c, ok := color[n]
				if !ok {
					c = len(out)
				}
				s.color = c
				out = append(out, *s)
			}
		}
	}
	slices.Sort(sizes)
	return out, slices.Compact(sizes)
}

// writeSVG plots the one-way median latency against the payload size, both
// on log scales, one line per mechanism and the floor as a dashed line, like
// iceoryx2's comparison of mechanisms. The output depends only on r.
func writeSVG(w io.Writer, r *Report) {
	lines, sizes := plotSeries(r)
	floor := r.Meta.FloorNs

	// Domains: whole decades of latency, the sizes with a margin.
	minV, maxV := math.Inf(1), math.Inf(-1)
	for _, s := range lines {
		for _, v := range s.median {
			minV, maxV = min(minV, v), max(maxV, v)
		}
	}
	if floor > 0 {
		minV, maxV = min(minV, floor), max(maxV, floor)
	}
	if math.IsInf(minV, 0) || minV <= 0 {
		minV, maxV = 1, 10
	}
	ys := logScale{lo: math.Floor(math.Log10(minV)), hi: math.Ceil(math.Log10(maxV)), from: plotB, to: plotT}
	if ys.hi <= ys.lo {
		ys.hi = ys.lo + 1
	}
	if len(sizes) == 0 {
		sizes = []int{64}
	}
	xs := logScale{
		lo:   math.Log10(float64(sizes[0])) - 0.15,
		hi:   math.Log10(float64(sizes[len(sizes)-1])) + 0.15,
		from: plotL, to: plotR,
	}

	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p(`<?xml version="1.0" encoding="UTF-8"?>`)
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="12">`, svgW, svgH, svgW, svgH)
	p(`<rect width="%d" height="%d" fill="white"/>`, svgW, svgH)
	p(`<text x="%d" y="28" font-size="17" font-weight="bold">One-way latency by payload size (median, log-log)</text>`, plotL)
	m := r.Meta
	p(`<text x="%d" y="48" font-size="11" fill="#444">%s</text>`, plotL, esc(fmt.Sprintf("%s · Linux %s · %s · %s", m.CPU, m.Kernel, m.GoVersion, m.Date)))
	p(`<text x="%d" y="63" font-size="11" fill="#444">%s</text>`, plotL, esc(fmt.Sprintf("%s · floor %s · two processes, ping-pong, one-way = round trip / 2", m.Pinning, fmtNs(floor))))

	// Grid and ticks.
	p(`<g stroke="#e4e4e4" stroke-width="1">`)
	for e := ys.lo; e < ys.hi; e++ {
		for k := 2.0; k < 10; k++ {
			y := ys.pos(k * math.Pow(10, e))
			p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, plotL, y, plotR, y)
		}
	}
	p(`</g>`)
	p(`<g stroke="#b0b0b0" stroke-width="1">`)
	for e := ys.lo; e <= ys.hi; e++ {
		y := ys.pos(math.Pow(10, e))
		p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, plotL, y, plotR, y)
	}
	for _, s := range sizes {
		x := xs.pos(float64(s))
		p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`, x, plotT, x, plotB)
	}
	p(`</g>`)
	p(`<g text-anchor="end">`)
	for e := ys.lo; e <= ys.hi; e++ {
		p(`<text x="%d" y="%.1f">%s</text>`, plotL-8, ys.pos(math.Pow(10, e))+4, esc(decadeLabel(int(e))))
	}
	p(`</g>`)
	p(`<g text-anchor="middle">`)
	for _, s := range sizes {
		p(`<text x="%.1f" y="%d">%s</text>`, xs.pos(float64(s)), plotB+18, esc(sizeLabel(s)))
	}
	p(`</g>`)
	p(`<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`, plotL, plotT, plotR-plotL, plotB-plotT)
	p(`<text x="%d" y="%d" text-anchor="middle" font-size="13">payload size (log scale)</text>`, (plotL+plotR)/2, plotB+42)
	p(`<text transform="translate(%d %d) rotate(-90)" text-anchor="middle" font-size="13">one-way latency, median (log scale)</text>`, plotL-62, (plotT+plotB)/2)

	// The floor, then one line per mechanism.
	legend := func(i int, name, color, dash string) {
		y := plotT + 10 + 22*i
		p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`, legendX, y, legendX+28, y, color, dash)
		p(`<text x="%d" y="%d">%s</text>`, legendX+36, y+4, esc(name))
	}
	if floor > 0 {
		y := ys.pos(floor)
		p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#000" stroke-width="1.5" stroke-dasharray="6 4"/>`, plotL, y, plotR, y)
		legend(0, "floor (1 cache line)", "#000", ` stroke-dasharray="6 4"`)
	}
	for i, s := range lines {
		color := svgColors[s.color%len(svgColors)]
		dash := ""
		if s.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, s.dash)
		}
		pts := make([]string, len(s.sizes))
		for j := range s.sizes {
			pts[j] = fmt.Sprintf("%.1f,%.1f", xs.pos(float64(s.sizes[j])), ys.pos(s.median[j]))
		}
		p(`<g stroke="%s" fill="%s">`, color, color)
		p(`<title>%s</title>`, esc(s.name))
		p(`<polyline points="%s" fill="none" stroke-width="2"%s/>`, strings.Join(pts, " "), dash)
		for _, pt := range pts {
			x, y, _ := strings.Cut(pt, ",")
			p(`<circle cx="%s" cy="%s" r="%.1f"/>`, x, y, svgMarkerRadius)
		}
		p(`</g>`)
		legend(i+1, s.name, color, dash)
	}
	p(`</svg>`)
}

// decadeLabel names 10^e ns: 1 ns, 10 ns, 100 ns, 1 µs, … 100 s.
func decadeLabel(e int) string {
	units := []string{"ns", "µs", "ms", "s"}
	if e < 0 {
		return fmt.Sprintf("1e%d ns", e)
	}
	u := min(e/3, len(units)-1)
	return fmt.Sprintf("%.0f %s", math.Pow(10, float64(e-3*u)), units[u])
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

func esc(s string) string { return xmlEscaper.Replace(s) }
