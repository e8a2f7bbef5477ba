package experiments

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"perflab/engine"
	"perflab/server"
	"perflab/server/proc"
)

// StudySweepRun is how long each configuration of the dashboard's study
// sweep is measured, after its warm-up: short enough to watch, long
// enough for every configuration to settle.
const StudySweepRun = 10 * time.Second

// Live is an experiment live on the twin, as the dashboard drives it: a
// session and its load runs one after another (the live load, a study
// sweep's runs, the live load again), seen through one stream of
// snapshots whose clock keeps going across runs. Every method is safe for
// concurrent use and may block (a knob change restarts workers).
type Live struct {
	sess     *Session
	opts     []engine.Option
	duration time.Duration // of the live load; 0 until closed
	sweepRun time.Duration // each study sweep run's measured length

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
	repeat int
	onCell func(SweepCell)
	done   chan error
}

// KnobValue is one knob and the value in force.
type KnobValue struct {
	Knob  *Knob
	Value string
}

// SweepCell is one configuration of a study sweep: running, or done with
// its figures beside the study's.
type SweepCell struct {
	Index, Total int // Index counts from 0
	Settings     Settings
	Label        string // e.g. "sync, 4 workers, no cache"
	// Figures cover the latest whole run of this configuration; Runs every
	// run of it so far, one per repeat. Running is set while a run of it
	// goes on, which is repeat Repeat of Repeats.
	Figures         engine.Figures
	Runs            []engine.Figures
	Repeat, Repeats int
	Study           StudyCell
	HasStudy        bool
	Running         bool
}

// StartLive starts the live load of sess's experiment under model (nil:
// the experiment's own), for duration (0: until Close).
func StartLive(sess *Session, model engine.Model, duration time.Duration, opts ...engine.Option) *Live {
	if model == nil {
		model = sess.Experiment().DefaultModel()
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Live{
		sess: sess, opts: opts, duration: duration, model: model, sweepRun: StudySweepRun,
		ctx: ctx, cancel: cancel,
		out:  make(chan *engine.Snapshot, 1),
		done: make(chan struct{}),
	}
	go l.drive()
	return l
}

// drive runs the live load; a sweep request stops it, runs the sweep and
// starts it again.
func (l *Live) drive() {
	defer close(l.done)
	defer close(l.out)
	for {
		final, err := l.runLive()
		if err != nil && l.ctx.Err() == nil {
			l.err = err
			return
		}
		req := l.takeSweep()
		if req == nil || l.ctx.Err() != nil {
			if final != nil {
				f := *final
				f.Elapsed = 0 // forward puts it on the stage's clock
				l.forward(&f, true)
			}
			if req != nil {
				req.done <- l.ctx.Err()
			}
			return
		}
		err = l.runSweep(req)
		l.mu.Lock()
		l.sweeping = false
		l.mu.Unlock()
		req.done <- err
	}
}

func (l *Live) takeSweep() *sweepRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	req := l.sweep
	l.sweep = nil
	return req
}

// runLive drives the live load until its duration, a sweep request or
// Close.
func (l *Live) runLive() (*engine.Snapshot, error) {
	l.mu.Lock()
	model := l.model
	l.mu.Unlock()
	gen, err := l.sess.NewRun(model, append(append([]engine.Option{}, l.opts...), engine.Duration(l.duration))...)
	if err != nil {
		return nil, err
	}
	l.prepare(gen)
	final, err := l.sess.Drive(l.ctx, gen)
	l.forget(gen)
	return final, err
}

// forget clears gen as the run in progress once it has ended.
func (l *Live) forget(gen *engine.Generator) {
	l.mu.Lock()
	if l.gen == gen {
		l.gen = nil
	}
	l.mu.Unlock()
}

