package tui

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"perflab/engine"
	"perflab/experiments"
)

// fakeStage is a Stage with scripted snapshots and a twin that answers
// at once, recording every call the dashboard makes.
type fakeStage struct {
	mu       sync.Mutex
	exp      *experiments.Experiment // nil: an external URL
	title    string
	settings experiments.Settings
	load     engine.Load
	paused   bool
	why      experiments.ServerFigures
	snaps    chan *engine.Snapshot
	calls    []string
	sweep    []experiments.SweepCell // sent by StudySweep, in order
	setErr   error
	closed   int
	// vusLimit, when set, caps SetVUs as the open-file limit does.
	vusLimit int
	// gate, when set, holds every SetKnob until the test lets it go.
	gate chan struct{}
	// holdSweep keeps StudySweep running after its cells, as a sweep
	// in the middle of a run, until it is stopped.
	holdSweep bool
}

// fakeTwin is a fakeStage with a twin behind it.
type fakeTwin struct{ *fakeStage }

func newFakeTwin(e *experiments.Experiment, s experiments.Settings) *fakeTwin {
	f := &fakeStage{exp: e, title: e.Title, settings: s.Clone(),
		load:  engine.Load{Model: "closed", VUs: e.Plan.VUs, Think: e.Plan.Think},
		snaps: make(chan *engine.Snapshot, 1)}
	f.why = experiments.ServerFigures{QueriesPerRequest: 41, BusyWorkers: 4, Workers: 4,
		CPUPerWorker: []float64{0.24, 0.25, 0.23, 0.26}, Profile: "django", InstanceCPUs: 1}
	if s["db"] == "postgres" {
		f.why.DB, f.why.DBTransactionsPS, f.why.DBConnectionsPS, f.why.DBConnections, f.why.DBTimePerRequest = "postgres", 1890, 45, 4, 11.6
	}
	return &fakeTwin{f}
}

// feed delivers a snapshot through the stage.
func (f *fakeStage) feed(snap *engine.Snapshot) { f.snaps <- snap }

func newFakeURL(l engine.Load) *fakeStage {
	return &fakeStage{title: "GET http://127.0.0.1:8080/api/items", load: l, snaps: make(chan *engine.Snapshot, 1)}
}

func (f *fakeStage) record(format string, a ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, a...))
}

func (f *fakeStage) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string{}, f.calls...)
}

func (f *fakeStage) Title() string { return f.title }

func (f *fakeStage) Info() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.exp == nil {
		return "external target, " + f.load.String()
	}
	db := ""
	if f.settings["db"] == "postgres" {
		db = ", PostgreSQL"
	}
	return fmt.Sprintf("twin: profile %s%s, 1 instance CPU, %s workers up", f.settings["profile"], db, f.settings["workers"])
}

func (f *fakeStage) Snapshots() <-chan *engine.Snapshot { return f.snaps }

func (f *fakeStage) Err() error { return nil }

func (f *fakeTwin) Knobs() []experiments.KnobValue {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []experiments.KnobValue
	for _, k := range testKnobs {
		out = append(out, experiments.KnobValue{Knob: k, Value: f.settings[k.Name]})
	}
	return out
}

func (f *fakeTwin) SetKnob(name, value string) error {
	f.record("set %s=%s", name, value)
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.setErr != nil {
		return f.setErr
	}
	i := slices.IndexFunc(testKnobs, func(k *experiments.Knob) bool { return k.Name == name })
	if i < 0 {
		return fmt.Errorf("no knob %s", name)
	}
	if err := testKnobs[i].Validate(value); err != nil {
		return err
	}
	f.settings[name] = value
	if name == "cache" && value == "on" {
		f.why.CacheLookups, f.why.CacheHitPct, f.why.QueriesPerRequest = 45, 97.8, 0.1
	}
	return nil
}

func (f *fakeStage) Load() engine.Load {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.load
}

func (f *fakeStage) SetVUs(n int) error {
	f.record("vus %d", n)
	f.mu.Lock()
	defer f.mu.Unlock()
	var capped error
	if f.vusLimit > 0 && n > f.vusLimit {
		capped = &engine.LimitError{Asked: n, Max: f.vusLimit, Files: f.vusLimit + 128}
		n = f.vusLimit
	}
	switch f.load.Model {
	case "closed":
		f.load.VUs = n
	case "max":
		f.load.Conns = n
	default:
		return errors.New("the open model sets a rate, not users")
	}
	return capped
}

