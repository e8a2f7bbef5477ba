package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTimeout bounds one request unless Timeout says otherwise.
const DefaultTimeout = 30 * time.Second

// stopGrace is how long in-flight requests may finish after the run ends
// before their connections are closed under them.
const stopGrace = time.Second

type config struct {
	duration  time.Duration
	timeout   time.Duration
	tls       *tls.Config
	maxBody   int
	stages    []Stage
	intervals bool
	sharing   string
	apart     bool
	path      string
	realtime  bool
}

// Option configures a Generator.
type Option func(*config)

// Duration ends the run after d; 0 (the default) runs until Stop or the
// context ends.
func Duration(d time.Duration) Option { return func(c *config) { c.duration = d } }

// Timeout bounds each request, connection included.
func Timeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// TLSConfig sets the client TLS configuration for https targets.
func TLSConfig(t *tls.Config) Option { return func(c *config) { c.tls = t } }

// MaxBody bounds how many bytes of one answer's body are kept
// (DefaultMaxBody unless set). An answer with a larger body fails as
// OutcomeTooLarge and its connection is closed: reading the rest could
// take forever on a body that never ends.
func MaxBody(n int) Option { return func(c *config) { c.maxBody = n } }

// IntervalHistograms makes every snapshot that closes a whole second, and
// the final one, carry each series' histogram of that interval
// (Series.Interval), for HDR interval logs.
func IntervalHistograms() Option { return func(c *config) { c.intervals = true } }

// SharingProcess names what runs in the generator's process beside it
// (e.g. "twin supervisor"), whose CPU the generator's figure includes;
// see Health.Sharing.
func SharingProcess(what string) Option { return func(c *config) { c.sharing = what } }

// Generator drives a scenario at a target under one arrival model and
// publishes snapshots of what it measures four times a second.
type Generator struct {
	scn    Scenario
	model  Model
	cfg    config
	steps  []Step // the run's setup, the users' setup, then each flow's steps
	nSetup int    // the run's setup steps
	nUser  int    // the users' setup steps, after the run's
	flows  []span // where each flow's steps are in steps
	// cycle deals the flows: entry k%len is the flow of the user in
	// position k (closed and max models) or of slot k (open model).
	cycle []uint8
	rows  *Rows
	// rowsTaken counts the data rows users took; rowless the users that
	// found none left (unique rows).
	rowsTaken atomic.Int64
	rowless   atomic.Int64
	// routes says where each step's requests go; SetStepURL swaps one.
	routes []atomic.Pointer[route]
	shared map[string]string // variables captured in setup

	mu        sync.Mutex
	workers   []*worker // taking part in the load
	retired   []*worker // asked to leave, drained until they have
	load      Load
	subs      []chan *Snapshot
	observers []func(*Snapshot)
	started   bool

	stopping atomic.Bool
	stopOnce sync.Once
	stopCh   chan struct{}
	stopAt   time.Time // when Stop was called; read once stopping is set
	// abortCtx ends when requests still in flight after the stop grace
	// are cut off; dials and TLS handshakes watch it.
	abortCtx context.Context
	abortAll context.CancelFunc

	// maxWorkers is how many workers the open-file limit leaves room
	// for, each holding a connection per endpoint.
	maxWorkers int

	paused   atomic.Bool
	resumeCh chan struct{} // closed on resume; guarded by mu

	// plan is the load's stages, if any; planOff is set once a live
	// change took over from it.
	plan    plan
	planOff atomic.Bool

	// open model
	sched atomic.Pointer[schedule]
	slot  atomic.Int64 // next slot to claim
	// unmade counts starts claimed and due by the stop that the stop
	// kept from being made (see forgo).
	unmade   atomic.Int64
	maxOpen  int
	openBusy atomic.Int64 // workers inside a request

	// loopPath says the event loops drive the load (see PathLoop); loops
	// are they, and nextLoop deals new workers among them.
	loopPath bool
	loops    []*evloop
	nextLoop int
	// loopsUsed is how many of the loops have taken a worker; pacers,
	// how many claim the open model's starts (see repace).
	loopsUsed, pacers atomic.Int32

	setupRec recorder
	// timingNames are the Server-Timing metric names the run records.
	timingNames timingNames
	start       time.Time
	// dry is set for a dry run, which skips think times.
	dry bool
}

