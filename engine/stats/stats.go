// Package stats says whether a difference between measurements is real.
// Figures from repeated runs are summarised by their median with the
// order-statistics confidence interval and compared with the Mann-Whitney
// U test, as benchstat does for Go benchmarks (both from
// golang.org/x/perf/benchmath); a live series of per-second figures, whose
// neighbours are not independent, is compared with a moving-block
// bootstrap.
package stats

import (
	"fmt"
	"math"
	"slices"

	"golang.org/x/perf/benchmath"
)

// Alpha is the significance level of every verdict: a difference is real
// when p < Alpha.
const Alpha = 0.05

// Confidence is the level of every interval.
const Confidence = 0.95

// Summary is a sample's median and the confidence interval around it.
type Summary struct {
	N      int
	Median float64
	// Lo and Hi bound the interval; they are infinite when the sample is
	// too small for one at Confidence (fewer than 6 values).
	Lo, Hi float64
	// Confidence is the interval's actual level, at least Confidence.
	Confidence float64
}

// Finite reports whether the interval is bounded.
func (s Summary) Finite() bool { return !math.IsInf(s.Lo, 0) && !math.IsInf(s.Hi, 0) }

// Spread is the interval's larger half-width relative to the median, as
// benchstat's "± 3%": 0.03. It is +Inf without a finite interval and NaN
// when the median is 0 or the interval crosses zero.
func (s Summary) Spread() float64 {
	if !s.Finite() {
		return math.Inf(1)
	}
	if s.Median == 0 {
		if s.Lo == 0 && s.Hi == 0 {
			return 0
		}
		return math.NaN()
	}
	if sign(s.Lo) != sign(s.Median) || sign(s.Hi) != sign(s.Median) {
		return math.NaN()
	}
	return math.Max(s.Hi/s.Median-1, 1-s.Lo/s.Median)
}

func sign(v float64) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// MinIntervalN is the smallest sample with a finite interval at
// Confidence.
const MinIntervalN = 6

// Summarize returns the median of values and its confidence interval.
// values is not modified.
func Summarize(values []float64) Summary {
	if len(values) == 0 {
		return Summary{Median: math.NaN(), Lo: math.Inf(-1), Hi: math.Inf(1)}
	}
	s := benchmath.NewSample(slices.Clone(values), &benchmath.DefaultThresholds)
	sum := benchmath.AssumeNothing.Summary(s, Confidence)
	return Summary{N: len(values), Median: sum.Center, Lo: sum.Lo, Hi: sum.Hi, Confidence: sum.Confidence}
}

// Comparison says whether two samples differ.
type Comparison struct {
	Old, New Summary
	// P is the Mann-Whitney U test's p-value for "the samples come from
	// one distribution".
	P float64
	// Change is New's median relative to Old's: -0.3 is 30% lower. NaN
	// when Old's median is 0.
	Change float64
	// Significant is P < Alpha.
	Significant bool
	// TooFew says the samples are too small for any difference to be
	// significant (fewer than 4 each), so no verdict is possible.
	TooFew bool
}

// MinCompareN is the smallest sample size (each side) at which the U test
// can reach Alpha.
const MinCompareN = 4

// Compare tests whether old and new come from the same distribution.
func Compare(old, new []float64) Comparison {
	c := Comparison{Old: Summarize(old), New: Summarize(new), P: 1, Change: math.NaN()}
	if c.Old.Median != 0 {
		c.Change = c.New.Median/c.Old.Median - 1
	}
	if len(old) < MinCompareN && len(new) < MinCompareN || len(old) < 2 || len(new) < 2 {
		c.TooFew = true
		return c
	}
	s1 := benchmath.NewSample(slices.Clone(old), &benchmath.DefaultThresholds)
	s2 := benchmath.NewSample(slices.Clone(new), &benchmath.DefaultThresholds)
	cmp := benchmath.AssumeNothing.Compare(s1, s2)
	c.P = cmp.P
	c.Significant = cmp.P < Alpha
	return c
}

// Verdict renders a comparison's change as benchstat does: "-30.12%"
// when significant, "~" when not, and says so when the samples are too
// small for a verdict.
func (c Comparison) Verdict() string {
	switch {
	case c.TooFew:
		return fmt.Sprintf("n<%d", MinCompareN)
	case !c.Significant:
		return "~"
	case math.IsNaN(c.Change):
		return "?"
	}
	return fmt.Sprintf("%+.2f%%", 100*c.Change)
}
