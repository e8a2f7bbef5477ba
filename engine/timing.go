package engine

import "time"

// Timing is one Server-Timing metric of a step's answers: the
// distribution of its dur over the answers that carried it. Requests and
// Answered count those answers, RPS their rate; the latency fields hold
// the metric's durations.
type Timing struct {
	// Name is the metric's name as the service sent it, or TimingRest.
	Name string
	// Last covers the last whole second of the run, Run the run so far up
	// to that second (the whole run on the final snapshot).
	Last, Run Figures
}

// TimingRest names the part of an answer's time that the service's
// Server-Timing does not account for: the time from the request's send to
// its answer, less the server's total (its "total" metric when it sends
// one, else the sum of its metrics), never below zero. It is the network
// and the generator, plus whatever the server did not measure.
const TimingRest = "(network)"

// TimingCounts are the Server-Timing metrics a run could not use.
type TimingCounts struct {
	// Malformed counts metrics that did not parse (bad syntax, a negative,
	// unreadable or over-long dur): skipped.
	Malformed int64
	// Dropped counts values of names past the first MaxTimings: not
	// recorded.
	Dropped int64
}

// timingSample is one metric of one answer, as a worker logs it.
type timingSample struct {
	dur    uint32 // microseconds; for the counts, how many
	step   uint8
	metric uint8 // an index into the run's names, or one of the marks below
}

const (
	timingRestMark = MaxTimings + iota
	timingMalformedMark
	timingDroppedMark
)

// timingScratch is a worker's room for one answer's metrics, summed by
// name (a name may appear several times: several cache calls).
type timingScratch struct {
	dur     [MaxTimings]uint64
	seen    uint32 // a bit per name index
	entries [MaxTimings + 3]timingSample
	// sum adds up every dur; total is the "total" metric's, when sent.
	sum, total         uint64
	any, hasTotal      bool
	malformed, dropped uint64
}

// serverTimingNames are the spellings the header is looked up by: the
// answer's header names are kept as sent (see newWorker), and iterating
// over every header would allocate on each answer.
var serverTimingNames = [...]string{"Server-Timing", "server-timing"}

// readTiming parses the answer's Server-Timing headers and returns what
// to log beside its sample: one entry per name, the rest, and the counts
// of what could not be used. It allocates nothing once the run's names
// are known.
func (w *worker) readTiming(step uint8, service uint32) []timingSample {
	sc := &w.timing
	sc.begin()
	for _, name := range serverTimingNames {
		for _, v := range w.resp.Header.PeekAll(name) {
			sc.parse(v, &w.g.timingNames)
		}
	}
	return sc.finish(step, service)
}

// begin empties the scratch for the next answer's metrics.
func (sc *timingScratch) begin() {
	sc.seen, sc.sum, sc.total, sc.any, sc.hasTotal, sc.malformed, sc.dropped = 0, 0, 0, false, false, 0, 0
}

// finish returns what to log beside the answer's sample: one entry per
// name parsed since begin, the rest, and the counts of what could not be
// used.
func (sc *timingScratch) finish(step uint8, service uint32) []timingSample {
	n := 0
	add := func(metric int, v uint64) {
		sc.entries[n] = timingSample{dur: uint32(min(v, maxMicros)), step: step, metric: uint8(metric)}
		n++
	}
	for i := range MaxTimings {
		if sc.seen&(1<<i) != 0 {
			add(i, sc.dur[i])
		}
	}
	if sc.any {
		total := sc.sum
		if sc.hasTotal {
			total = sc.total
		}
		add(timingRestMark, uint64(service)-min(total, uint64(service)))
	}
	if sc.malformed > 0 {
		add(timingMalformedMark, sc.malformed)
	}
	if sc.dropped > 0 {
		add(timingDroppedMark, sc.dropped)
	}
	return sc.entries[:n]
}

// parse adds one header value's metrics.
func (sc *timingScratch) parse(v []byte, names *timingNames) {
	for rest := v; ; {
		m, r, ok := nextTiming(rest)
		if !ok {
			return
		}
		rest = r
		switch {
		case m.bad:
			sc.malformed++
			continue
		case !m.hasDur:
			continue
		}
		sc.any = true
		sc.sum += uint64(m.dur)
		if !sc.hasTotal && string(m.name) == "total" {
			sc.total, sc.hasTotal = uint64(m.dur), true
		}
		i := names.index(m.name)
		if i < 0 {
			sc.dropped++
			continue
		}
		if sc.seen&(1<<i) == 0 {
			sc.seen |= 1 << i
			sc.dur[i] = 0
		}
		sc.dur[i] += uint64(m.dur)
	}
}

// timingAgg gathers one step's Server-Timing metrics: per metric, the
// current second and the run. Figures are computed when a second closes
// and handed to every snapshot until the next, since the dashboard draws
// the split a second at a time; that keeps two histograms per metric.
type timingAgg struct {
	metrics [MaxTimings + 1]*timingSeries // by name index; the last is the rest
	// out is the figures of the last closed second, shared by the
	// snapshots that follow it (never modified once published).
	out []Timing
}

type timingSeries struct {
	sec, run window
}

func (t *timingAgg) add(s *timingSample) {
	i := int(s.metric)
	if i == timingRestMark {
		i = MaxTimings
	}
	m := t.metrics[i]
	if m == nil {
		m = &timingSeries{sec: newWindow(false), run: newWindow(false)}
		t.metrics[i] = m
	}
	m.sec.requests++
	m.sec.addLatency(s.dur)
}

// closeSecond computes the second's figures over span (a whole second,
// or what the final one covered) and the run's, and starts a new second.
func (t *timingAgg) closeSecond(names []string, span, runSpan time.Duration) {
	t.out = nil
	for i, m := range t.metrics {
		if m == nil {
			continue
		}
		name := TimingRest
		if i < MaxTimings {
			name = names[i]
		}
		last, _ := m.sec.figures(span)
		m.run.merge(&m.sec)
		m.sec.reset()
		run, _ := m.run.figures(runSpan)
		t.out = append(t.out, Timing{Name: name, Last: last, Run: run})
	}
}

// addTimings takes drained Server-Timing entries.
func (a *aggregator) addTimings(ts []timingSample) {
	for i := range ts {
		s := &ts[i]
		switch s.metric {
		case timingMalformedMark:
			a.timingCounts.Malformed += int64(s.dur)
		case timingDroppedMark:
			a.timingCounts.Dropped += int64(s.dur)
		default:
			a.timingOf(int(s.step)).add(s)
		}
	}
}

func (a *aggregator) timingOf(step int) *timingAgg {
	if a.timing[step] == nil {
		a.timing[step] = &timingAgg{}
	}
	return a.timing[step]
}
