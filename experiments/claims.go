package experiments

import (
	"fmt"
	"strconv"

	"perflab/engine/report"
	"perflab/engine/stats"
)

// Claim is one of the study's conclusions as an ordering of the mean
// latency of two configurations that differ in one knob, which a sweep
// with repeats can test.
type Claim struct {
	Text string // e.g. "the cache cuts latency"
	Knob string
	// From and To are the values compared; "min" and "max" pick the
	// smallest and largest of a numeric knob's swept values.
	From, To string
	// When are other knobs that must hold in both, e.g. workers=4.
	When Settings
	// Slower says the study found To slower than From; otherwise faster.
	Slower bool
}

// testClaims tests each of the experiment's claims on every pair of the
// session's configurations it applies to, one line each: "holds (p=..)",
// "reversed (p=..)" or "not shown at this n".
func (e *Experiment) testClaims(rep *report.Repeated) []string {
	var lines []string
	for _, cl := range e.Claims {
		from, to := cl.values(rep)
		for _, a := range rep.Configs {
			for _, b := range rep.Configs {
				if !cl.pair(a, b, from, to) {
					continue
				}
				lines = append(lines, cl.verdict(e, a, b))
			}
		}
	}
	return lines
}

// values resolves min and max against the knob's values in the session.
func (cl Claim) values(rep *report.Repeated) (from, to string) {
	from, to = cl.From, cl.To
	lo, hi := -1, -1
	for _, c := range rep.Configs {
		n, err := strconv.Atoi(c.Settings[cl.Knob])
		if err != nil {
			continue
		}
		if lo < 0 || n < lo {
			lo = n
		}
		if hi < 0 || n > hi {
			hi = n
		}
	}
	if from == "min" {
		from = strconv.Itoa(lo)
	}
	if to == "max" {
		to = strconv.Itoa(hi)
	}
	return from, to
}

// pair reports whether a and b are the claim's two configurations: the
// knob at from and to, the claim's conditions holding, every other knob
// alike.
func (cl Claim) pair(a, b *report.ConfigRuns, from, to string) bool {
	if from == to || a.Settings[cl.Knob] != from || b.Settings[cl.Knob] != to {
		return false
	}
	for k, v := range cl.When {
		if a.Settings[k] != v || b.Settings[k] != v {
			return false
		}
	}
	for k, v := range a.Settings {
		if k != cl.Knob && b.Settings[k] != v {
			return false
		}
	}
	return true
}

// verdict tests the claim on a (From) and b (To).
func (cl Claim) verdict(e *Experiment, a, b *report.ConfigRuns) string {
	mean := report.Figures[0]
	c := stats.Compare(a.Values(mean), b.Values(mean))
	head := fmt.Sprintf("%s (%s %s -> %s", cl.Text, cl.Knob, a.Settings[cl.Knob], b.Settings[cl.Knob])
	// Name the other swept knobs, which tell pairs of one claim apart.
	if others := otherKnobs(a.Config, cl.Knob); others != "" {
		head += "; " + others
	}
	head += "): "
	figures := fmt.Sprintf(", mean %s -> %s ms", report.Num(c.Old.Median), report.Num(c.New.Median))
	switch {
	case c.TooFew:
		return head + fmt.Sprintf("not shown at this n (n=%d+%d; a verdict needs %d runs each)", c.Old.N, c.New.N, stats.MinCompareN) + figures
	case !c.Significant:
		return head + fmt.Sprintf("not shown at this n (p=%.3f, n=%d+%d)", c.P, c.Old.N, c.New.N) + figures
	case (c.New.Median > c.Old.Median) == cl.Slower:
		return head + fmt.Sprintf("holds (p=%.3f, n=%d+%d)", c.P, c.Old.N, c.New.N) + figures
	}
	return head + fmt.Sprintf("reversed (p=%.3f, n=%d+%d)", c.P, c.Old.N, c.New.N) + figures
}