// New checks the scenario and model and returns a generator ready to Run.
func New(scn Scenario, model Model, opts ...Option) (*Generator, error) {
	if err := scn.Validate(); err != nil {
		return nil, err
	}
	if model == nil {
		return nil, errors.New("no arrival model given")
	}
	cfg := config{timeout: DefaultTimeout, tls: &tls.Config{}, maxBody: DefaultMaxBody}
	for _, o := range opts {
		o(&cfg)
	}
	p := plan{start: levelOf(model), stages: cfg.stages}
	if err := validateModel(model, len(p.stages) > 0); err != nil {
		return nil, err
	}
	if err := p.validate(LoadOf(model).Model); err != nil {
		return nil, err
	}
	if len(p.stages) > 0 {
		if cfg.duration > 0 {
			return nil, errors.New("give a duration or stages, not both: the stages' durations add up to the run's")
		}
		cfg.duration = p.total()
	}
	if cfg.timeout <= 0 {
		return nil, fmt.Errorf("timeout must be above 0, got %s", cfg.timeout)
	}
	if cfg.duration < 0 {
		return nil, fmt.Errorf("duration must not be negative, got %s", cfg.duration)
	}
	if cfg.maxBody <= 0 {
		return nil, fmt.Errorf("max body must be above 0 bytes, got %d", cfg.maxBody)
	}
	g := &Generator{
		scn: scn, model: model, cfg: cfg, plan: p, rows: scn.Data,
		shared: map[string]string{},
		stopCh: make(chan struct{}),
	}
	g.layOut(scn)
	g.routes = make([]atomic.Pointer[route], len(g.steps))
	endpoints := map[endpoint]bool{}
	for i, st := range g.steps {
		r, err := newRoute(st)
		if err != nil {
			return nil, err
		}
		g.routes[i].Store(r)
		endpoints[r.ep] = true
	}
	if err := g.choosePath(); err != nil {
		return nil, err
	}
	g.maxWorkers = max(1, connLimit()/len(endpoints))
	g.load = LoadOf(model)
	asked := int(math.Ceil(p.peak()))
	switch m := model.(type) {
	case Closed:
		asked = max(asked, m.VUs)
	case Max:
		asked = max(asked, m.Conns)
	case Open:
		asked = m.MaxInFlight
		// The default cap gives way to the open-file limit; a cap asked
		// for does not.
		g.maxOpen = m.MaxInFlight
		if g.maxOpen == 0 {
			g.maxOpen = min(DefaultMaxInFlight, g.maxWorkers)
		}
	}
	if asked > g.maxWorkers {
		return nil, g.limitError(asked)
	}
	g.abortCtx, g.abortAll = context.WithCancel(context.Background())
	return g, nil
}

// Subscribe returns a channel that receives every snapshot, or the newest
// one when the reader falls behind, and is closed after the final
// (Done) snapshot. Call it before Run.
func (g *Generator) Subscribe() <-chan *Snapshot {
	ch := make(chan *Snapshot, 1)
	g.mu.Lock()
	g.subs = append(g.subs, ch)
	g.mu.Unlock()
	return ch
}

// Observe calls fn with every snapshot, in order, on the generator's own
// goroutine; none is ever skipped, so fn must be quick (a CSV row, not a
// screen). Call it before Run.
func (g *Generator) Observe(fn func(*Snapshot)) {
	g.mu.Lock()
	g.observers = append(g.observers, fn)
	g.mu.Unlock()
}

// Run performs the setup steps, then drives load until the duration
// passes, ctx ends or Stop is called, and returns the final snapshot.
// An error means the load could not start (a setup step failed).
func (g *Generator) Run(ctx context.Context) (*Snapshot, error) {
	g.mu.Lock()
	if g.started {
		g.mu.Unlock()
		return nil, errors.New("generator already ran")
	}
	g.started = true
	g.mu.Unlock()

	// A cancelled ctx stops the run at once, even while workers are still
	// being started.
	defer context.AfterFunc(ctx, g.Stop)()
	agg := newAggregator(g)
	ready := false
	defer func() {
		if !ready {
			agg.closeSubs()
		}
	}()
	setup := g.setupWorker()
	err := g.runSetup(setup)
	setup.closeConns()
	if err != nil {
		return nil, err
	}
	if err := g.startLoops(); err != nil {
		return nil, err
	}
	ready = true

	g.start = time.Now()
	agg.start(g.start)
	switch m := g.model.(type) {
	case Closed:
		g.resize(m.VUs)
	case Max:
		g.resize(m.Conns)
	case Open:
		s := &schedule{at: g.start}
		if len(g.plan.stages) > 0 {
			s.ramp = &ramp{p: g.plan}
		} else {
			s.interval = rateInterval(m.Rate)
		}
		g.sched.Store(s)
		g.resize(initialOpenWorkers(max(m.Rate, g.plan.peak()), g.maxOpen))
	}
	g.followPlan(0)
	g.tickUntilEnd(ctx, agg)
	g.Stop()
	g.drainWorkers()
	final := agg.harvest(0, true)
	agg.publish(final)
	agg.closeSubs()
	return final, nil
}

