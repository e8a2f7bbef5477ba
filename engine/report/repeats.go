package report

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"perflab/engine"
	"perflab/engine/stats"
)

func init() {
	Register(Format{Name: "repeats", Help: "per configuration run more than once, the medians across its runs with 95% intervals", New: func(d Dest) (Output, error) {
		return &repeatsTable{w: d.W}, nil
	}})
}

// Repeated gathers the measured figures of each configuration's runs, as
// the Begin and final snapshot events of a session deliver them, for the
// tables that summarise repeats.
type Repeated struct {
	Configs []*ConfigRuns
	current *ConfigRuns
}

// ConfigRuns are one configuration's runs.
type ConfigRuns struct {
	Run      int    // the configuration's number
	Config   string // in words
	Settings map[string]string
	Measured string // the series whose figures are the result
	Finals   []engine.Figures
	// Timings are the measured series' Server-Timing metrics of each
	// run, beside Finals (nil for a run whose answers carried none).
	Timings [][]engine.Timing
}

// Add takes one event; it returns true when the event ended a run.
func (r *Repeated) Add(ev Event) bool {
	switch ev := ev.(type) {
	case Begin:
		r.current = nil
		for _, c := range r.Configs {
			if c.Run == ev.Labels.Run {
				r.current = c
			}
		}
		if r.current == nil {
			r.current = &ConfigRuns{Run: ev.Labels.Run, Config: ev.Config, Settings: ev.Settings, Measured: ev.Measured}
			r.Configs = append(r.Configs, r.current)
		}
	case *engine.Snapshot:
		if ev.Done && r.current != nil {
			m := measured(ev, r.current.Measured)
			r.current.Finals = append(r.current.Finals, m.Run)
			r.current.Timings = append(r.current.Timings, m.Timing)
			return true
		}
	}
	return false
}

// Current is the configuration of the run in progress, or of the run that
// just ended; nil before the first Begin.
func (r *Repeated) Current() *ConfigRuns { return r.current }

// MaxRuns is the most runs any configuration had.
func (r *Repeated) MaxRuns() int {
	n := 0
	for _, c := range r.Configs {
		n = max(n, len(c.Finals))
	}
	return n
}

// measured picks the named series out of a snapshot, or the total.
func measured(s *engine.Snapshot, name string) engine.Series {
	for _, st := range s.Steps {
		if st.Name == name && name != "" {
			return st
		}
	}
	return s.All
}

// Figure is one figure of a run's summary, as the tables compare them.
type Figure struct {
	Name    string
	Unit    string // "ms" or "req/s"
	Latency bool   // lower is better
	Of      func(engine.Figures) float64
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Figures are the figures repeats are summarised by: mean, p50, p90, p99
// and throughput.
var Figures = []Figure{
	{"mean", "ms", true, func(f engine.Figures) float64 { return msOf(f.Mean) }},
	{"p50", "ms", true, func(f engine.Figures) float64 { return msOf(f.P50) }},
	{"p90", "ms", true, func(f engine.Figures) float64 { return msOf(f.P90) }},
	{"p99", "ms", true, func(f engine.Figures) float64 { return msOf(f.P99) }},
	{"req/s", "req/s", false, func(f engine.Figures) float64 { return f.RPS }},
}

// Values are figure f of each run.
func (c *ConfigRuns) Values(f Figure) []float64 {
	out := make([]float64, 0, len(c.Finals))
	for _, fin := range c.Finals {
		if fin.Answered > 0 || !f.Latency {
			out = append(out, f.Of(fin))
		}
	}
	return out
}

// MedianCell renders a sample as its median and the interval's larger
// half-width relative to it, as benchstat does: "152.9 ±3%", "152.9 ±∞"
// when the runs are too few for a 95% interval.
func MedianCell(values []float64) string {
	if len(values) == 0 {
		return "-"
	}
	s := stats.Summarize(values)
	v := Num(s.Median)
	if len(values) == 1 {
		return v
	}
	switch sp := s.Spread(); {
	case math.IsInf(sp, 1):
		return v + " ±∞"
	case math.IsNaN(sp):
		return v + " ±?"
	default:
		return fmt.Sprintf("%s ±%.0f%%", v, 100*sp)
	}
}

// Num renders a figure with about four significant digits.
func Num(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// IntervalNote explains ±∞ when some configuration had too few runs for
// an interval; "" when none did.
func (r *Repeated) IntervalNote() string {
	for _, c := range r.Configs {
		if n := len(c.Finals); n > 1 && n < stats.MinIntervalN {
			return fmt.Sprintf("±∞: a 95%% interval of a median needs %d runs or more; %d ran.", stats.MinIntervalN, n)
		}
	}
	return ""
}

// repeatsTable prints, when the session closes and some configuration ran
// more than once, each configuration's medians with their intervals.
type repeatsTable struct {
	w   io.Writer
	rep Repeated
}

func (t *repeatsTable) Write(ev Event) error { t.rep.Add(ev); return nil }

func (t *repeatsTable) Close() error {
	if t.rep.MaxRuns() < 2 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nmedians across runs, with 95%% intervals (ms, req/s)\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "run\tconfiguration\tn\t"
	for _, f := range Figures {
		head += f.Name + "\t"
	}
	fmt.Fprintln(tw, head)
	for _, c := range t.rep.Configs {
		config := c.Config
		if config == "" {
			config = "-"
		}
		line := fmt.Sprintf("%d\t%s\t%d\t", c.Run, config, len(c.Finals))
		for _, f := range Figures {
			line += MedianCell(c.Values(f)) + "\t"
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	if note := t.rep.IntervalNote(); note != "" {
		b.WriteString(note + "\n")
	}
	b.WriteString("\n")
	_, err := io.WriteString(t.w, b.String())
	return err
}
