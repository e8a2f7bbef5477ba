package report

import (
	"fmt"
	"time"

	"perflab/engine"
)

// ProgressLine renders one snapshot as a single status line: elapsed and
// planned time, throughput, p50 and p99 over the last second, errors, and
// the generator's warning if it has one.
func ProgressLine(s *engine.Snapshot) string {
	when := clock(s.Elapsed)
	if s.Duration > 0 {
		when += "/" + clock(s.Duration)
	}
	last := s.All.Last
	line := fmt.Sprintf("%s  %7.1f req/s  p50 %s  p99 %s  errors %d", when, last.RPS, Duration(last.P50), Duration(last.P99), s.All.Run.Errors)
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
