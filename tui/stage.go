package tui

import (
	"context"
	"time"

	"perflab/engine"
	"perflab/experiments"
)

// Stage is what a load screen watches and drives: a load run against a
// target. The dashboard calls its methods from command goroutines, never
// from Update, so they may block; every method must be safe for
// concurrent use. experiments.External (a --url run) and
// experiments.Live (an experiment on the twin) implement it.
type Stage interface {
	// Title names what is under load, e.g. "likes: workers, async, cache"
	// or "GET http://host/path".
	Title() string
	// Info describes the target's state in one line, e.g. "twin: profile
	// django, 1 instance CPU, 3 workers up".
	Info() string
	// Snapshots delivers the load's snapshots about four times a second,
	// continuing across the runs of a sweep, and is closed when the load
	// has ended for good.
	Snapshots() <-chan *engine.Snapshot
	// Err reports why Snapshots closed early; nil when the load ran to its
	// end or was stopped.
	Err() error

	Load() engine.Load
	// SetVUs sets the virtual users (closed model) or connections (max
	// model); SetRate the open model's rate.
	SetVUs(n int) error
	SetRate(r float64) error
	Pause()
	Resume()
	Paused() bool

	// Close stops the load (and the twin, if any), leaving no process
	// behind.
	Close() error
}

// TwinStage is a stage with the twin behind it: knobs to change live,
// the server's own figures, and the study to compare with. The load
// screen finds it by type assertion.
type TwinStage interface {
	Stage
	// Knobs are the twin's live knobs with their values in force.
	Knobs() []experiments.KnobValue
	// SetKnob changes one knob live and returns once it is in force,
	// which may take seconds (a rolling restart of workers).
	SetKnob(name, value string) error
	// ServerFigures are the twin's side of the last second.
	ServerFigures() experiments.ServerFigures
	// Study is the study's figure for the configuration in force, if it
	// measured one, else why it has none.
	Study() (cell experiments.StudyCell, gap string, ok bool)
	// Lesson is what the study concluded from the experiment.
	Lesson() string
	// Measured names the step whose figures are the experiment's result
	// (the likes request, not the one sign-in before it), as headless runs
	// report it; the screen's charts and figures show that step.
	Measured() string
	// StudySweep replays the configurations the study measured, repeat
	// times over, interleaved, calling onCell (from its own goroutine)
	// when a run starts and when it ends; its snapshots keep coming
	// through Snapshots. It returns when the sweep is done or ctx ends,
	// and the live load goes on afterwards.
	StudySweep(ctx context.Context, repeat int, onCell func(experiments.SweepCell)) error
}

// Race is what the Fishial screen drives: the strategies run at once
// against the mock API so their progress can be compared live, or one
// after another for figures that are each strategy's alone.
type Race interface {
	// Setup describes the race before it starts: defaults, the
	// strategies in display order and the mock's latencies.
	Setup() RaceSetup
	// Start runs the strategies, all at once or (c.InTurn) one after
	// another. The channel delivers progress as images finish and one
	// final event with the results (or the error), then closes.
	// Cancelling ctx stops the race and its processes, and its sends give
	// up: the screen stops reading a race it has replaced.
	Start(ctx context.Context, c RaceConfig) (<-chan RaceEvent, error)
	// Close releases what the race holds (the mock API, a Redis).
	Close() error
}

// RaceConfig is what the presenter can change between races.
type RaceConfig struct {
	Images    int
	TimeScale float64
	// InTurn runs the strategies one after another, each with the
	// machine to itself, as headless runs do; otherwise they race at
	// once and share its cores.
	InTurn bool
}

// RaceSetup describes a race before it runs.
type RaceSetup struct {
	Defaults   RaceConfig
	Strategies []RaceStrategy
	// Mock describes the mock API's latencies at time-scale 1, e.g.
	// "token .10  signed .05  upload .20  recognise .50 s".
	Mock   string
	Lesson string
	// Cores is how many cores the race's processes share.
	Cores int
}

// RaceStrategy is one contestant.
type RaceStrategy struct {
	Name      string // sequential, multiprocess, distributed, async
	Resources string // e.g. "4 procs", "16 nodes", "1 thread"
	// StudySeconds is the study's time for its StudyImages images; 0 if
	// unknown.
	StudySeconds float64
	StudyImages  int
}

// RaceEvent is one image finished by one strategy, or the end of the
// race (Done set) with its results or the error that stopped it.
type RaceEvent struct {
	Progress RaceProgress
	Done     bool
	Results  []RaceResult
	Err      error
}

// RaceProgress is one strategy's images done so far.
type RaceProgress struct {
	Strategy    string
	Done, Total int
	Elapsed     time.Duration
}

// RaceResult is one strategy's figures once all its images are done.
type RaceResult struct {
	Strategy           string
	Images, Workers    int
	Seconds            float64
	IdealSeconds       float64
	Speedup            float64
	CPUSeconds         float64 // the strategy's whole cost, its coordinator's included
	ImagesPerCPUSecond float64
	// Coordinator names what the strategy's coordinator ran ("" if it
	// has none); CoordinatorCPUSeconds is its share of CPUSeconds.
	Coordinator           string
	CoordinatorCPUSeconds float64
}