// prepare makes gen the run in progress: its snapshots go to the screen on
// the stage's clock, and it starts paused if the load is.
func (l *Live) prepare(gen *engine.Generator) {
	gen.Observe(func(snap *engine.Snapshot) {
		if !snap.Done {
			l.forward(snap, false)
			return
		}
		l.mu.Lock()
		l.offset += snap.Elapsed
		l.mu.Unlock()
		l.forget(gen)
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gen = gen
	if l.paused {
		gen.Pause()
	}
	if l.sweep != nil {
		gen.Stop() // a sweep was asked for while this run was being made
	}
}

// forward hands a snapshot to the screen, shifted onto the stage's clock,
// replacing one the screen has not taken yet.
func (l *Live) forward(snap *engine.Snapshot, last bool) {
	l.mu.Lock()
	c := *snap
	c.Elapsed += l.offset
	c.Done = last
	l.mu.Unlock()
	for {
		select {
		case l.out <- &c:
			return
		default:
			select {
			case <-l.out:
			default:
			}
		}
	}
}

// runSweep runs the experiment's study configurations under its own load,
// then puts the presenter's configuration back.
func (l *Live) runSweep(req *sweepRequest) error {
	ctx, cancel := context.WithCancel(l.ctx)
	defer cancel()
	stop := context.AfterFunc(req.ctx, cancel)
	defer stop()

	e := l.sess.Experiment()
	before := l.sess.Settings()
	defer l.sess.Configure(l.ctx, before)
	study := e.StudyRuns()
	runs := make([]Settings, len(study))
	for i, change := range study {
		s, err := e.Apply(before, change)
		if err != nil {
			return err
		}
		runs[i] = s
	}
	done := make([][]engine.Figures, len(runs)) // each configuration's runs so far
	_, err := l.sess.Sweep(ctx, Sweep{
		Runs:    runs,
		Repeat:  req.repeat,
		Opts:    []engine.Option{engine.Duration(l.sweepRun)},
		Prepare: l.prepare,
		OnRun: func(r RunInfo) {
			cell := SweepCell{Index: r.Index, Total: r.Total, Settings: r.Settings, Label: e.Describe(r.Settings),
				Running: r.Final == nil, Repeat: r.Repeat, Repeats: max(1, req.repeat)}
			if study, ok := e.StudyFor(r.Settings); ok {
				cell.Study, cell.HasStudy, cell.Label = study, true, study.Label
			}
			if r.Final != nil {
				cell.Figures = e.Measured(r.Final).Run
				done[r.Index] = append(done[r.Index], cell.Figures)
			} else if n := len(done[r.Index]); n > 0 {
				cell.Figures = done[r.Index][n-1]
			}
			cell.Runs = slices.Clone(done[r.Index])
			req.onCell(cell)
		},
	})
	return errors.Join(err, ctx.Err())
}

// Title names the experiment.
func (l *Live) Title() string { return l.sess.Experiment().Title }

// Info says what the twin runs with now, and whether it shares its
// cores with the generator and the dashboard (one core, or the instance
// given every core, or a system that cannot pin processes).
func (l *Live) Info() string {
	st := l.sess.Twin().Stats()
	cpus := st.Config.InstanceCPUs
	if cpus == 0 {
		cpus = proc.InstanceCPUs()
	}
	where := count(cpus, "instance CPU")
	if !proc.PinningSupported || proc.OtherCPUs(cpus) == nil {
		where += " shared with the generator"
	}
	return fmt.Sprintf("twin: profile %s%s, %s, %s up", st.Config.Profile, dbInfo(st), where, count(st.WorkersUp, "worker"))
}

// dbInfo names the twin's database in the header when it is not the
// embedded SQLite: ", PostgreSQL" for the private cluster, ", PostgreSQL
// by URL" for a server of the user's.
func dbInfo(st server.Stats) string {
	if st.DB.Kind != server.DBPostgres {
		return ""
	}
	if st.Config.DB != server.DBPostgres {
		return ", PostgreSQL by URL"
	}
	return ", PostgreSQL"
}

// count renders "1 worker", "3 workers".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Snapshots delivers the load's snapshots about four times a second,
// continuing across the runs of a sweep, and is closed when the load has
// ended for good.
func (l *Live) Snapshots() <-chan *engine.Snapshot { return l.out }

// Err waits for the load to end and says why it ended early, if it did.
func (l *Live) Err() error {
	<-l.done
	return l.err
}

// Knobs are the experiment's live knobs with their values in force.
func (l *Live) Knobs() []KnobValue {
	settings := l.sess.Settings()
	var out []KnobValue
	for _, k := range l.sess.Experiment().LiveKnobs() {
		out = append(out, KnobValue{Knob: k, Value: settings[k.Name]})
	}
	return out
}

// SetKnob changes one knob live and returns once it is in force.
func (l *Live) SetKnob(name, value string) error { return l.sess.Set(l.ctx, name, value) }

// Load is the load in force.
func (l *Live) Load() engine.Load {
	l.mu.Lock()
	gen := l.gen
	model := l.model
	l.mu.Unlock()
	if gen != nil {
		return gen.Load()
	}
	return engine.LoadOf(model)
}

// SetVUs changes the users (or connections) of the live load now and of
// the runs that follow it. Above what the open-file limit allows it sets
// that many and returns the *engine.LimitError saying so.
func (l *Live) SetVUs(n int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.model.(engine.Open); ok {
		return errors.New("the open model sets a rate, not users")
	}
	err := engine.CheckConns(n)
	if l.gen != nil {
		err = l.gen.SetVUs(n)
	}
	var capped *engine.LimitError
	if errors.As(err, &capped) {
		n = capped.Max
	} else if err != nil {
		return err
	}
	switch m := l.model.(type) {
	case engine.Closed:
		m.VUs = n
		l.model = m
	case engine.Max:
		m.Conns = n
		l.model = m
	}
	return err
}

// SetRate changes the open model's rate now and for the runs that follow.
func (l *Live) SetRate(r float64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	m, ok := l.model.(engine.Open)
	if !ok {
		return errors.New("only the open model has a rate")
	}
	m.Rate = r
	l.model = m
	if l.gen != nil {
		return l.gen.SetRate(r)
	}
	return nil
}

// Pause stops starting requests, for this run and the ones that follow.
func (l *Live) Pause() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.paused = true
	if l.gen != nil {
		l.gen.Pause()
	}
}

// Resume starts requests again.
func (l *Live) Resume() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.paused = false
	if l.gen != nil {
		l.gen.Resume()
	}
}

