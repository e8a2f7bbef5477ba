package engine

import (
	"maps"
	"time"
)

// Tally builds snapshots from interval records instead of samples: the
// records of several generators (load agents on other machines) for the
// same second merge into one snapshot whose figures are exactly those of
// one generator that sent every request. Records carry histograms, exact
// counts, sums and extremes, so nothing is averaged.
type Tally struct {
	open    bool
	names   []string // AllSeries first, then the steps
	cur     map[string]*window
	run     map[string]*window
	started bool
}

// NewTally tallies the given steps (and the total); open keeps service
// time apart from latency, as the open model does.
func NewTally(steps []string, open bool) *Tally {
	t := &Tally{open: open, names: append([]string{AllSeries}, steps...), cur: map[string]*window{}, run: map[string]*window{}}
	for _, n := range t.names {
		c, r := newWindow(open), newWindow(open)
		t.cur[n], t.run[n] = &c, &r
	}
	return t
}

// Add merges one series' record into the interval being tallied. A series
// the tally does not know is ignored.
func (t *Tally) Add(series string, r *IntervalRecord) {
	if r == nil || r.Latency == nil {
		return
	}
	if w, ok := t.cur[series]; ok {
		w.addRecord(r)
	}
}

// TallyState is what a snapshot carries beside the series: cumulative
// counts over the run (summed across generators by the caller), the load
// and the generators' health.
type TallyState struct {
	Load     Load
	Errors   ErrorCounts
	Statuses map[int]int64
	Checks   []Check
	Health   Health
}

// Snapshot closes the interval: its figures become each series' Last
// (over span), the run's its Run (over elapsed), and the interval's record
// its Interval. second is the whole second it closes (0 for a run's final
// snapshot, with final set).
func (t *Tally) Snapshot(second int, span, elapsed time.Duration, final bool, st TallyState) *Snapshot {
	s := &Snapshot{Elapsed: elapsed, Second: second, Done: final, Load: st.Load, Errors: st.Errors,
		Statuses: maps.Clone(st.Statuses), Checks: append([]Check(nil), st.Checks...), Health: st.Health}
	if final {
		s.Second = 0
	}
	for _, n := range t.names {
		cur, run := t.cur[n], t.run[n]
		run.merge(cur)
		series := Series{Name: n, Interval: cur.record()}
		series.Last, series.LastService = cur.figures(span)
		series.Run, series.RunService = run.figures(elapsed)
		if n == AllSeries {
			s.All = series
		} else {
			s.Steps = append(s.Steps, series)
		}
		cur.reset()
	}
	return s
}
