package engine

import (
	"fmt"
	"maps"
	"runtime"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// aggregator turns the workers' sample logs into snapshots. It runs on the
// generator's Run goroutine only, so its state needs no lock.
type aggregator struct {
	g        *Generator
	t0       time.Time
	steps    []*seriesAgg
	all      *seriesAgg
	errors   ErrorCounts
	statuses map[int]int64
	checks   []Check
	checkOf  []int // step index -> index in checks, or -1
	open     bool
	// send lag of the open model, by quarter like the series
	lag     [quartersPerSecond]*hdr.Histogram
	lagLast *hdr.Histogram
	missed  int64
	cpu     cpuMeter
	// timing is each step's Server-Timing metrics (nil until one comes);
	// secondAt is when the second they gather began.
	timing       []*timingAgg
	timingCounts TimingCounts
	secondAt     time.Duration
}

func newAggregator(g *Generator) *aggregator {
	open := g.load.Model == "open"
	a := &aggregator{g: g, statuses: map[int]int64{}, open: open, all: newSeriesAgg(AllSeries, open)}
	if g.cfg.intervals {
		a.all.keepIntervals(open)
	}
	for _, st := range g.steps {
		a.steps = append(a.steps, newSeriesAgg(st.Name, open))
		if g.cfg.intervals {
			a.steps[len(a.steps)-1].keepIntervals(open)
		}
		idx := -1
		if name := st.checkName(); name != "" {
			idx = len(a.checks)
			a.checks = append(a.checks, Check{Name: name, Step: st.Name})
		}
		a.checkOf = append(a.checkOf, idx)
	}
	a.timing = make([]*timingAgg, len(g.steps))
	if open {
		for i := range a.lag {
			a.lag[i] = hdr.New(1, maxMicros, 3)
		}
		a.lagLast = hdr.New(1, maxMicros, 3)
	}
	return a
}

func (a *aggregator) start(t0 time.Time) {
	a.t0 = t0
	a.cpu.reset(t0)
}

func (a *aggregator) add(samples []sample) {
	for i := range samples {
		s := &samples[i]
		a.steps[s.step].add(s)
		a.all.add(s)
		a.errors.add(s.outcome)
		if s.status != 0 {
			a.statuses[int(s.status)]++
		}
		if c := a.checkOf[s.step]; c >= 0 && s.latency != 0 {
			if s.outcome == OutcomeOK {
				a.checks[c].Passed++
			} else {
				a.checks[c].Failed++
			}
		}
		if a.open && s.latency != 0 {
			lag := s.latency - s.service
			a.lag[a.all.cur].RecordValue(int64(max(lag, 1)))
			if time.Duration(lag)*time.Microsecond > LateThreshold {
				a.missed++
			}
		}
	}
}

// harvest drains every worker's log and builds the snapshot closing the
// given quarter of the run (0 for the final one).
func (a *aggregator) harvest(quarter int, final bool) *Snapshot {
	g := a.g
	g.mu.Lock()
	a.drain(&g.setupRec)
	for _, w := range g.workers {
		a.drain(w.rec)
	}
	kept := g.retired[:0]
	for _, w := range g.retired {
		gone := isClosed(w.done)
		a.drain(w.rec)
		if !gone {
			kept = append(kept, w)
		}
	}
	clear(g.retired[len(kept):])
	g.retired = kept
	inFlight := len(g.workers)
	load := g.load
	paused := g.paused.Load()
	g.mu.Unlock()

	now := time.Now()
	elapsed := now.Sub(a.t0)
	if !final {
		// Quarters are the run's clock; snapshot times are exact.
		elapsed = time.Duration(quarter) * tick
	}
	lastSpan := min(elapsed, time.Second)
	snap := &Snapshot{
		Elapsed:  elapsed,
		Duration: g.cfg.duration,
		Load:     load,
		Errors:   a.errors,
		Statuses: maps.Clone(a.statuses),
		Checks:   append([]Check(nil), a.checks...),
		Paused:   paused,
		Done:     final,
	}
	if !final && quarter%quartersPerSecond == 0 {
		snap.Second = quarter / quartersPerSecond
	}
	boundary := final || snap.Second > 0
	if boundary {
		a.closeTimingSecond(elapsed)
	}
	snap.ServerTiming = a.timingCounts
	for i, s := range a.steps {
		series := s.closeQuarter(lastSpan, elapsed, boundary)
		if t := a.timing[i]; t != nil {
			series.Timing = t.out
		}
		snap.Steps = append(snap.Steps, series)
	}
	lagQuarter := a.all.cur
	snap.All = a.all.closeQuarter(lastSpan, elapsed, boundary)
	snap.Health = a.health(now, snap, inFlight, lagQuarter)
	return snap
}

// closeTimingSecond closes the second of every step's Server-Timing
// metrics at elapsed.
func (a *aggregator) closeTimingSecond(elapsed time.Duration) {
	names := a.g.timingNames.list()
	for _, t := range a.timing {
		if t != nil {
			t.closeSecond(names, elapsed-a.secondAt, elapsed)
		}
	}
	a.secondAt = elapsed
}

func (a *aggregator) drain(r *recorder) { r.drainAll(a.add, a.addTimings) }

func (a *aggregator) health(now time.Time, snap *Snapshot, inFlight, lagQuarter int) Health {
	g := a.g
	h := Health{
		AchievedRate:  snap.All.Last.RPS,
		InFlight:      inFlight,
		Cores:         min(runtime.GOMAXPROCS(0), affinityCPUs()),
		CPU:           a.cpu.sample(now),
		Sharing:       g.cfg.sharing,
		Path:          g.Path(),
		PacerPriority: g.pacerPriority(),
		LoopIO:        g.loopIO(),
		Loops:         int(g.loopsUsed.Load()),
	}
	if a.open {
		h.TargetRate = snap.Load.Rate
		a.lagLast.Reset()
		for _, q := range a.lag {
			a.lagLast.Merge(q)
		}
		if a.lagLast.TotalCount() > 0 {
			v := a.lagLast.ValueAtPercentilesSlice([]float64{50, 99})
			h.SendLagP50 = time.Duration(v[0]) * time.Microsecond
			h.SendLagP99 = time.Duration(v[1]) * time.Microsecond
		}
		next := (lagQuarter + 1) % quartersPerSecond
		a.lag[next].Reset()
		h.Missed = a.missed
		if g.loopPath && now.After(g.start) {
			h.PacerCPU = float64(g.pacerSpin()) / float64(now.Sub(g.start))
		}
		if s := g.sched.Load(); s != nil && !snap.Paused {
			// Starts due at or after the run's end are not owed: the
			// run ended (see pastEnd).
			by := now
			if g.pastEnd(by) {
				by = g.start.Add(g.cfg.duration - 1)
			}
			h.Backlog = max(0, s.due(by)-g.slot.Load()) + g.unmade.Load()
		}
	}
	h.Warning = healthWarning(h, g.maxOpen, snap.Elapsed)
	if n := g.rowless.Load(); n > 0 {
		out := fmt.Sprintf("data %s ran out: its %d rows are used once each (unique), and %d users found none and did not run", g.rows.Name, len(g.rows.Rows), n)
		h.Warning = strings.TrimPrefix(h.Warning+"; "+out, "; ")
	}
	return h
}

// healthWarning says when the figures describe the generator rather than
// the target.
func healthWarning(h Health, maxOpen int, elapsed time.Duration) string {
	if elapsed < time.Second {
		return "" // too early to judge rates
	}
	if h.Cores > 0 && h.CPU >= 0.9*float64(h.Cores) {
		return fmt.Sprintf("generator CPU-bound (%.1f of %d cores): latency includes perflab's own queueing", h.CPU, h.Cores)
	}
	if h.TargetRate > 0 && h.AchievedRate < 0.95*h.TargetRate && h.Backlog > 0 {
		if h.InFlight >= maxOpen {
			return fmt.Sprintf("all %d in-flight slots busy: the target answers too slowly for %.0f req/s", maxOpen, h.TargetRate)
		}
		return fmt.Sprintf("generator behind schedule: %.0f of %.0f req/s started", h.AchievedRate, h.TargetRate)
	}
	return ""
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// publish hands snap to every observer, then to every subscriber without
// ever blocking: a reader that has not taken the previous snapshot gets
// this one instead.
func (a *aggregator) publish(snap *Snapshot) {
	g := a.g
	g.mu.Lock()
	subs, observers := g.subs, g.observers
	g.mu.Unlock()
	for _, fn := range observers {
		fn(snap)
	}
	for _, ch := range subs {
		for {
			select {
			case ch <- snap:
			default:
				select {
				case <-ch:
				default:
				}
				continue
			}
			break
		}
	}
}

func (a *aggregator) closeSubs() {
	g := a.g
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, ch := range g.subs {
		close(ch)
	}
	g.subs = nil
}
