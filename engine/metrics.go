package engine

import (
	"math"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// AllSeries names the series that totals every step.
const AllSeries = "all"

// Figures summarise one series over one span of time. Latency figures
// cover requests that got an answer; Requests and Errors count every
// request that ended, answered or failed.
type Figures struct {
	Requests int64
	Errors   int64
	// Answered counts requests that got an HTTP answer (any status).
	Answered int64
	// Unfinished counts requests the end of the run cut off, which are
	// in neither Requests nor Errors (as k6's interrupted iterations).
	Unfinished int64
	// Retries counts requests sent a second time because their kept-alive
	// connection broke while sending (each is still one request).
	Retries int64
	RPS     float64
	Min     time.Duration
	Mean    time.Duration
	P50     time.Duration
	P90     time.Duration
	P95     time.Duration
	P99     time.Duration
	P999    time.Duration // p(99.9)
	Max     time.Duration
}

// ErrorRate is the fraction of requests that failed.
func (f Figures) ErrorRate() float64 {
	if f.Requests == 0 {
		return 0
	}
	return float64(f.Errors) / float64(f.Requests)
}

// Series is one step's figures (or the total's), over the last second and
// over the whole run. In the open model Latency counts from each
// request's scheduled start and Service from its actual send; elsewhere
// the two are equal.
type Series struct {
	Name        string
	Last        Figures
	Run         Figures
	LastService Figures
	RunService  Figures
	// Interval is the raw record of the span since the previous whole
	// second, on a snapshot that closes a whole second and on the final
	// one, when the generator keeps them (IntervalHistograms); nil
	// otherwise. The run's intervals add up to its record exactly.
	Interval *IntervalRecord
	// Timing is the step's Server-Timing metrics, in the order the run
	// first met their names, then TimingRest; nil when none of its
	// answers carried one. The total's series has none.
	Timing []Timing
}

// IntervalRecord is one series' raw record of an interval: histograms
// (microseconds) and exact counts, sums and extremes, which merge exactly
// across intervals and across generators.
type IntervalRecord struct {
	Latency *hdr.Histogram
	// Service is the service time's histogram in the open model; nil
	// where it equals the latency.
	Service                               *hdr.Histogram
	Requests, Errors, Unfinished, Retries int64
	LatSum, SvcSum                        uint64
	LatMin, LatMax, SvcMin, SvcMax        uint32
}

// record copies the window as an interval record.
func (w *window) record() *IntervalRecord {
	r := &IntervalRecord{Latency: hdr.Import(w.lat.Export()), Requests: w.requests, Errors: w.errors,
		Unfinished: w.unfinished, Retries: w.retries, LatSum: w.latSum, SvcSum: w.svcSum,
		LatMin: w.latMin, LatMax: w.latMax, SvcMin: w.svcMin, SvcMax: w.svcMax}
	if w.svc != nil {
		r.Service = hdr.Import(w.svc.Export())
	}
	return r
}

// addRecord merges a record into the window.
func (w *window) addRecord(r *IntervalRecord) {
	w.merge(&window{lat: r.Latency, svc: r.Service, requests: r.Requests, errors: r.Errors,
		unfinished: r.Unfinished, retries: r.Retries, latSum: r.LatSum, svcSum: r.SvcSum,
		latMin: r.LatMin, latMax: r.LatMax, svcMin: r.SvcMin, svcMax: r.SvcMax})
}

var quantiles = []float64{50, 90, 95, 99, 99.9}

// window accumulates samples over one span. svc is nil where service time
// equals latency (closed and max models), which halves the recording cost.
type window struct {
	lat, svc            *hdr.Histogram
	requests, errors    int64
	unfinished, retries int64
	latSum, svcSum      uint64
	latMin, latMax      uint32
	svcMin, svcMax      uint32
}

func newWindow(withService bool) window {
	w := window{lat: hdr.New(1, maxMicros, 3), latMin: math.MaxUint32, svcMin: math.MaxUint32}
	if withService {
		w.svc = hdr.New(1, maxMicros, 3)
	}
	return w
}

func (w *window) add(s *sample) {
	switch s.outcome {
	case OutcomeUnfinished:
		w.unfinished++
		return
	case retryMark:
		w.retries++
		return
	}
	w.requests++
	if s.outcome != OutcomeOK {
		w.errors++
	}
	if s.latency == 0 { // no answer, no latency
		return
	}
	w.addLatency(s.latency)
	if w.svc == nil {
		return
	}
	w.svc.RecordValue(int64(s.service))
	w.svcSum += uint64(s.service)
	w.svcMin = min(w.svcMin, s.service)
	w.svcMax = max(w.svcMax, s.service)
}

// addLatency records one value (microseconds) in the latency histogram.
func (w *window) addLatency(v uint32) {
	w.lat.RecordValue(int64(v))
	w.latSum += uint64(v)
	w.latMin = min(w.latMin, v)
	w.latMax = max(w.latMax, v)
}

// merge adds o into w; o may lack the service histogram w has (a record
// of a model whose service time is its latency).
func (w *window) merge(o *window) {
	w.lat.Merge(o.lat)
	if w.svc != nil && o.svc != nil {
		w.svc.Merge(o.svc)
	}
	w.requests += o.requests
	w.errors += o.errors
	w.unfinished += o.unfinished
	w.retries += o.retries
	w.latSum += o.latSum
	w.svcSum += o.svcSum
	w.latMin = min(w.latMin, o.latMin)
	w.latMax = max(w.latMax, o.latMax)
	w.svcMin = min(w.svcMin, o.svcMin)
	w.svcMax = max(w.svcMax, o.svcMax)
}

func (w *window) reset() {
	w.lat.Reset()
	if w.svc != nil {
		w.svc.Reset()
	}
	*w = window{lat: w.lat, svc: w.svc, latMin: math.MaxUint32, svcMin: math.MaxUint32}
}

// figures reports the window's latency and service-time figures, with
// rates over span.
func (w *window) figures(span time.Duration) (lat, svc Figures) {
	lat = w.figuresOf(w.lat, w.latSum, w.latMin, w.latMax, span)
	if w.svc == nil {
		return lat, lat
	}
	return lat, w.figuresOf(w.svc, w.svcSum, w.svcMin, w.svcMax, span)
}

func (w *window) figuresOf(h *hdr.Histogram, sum uint64, lo, hi uint32, span time.Duration) Figures {
	f := Figures{Requests: w.requests, Errors: w.errors, Answered: h.TotalCount(), Unfinished: w.unfinished, Retries: w.retries}
	if span > 0 {
		f.RPS = float64(w.requests) / span.Seconds()
	}
	if f.Answered == 0 {
		return f
	}
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	q := h.ValueAtPercentilesSlice(quantiles)
	f.Min = us(int64(lo))
	f.Max = us(int64(hi))
	f.Mean = time.Duration(float64(sum) / float64(f.Answered) * float64(time.Microsecond))
	// The histogram reports the top of each value's bucket; clamp to the
	// exact extremes so a percentile never exceeds the max it belongs to.
	f.P50 = min(us(q[0]), f.Max)
	f.P90 = min(us(q[1]), f.Max)
	f.P95 = min(us(q[2]), f.Max)
	f.P99 = min(us(q[3]), f.Max)
	f.P999 = min(us(q[4]), f.Max)
	return f
}

// seriesAgg keeps one series' last second as four quarter windows, so the
// "last second" slides every quarter, plus the whole run. Samples go into
// the current quarter only; a finished quarter is merged into the run, so
// each sample is recorded once per series.
type seriesAgg struct {
	name     string
	quarters [quartersPerSecond]window
	cur      int
	last     window // scratch: the quarters merged
	run      window
	// pending gathers the quarters since the last whole second, for the
	// interval histograms; nil when they are not kept.
	pending *window
}

const quartersPerSecond = 4

// tick is the snapshot period: one quarter of a second.
const tick = time.Second / quartersPerSecond

func newSeriesAgg(name string, withService bool) *seriesAgg {
	a := &seriesAgg{name: name, last: newWindow(withService), run: newWindow(withService)}
	for i := range a.quarters {
		a.quarters[i] = newWindow(withService)
	}
	return a
}

func (a *seriesAgg) add(s *sample) { a.quarters[a.cur].add(s) }

// keepIntervals makes the series report interval histograms.
func (a *seriesAgg) keepIntervals(withService bool) {
	w := newWindow(withService)
	a.pending = &w
}

// closeQuarter folds the current quarter into the run and reports the
// last second (the four newest quarters) and the run; then it starts a
// new quarter. lastSpan is how much time the last-second window covers;
// boundary says the quarter ends a whole second (or the run), which
// closes an interval.
func (a *seriesAgg) closeQuarter(lastSpan, runSpan time.Duration, boundary bool) Series {
	a.run.merge(&a.quarters[a.cur])
	s := a.series(lastSpan, runSpan)
	if p := a.pending; p != nil {
		p.merge(&a.quarters[a.cur])
		if boundary {
			s.Interval = p.record()
			p.reset()
		}
	}
	a.cur = (a.cur + 1) % quartersPerSecond
	a.quarters[a.cur].reset()
	return s
}

func (a *seriesAgg) series(lastSpan, runSpan time.Duration) Series {
	a.last.reset()
	for i := range a.quarters {
		a.last.merge(&a.quarters[i])
	}
	s := Series{Name: a.name}
	s.Last, s.LastService = a.last.figures(lastSpan)
	s.Run, s.RunService = a.run.figures(runSpan)
	return s
}
