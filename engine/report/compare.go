package report

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"perflab/engine/stats"
)

// Side is one side of a comparison: the runs of one configuration.
type Side struct {
	Label string // what the side is: a file, or a knob's value
	Runs  []RecordedRun
}

// Values are a figure of each run.
func (s Side) Values(figure string) []float64 {
	var out []float64
	for _, r := range s.Runs {
		if v, ok := r.Figures[figure]; ok {
			out = append(out, v)
		}
	}
	return out
}

// Pair is two sides to compare, under a heading naming the configuration.
type Pair struct {
	Heading  string
	Old, New Side
}

// CompareFigures are the figures compared, in order; the latencies are
// worse when higher, throughput when lower.
var CompareFigures = []struct {
	Name, Unit string
	Latency    bool
}{{"mean", "ms", true}, {"p50", "ms", true}, {"p90", "ms", true}, {"p99", "ms", true}, {"req/s", "", false}}

// Regression is a latency figure that got significantly worse by more
// than a limit.
type Regression struct {
	Heading, Figure string
	Comparison      stats.Comparison
}

func (r Regression) String() string {
	return fmt.Sprintf("%s %s %+.1f%% (p=%.3f, n=%d+%d)", r.Heading, r.Figure, 100*r.Comparison.Change, r.Comparison.P, r.Comparison.Old.N, r.Comparison.New.N)
}

// WriteComparison prints a benchstat-like table per pair: each figure's
// median with its 95% interval on both sides, the change when it is
// significant at 5% (Mann-Whitney U), "~" when it is not, and p. It
// returns the latency figures that got worse by more than failAbove
// (a fraction; negative for none) with significance.
func WriteComparison(w io.Writer, pairs []Pair, failAbove float64) ([]Regression, error) {
	var b strings.Builder
	var worse []Regression
	tooFew := false
	for _, p := range pairs {
		fmt.Fprintf(&b, "%s\n", p.Heading)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "\t%s\t%s\tchange\tp\t\n", p.Old.Label, p.New.Label)
		for _, f := range CompareFigures {
			old, new := p.Old.Values(f.Name), p.New.Values(f.Name)
			if len(old) == 0 || len(new) == 0 {
				continue
			}
			c := stats.Compare(old, new)
			pv := fmt.Sprintf("p=%.3f n=%d+%d", c.P, len(old), len(new))
			if c.TooFew {
				pv = fmt.Sprintf("n=%d+%d", len(old), len(new))
				tooFew = true
			}
			name := f.Name
			if f.Unit != "" {
				name += " " + f.Unit
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", name, MedianCell(old), MedianCell(new), c.Verdict(), pv)
			if f.Latency && failAbove >= 0 && c.Significant && c.Change > failAbove && !math.IsNaN(c.Change) {
				worse = append(worse, Regression{Heading: p.Heading, Figure: f.Name, Comparison: c})
			}
		}
		tw.Flush()
		b.WriteString("\n")
	}
	b.WriteString("Medians with 95% intervals; a change is shown when it is significant at the 5% level (Mann-Whitney U), ~ when it is not.\n")
	if tooFew {
		fmt.Fprintf(&b, "n<%d: too few runs for a verdict; record both with --repeat N, N >= %d (%d or more for finite intervals).\n", stats.MinCompareN, stats.MinCompareN, stats.MinIntervalN)
	}
	_, err := io.WriteString(w, b.String())
	return worse, err
}

// PairFiles matches the configurations of two recordings of series. A
// configuration is its experiment and knob cells; run numbers may differ.
func PairFiles(old, new *Recorded, oldLabel, newLabel string, series func(experiment string) string) []Pair {
	knobs := unionKnobs(old.Knobs, new.Knobs)
	var pairs []Pair
	oldBy, order := groupRuns(old, knobs, "", series)
	newBy, _ := groupRuns(new, knobs, "", series)
	for _, key := range order {
		n, ok := newBy[key]
		if !ok {
			continue
		}
		o := oldBy[key]
		pairs = append(pairs, Pair{Heading: key, Old: Side{Label: oldLabel, Runs: o}, New: Side{Label: newLabel, Runs: n}})
	}
	return pairs
}

// PairBy compares, within one recording, the values of one knob: for each
// configuration of the other knobs, its first value against each other
// one.
func PairBy(rec *Recorded, knob string, series func(experiment string) string) []Pair {
	groups, order := groupRuns(rec, rec.Knobs, knob, series)
	var pairs []Pair
	for _, key := range order {
		var values []string
		byValue := map[string][]RecordedRun{}
		for _, r := range groups[key] {
			v := r.Knobs[knob]
			if _, seen := byValue[v]; !seen {
				values = append(values, v)
			}
			byValue[v] = append(byValue[v], r)
		}
		for _, v := range values[min(1, len(values)):] {
			pairs = append(pairs, Pair{Heading: key,
				Old: Side{Label: knob + "=" + values[0], Runs: byValue[values[0]]},
				New: Side{Label: knob + "=" + v, Runs: byValue[v]}})
		}
	}
	return pairs
}

// groupRuns groups a recording's runs of the measured series by
// configuration (leaving out the knob except), in order of appearance.
func groupRuns(rec *Recorded, knobs []string, except string, series func(string) string) (map[string][]RecordedRun, []string) {
	by := map[string][]RecordedRun{}
	var order []string
	for _, r := range rec.Runs {
		if r.Series != series(r.Experiment) {
			continue
		}
		key := r.Config(knobs, except) + "  [" + r.Series + "]"
		if _, ok := by[key]; !ok {
			order = append(order, key)
		}
		by[key] = append(by[key], r)
	}
	return by, order
}

func unionKnobs(a, b []string) []string {
	out := append([]string{}, a...)
	for _, k := range b {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}
