package experiments

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"perflab/engine"
	"perflab/server"
)

// Session is one experiment live on the twin: the twin configured by the
// experiment's settings, and load runs against it. Knob changes apply to
// the twin (and to the run in progress) while it goes on.
type Session struct {
	exp  *Experiment
	twin *server.Twin

	mu       sync.Mutex
	settings Settings
	gen      *engine.Generator // the run in progress, if any

	figures figuresMeter

	closeOnce sync.Once
	closeErr  error
}

// Open starts the twin for experiment e with settings s. base carries what
// the settings do not: addresses, Redis, data directory.
func Open(ctx context.Context, e *Experiment, s Settings, base server.Config) (*Session, error) {
	for _, k := range e.Knobs() {
		if err := e.Check(k.Name, s[k.Name]); err != nil {
			return nil, err
		}
	}
	cfg, err := TwinConfig(base, s)
	if err != nil {
		return nil, err
	}
	twin, err := server.Start(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("start the twin: %w", err)
	}
	sess := &Session{exp: e, twin: twin, settings: s.Clone()}
	sess.figures.start(twin)
	return sess, nil
}

// Experiment is the session's experiment.
func (s *Session) Experiment() *Experiment { return s.exp }

// Twin is the running twin.
func (s *Session) Twin() *server.Twin { return s.twin }

// Settings are the knob values in force.
func (s *Session) Settings() Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settings.Clone()
}

// Site is where the twin answers now.
func (s *Session) Site() Site {
	return Site{API: s.twin.AppURL(), Page: s.twin.SiteURL()}
}

// Set changes one knob live; it returns once the twin runs with it.
func (s *Session) Set(ctx context.Context, knob, value string) error {
	return s.Configure(ctx, map[string]string{knob: value})
}

// Configure changes several knobs at once, live. A run in progress keeps
// going; if the page moved (offload), its requests follow it.
func (s *Session) Configure(ctx context.Context, changes map[string]string) error {
	s.mu.Lock()
	next, err := s.exp.Apply(s.settings, changes)
	cur := s.settings
	s.mu.Unlock()
	if err != nil {
		return err
	}
	for name, v := range changes {
		if k, _ := KnobNamed(name); !k.Live() && v != cur[name] {
			return fmt.Errorf("--%s is set when the twin starts and cannot change while it runs", name)
		}
	}
	cfg, err := TwinConfig(s.twin.Config(), next)
	if err != nil {
		return err
	}
	// The page's requests must never reach a server that stopped serving
	// it: moving to the edge, they follow first; moving back, the
	// instance serves it again first.
	toEdge := cfg.Offload && !s.twin.Config().Offload
	if toEdge {
		if err := s.followPage(ctx, s.twin.EdgeURL()); err != nil {
			return err
		}
	}
	if err := s.twin.Apply(ctx, cfg); err != nil {
		return err
	}
	s.mu.Lock()
	s.settings = next
	s.mu.Unlock()
	if !toEdge {
		return s.followPage(ctx, s.twin.SiteURL())
	}
	return nil
}

// followPage points the run in progress at the page's new home.
func (s *Session) followPage(ctx context.Context, base string) error {
	gen := s.Generator()
	if gen == nil || s.exp.Plan.PageStep == "" {
		return nil
	}
	return gen.SetStepURL(ctx, s.exp.Plan.PageStep, base+"/")
}

// DefaultModel is the experiment's load: the seed's users and think time.
func (e *Experiment) DefaultModel() engine.Model {
	return engine.Closed{VUs: e.Plan.VUs, Think: e.Plan.Think}
}

// Run drives one load run against the twin until its duration passes or
// ctx ends, calling observe (if set) with every snapshot on the
// generator's goroutine, and returns the final snapshot. A nil model is
// the experiment's default.
func (s *Session) Run(ctx context.Context, model engine.Model, observe func(*engine.Snapshot), opts ...engine.Option) (*engine.Snapshot, error) {
	gen, err := s.NewRun(model, opts...)
	if err != nil {
		return nil, err
	}
	if observe != nil {
		gen.Observe(observe)
	}
	return s.Drive(ctx, gen)
}

// NewRun prepares a load run against the twin, for the caller to observe
// or subscribe to before Drive starts it. A nil model is the
// experiment's default.
func (s *Session) NewRun(model engine.Model, opts ...engine.Option) (*engine.Generator, error) {
	if model == nil {
		model = s.exp.DefaultModel()
	}
	// The twin's workers, task worker, Redis and edge are processes of
	// their own; what of it runs in this one is their supervisor.
	opts = append([]engine.Option{engine.SharingProcess("twin supervisor")}, opts...)
	if s.twin.Apart() {
		// The twin is on its own cores: the event loops may have these.
		opts = append([]engine.Option{engine.TargetApart()}, opts...)
	}
	return engine.New(s.exp.Plan.Scenario(s.Site()), model, opts...)
}

