package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"perflab/engine"
)

func init() {
	Register(Format{Name: "hdr-log", Help: "every second's latency histogram per series, as an HdrHistogram interval log (microseconds)", New: func(d Dest) (Output, error) {
		return &hdrLog{w: hdr.NewHistogramLogWriter(d.W)}, nil
	}})
}

// hdrLog writes each interval histogram of a session's runs as it comes,
// so the log is valid after Ctrl-C. Lines are tagged with the series
// (service time as SERIES.service); in a session of several
// configurations, with @RUN after it, so that only the runs of one
// configuration merge.
type hdrLog struct {
	w       *hdr.HistogramLogWriter
	started bool
	err     error
	begin   Begin
	// runStart is the current run's start on the wall clock, in ms;
	// lastEnd the end of its previous interval, from the run's start.
	runStart int64
	lastEnd  time.Duration
}

func (l *hdrLog) Write(ev Event) error {
	if l.err != nil {
		return l.err
	}
	switch ev := ev.(type) {
	case Begin:
		l.begin, l.runStart, l.lastEnd = ev, 0, 0
	case *engine.Snapshot:
		if ev.All.Interval == nil {
			return nil
		}
		l.snapshot(ev, "")
		l.lastEnd = ev.Elapsed
	case AgentSnapshot:
		// An agent's intervals, tagged SERIES~AGENT, come just before the
		// merged ones of the same second and share their span.
		if ev.Snapshot.All.Interval != nil {
			l.snapshot(ev.Snapshot, ev.Agent)
		}
	}
	return l.err
}

// snapshot writes one snapshot's interval lines, tagged for agent when
// it is one agent's.
func (l *hdrLog) snapshot(ev *engine.Snapshot, agent string) {
	if l.runStart == 0 {
		l.runStart = time.Now().Add(-ev.Elapsed).UnixMilli()
	}
	if !l.started {
		l.err = l.header(l.runStart)
	}
	for _, s := range append([]engine.Series{ev.All}, ev.Steps...) {
		if s.Interval == nil {
			continue
		}
		name := s.Name
		if agent != "" {
			name += "~" + agent
		}
		l.interval(name, s.Interval.Latency, ev.Elapsed)
		if s.Interval.Service != nil {
			l.interval(name+".service", s.Interval.Service, ev.Elapsed)
		}
	}
}

func (l *hdrLog) header(startMs int64) error {
	l.started = true
	l.w.SetBaseTime(startMs)
	for _, f := range []func() error{
		l.w.OutputLogFormatVersion,
		func() error {
			return l.w.OutputComment("[perflab interval log: latency in microseconds, one line per series per second]")
		},
		func() error { return l.w.OutputStartTime(startMs) },
		func() error { return l.w.OutputBaseTime(startMs) },
		l.w.OutputLegend,
	} {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

// interval writes one histogram, tagged, stamped from the previous
// interval's end to elapsed into the run.
func (l *hdrLog) interval(series string, h *hdr.Histogram, elapsed time.Duration) {
	if l.err != nil {
		return
	}
	h.SetTag(l.tag(series))
	h.SetStartTimeMs(l.runStart + l.lastEnd.Milliseconds())
	h.SetEndTimeMs(l.runStart + elapsed.Milliseconds())
	l.err = l.w.OutputIntervalHistogram(h)
}

// tag names a series in the log: no commas or spaces, and the
// configuration's run number where a session has several.
func (l *hdrLog) tag(series string) string {
	t := strings.Map(func(r rune) rune {
		if r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return '_'
		}
		return r
	}, series)
	if configs := l.begin.Total / max(1, l.begin.Repeats); configs > 1 {
		t += "@" + strconv.Itoa(l.begin.Labels.Run)
	}
	return t
}

func (l *hdrLog) Close() error {
	if l.err != nil {
		return fmt.Errorf("hdr log: %w", l.err)
	}
	return nil
}