// Paused reports whether the load is paused.
func (l *Live) Paused() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.paused
}

// ServerFigures are the twin's figures over the last second.
func (l *Live) ServerFigures() ServerFigures { return l.sess.ServerFigures() }

// Study is the study's figure for the configuration in force, if it
// measured one, else why it has none.
func (l *Live) Study() (cell StudyCell, gap string, ok bool) {
	e, s := l.sess.Experiment(), l.sess.Settings()
	if cell, ok := e.StudyFor(s); ok {
		return cell, "", true
	}
	return StudyCell{}, e.StudyGap(s), false
}

// Lesson is what the study concluded from the experiment.
func (l *Live) Lesson() string { return l.sess.Experiment().Lesson }

// Measured names the step whose figures are the experiment's result.
func (l *Live) Measured() string { return l.sess.Experiment().Plan.Measured }

// StudySweep stops the live load, runs the study's configurations one
// after another, repeat times over interleaved, calling onCell (from its
// own goroutine) as each run starts and ends, and starts the live load
// again. It returns when the sweep is done or ctx ends.
func (l *Live) StudySweep(ctx context.Context, repeat int, onCell func(SweepCell)) error {
	req := &sweepRequest{ctx: ctx, repeat: repeat, onCell: onCell, done: make(chan error, 1)}
	l.mu.Lock()
	if l.sweeping {
		l.mu.Unlock()
		return errors.New("a study sweep is already running")
	}
	l.sweep, l.sweeping = req, true
	gen := l.gen
	l.mu.Unlock()
	if gen != nil {
		gen.Stop()
	}
	select {
	case err := <-req.done:
		return err
	case <-l.done:
		return errors.New("the experiment ended")
	}
}

// Close stops the load and the twin; no process is left behind.
func (l *Live) Close() error {
	var err error
	l.closeOnce.Do(func() {
		l.cancel()
		<-l.done
		err = l.sess.Close()
	})
	return err
}