// Drive runs gen, made by NewRun, to its end. While it runs it is the
// session's run in progress, which knob changes keep pointed at the twin.
func (s *Session) Drive(ctx context.Context, gen *engine.Generator) (*engine.Snapshot, error) {
	s.mu.Lock()
	if s.gen != nil {
		s.mu.Unlock()
		return nil, errors.New("a run is already in progress in this session")
	}
	s.gen = gen
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.gen = nil
		s.mu.Unlock()
	}()
	// The page may have moved between NewRun and now.
	if err := s.followPage(ctx, s.twin.SiteURL()); err != nil {
		return nil, err
	}
	return gen.Run(ctx)
}

// Generator is the run in progress, or nil between runs.
func (s *Session) Generator() *engine.Generator {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// ServerFigures reports the twin's figures over the last second.
func (s *Session) ServerFigures() ServerFigures {
	w := s.figures.read()
	s.mu.Lock()
	w.Profile = s.settings["profile"]
	s.mu.Unlock()
	if w.Profile == "" {
		w.Profile = s.twin.Config().Profile
	}
	return w
}

// Close stops the twin; the caller ends any run first. Closing again
// does nothing and reports the first close's error.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		s.figures.stop()
		s.closeErr = s.twin.Close()
	})
	return s.closeErr
}

// figuresPeriod is how often the twin's figures are sampled.
const figuresPeriod = 250 * time.Millisecond

// figuresMeter samples the twin's cumulative stats four times a second and
// turns the last second's differences into rates.
type figuresMeter struct {
	mu      sync.Mutex
	samples []server.Stats // newest last, about a second's worth
	done    chan struct{}
	stopped chan struct{}
}

func (m *figuresMeter) start(t *server.Twin) {
	m.done = make(chan struct{})
	m.stopped = make(chan struct{})
	go func() {
		defer close(m.stopped)
		tick := time.NewTicker(figuresPeriod)
		defer tick.Stop()
		for {
			st := t.Stats()
			m.mu.Lock()
			m.samples = append(m.samples, st)
			if len(m.samples) > int(time.Second/figuresPeriod)+1 {
				m.samples = m.samples[1:]
			}
			m.mu.Unlock()
			select {
			case <-tick.C:
			case <-m.done:
				return
			}
		}
	}()
}

func (m *figuresMeter) stop() {
	close(m.done)
	<-m.stopped
}

func (m *figuresMeter) read() ServerFigures {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.samples) == 0 {
		return ServerFigures{}
	}
	return figuresBetween(m.samples[0], m.samples[len(m.samples)-1])
}

// figuresBetween turns two samples of the twin's cumulative stats into the
// last second's figures.
func figuresBetween(old, cur server.Stats) ServerFigures {
	w := ServerFigures{
		RedisErrors:  int64(cur.Total.RedisErrors + cur.Tasks.RedisErrors),
		QueueDepth:   cur.Tasks.QueueDepth,
		TasksApplied: int64(cur.Tasks.Applied),
		Workers:      cur.WorkersUp,
		Restarts:     int64(cur.Total.Restarts),
		Profile:      cur.Config.Profile,
		InstanceCPUs: cur.Config.InstanceCPUs,
		DB:           cur.DB.Kind,
	}
	span := cur.Time.Sub(old.Time).Seconds()
	req := cur.Total.APIRequests - old.Total.APIRequests
	if req > 0 {
		w.QueriesPerRequest = float64(cur.Total.DBQueries-old.Total.DBQueries) / float64(req)
	}
	if cur.DB.Kind == server.DBPostgres && cur.DB.Reachable && span > 0 {
		w.DBTransactionsPS = float64(cur.DB.Transactions-old.DB.Transactions) / span
		w.DBConnectionsPS = float64(cur.DB.Sessions-old.DB.Sessions) / span
		w.DBConnections = cur.DB.Connections
		if req > 0 {
			w.DBTimePerRequest = 1000 * (cur.DB.ActiveSeconds - old.DB.ActiveSeconds) / float64(req)
		}
	}
	hits := cur.Total.CacheHits - old.Total.CacheHits
	lookups := hits + cur.Total.CacheMisses - old.Total.CacheMisses
	w.CacheLookups = int64(lookups)
	if lookups > 0 {
		w.CacheHitPct = 100 * float64(hits) / float64(lookups)
	}
	before := map[int]server.WorkerStats{}
	for _, ws := range old.Workers {
		before[ws.Slot] = ws
	}
	for _, ws := range cur.Workers {
		if ws.State != "up" {
			continue
		}
		if ws.InFlight > 0 {
			w.BusyWorkers++
		}
		cpu := 0.0
		if prev, ok := before[ws.Slot]; ok && span > 0 && prev.PID == ws.PID {
			cpu = (ws.CPUSeconds - prev.CPUSeconds) / span
		}
		w.CPUPerWorker = append(w.CPUPerWorker, cpu)
	}
	return w
}
