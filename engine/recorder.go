package engine

import (
	"runtime"
	"sync/atomic"
	"time"
)

// sample is the flat record of one request.
type sample struct {
	// latency is microseconds from the request's intended start (the
	// open model's schedule; otherwise the actual send) to the answer.
	latency uint32
	// service is microseconds from the actual send to the answer.
	service uint32
	status  uint16
	step    uint8
	outcome Outcome
}

// maxMicros is the largest latency recorded: the histograms' upper bound.
const maxMicros = 60_000_000

func micros(d time.Duration) uint32 {
	us := (d + 500) / time.Microsecond
	switch {
	case us < 1:
		return 1
	case us > maxMicros:
		return maxMicros
	}
	return uint32(us)
}

// recorder is one worker's private log of samples, double-buffered so the
// aggregator can take the full half while the worker keeps writing into
// the other, with no lock and no channel on the worker's side.
//
// It logs samples rather than filling per-worker histograms because a
// three-digit HDR histogram over 1 us..60 s holds 17k counters (139 KB):
// per worker, per step and doubled for swapping, a thousand users would
// need hundreds of megabytes, while a log needs 12 bytes per request
// between two harvests and the aggregator fills one histogram per series.
//
// Protocol: record makes seq odd, writes into logs[active], makes seq even.
// drain flips active, then waits until seq is not the odd value it saw, so
// a record that read the old index has finished before the old log is read.
//
// An answer that carried Server-Timing metrics logs them beside its
// sample, in the same half, as a few timingSamples.
type recorder struct {
	seq     atomic.Uint64
	active  atomic.Uint32
	_       [48]byte // keep the worker's hot fields off the next recorder's line
	logs    [2][]sample
	timings [2][]timingSample
}

func (r *recorder) record(s sample) {
	r.seq.Add(1)
	i := r.active.Load()
	r.logs[i] = append(r.logs[i], s)
	r.seq.Add(1)
}

// recordTimed logs a sample and its answer's Server-Timing metrics.
func (r *recorder) recordTimed(s sample, ts []timingSample) {
	r.seq.Add(1)
	i := r.active.Load()
	r.logs[i] = append(r.logs[i], s)
	r.timings[i] = append(r.timings[i], ts...)
	r.seq.Add(1)
}

// drain hands the samples logged since the previous drain to fn, and
// drops their timings.
func (r *recorder) drain(fn func([]sample)) { r.drainAll(fn, nil) }

// drainAll hands the samples logged since the previous drain to fn and
// their Server-Timing metrics to tfn (when not nil). Only the aggregator
// calls it, never concurrently with itself.
func (r *recorder) drainAll(fn func([]sample), tfn func([]timingSample)) {
	old := r.active.Load()
	r.active.Store(old ^ 1)
	if s := r.seq.Load(); s&1 == 1 {
		for r.seq.Load() == s {
			runtime.Gosched()
		}
	}
	fn(r.logs[old])
	if tfn != nil {
		tfn(r.timings[old])
	}
	r.logs[old] = reuse(r.logs[old])
	r.timings[old] = reuse(r.timings[old])
}

// reuse empties a log, keeping its backing array unless a burst made it
// large.
func reuse[T any](log []T) []T {
	if cap(log) > 1<<16 {
		return nil
	}
	return log[:0]
}
