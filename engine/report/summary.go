package report

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"perflab/engine"
)

// Summary writes the end-of-run summary of the final snapshot: latency
// percentiles, request and failure counts, checks, and, in the open model,
// service time beside the corrected latency and the generator's health.
func Summary(w io.Writer, s *engine.Snapshot) error {
	var b strings.Builder
	line := func(name, value string) {
		fmt.Fprintf(&b, "  %s%s: %s\n", name, strings.Repeat(".", max(2, 32-len(name))), value)
	}
	fmt.Fprintf(&b, "\n  load: %s, ran %s\n\n", s.Load, Duration(s.Elapsed))

	if checks := s.Checks; len(checks) > 0 {
		var passed, failed int64
		for _, c := range checks {
			passed += c.Passed
			failed += c.Failed
		}
		line("checks", fmt.Sprintf("%s  %d passed  %d failed", percent(passed, passed+failed), passed, failed))
		for _, c := range checks {
			mark := "ok  "
			if c.Failed > 0 {
				mark = "FAIL"
			}
			fmt.Fprintf(&b, "    %s %s (%s of %d)\n", mark, c.Name, percent(c.Passed, c.Passed+c.Failed), c.Passed+c.Failed)
		}
	}
	open := s.Load.Model == "open"
	name := "http_req_duration"
	if open {
		name = "http_req_duration (scheduled)"
	}
	line(name, latencyLine(s.All.Run))
	if open {
		line("http_req_service (sent)", latencyLine(s.All.RunService))
	}
	if len(s.Steps) > 1 {
		for _, st := range s.Steps {
			line("  { step:"+st.Name+" }", latencyLine(st.Run))
		}
	}
	all := s.All.Run
	line("http_req_failed", fmt.Sprintf("%s  %d of %d", percent(all.Errors, all.Requests), all.Errors, all.Requests))
	line("http_reqs", fmt.Sprintf("%d  %s/s", all.Requests, strconv.FormatFloat(all.RPS, 'f', 1, 64)))
	unfinished := strconv.FormatInt(all.Unfinished, 10)
	if all.Unfinished > 0 {
		unfinished += "  (in flight when the run ended: neither answered nor failed)"
	}
	line("unfinished", unfinished)
	retries := strconv.FormatInt(all.Retries, 10)
	if all.Retries > 0 {
		retries += "  (sent again after the kept-alive connection broke while sending)"
	}
	line("retries", retries)
	if e := s.Errors; e.Total() > 0 {
		line("errors by kind", errorKinds(e))
	}
	if len(s.Statuses) > 0 {
		line("statuses", statusLine(s.Statuses))
	}
	h := s.Health
	line(generatorLine(h, open))
	whereTimeWent(&b, s)
	if h.Warning != "" {
		fmt.Fprintf(&b, "\n  warning: %s\n", h.Warning)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// generatorLine is the generator's health: its process's CPU (named
// for what else runs in it), the open model's pacing and the engine.
func generatorLine(h engine.Health, open bool) (who, gen string) {
	gen = fmt.Sprintf("cpu %.2f of %s", h.CPU, Cores(h.Cores))
	if open {
		gen += fmt.Sprintf("  send lag p50 %s p99 %s  missed %d", Duration(h.SendLagP50), Duration(h.SendLagP99), h.Missed)
		if h.Path == engine.PathLoop {
			gen += fmt.Sprintf("  pacer spin %.1f%% of a core", 100*h.PacerCPU)
		}
	}
	if h.PacerPriority != "" {
		gen += "  pacer priority " + h.PacerPriority
	}
	if h.Path != "" {
		gen += "  engine " + EngineName(h, true)
	}
	who = "generator"
	if h.Sharing != "" {
		who += " + " + h.Sharing
	}
	return who, gen
}

// EngineName names the engine path a run took and, on the event loop,
// how many threads drove it and how they read and wrote: "loop (1
// thread, io_uring)". With why, it keeps the reason a loop read and
// wrote call by call, as the summary does; the dashboard and the agents
// table leave that to the summary.
func EngineName(h engine.Health, why bool) string {
	io := h.LoopIO
	if !why {
		io = engine.LoopIOWay(io)
	}
	if h.Path == "" || io == "" {
		return h.Path
	}
	return h.Path + " (" + loopThreads(h.Loops) + io + ")"
}

// loopThreads names how many event-loop threads drove a run, as the
// start of the engine's detail: "2 threads, ", or "" when unknown.
func loopThreads(n int) string {
	switch {
	case n == 1:
		return "1 thread, "
	case n > 1:
		return fmt.Sprintf("%d threads, ", n)
	}
	return ""
}

// errorKinds lists the kinds of failure that happened, with their counts.
func errorKinds(e engine.ErrorCounts) string {
	var parts []string
	for _, k := range e.Kinds() {
		if k.Count > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k.Name, k.Count))
		}
	}
	return strings.Join(parts, "  ")
}

func latencyLine(f engine.Figures) string {
	if f.Answered == 0 {
		return "no answers"
	}
	return fmt.Sprintf("avg=%s min=%s med=%s max=%s p(90)=%s p(95)=%s p(99)=%s",
		Duration(f.Mean), Duration(f.Min), Duration(f.P50), Duration(f.Max), Duration(f.P90), Duration(f.P95), Duration(f.P99))
}

func statusLine(m map[int]int64) string {
	codes := make([]int, 0, len(m))
	for c := range m {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%d x%d", c, m[c])
	}
	return strings.Join(parts, "  ")
}

func percent(n, of int64) string {
	if of == 0 {
		return "0.00%"
	}
	return strconv.FormatFloat(100*float64(n)/float64(of), 'f', 2, 64) + "%"
}

// Duration formats d with about three significant digits in the unit that
// suits it: 850µs, 48.96ms, 2.23s.
func Duration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < time.Millisecond:
		return trim(float64(d)/float64(time.Microsecond)) + "µs"
	case d < time.Second:
		return trim(float64(d)/float64(time.Millisecond)) + "ms"
	case d < time.Minute:
		return trim(d.Seconds()) + "s"
	}
	return d.Round(time.Second).String()
}

func trim(v float64) string {
	prec := 2
	if v >= 100 {
		prec = 1
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

func init() {
	Register(Format{Name: "summary", Help: "the end-of-run summary, as k6 prints it, when the session ran once", New: func(d Dest) (Output, error) {
		return &summaryOutput{w: d.W}, nil
	}})
}

// summaryOutput prints the summary of a session's only run when it closes;
// a sweep's runs are compared in a table instead.
type summaryOutput struct {
	w      io.Writer
	finals []*engine.Snapshot
}

func (o *summaryOutput) Write(ev Event) error {
	if s, ok := ev.(*engine.Snapshot); ok && s.Done {
		o.finals = append(o.finals, s)
	}
	return nil
}

func (o *summaryOutput) Close() error {
	if len(o.finals) != 1 {
		return nil
	}
	return Summary(o.w, o.finals[0])
}

// Cores renders a count of cores: "1 core", "2 cores".
func Cores(n int) string {
	if n == 1 {
		return "1 core"
	}
	return strconv.Itoa(n) + " cores"
}
