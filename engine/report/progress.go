package report

import (
	"fmt"
	"io"
	"time"

	"perflab/engine"
)

func init() {
	Register(Format{Name: "progress", Help: "a status line rewritten in place, for a terminal", New: func(d Dest) (Output, error) {
		return &progressOutput{w: d.W}, nil
	}})
}

// progressOutput keeps one status line up to date on a terminal while a
// run goes on, prefixed by the run's place in a sweep, and clears it when
// the run ends.
type progressOutput struct {
	w      io.Writer
	prefix string
}

func (p *progressOutput) Write(ev Event) error {
	switch ev := ev.(type) {
	case Begin:
		p.prefix = ""
		if ev.Total > 1 {
			p.prefix = fmt.Sprintf("%d/%d  ", ev.Index+1, ev.Total)
		}
	case *engine.Snapshot:
		if ev.Done {
			_, err := io.WriteString(p.w, "\r\x1b[K")
			return err
		}
		_, err := fmt.Fprintf(p.w, "\r%s%s\x1b[K", p.prefix, ProgressLine(ev))
		return err
	}
	return nil
}

func (p *progressOutput) Close() error { return nil }

// ProgressLine renders one snapshot as a single status line: elapsed and
// planned time, throughput, p50 and p99 over the last second, errors,
// retries once there are any, and the generator's warning if it has one.
func ProgressLine(s *engine.Snapshot) string {
	when := clock(s.Elapsed)
	if s.Duration > 0 {
		when += "/" + clock(s.Duration)
	}
	last := s.All.Last
	line := fmt.Sprintf("%s  %7.1f req/s  p50 %s  p99 %s  errors %d", when, last.RPS, Duration(last.P50), Duration(last.P99), s.All.Run.Errors)
	if r := s.All.Run.Retries; r > 0 {
		line += fmt.Sprintf("  retries %d", r)
	}
	if s.Paused {
		line += "  (paused)"
	}
	if w := s.Health.Warning; w != "" {
		line += "  ! " + w
	}
	return line
}

// clock formats d as m:ss, or h:mm:ss past an hour.
func clock(d time.Duration) string {
	sec := int(d.Round(time.Second) / time.Second)
	if sec >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", sec/3600, sec/60%60, sec%60)
	}
	return fmt.Sprintf("%d:%02d", sec/60, sec%60)
}