func (f *fakeStage) SetRate(r float64) error {
	f.record("rate %g", r)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.load.Model != "open" {
		return errors.New("only the open model has a rate")
	}
	f.load.Rate = r
	return nil
}

func (f *fakeStage) Pause() {
	f.record("pause")
	f.mu.Lock()
	f.paused = true
	f.mu.Unlock()
}

func (f *fakeStage) Resume() {
	f.record("resume")
	f.mu.Lock()
	f.paused = false
	f.mu.Unlock()
}

func (f *fakeStage) Paused() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paused
}

func (f *fakeTwin) ServerFigures() experiments.ServerFigures {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.why
}

func (f *fakeTwin) Study() (experiments.StudyCell, string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.exp.StudyFor(f.settings)
	return c, f.exp.StudyGap(f.settings), ok
}

func (f *fakeTwin) Lesson() string { return f.exp.Lesson }

func (f *fakeTwin) Measured() string { return f.exp.Plan.Measured }

func (f *fakeTwin) StudySweep(ctx context.Context, repeat int, onCell func(experiments.SweepCell)) error {
	if repeat > 1 {
		f.record("sweep x%d", repeat)
	} else {
		f.record("sweep")
	}
	for _, c := range f.sweep {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		onCell(c)
	}
	if f.holdSweep {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (f *fakeStage) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed++
	return nil
}

// snapshot builds the load's state at quarter i of a likes-like run:
// latencies wander around the seed's uncached figures, and from cached
// on they drop to its cached ones. Deterministic, so screens compare
// byte for byte.
func snapshot(i int, cached bool, l engine.Load) *engine.Snapshot {
	x := float64(i)
	d := func(msv float64) time.Duration { return time.Duration(msv * float64(time.Millisecond)) }
	// A seconds-long wave plus a jitter of each quarter second, as real
	// per-second figures have both.
	j := jitter(i)
	p50, p90, p99, mean, rps := 33.4+4*math.Sin(x/7)+3*j, 192+30*math.Sin(x/5)+20*j, 611+150*math.Sin(x/3)+60*j, 152.1+10*math.Sin(x/9)+12*j, 41.2+3*math.Sin(x/11)+2*j
	if cached {
		p50, p90, p99, mean, rps = 27.3+2*math.Sin(x/7)+2*j, 74.6+8*math.Sin(x/5)+6*j, 140+20*math.Sin(x/3)+15*j, 45.6+3*math.Sin(x/9)+4*j, 41.4+2*math.Sin(x/11)+2*j // the users think for 1 s: throughput barely moves
	}
	elapsed := time.Duration(i+1) * 250 * time.Millisecond
	reqs := int64(rps * elapsed.Seconds())
	last := engine.Figures{Requests: int64(rps), Answered: int64(rps), RPS: rps,
		Min: d(2.1), Mean: d(mean), P50: d(p50), P90: d(p90), P95: d(p90 * 1.5), P99: d(p99), Max: d(p99 * 1.4)}
	run := engine.Figures{Requests: reqs, Answered: reqs, RPS: 41.5, Min: d(1.9), Mean: d(149.8), P50: d(31.9),
		P90: d(188.3), P95: d(290.1), P99: d(598), Max: d(2230)}
	all := engine.Series{Name: engine.AllSeries, Last: last, Run: run, LastService: last, RunService: run}
	second := 0
	if (i+1)%4 == 0 {
		second = (i + 1) / 4 // this snapshot closes a whole second
	}
	return &engine.Snapshot{
		Elapsed: elapsed, Duration: 2 * time.Minute, Load: l, All: all, Steps: []engine.Series{all}, Second: second,
		Checks: []engine.Check{{Name: "login succeeded", Step: "signin", Passed: 1}, {Name: "status was 200", Step: "likes", Passed: reqs}},
		Health: engine.Health{AchievedRate: rps, InFlight: 6, CPU: 0.031, Cores: 1},
	}
}

// withSplit gives the measured step of s the twin's Server-Timing: the
// queue, the 42 queries of the naive likes list, the view and the rest;
// with the cache on, a cache lookup on every answer, the database on the
// few misses, and less queue.
func withSplit(s *engine.Snapshot, i int, cached bool) *engine.Snapshot {
	j := jitter(i)
	n := s.All.Last.Answered
	part := func(name string, msv float64, carried int64) engine.Timing {
		f := engine.Figures{Requests: carried, Answered: carried, P50: time.Duration(msv * float64(time.Millisecond))}
		return engine.Timing{Name: name, Last: f, Run: f}
	}
	ts := []engine.Timing{part("queue", 8+2*j, n), part("db", 20+j, n), part("view", 4, n), part(engine.TimingRest, 1, n)}
	if cached {
		ts = []engine.Timing{part("queue", 15+2*j, n), part("db", 20+j, max(n/30, 1)), part("cache", 0.4, n),
			part("view", 9, n), part(engine.TimingRest, 1, n)}
	}
	s.All.Timing = ts
	s.Steps[0].Timing = ts
	return s
}

// jitter is a repeatable pseudo-random value in [-1, 1) for snapshot i.
func jitter(i int) float64 {
	v := math.Sin(float64(i)*12.9898) * 43758.5453
	return 2*(v-math.Floor(v)) - 1
}

// fakeRace is a Race whose events the test sends itself.
type fakeRace struct {
	mu      sync.Mutex
	starts  []RaceConfig
	events  chan RaceEvent
	closed  int
	startFn func(c RaceConfig) error
}

func newFakeRace() *fakeRace { return &fakeRace{} }

func (r *fakeRace) Setup() RaceSetup {
	return RaceSetup{
		Defaults: RaceConfig{Images: 40, TimeScale: 1},
		Strategies: []RaceStrategy{
			{Name: "sequential", Resources: "1 thread", StudySeconds: 34.59, StudyImages: 40},
			{Name: "multiprocess", Resources: "4 procs", StudySeconds: 9.31, StudyImages: 40},
			{Name: "distributed", Resources: "16 nodes", StudySeconds: 2.76, StudyImages: 40},
			{Name: "async", Resources: "1 thread", StudySeconds: 0.86, StudyImages: 40},
		},
		Mock:   "token .10  signed .05  upload .20  recognise .50 s",
		Lesson: "For network-I/O-bound work, non-blocking async beats adding processes or machines, which mostly buy CPUs that sit waiting.",
		Cores:  2,
	}
}

func (r *fakeRace) Start(ctx context.Context, c RaceConfig) (<-chan RaceEvent, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starts = append(r.starts, c)
	r.events = make(chan RaceEvent, 512)
	return r.events, nil
}

func (r *fakeRace) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed++
	return nil
}

