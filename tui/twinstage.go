package tui

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"perflab/engine"
	"perflab/experiments"
	"perflab/server/proc"
)

// Seed sweep timing on the dashboard: short enough to watch, long enough
// for every configuration to settle.
const (
	sweepRunLength = 10 * time.Second
	sweepWarmup    = 2 * time.Second
)

// TwinStage is an experiment live on the twin: a session and the load
// runs against it, one after another (the live load, a seed sweep's runs,
// the live load again), seen through one stream of snapshots whose clock
// keeps going across runs.
type TwinStage struct {
	sess     *experiments.Session
	opts     []engine.Option
	duration time.Duration // of the live load; 0 until closed

	ctx    context.Context
	cancel context.CancelFunc
	out    chan *engine.Snapshot
	done   chan struct{}
	err    error // set before done closes

	mu     sync.Mutex
	model  engine.Model
	paused bool
	gen    *engine.Generator // the run in progress
	offset time.Duration     // elapsed time of the runs before it
	sweep  *sweepRequest     // asked for, not yet started
	// sweeping is set from a sweep's request until it has finished.
	sweeping bool

	closeOnce sync.Once
}

type sweepRequest struct {
	ctx    context.Context
	onCell func(SweepCell)
	done   chan error
}

// StartTwinStage starts the live load of sess's experiment under model
// (nil: the experiment's own), for duration (0: until Close).
func StartTwinStage(sess *experiments.Session, model engine.Model, duration time.Duration, opts ...engine.Option) *TwinStage {
	if model == nil {
		model = sess.Experiment().DefaultModel()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &TwinStage{
		sess: sess, opts: opts, duration: duration, model: model,
		ctx: ctx, cancel: cancel,
		out:  make(chan *engine.Snapshot, 1),
		done: make(chan struct{}),
	}
	go s.drive()
	return s
}

// drive runs the live load; a sweep request stops it, runs the sweep and
// starts it again.
func (s *TwinStage) drive() {
	defer close(s.done)
	defer close(s.out)
	for {
		final, err := s.run(s.ctx, s.currentModel(), s.duration)
		if err != nil && s.ctx.Err() == nil {
			s.err = err
			return
		}
		req := s.takeSweep()
		if req == nil || s.ctx.Err() != nil {
			if final != nil {
				s.forward(final, true)
			}
			if req != nil {
				req.done <- s.ctx.Err()
			}
			return
		}
		err = s.runSweep(req)
		s.mu.Lock()
		s.sweeping = false
		s.mu.Unlock()
		req.done <- err
	}
}

func (s *TwinStage) currentModel() engine.Model {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.model
}

func (s *TwinStage) takeSweep() *sweepRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	req := s.sweep
	s.sweep = nil
	return req
}

// run drives one load run, forwarding its snapshots on the stage's clock.
func (s *TwinStage) run(ctx context.Context, model engine.Model, d time.Duration) (*engine.Snapshot, error) {
	gen, err := s.sess.NewRun(model, append(append([]engine.Option{}, s.opts...), engine.Duration(d))...)
	if err != nil {
		return nil, err
	}
	gen.Observe(func(snap *engine.Snapshot) {
		if !snap.Done {
			s.forward(snap, false)
		}
	})
	s.mu.Lock()
	s.gen = gen
	if s.paused {
		gen.Pause()
	}
	if s.sweep != nil {
		gen.Stop() // a sweep was asked for while this run was being made
	}
	s.mu.Unlock()
	final, err := s.sess.Drive(ctx, gen)
	s.mu.Lock()
	s.gen = nil
	if final != nil {
		s.offset += final.Elapsed
	}
	s.mu.Unlock()
	if final != nil {
		// The final snapshot is on the run's clock; keep it on the stage's.
		f := *final
		f.Elapsed = 0
		final = &f
	}
	return final, err
}

// forward hands a snapshot to the screen, shifted onto the stage's clock,
// replacing one the screen has not taken yet.
func (s *TwinStage) forward(snap *engine.Snapshot, last bool) {
	s.mu.Lock()
	c := *snap
	c.Elapsed += s.offset
	c.Done = last
	s.mu.Unlock()
	for {
		select {
		case s.out <- &c:
			return
		default:
			select {
			case <-s.out:
			default:
			}
		}
	}
}

