// Package threshold holds a run to pass/fail criteria, in k6's vocabulary
// where it fits: "p(99)<250ms", "avg<100ms", "http_req_failed<1%",
// "checks>99%", "rps>1000", per step as "p(95){step:likes}<50ms", and on
// the open model's service time as "service.p(99)<20ms". A threshold is
// evaluated on a run's figures: at the end on the whole run, and while it
// goes on, on the run so far, for --abort-on-fail.
package threshold

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"perflab/engine"
)

// Threshold is one parsed criterion.
type Threshold struct {
	Expr    string // as given
	Service bool   // on the service time rather than the corrected latency
	Metric  string // "p", "avg", "med", "min", "max", "http_req_failed", "checks", "rps"
	Pct     float64
	Step    string // "" for every step
	Op      string
	Limit   float64 // in ms for latencies, a fraction for rates, req/s for rps
}

// percentiles are the ones a run's figures hold.
var percentiles = []float64{50, 90, 95, 99, 99.9}

var ops = []string{"<=", ">=", "==", "!=", "<", ">"}

// Parse reads one expression. Its error names the bad part.
func Parse(expr string) (Threshold, error) {
	t := Threshold{Expr: expr}
	s := strings.TrimSpace(expr)
	fail := func(format string, a ...any) (Threshold, error) {
		return t, fmt.Errorf("threshold %q: %s", expr, fmt.Sprintf(format, a...))
	}
	if rest, ok := strings.CutPrefix(s, "service."); ok {
		t.Service, s = true, rest
	}
	opAt, op := -1, ""
	for _, o := range ops {
		if i := strings.Index(s, o); i >= 0 && (opAt < 0 || i < opAt || i == opAt && len(o) > len(op)) {
			opAt, op = i, o
		}
	}
	if opAt < 0 {
		return fail("no comparison; write e.g. p(99)<250ms")
	}
	lhs, rhs := strings.TrimSpace(s[:opAt]), strings.TrimSpace(s[opAt+len(op):])
	if strings.ContainsAny(rhs[:min(1, len(rhs))], "<>=!") {
		return fail("unknown operator %q; use <, <=, >, >=, == or !=", op+rhs[:1])
	}
	t.Op = op
	if i := strings.Index(lhs, "{"); i >= 0 {
		tag := lhs[i:]
		lhs = strings.TrimSpace(lhs[:i])
		name, ok := strings.CutPrefix(tag, "{step:")
		if !ok || !strings.HasSuffix(name, "}") || len(name) < 2 {
			return fail("tag %q: the only tag is {step:NAME}", tag)
		}
		t.Step = strings.TrimSpace(strings.TrimSuffix(name, "}"))
	}
	if err := t.metric(lhs); err != nil {
		return fail("%v", err)
	}
	if t.Service && !t.latency() {
		return fail("service. applies to latency figures (p(N), avg, med, min, max), not %s", t.Metric)
	}
	limit, err := t.limit(rhs)
	if err != nil {
		return fail("%v", err)
	}
	t.Limit = limit
	return t, nil
}

func (t *Threshold) metric(s string) error {
	switch s {
	case "avg", "med", "min", "max", "http_req_failed", "checks", "rps":
		t.Metric = s
		return nil
	case "":
		return fmt.Errorf("no figure before the comparison; use p(N), avg, med, min, max, http_req_failed, checks or rps")
	}
	inner, ok := strings.CutPrefix(s, "p(")
	if !ok || !strings.HasSuffix(inner, ")") {
		return fmt.Errorf("unknown figure %q; use p(N), avg, med, min, max, http_req_failed, checks or rps", s)
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(inner, ")"), 64)
	if err != nil || !contains(percentiles, v) {
		return fmt.Errorf("percentile %q is not measured; use p(50), p(90), p(95), p(99) or p(99.9)", s)
	}
	t.Metric, t.Pct = "p", v
	return nil
}

func (t Threshold) latency() bool {
	switch t.Metric {
	case "p", "avg", "med", "min", "max":
		return true
	}
	return false
}

