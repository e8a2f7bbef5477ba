package engine

import (
	"fmt"
	"strconv"
	"time"
)

// Snapshot is the generator's state at one moment. It is never modified
// after it is published, so any number of readers may hold it.
type Snapshot struct {
	// Elapsed is the time since the load started (after setup).
	Elapsed time.Duration
	// Duration is the planned length; 0 runs until stopped.
	Duration time.Duration
	Load     Load
	// All totals every step; Steps has one entry per step, setup first.
	All   Series
	Steps []Series
	// Second is non-zero when this snapshot closes whole second number
	// Second of the run (1, 2, ...): the Last figures then cover exactly
	// that second. Recorders write one interval row per such snapshot.
	Second int
	Errors ErrorCounts
	// Statuses counts answers by HTTP status code over the run.
	Statuses map[int]int64
	Checks   []Check
	// ServerTiming counts the Server-Timing metrics the run could not
	// use, over the run.
	ServerTiming TimingCounts
	Health       Health
	Paused       bool
	Done         bool
}

// Load is the arrival model in force and its current setting.
type Load struct {
	Model string // "closed", "open" or "max"
	VUs   int    // closed: virtual users
	Think time.Duration
	Conns int     // max: connections
	Rate  float64 // open: target starts per second
	// Under a plan (Stages): the stage in force, counting from 1 (Stages+1
	// once it is over), of Stages, and its target; Overridden once a live
	// change took over from the plan.
	Stage, Stages int
	Target        float64
	Overridden    bool
}

// LoadOf describes a model's setting before any live change.
func LoadOf(m Model) Load {
	switch m := m.(type) {
	case Closed:
		return Load{Model: "closed", VUs: m.VUs, Think: m.Think}
	case Open:
		return Load{Model: "open", Rate: m.Rate}
	case Max:
		return Load{Model: "max", Conns: m.Conns}
	}
	return Load{}
}

func (l Load) String() string {
	switch l.Model {
	case "closed":
		return Closed{VUs: l.VUs, Think: l.Think}.String()
	case "open":
		return Open{Rate: l.Rate}.String()
	case "max":
		return Max{Conns: l.Conns}.String()
	}
	return l.Model
}

// Plan says where a staged load is in its plan, or that a live change
// took over from it; "" without stages.
func (l Load) Plan() string {
	switch {
	case l.Stages == 0:
		return ""
	case l.Overridden:
		return "stages overridden by a key press for the rest of the run"
	case l.Stage > l.Stages:
		return "stages done"
	}
	target := strconv.FormatFloat(l.Target, 'f', -1, 64)
	switch l.Model {
	case "open":
		target += " req/s"
	case "max":
		target += " connections"
	default:
		target += " users"
	}
	return fmt.Sprintf("stage %d/%d → %s", l.Stage, l.Stages, target)
}

// ErrorCounts counts failed requests over the run by what went wrong.
type ErrorCounts struct {
	Connect  int64 // could not connect
	Timeout  int64 // no answer within the timeout
	Dropped  int64 // the server closed or reset the connection before answering in full
	TooLarge int64 // the answer's body was larger than the run's max body
	IO       int64 // the answer was not HTTP, or the connection failed otherwise
	Status   int64 // HTTP status 400 or above
	Check    int64 // answered, but not with the expected status
}

// Total is the number of failed requests.
func (e ErrorCounts) Total() int64 {
	return e.Connect + e.Timeout + e.Dropped + e.TooLarge + e.IO + e.Status + e.Check
}

// Kinds lists the counts with their outcome's name, in order of
// precedence, for reports that spell them out.
func (e ErrorCounts) Kinds() []ErrorKind {
	return []ErrorKind{
		{OutcomeConnect.String(), e.Connect}, {OutcomeTimeout.String(), e.Timeout},
		{OutcomeDropped.String(), e.Dropped}, {OutcomeTooLarge.String(), e.TooLarge},
		{OutcomeIO.String(), e.IO}, {OutcomeStatus.String(), e.Status}, {OutcomeCheck.String(), e.Check},
	}
}

// ErrorKind is one kind of failure and how many requests it failed.
type ErrorKind struct {
	Name  string
	Count int64
}

func (e *ErrorCounts) add(o Outcome) {
	switch o {
	case OutcomeConnect:
		e.Connect++
	case OutcomeTimeout:
		e.Timeout++
	case OutcomeDropped:
		e.Dropped++
	case OutcomeTooLarge:
		e.TooLarge++
	case OutcomeIO:
		e.IO++
	case OutcomeStatus:
		e.Status++
	case OutcomeCheck:
		e.Check++
	}
}

// Check counts one named check's results over the run.
type Check struct {
	Name           string
	Step           string // the step the check belongs to
	Passed, Failed int64
}

// Health is the generator's own state: whether the numbers describe the
// target or the generator.
type Health struct {
	// TargetRate is the open model's schedule; 0 elsewhere.
	TargetRate float64
	// AchievedRate is requests started per second over the last second.
	AchievedRate float64
	// SendLagP50 and SendLagP99 are how late requests started against
	// their schedule over the last second (open model).
	SendLagP50, SendLagP99 time.Duration
	// PacerCPU is the share of one core the event loops' pacers spent
	// spinning to start requests on time, over the run so far: the
	// pacer's own cost, beside the sockets' work (CPU). Zero on the
	// goroutine path, whose pacer is the runtime's timers.
	PacerCPU float64
	// PacerPriority says what became of RealtimePacer: "" when the run
	// did not ask, PacerRealtime when the loops run at real-time
	// priority, else PacerNormal and why not.
	PacerPriority string
	// Missed counts requests over the run that started more than
	// LateThreshold after their scheduled time (open model).
	Missed int64
	// Backlog is how many scheduled requests are due but not yet started;
	// in the final snapshot, those due before the run's end or its stop
	// that were never started.
	Backlog int64
	// InFlight is the number of workers (connections) in use.
	InFlight int
	// CPU is the generator process's CPU use over the last second, in
	// cores (1.0 = one core busy): the generator's own, and that of
	// whatever shares its process, which Sharing names ("" when nothing
	// does; the caller says so with SharingProcess). Cores is how many it
	// may use.
	CPU     float64
	Cores   int
	Sharing string
	// Path is how the generator drives its connections: PathLoop or
	// PathGoroutine.
	Path string
	// LoopIO is how the event loop reads and writes (LoopIOBatched, or
	// LoopIOCalls and why); "" off the loop path.
	LoopIO string
	// Loops is how many event-loop threads drive the connections; 0 off
	// the loop path.
	Loops int
	// Warning is non-empty when the generator, not the target, limits
	// the figures, and says why.
	Warning string
}

// LateThreshold is how late a scheduled request may start before it counts
// as missed.
const LateThreshold = 10 * time.Millisecond
