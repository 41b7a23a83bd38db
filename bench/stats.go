package main

import "slices"

// Summary describes the one-way latencies of one measurement, in ns. Each
// figure is half of the corresponding round-trip figure.
type Summary struct {
	N      int     `json:"iterations"` // timed round trips
	Median float64 `json:"median_ns"`
	P99    float64 `json:"p99_ns"`
	Max    float64 `json:"max_ns"`
	Min    float64 `json:"min_ns"`
	Mean   float64 `json:"mean_ns"`
}

// summarize sorts rtts (round trips in ns) in place and returns the one-way
// summary. The median of an even count is the mean of the two middle values;
// p99 is the nearest-rank percentile: the smallest sample such that at least
// 99% of the samples are at most it.
func summarize(rtts []int64) Summary {
	if len(rtts) == 0 {
		return Summary{}
	}
	slices.Sort(rtts)
	var sum float64
	for _, v := range rtts {
		sum += float64(v)
	}
	return Summary{
		N:      len(rtts),
		Median: median(rtts) / 2,
		P99:    float64(percentile(rtts, 99)) / 2,
		Max:    float64(rtts[len(rtts)-1]) / 2,
		Min:    float64(rtts[0]) / 2,
		Mean:   sum / float64(len(rtts)) / 2,
	}
}

// median returns the median of v, sorting it in place.
func median(v []int64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return float64(v[n/2])
	}
	return (float64(v[n/2-1]) + float64(v[n/2])) / 2
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of the
// sorted samples: the sample of rank ceil(p*n/100), computed in integers so
// that no rounding moves it.
func percentile(sorted []int64, p int) int64 {
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}
