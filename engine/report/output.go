package report

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"perflab/engine"
	"perflab/engine/threshold"
)

// An Output writes what a session measures in one format. A session hands
// every output the same events, in order, from one goroutine at a time:
//
//	Begin             a run starts: one configuration of a sweep, or the only run
//	*engine.Snapshot  about four times a second; the run's last has Done set
//	Change            a knob changed while the run went on
//	...               the next run's Begin, and so on
//
// then Close once, when the session is over (also after Ctrl-C): outputs
// that tabulate runs print then. Experiments may send events of their own
// (the Fishial race's progress); an output ignores what it does not write,
// so a new event breaks no format and a new format is one file.
type Output interface {
	Write(ev Event) error
	Close() error
}

// Event is one of Begin, *engine.Snapshot, Change, or an event an
// experiment defines.
type Event any

// Begin starts a run.
type Begin struct {
	Labels Labels
	// Settings are the run's knob values by knob name; nil for a run with
	// no knobs.
	Settings map[string]string
	// Index counts the session's runs from 0, every repeat of every
	// configuration; Total is how many it plans.
	Index, Total int
	// Config names the run's configuration in words, e.g. "workers=4
	// mode=sync"; "" for a run with no configuration (a --url run).
	Config string
	// Measured names the series whose figures are the run's result (the
	// step an experiment measures); "" is the total, "all".
	Measured string
	// Repeats is how many times the session runs each configuration.
	Repeats int
}

// AgentSnapshot is one load agent's own snapshot in a run spread over
// agents, beside the merged *engine.Snapshot of the same second.
type AgentSnapshot struct {
	Agent    string
	Snapshot *engine.Snapshot
}

// Change is a knob changed live during a run, at Elapsed into it.
type Change struct {
	Elapsed time.Duration
	Knob    string
	Value   string
}

// Labels are the configuration cells of a run's rows: the run number, the
// experiment and a cell per knob column. A column the run lacks is empty.
type Labels struct {
	Run    int // numbers the configurations of a session, from 1
	Repeat int // numbers the repeats of a configuration, from 1
	// Agent is "all" in a run spread over load agents: its rows are the
	// merged ones.
	Agent      string
	Experiment string
	Knobs      map[string]string // by CSV column
}

// Dest is where a new output writes, and what it needs to know of the
// session's shape before the first event.
type Dest struct {
	W io.Writer
	// Path is the file W writes, for formats that replace it whole
	// (atomically) rather than stream into it; "" for a stream.
	Path string
	// KnobColumns are the knob table's CSV columns, in table order.
	KnobColumns []string
	// Thresholds are the session's pass/fail criteria.
	Thresholds []threshold.Threshold
}

// Format is a registered output: a name and a constructor.
type Format struct {
	Name string
	Help string
	New  func(Dest) (Output, error)
}

var (
	formatsMu sync.Mutex
	formats   = map[string]Format{}
)

// Register adds a format; the file that implements a format registers it
// in init. Registering a name twice is a programming error.
func Register(f Format) {
	formatsMu.Lock()
	defer formatsMu.Unlock()
	if _, dup := formats[f.Name]; dup {
		panic("report: format " + f.Name + " registered twice")
	}
	formats[f.Name] = f
}

// New makes an output of the named format.
func New(name string, d Dest) (Output, error) {
	formatsMu.Lock()
	f, ok := formats[name]
	formatsMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("no output format %q; there are %v", name, Formats())
	}
	return f.New(d)
}

// Formats lists the registered formats' names, sorted.
func Formats() []string {
	formatsMu.Lock()
	defer formatsMu.Unlock()
	return slices.Sorted(maps.Keys(formats))
}

// Outputs hands each event to several outputs. An output that fails keeps
// getting events (a full disk must not stop the summary on the terminal);
// the first error of each is reported by Err and Close.
// It is safe for concurrent use: events from several goroutines are
// handed over one at a time.
type Outputs struct {
	mu   sync.Mutex
	outs []Output
	errs []error
}

// Add appends an output.
func (o *Outputs) Add(out Output) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.outs = append(o.outs, out)
	o.errs = append(o.errs, nil)
}

// Write gives ev to every output that has not failed.
func (o *Outputs) Write(ev Event) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, out := range o.outs {
		if o.errs[i] == nil {
			o.errs[i] = out.Write(ev)
		}
	}
	return errors.Join(o.errs...)
}

// Err joins the outputs' first errors.
func (o *Outputs) Err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return errors.Join(o.errs...)
}

// Close closes every output in order and reports every error so far.
func (o *Outputs) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, out := range o.outs {
		if err := out.Close(); err != nil && o.errs[i] == nil {
			o.errs[i] = err
		}
	}
	return errors.Join(o.errs...)
}

// Snapshot adapts a run's snapshots to outputs, as engine.Generator's
// Observe wants them.
func (o *Outputs) Snapshot(s *engine.Snapshot) { o.Write(s) }