// runSweep runs the experiment's seed configurations under its own load,
// then puts the presenter's configuration back.
func (s *TwinStage) runSweep(req *sweepRequest) error {
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	stop := context.AfterFunc(req.ctx, cancel)
	defer stop()

	e := s.sess.Experiment()
	before := s.sess.Settings()
	defer s.sess.Configure(s.ctx, before)
	total := len(e.SeedSweep)
	for i, change := range e.SeedSweep {
		if err := s.sess.Configure(ctx, change); err != nil {
			return err
		}
		settings := s.sess.Settings()
		cell := SweepCell{Index: i, Total: total, Settings: settings, Label: e.Describe(settings), Running: true}
		if seed, ok := e.SeedFor(settings); ok {
			cell.Seed, cell.HasSeed, cell.Label = seed, true, seed.Label
		}
		req.onCell(cell)
		if _, err := s.run(ctx, e.DefaultModel(), sweepWarmup); err != nil || ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		final, err := s.run(ctx, e.DefaultModel(), sweepRunLength)
		if err != nil || ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		cell.Running = false
		cell.Figures = e.Measured(final).Run
		req.onCell(cell)
	}
	return nil
}

func (s *TwinStage) Title() string { return s.sess.Experiment().Title }

// Info says what the twin runs with now.
func (s *TwinStage) Info() string {
	st := s.sess.Twin().Stats()
	cpus := st.Config.InstanceCPUs
	if cpus == 0 {
		cpus = proc.InstanceCPUs()
	}
	return fmt.Sprintf("twin: profile %s, %s, %s up", st.Config.Profile, count(cpus, "instance CPU"), count(st.WorkersUp, "worker"))
}

// count renders "1 worker", "3 workers".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func (s *TwinStage) Snapshots() <-chan *engine.Snapshot { return s.out }

// Err waits for the stage to end and says why it ended early, if it did.
func (s *TwinStage) Err() error {
	<-s.done
	return s.err
}

func (s *TwinStage) Knobs() []KnobValue {
	settings := s.sess.Settings()
	var out []KnobValue
	for _, k := range s.sess.Experiment().Knobs {
		out = append(out, KnobValue{Knob: k, Value: settings[k.Name]})
	}
	return out
}

func (s *TwinStage) SetKnob(name, value string) error { return s.sess.Set(s.ctx, name, value) }

func (s *TwinStage) Load() engine.Load {
	s.mu.Lock()
	gen := s.gen
	model := s.model
	s.mu.Unlock()
	if gen != nil {
		return gen.Load()
	}
	return engine.LoadOf(model)
}

// SetVUs changes the users (or connections) of the live load now and of
// the runs that follow it.
func (s *TwinStage) SetVUs(n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch m := s.model.(type) {
	case engine.Closed:
		m.VUs = n
		s.model = m
	case engine.Max:
		m.Conns = n
		s.model = m
	default:
		return errors.New("the open model sets a rate, not users")
	}
	if s.gen != nil {
		return s.gen.SetVUs(n)
	}
	return nil
}

func (s *TwinStage) SetRate(r float64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.model.(engine.Open)
	if !ok {
		return errors.New("only the open model has a rate")
	}
	m.Rate = r
	s.model = m
	if s.gen != nil {
		return s.gen.SetRate(r)
	}
	return nil
}

func (s *TwinStage) Pause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paused = true
	if s.gen != nil {
		s.gen.Pause()
	}
}

func (s *TwinStage) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paused = false
	if s.gen != nil {
		s.gen.Resume()
	}
}

func (s *TwinStage) Paused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paused
}

func (s *TwinStage) Why() (experiments.Why, bool) { return s.sess.Why(), true }

func (s *TwinStage) Seed() (experiments.SeedCell, string, bool) {
	e := s.sess.Experiment()
	cell, ok := e.SeedFor(s.sess.Settings())
	return cell, e.Lesson, ok
}

// SeedSweep stops the live load, runs the study's configurations and
// starts the live load again; see Stage.
func (s *TwinStage) SeedSweep(ctx context.Context, onCell func(SweepCell)) error {
	req := &sweepRequest{ctx: ctx, onCell: onCell, done: make(chan error, 1)}
	s.mu.Lock()
	if s.sweeping {
		s.mu.Unlock()
		return errors.New("a seed sweep is already running")
	}
	s.sweep, s.sweeping = req, true
	gen := s.gen
	s.mu.Unlock()
	if gen != nil {
		gen.Stop()
	}
	select {
	case err := <-req.done:
		return err
	case <-s.done:
		return errors.New("the experiment ended")
	}
}

// Close stops the load and the twin; no process is left behind.
func (s *TwinStage) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.cancel()
		<-s.done
		err = s.sess.Close()
	})
	return err
}
