package experiments

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"perflab/engine"
	"perflab/engine/report"
	"perflab/engine/stats"
)

// splitGrid is where the measured step's time went in each
// configuration (the service's Server-Timing, each metric's p50 over the
// run; with repeats the median of the runs' p50s), then what changed
// between the configurations each of the study's conclusions compares,
// so the reproduced conclusion carries its cause: "workers 1 -> 4: queue
// p50 -20.1 ms, db p50 +14.3 ms".
type splitGrid struct {
	title   string
	header  []string
	rows    [][]string
	changes []string
}

const splitChangesTitle = "What changed, for the study's conclusions"

// split is the session's splitGrid, nil when no run carried the header.
func (t *studyTable) split() *splitGrid {
	names := splitNames(t.rep.Configs)
	if len(names) == 0 {
		return nil
	}
	g := &splitGrid{
		title: fmt.Sprintf("Where the time went in the %s step (Server-Timing, p50 ms; %s is the latency less the server's parts)",
			t.exp.Plan.Measured, engine.TimingRest),
		header: append([]string{"run", "configuration"}, names...),
	}
	for _, c := range t.rep.Configs {
		row := []string{strconv.Itoa(c.Run), c.Config}
		for _, n := range names {
			if v, ok := splitMedian(c, n); ok {
				row = append(row, report.Num(v))
			} else {
				row = append(row, "-")
			}
		}
		g.rows = append(g.rows, row)
	}
	g.changes = t.splitChanges(names)
	return g
}

// text renders the split for the terminal.
func (g *splitGrid) text(b *strings.Builder) {
	b.WriteString(g.title + "\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, row := range append([][]string{g.header}, g.rows...) {
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
	if len(g.changes) > 0 {
		b.WriteString(splitChangesTitle + ":\n")
		for _, l := range g.changes {
			b.WriteString("  " + l + "\n")
		}
	}
	b.WriteString("\n")
}

// splitNames are the metric names the runs met, in the order met, the
// rest last.
func splitNames(configs []*report.ConfigRuns) []string {
	var names []string
	rest := false
	for _, c := range configs {
		for _, run := range c.Timings {
			for _, tm := range run {
				switch {
				case tm.Name == engine.TimingRest:
					rest = true
				case !slices.Contains(names, tm.Name):
					names = append(names, tm.Name)
				}
			}
		}
	}
	if rest {
		names = append(names, engine.TimingRest)
	}
	return names
}

// splitMedian is the median across a configuration's runs of metric
// name's p50; false when no run had the metric.
func splitMedian(c *report.ConfigRuns, name string) (float64, bool) {
	var vals []float64
	for _, run := range c.Timings {
		for _, tm := range run {
			if tm.Name == name && tm.Run.Answered > 0 {
				vals = append(vals, float64(tm.Run.P50)/float64(time.Millisecond))
			}
		}
	}
	if len(vals) == 0 {
		return 0, false
	}
	return stats.Summarize(vals).Median, true
}

// splitChanges is one line per pair of configurations a conclusion of
// the study compares: each metric's change of p50 from one to the other.
func (t *studyTable) splitChanges(names []string) []string {
	var lines []string
	for _, cl := range t.exp.Claims {
		from, to := cl.values(&t.rep)
		for _, a := range t.rep.Configs {
			for _, b := range t.rep.Configs {
				if !cl.pair(a, b, from, to) {
					continue
				}
				var parts []string
				for _, n := range names {
					va, okA := splitMedian(a, n)
					vb, okB := splitMedian(b, n)
					if okA || okB {
						parts = append(parts, fmt.Sprintf("%s p50 %+.1f ms", n, vb-va))
					}
				}
				head := fmt.Sprintf("%s %s -> %s", cl.Knob, a.Settings[cl.Knob], b.Settings[cl.Knob])
				if others := otherKnobs(a.Config, cl.Knob); others != "" {
					head += " (" + others + ")"
				}
				lines = append(lines, head+": "+strings.Join(parts, ", "))
			}
		}
	}
	return lines
}

// otherKnobs are a configuration's settings but knob's, as words.
func otherKnobs(config, knob string) string {
	var others []string
	for _, part := range strings.Fields(config) {
		if !strings.HasPrefix(part, knob+"=") {
			others = append(others, part)
		}
	}
	return strings.Join(others, " ")
}