// tickUntilEnd publishes a snapshot every quarter second, follows the
// plan and grows the open model's workers, until the duration passes, ctx
// ends or Stop is called.
func (g *Generator) tickUntilEnd(ctx context.Context, agg *aggregator) {
	// The run's clock is the quarter tick: a duration that is a whole
	// number of quarters ends on a tick, so its last second gets its row.
	// Other durations end on their own timer.
	var end <-chan time.Time
	lastQuarter := -1
	if d := g.cfg.duration; d > 0 {
		if d%tick == 0 {
			lastQuarter = int(d / tick)
		} else {
			t := time.NewTimer(d)
			defer t.Stop()
			end = t.C
		}
	}
	var monitor <-chan time.Time
	if g.load.Model == "open" {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		monitor = t.C
	}
	next := time.NewTimer(tick)
	defer next.Stop()
	for quarter := 1; quarter != lastQuarter+1; {
		select {
		case <-next.C:
			g.followPlan(time.Duration(quarter) * tick)
			agg.publish(agg.harvest(quarter, false))
			quarter++
			next.Reset(time.Until(g.start.Add(time.Duration(quarter) * tick)))
			continue
		case <-monitor:
			g.growOpen()
			continue
		case <-end:
		case <-ctx.Done():
		case <-g.stopCh:
		}
		return
	}
}

// Stop ends the run; Run returns once in-flight requests have finished or
// been cut off.
func (g *Generator) Stop() {
	g.stopOnce.Do(func() {
		g.stopAt = time.Now()
		g.stopping.Store(true)
		close(g.stopCh)
		g.pokeLoops()
	})
}

// Pause stops starting new requests; requests in flight finish.
func (g *Generator) Pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused.Load() {
		return
	}
	g.resumeCh = make(chan struct{})
	g.paused.Store(true)
}

// Resume continues after Pause. The open model's schedule restarts from
// now rather than firing the requests it skipped.
func (g *Generator) Resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.paused.Load() {
		return
	}
	if s := g.sched.Load(); s != nil {
		g.sched.Store(&schedule{at: time.Now(), base: g.slot.Load(), interval: s.interval})
	}
	g.paused.Store(false)
	close(g.resumeCh)
}

// Paused reports whether the generator is paused.
func (g *Generator) Paused() bool { return g.paused.Load() }

// SetVUs changes the number of virtual users (closed model) or
// connections (max model) while running. Above what the open-file limit
// leaves room for, it sets that many and returns a *LimitError saying so.
func (g *Generator) SetVUs(n int) error {
	if n < 1 {
		return fmt.Errorf("need at least 1, got %d", n)
	}
	var clamped error
	if n > g.maxWorkers {
		clamped = g.limitError(n)
		n = g.maxWorkers
	}
	g.mu.Lock()
	switch g.load.Model {
	case "closed":
		g.load.VUs = n
	case "max":
		g.load.Conns = n
	default:
		g.mu.Unlock()
		return errors.New("the open model sets a rate, not users")
	}
	g.takeOverPlan()
	g.mu.Unlock()
	g.resize(n)
	return clamped
}

