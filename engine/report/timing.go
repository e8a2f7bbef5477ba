package report

import (
	"fmt"
	"strings"
	"time"

	"perflab/engine"
)

// whereTimeWent writes the summary's table of each step's Server-Timing
// metrics over the run, and what the run could not use; nothing when no
// answer carried the header.
func whereTimeWent(b *strings.Builder, s *engine.Snapshot) {
	any := false
	for _, st := range s.Steps {
		any = any || len(st.Timing) > 0
	}
	if any {
		b.WriteString("\n  where the time went (the service's Server-Timing; (network) is the latency less the server's total), ms:\n")
		nameW := len("{ step: }")
		for _, st := range s.Steps {
			nameW = max(nameW, len(st.Name)+len("{ step: }"))
			for _, tm := range st.Timing {
				nameW = max(nameW, len(tm.Name)+2)
			}
		}
		fmt.Fprintf(b, "    %-*s %8s %8s %8s %8s %8s\n", nameW, "", "answers", "p50", "p90", "p99", "mean")
		for _, st := range s.Steps {
			if len(st.Timing) == 0 {
				continue
			}
			fmt.Fprintf(b, "    { step:%s }\n", st.Name)
			for _, tm := range st.Timing {
				f := tm.Run
				fmt.Fprintf(b, "    %-*s %8d %8s %8s %8s %8s\n", nameW, "  "+tm.Name, f.Answered, msText(f.P50), msText(f.P90), msText(f.P99), msText(f.Mean))
			}
		}
	}
	if c := s.ServerTiming; c != (engine.TimingCounts{}) {
		fmt.Fprintf(b, "\n  Server-Timing: %d malformed metrics skipped, %d values of names past the first %d not recorded\n", c.Malformed, c.Dropped, engine.MaxTimings)
	}
}

func msText(d time.Duration) string {
	return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))
}
