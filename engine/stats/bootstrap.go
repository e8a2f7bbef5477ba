package stats

import (
	"math"
	"math/rand/v2"
	"slices"
)

// A live run's per-second figures are not independent: a slow second (a
// queue building up, a worker restarting) tends to be followed by another.
// On the likes experiment at 50 users, per-second mean latency measured
// autocorrelations of 0.77 at one second, 0.36 at two and under 0.1 from
// three on. Resampling single seconds would ignore that and draw
// intervals far too narrow, so the bootstrap resamples blocks of
// consecutive seconds, long enough that blocks are nearly independent,
// and studentizes (bootstrap-t), which keeps intervals from short,
// correlated series close to their stated level.

// BlockLength is the block for a series: twice its integrated
// autocorrelation time 1 + 2(r1 + r2 + ...), the sum running while the
// autocorrelation stays above the noise band 2/sqrt(n) of a series
// without any, rounded up, at least 1 and at most a third of the series
// (so that it holds three blocks). Short series underestimate the
// correlation; the factor of two makes up for most of it.
func BlockLength(xs []float64) int {
	n := len(xs)
	if n < 4 {
		return 1
	}
	m := mean(xs)
	var den float64
	for _, x := range xs {
		den += (x - m) * (x - m)
	}
	if den == 0 {
		return 1
	}
	band := 2 / math.Sqrt(float64(n))
	tau := 1.0
	for lag := 1; lag <= n/MinBlocks; lag++ {
		var num float64
		for t := 0; t+lag < n; t++ {
			num += (xs[t] - m) * (xs[t+lag] - m)
		}
		r := num / den
		if r < band {
			break
		}
		tau += 2 * r
	}
	return max(1, min(n/MinBlocks, int(math.Ceil(2*tau))))
}

// MinBootstrapN is the fewest seconds on each side for a verdict.
const MinBootstrapN = 6

// MinBlocks is the fewest blocks on each side, so BlockLength is at most
// a third of a series: with two, the resampled spread is zero half the
// time and the studentized interval explodes.
const MinBlocks = 3

// Bootstraps is how many resamples an interval takes: enough for stable
// 2.5% and 97.5% quantiles, cheap enough for four updates a second.
const Bootstraps = 1000

// Shift is the change of a series' mean from a baseline window to the
// current one, with its bootstrap interval.
type Shift struct {
	// Change is cur's mean relative to base's: -0.3 is 30% lower.
	Change float64
	// Lo and Hi bound Change at Confidence.
	Lo, Hi float64
	// Block is the longer of the two sides' block lengths, in samples.
	Block int
	// Ready is false when either side has fewer than MinBootstrapN
	// figures, base's mean is 0, or most resamples drew a side without
	// spread: there is no interval yet.
	Ready bool
}

// Real reports whether the interval excludes no change.
func (s Shift) Real() bool { return s.Ready && (s.Lo > 0 || s.Hi < 0) }

// BootstrapShift compares the current window's per-second figures with
// the baseline's: a studentized non-overlapping block bootstrap of the
// difference of their means, relative to the baseline's mean, drawing
// from rng (seed it for repeatable output).
func BootstrapShift(base, cur []float64, rng *rand.Rand) Shift {
	s := Shift{Change: math.NaN(), Lo: math.NaN(), Hi: math.NaN()}
	mb := mean(base)
	if len(base) < MinBootstrapN || len(cur) < MinBootstrapN || mb == 0 || math.IsNaN(mb) {
		return s
	}
	s.Change = mean(cur)/mb - 1
	// Each side in blocks of its own length: the two windows are
	// independent, and a step's transition (a queue draining) makes the
	// current window far more correlated than a steady baseline.
	kb, kc := BlockLength(base), BlockLength(cur)
	s.Block = max(kb, kc)
	bb, bc := blockMeans(base, kb), blockMeans(cur, kc)
	d := mean(bc) - mean(bb)
	se, _ := diffSE(bb, bc)
	if se == 0 {
		s.Lo, s.Hi, s.Ready = s.Change, s.Change, true
		return s
	}
	ts := make([]float64, 0, Bootstraps)
	rb, rc := make([]float64, len(bb)), make([]float64, len(bc))
	for range Bootstraps {
		resample(rb, bb, rng)
		resample(rc, bc, rng)
		// A side drawn from one block alone has no spread: its
		// studentized difference is unbounded, so the draw is left out.
		if se, spread := diffSE(rb, rc); spread {
			ts = append(ts, (mean(rc)-mean(rb)-d)/se)
		}
	}
	if len(ts) < Bootstraps/2 {
		return s
	}
	slices.Sort(ts)
	tail := (1 - Confidence) / 2
	s.Lo = (d - quantile(ts, 1-tail)*se) / mb
	s.Hi = (d - quantile(ts, tail)*se) / mb
	s.Ready = true
	return s
}

// blockMeans are the means of xs's consecutive blocks of length block,
// the newest last; a remainder at the start is left out.
func blockMeans(xs []float64, block int) []float64 {
	k := len(xs) / block
	off := len(xs) - k*block
	out := make([]float64, k)
	for i := range out {
		out[i] = mean(xs[off+i*block : off+(i+1)*block])
	}
	return out
}

// diffSE is the standard error of mean(b) - mean(a); spread is false
// when either side has none.
func diffSE(a, b []float64) (se float64, spread bool) {
	va, vb := sampleVariance(a), sampleVariance(b)
	return math.Sqrt(va/float64(len(a)) + vb/float64(len(b))), va > 0 && vb > 0
}

func resample(dst, src []float64, rng *rand.Rand) {
	for i := range dst {
		dst[i] = src[rng.IntN(len(src))]
	}
}

func sampleVariance(xs []float64) float64 {
	m := mean(xs)
	var s float64
	for _, x := range xs {
		s += (x - m) * (x - m)
	}
	return s / float64(len(xs)-1)
}

// quantile of sorted xs, interpolating between neighbours.
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i]*(1-f) + sorted[i+1]*f
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
