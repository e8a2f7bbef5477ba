package tui

import (
	"math"
	"math/rand/v2"
	"time"

	"perflab/engine"
	"perflab/engine/stats"
)

// The baseline is a window, not a second: b takes the seconds from the
// latest change (at most baselineWindow of them) up to the press, and the
// change line compares the seconds since the latest change after that
// with them, figure by figure, by a block bootstrap of the per-second
// figures (engine/stats). A change shows with its 95% interval once the
// interval excludes zero, "~" while it spans it.

// baselineWindow bounds the seconds a baseline takes.
const baselineWindow = 30 * time.Second

// secondsKept bounds the per-second log: enough for a baseline and a
// long comparison after it.
const secondsKept = 600

// secondLog holds the measured series' figures of each whole second, on
// the charts' clock.
type secondLog struct {
	t    []float64
	figs []engine.Figures
}

func (l *secondLog) add(t float64, f engine.Figures) {
	l.t = append(l.t, t)
	l.figs = append(l.figs, f)
	if n := len(l.t); n > secondsKept {
		l.t = append(l.t[:0], l.t[n-secondsKept:]...)
		l.figs = append(l.figs[:0], l.figs[n-secondsKept:]...)
	}
}

// since returns the figures of the seconds that ended after from.
func (l *secondLog) since(from float64) []engine.Figures {
	for i, t := range l.t {
		if t > from {
			return l.figs[i:]
		}
	}
	return nil
}

// baseline is the window b marked, which later windows are compared with.
type baseline struct {
	seconds []engine.Figures
	figures engine.Figures // the window's per-second figures averaged, for the row
	from    time.Duration  // on the charts' clock
	at      time.Duration  // when b was pressed
	// shifts are the change of each figures column since the latest
	// change, recomputed as each second arrives; from is where that
	// window starts, and n its seconds.
	shifts  []stats.Shift
	curFrom time.Duration
	curN    int
}

// markBaseline takes the window from the latest change (or at most
// baselineWindow back) to now.
func (p *loadPage) markBaseline() {
	now := p.hist.last
	from := max(now-baselineWindow.Seconds(), p.lastChange(now))
	secs := p.seconds.since(from)
	p.base = &baseline{seconds: secs, figures: averaged(secs), from: dur(from), at: dur(now)}
	p.hist.mark("base")
	p.updateShifts()
}

// lastChange is when the latest knob or load change before t was asked
// for; 0 when there was none.
func (p *loadPage) lastChange(t float64) float64 {
	for i := len(p.hist.marks) - 1; i >= 0; i-- {
		if m := p.hist.marks[i]; m.label != "base" && m.t <= t {
			return m.t
		}
	}
	return 0
}

// updateShifts compares the seconds since the latest change after the
// baseline (or since the baseline) with the baseline, column by column.
func (p *loadPage) updateShifts() {
	b := p.base
	if b == nil {
		return
	}
	from := max(b.at.Seconds(), p.lastChange(p.hist.last))
	cur := p.seconds.since(from)
	b.curFrom, b.curN = dur(from), len(cur)
	b.shifts = b.shifts[:0]
	for _, c := range figureColumns {
		base, now := columnValues(b.seconds, c), columnValues(cur, c)
		// A fixed seed per window keeps the line from flickering between
		// frames that add no second.
		rng := rand.New(rand.NewPCG(uint64(len(base)), uint64(len(now))))
		b.shifts = append(b.shifts, stats.BootstrapShift(base, now, rng))
	}
}

// columnValues are a column's per-second values; latency columns skip
// seconds with no answer.
func columnValues(secs []engine.Figures, c figureColumn) []float64 {
	out := make([]float64, 0, len(secs))
	for _, f := range secs {
		if f.Answered == 0 && c.latency {
			continue
		}
		out = append(out, c.value(f))
	}
	return out
}

// averaged is the mean of each figure over the seconds, for the baseline
// row.
func averaged(secs []engine.Figures) engine.Figures {
	var out engine.Figures
	var answered int
	var sum [7]float64
	for _, f := range secs {
		out.Requests += f.Requests
		out.Errors += f.Errors
		out.RPS += f.RPS
		if f.Answered == 0 {
			continue
		}
		answered++
		out.Answered += f.Answered
		for i, d := range []time.Duration{f.Min, f.Mean, f.P50, f.P90, f.P95, f.P99, f.Max} {
			sum[i] += float64(d)
		}
	}
	if n := len(secs); n > 0 {
		out.RPS /= float64(n)
		out.Errors = int64(math.Round(float64(out.Errors) / float64(n)))
	}
	if answered > 0 {
		avg := func(i int) time.Duration { return time.Duration(sum[i] / float64(answered)) }
		out.Min, out.Mean, out.P50, out.P90, out.P95, out.P99, out.Max = avg(0), avg(1), avg(2), avg(3), avg(4), avg(5), avg(6)
	}
	return out
}

func dur(seconds float64) time.Duration { return time.Duration(seconds * float64(time.Second)) }