// limit reads the right-hand side: a duration for latencies (ms when no
// unit), a percentage or fraction for rates, a number for rps.
func (t Threshold) limit(s string) (float64, error) {
	if s == "" {
		return 0, fmt.Errorf("no limit after %s", t.Op)
	}
	switch {
	case t.latency():
		if v, err := strconv.ParseFloat(s, 64); err == nil {
			return v, nil // ms
		}
		d, err := time.ParseDuration(strings.ReplaceAll(s, "µs", "us"))
		if err != nil {
			return 0, fmt.Errorf("limit %q is not a duration; write e.g. 250ms or 1.5s", s)
		}
		return float64(d) / float64(time.Millisecond), nil
	case t.Metric == "rps":
		v, err := strconv.ParseFloat(strings.TrimSuffix(s, "/s"), 64)
		if err != nil {
			return 0, fmt.Errorf("limit %q is not a rate; write e.g. 1000 or 1000/s", s)
		}
		return v, nil
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return 0, fmt.Errorf("limit %q is not a percentage", s)
		}
		return v / 100, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v > 1 {
		return 0, fmt.Errorf("limit %q: give a percentage (1%%) or a fraction from 0 to 1", s)
	}
	return v, nil
}

// Result is a threshold evaluated on a run's figures.
type Result struct {
	Threshold
	Value float64 // NaN when the run has no such figure (no answers yet)
	OK    bool
}

// Text renders the value in the threshold's unit.
func (r Result) Text() string {
	switch {
	case math.IsNaN(r.Value):
		return "no data"
	case r.latency():
		return strconv.FormatFloat(r.Value, 'f', 2, 64) + "ms"
	case r.Metric == "rps":
		return strconv.FormatFloat(r.Value, 'f', 1, 64) + "/s"
	}
	return strconv.FormatFloat(100*r.Value, 'f', 2, 64) + "%"
}

// Evaluate checks t against a snapshot's run figures: the whole run of a
// final snapshot, or the run so far.
func (t Threshold) Evaluate(s *engine.Snapshot) Result {
	r := Result{Threshold: t, Value: t.value(s)}
	r.OK = !math.IsNaN(r.Value) && compare(r.Value, t.Op, t.Limit)
	return r
}

func (t Threshold) value(s *engine.Snapshot) float64 {
	series, ok := s.All, true
	if t.Step != "" {
		ok = false
		for _, st := range s.Steps {
			if st.Name == t.Step {
				series, ok = st, true
			}
		}
	}
	if !ok {
		return math.NaN()
	}
	f := series.Run
	if t.Service {
		f = series.RunService
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	switch t.Metric {
	case "http_req_failed":
		if f.Requests == 0 {
			return math.NaN()
		}
		return float64(f.Errors) / float64(f.Requests)
	case "checks":
		var passed, failed int64
		for _, c := range s.Checks {
			if t.Step == "" || c.Step == t.Step {
				passed, failed = passed+c.Passed, failed+c.Failed
			}
		}
		if passed+failed == 0 {
			return math.NaN()
		}
		return float64(passed) / float64(passed+failed)
	case "rps":
		return f.RPS
	}
	if f.Answered == 0 {
		return math.NaN()
	}
	switch t.Metric {
	case "avg":
		return ms(f.Mean)
	case "med":
		return ms(f.P50)
	case "min":
		return ms(f.Min)
	case "max":
		return ms(f.Max)
	}
	switch t.Pct {
	case 50:
		return ms(f.P50)
	case 90:
		return ms(f.P90)
	case 95:
		return ms(f.P95)
	case 99:
		return ms(f.P99)
	}
	return ms(f.P999)
}

func compare(v float64, op string, limit float64) bool {
	switch op {
	case "<":
		return v < limit
	case "<=":
		return v <= limit
	case ">":
		return v > limit
	case ">=":
		return v >= limit
	case "==":
		return v == limit
	}
	return v != limit
}

func contains(xs []float64, x float64) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// Unit is the unit of Value: "ms", "fraction" or "req/s".
func (t Threshold) Unit() string {
	switch {
	case t.latency():
		return "ms"
	case t.Metric == "rps":
		return "req/s"
	}
	return "fraction"
}
