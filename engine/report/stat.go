package report

import (
	"slices"
	"strconv"

	"perflab/engine/stats"
)

// A session that runs each configuration several times closes its CSV
// with stat rows: for every configuration and series, three rows whose
// figure cells hold, across the repeats' summary rows, the median
// (statistic "median") and the bounds of its confidence interval
// ("ci_low", "ci_high"), with the interval's level in "confidence". A
// bound is empty when the repeats are too few for an interval (fewer than
// six at 95%).

// labelColumns name a row rather than measure it: stat rows copy them
// from the configuration's summary rows instead of summarising them.
var labelColumns = []string{"kind", "run", "elapsed_s", "experiment", "series",
	"workers", "mode", "cache", "query", "offload", "profile", "vus", "rate", "conns",
	"repeat", "statistic", "confidence", "agent", "event", "threshold", "threshold_value", "threshold_ok"}

// repeatRows gathers summary rows by configuration and series, in the
// order they first appear.
type repeatRows struct {
	header []string
	keys   []string
	rows   map[string][][]string
}

func (r *repeatRows) add(row []string) {
	if r.rows == nil {
		r.rows = map[string][][]string{}
	}
	key := row[1] + "\x00" + row[4] // run, series
	if _, ok := r.rows[key]; !ok {
		r.keys = append(r.keys, key)
	}
	r.rows[key] = append(r.rows[key], row)
}

// statRows are the stat rows, or none when no configuration ran twice.
func (r *repeatRows) statRows() [][]string {
	if !slices.ContainsFunc(r.keys, func(k string) bool { return len(r.rows[k]) > 1 }) {
		return nil
	}
	col := func(name string) int { return slices.Index(r.header, name) }
	var out [][]string
	for _, key := range r.keys {
		group := r.rows[key]
		median, lo, hi := slices.Clone(group[0]), slices.Clone(group[0]), slices.Clone(group[0])
		level := ""
		for i, name := range r.header {
			if slices.Contains(labelColumns, name) || i >= len(group[0]) {
				continue
			}
			var values []float64
			for _, row := range group {
				if v, err := strconv.ParseFloat(row[i], 64); err == nil {
					values = append(values, v)
				}
			}
			median[i], lo[i], hi[i] = "", "", ""
			if len(values) == 0 {
				continue
			}
			s := stats.Summarize(values)
			median[i] = strconv.FormatFloat(s.Median, 'f', 3, 64)
			if s.Finite() {
				lo[i] = strconv.FormatFloat(s.Lo, 'f', 3, 64)
				hi[i] = strconv.FormatFloat(s.Hi, 'f', 3, 64)
				level = strconv.FormatFloat(s.Confidence, 'f', 3, 64)
			}
		}
		for _, row := range [][]string{median, lo, hi} {
			row[0], row[col("elapsed_s")], row[col("repeat")] = "stat", "", ""
			row[col("confidence")] = level
		}
		median[col("statistic")], lo[col("statistic")], hi[col("statistic")] = "median", "ci_low", "ci_high"
		out = append(out, median, lo, hi)
	}
	return out
}