// raceProgress is the race a quarter of the way in at time-scale 1.
func raceProgress() []RaceEvent {
	return []RaceEvent{
		{Progress: RaceProgress{Strategy: "sequential", Done: 11, Total: 40, Elapsed: 9400 * time.Millisecond}},
		{Progress: RaceProgress{Strategy: "multiprocess", Done: 40, Total: 40, Elapsed: 7710 * time.Millisecond}},
		{Progress: RaceProgress{Strategy: "distributed", Done: 40, Total: 40, Elapsed: 2530 * time.Millisecond}},
		{Progress: RaceProgress{Strategy: "async", Done: 40, Total: 40, Elapsed: 860 * time.Millisecond}},
	}
}

func raceDone() RaceEvent {
	return RaceEvent{Done: true, Results: []RaceResult{
		{Strategy: "sequential", Images: 40, Workers: 1, Seconds: 34.21, IdealSeconds: 34.0, Speedup: 1, CPUSeconds: 0.41, ImagesPerCPUSecond: 98},
		{Strategy: "multiprocess", Images: 40, Workers: 4, Seconds: 7.71, IdealSeconds: 7.6, Speedup: 4.4, CPUSeconds: 0.52, ImagesPerCPUSecond: 77,
			Coordinator: "queue, lock", CoordinatorCPUSeconds: 0.06},
		{Strategy: "distributed", Images: 40, Workers: 16, Seconds: 2.53, IdealSeconds: 2.5, Speedup: 13.5, CPUSeconds: 1.9, ImagesPerCPUSecond: 21,
			Coordinator: "Redis, reaper", CoordinatorCPUSeconds: 0.31},
		{Strategy: "async", Images: 40, Workers: 1, Seconds: 0.86, IdealSeconds: 0.85, Speedup: 39.8, CPUSeconds: 0.12, ImagesPerCPUSecond: 333},
	}}
}