// SetRate changes the open model's rate while running; the new schedule
// starts now.
func (g *Generator) SetRate(r float64) error {
	if !(r > 0) {
		return fmt.Errorf("rate must be above 0, got %g", r)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.load.Model != "open" {
		return errors.New("only the open model has a rate")
	}
	g.load.Rate = r
	g.takeOverPlan()
	g.repace()
	if g.sched.Load() != nil {
		g.sched.Store(&schedule{at: time.Now(), base: g.slot.Load(), interval: rateInterval(r)})
	}
	return nil
}

// Duration is the planned length of the run; 0 runs until stopped.
func (g *Generator) Duration() time.Duration { return g.cfg.duration }

// Load reports the arrival model and its current setting.
func (g *Generator) Load() Load {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.load
}

// resize starts or retires workers until n take part. Retired workers
// finish the request they are in and leave.
func (g *Generator) resize(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	// Starting many thousands of workers takes a while on a busy machine;
	// a stop meanwhile ends it.
	for len(g.workers) < n && !g.stopping.Load() {
		w := g.newUser(len(g.workers))
		g.workers = append(g.workers, w)
		g.launch(w)
	}
	for len(g.workers) > n {
		w := g.workers[len(g.workers)-1]
		g.workers = g.workers[:len(g.workers)-1]
		w.quit.Store(true)
		close(w.wake)
		if w.ev != nil {
			w.ev.poke()
		}
		g.retired = append(g.retired, w)
	}
}

// growOpen adds open-model workers when scheduled requests are due and no
// worker is free to start them: the target is slower than the schedule
// needs, and the model must not wait for it.
func (g *Generator) growOpen() {
	s := g.sched.Load()
	if s == nil || g.paused.Load() {
		return
	}
	backlog := s.due(time.Now()) - g.slot.Load()
	if backlog <= 0 {
		return
	}
	g.mu.Lock()
	n := len(g.workers)
	g.mu.Unlock()
	if g.freeOpenWorkers(n) > 0 {
		return // a free worker will take the slot
	}
	g.resize(min(n+int(backlog), g.maxOpen))
}

// waitIfPaused blocks while paused; it reports false if the run ended or
// the worker was retired meanwhile.
func (g *Generator) waitIfPaused(w *worker) bool {
	if !g.paused.Load() {
		return true
	}
	g.mu.Lock()
	ch := g.resumeCh
	g.mu.Unlock()
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-g.stopCh:
		return false
	case <-w.wake:
		return false
	}
}

// drainWorkers waits for workers to finish their last request, then
// closes the connections, and cuts short the connects and TLS handshakes,
// of any still waiting on a slow target: the end of a run never waits for
// a request's timeout.
func (g *Generator) drainWorkers() {
	g.mu.Lock()
	all := append(append([]*worker{}, g.workers...), g.retired...)
	g.mu.Unlock()
	deadline := time.NewTimer(stopGrace)
	defer deadline.Stop()
	for _, w := range all {
		select {
		case <-w.done:
			continue
		case <-deadline.C:
		}
		g.abortAll()
		for _, w := range all {
			w.abort()
		}
		break
	}
	g.abortAll()
	g.pokeLoops()
	for _, w := range all {
		<-w.done
	}
	for _, l := range g.loops {
		<-l.done
	}
}

// runSetup performs the run's setup steps once, in order; every one must
// pass, since the load depends on what they capture.
func (g *Generator) runSetup(w *worker) error {
	for i := 0; i < g.nSetup; i++ {
		if s, ok := w.do(i, time.Time{}); s.outcome != OutcomeOK || !ok {
			st := g.steps[i]
			return fmt.Errorf("setup step %s (%s %s) failed: %s", st.Name, methodOf(st), expand(st.URL, g.shared), w.failure(i, s))
		}
	}
	return nil
}

// layOut lines the scenario's steps up as workers index them: the run's
// setup, the users' setup, then each flow's steps; and deals the flows.
func (g *Generator) layOut(scn Scenario) {
	g.steps = append(append([]Step{}, scn.Setup...), scn.UserSetup...)
	g.nSetup, g.nUser = len(scn.Setup), len(scn.UserSetup)
	flows := scn.flows()
	for _, f := range flows {
		g.flows = append(g.flows, span{from: len(g.steps), to: len(g.steps) + len(f.Steps)})
		g.steps = append(g.steps, f.Steps...)
	}
	g.cycle, _ = flowCycle(flows) // Validate checked the weights
}

// setupWorker is the worker that runs the run's setup: its captures are
// everyone's.
func (g *Generator) setupWorker() *worker {
	w := g.newWorker()
	w.rec = &g.setupRec
	w.vars = g.shared
	return w
}

// span is a run of steps, from index from up to to.
type span struct{ from, to int }

func methodOf(st Step) string {
	if st.Method == "" {
		return "GET"
	}
	return st.Method
}

// replayable reports whether a request with this method may be sent again
// when its kept-alive connection broke before it was sent whole. Only the
// safe methods, which clients resend on their own: Go's net/http replays
// GET, HEAD, OPTIONS and TRACE, and PUT or DELETE only with an idempotency
// key. PUT and DELETE are idempotent (RFC 9110, 9.2.2), but a load test
// should report what its users' clients would meet, and for a write that
// is the failure, not a repaired count.
func replayable(method string) bool {
	switch method {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	return false
}
