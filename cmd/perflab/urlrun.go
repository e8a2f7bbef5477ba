package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"perflab/engine"
)

// Defaults of a --url run.
const (
	defaultURLConns    = 50
	defaultURLDuration = 10 * time.Second
)

// runURL drives load at an external URL.
func runURL(o *options, stdout, stderr io.Writer) error {
	experimentOnly := flagGroup{flags: []string{"sweep", "experiment"}}
	if f := o.given(knobFlags(), fishialFlags, experimentOnly); f != "" {
		return usagef("%s is a twin experiment setting and does not apply to --url; drop it, or use --experiment", f)
	}
	step, err := urlStep(o)
	if err != nil {
		return err
	}
	model, err := loadModel(o, engine.Max{Conns: defaultURLConns})
	if err != nil {
		return err
	}
	opts, err := loadOptions(o, defaultURLDuration)
	if err != nil {
		return err
	}
	return runLoad(o, loadRun{
		scenario: engine.Scenario{Steps: []engine.Step{step}},
		model:    model, opts: opts,
		target: step.Method + " " + o.url,
	}, stdout, stderr)
}

// loadRun is a load run against a target perflab did not start: what to
// send, how, and what to call it.
type loadRun struct {
	scenario engine.Scenario
	model    engine.Model
	opts     []engine.Option
	target   string // names the target on the opening line
	measured string // the step whose figures are the result; "" the total
}

// runLoad checks a load run and runs it on the dashboard, or headless
// with --record or when the output is not a terminal.
func runLoad(o *options, r loadRun, stdout, stderr io.Writer) error {
	if _, err := engine.New(r.scenario, r.model, r.opts...); err != nil {
		return usagef("%v", err)
	}
	if o.record != "" {
		if err := checkRecordPath(o.record); err != nil {
			return err
		}
	}
	if o.record == "" && isTerminal(stdout) {
		if f := o.given(flagGroup{flags: []string{"repeat", "shuffle", "shuffle-seed"}}); f != "" {
			return usagef("%s runs headless; give --record FILE", f)
		}
		return dashboard(o, stdout, stderr)
	}
	ths, err := parseThresholds(o)
	if err != nil {
		return err
	}
	if o.agents != "" {
		if f := o.given(flagGroup{flags: []string{"repeat", "shuffle", "shuffle-seed"}}); f != "" {
			return usagef("%s does not apply to a run over agents yet; drop it", f)
		}
		// Only --url runs get here: agents send one request shape.
		return runOverAgents(o, r.scenario.Steps[0], r.model, ths, stdout, stderr)
	}
	if o.set["agents-min"] {
		return usagef("--agents-min applies to --agents; add --agents redis://host:port")
	}
	plan, err := parseRepeat(o, 1, stderr)
	if err != nil {
		return err
	}
	return headless(headlessRun{
		newGen:   func() (*engine.Generator, error) { return engine.New(r.scenario, r.model, r.opts...) },
		repeat:   plan.repeat,
		outputs:  loadOutputs(o, ths, "summary", "repeats"),
		abort:    newAbortWatch(o, ths),
		target:   r.target,
		measured: r.measured,
	}, stdout, stderr)
}

// urlStep builds the single request of a --url run from its flags.
func urlStep(o *options) (engine.Step, error) {
	st := engine.Step{Name: "url", Method: strings.ToUpper(o.method), URL: o.url}
	if err := (engine.Scenario{Steps: []engine.Step{st}}).Validate(); err != nil {
		return st, usagef("--url: %v", strings.TrimPrefix(err.Error(), "step url: "))
	}
	if st.Method == "" || strings.ContainsAny(st.Method, " \t\r\n:/") {
		return st, usagef("--method %q is not an HTTP method", o.method)
	}
	for _, h := range o.headers {
		hdr, err := engine.ParseHeader(h)
		if err != nil {
			return st, usagef("--header: %v", err)
		}
		st.Header = append(st.Header, hdr)
	}
	if o.body != "" {
		body := o.body
		if path, ok := strings.CutPrefix(body, "@"); ok {
			b, err := os.ReadFile(path)
			if err != nil {
				return st, usagef("--body @%s: %v", path, unwrapPathError(err))
			}
			body = string(b)
		}
		st.Body = body
	}
	return st, nil
}

// loadModel picks the arrival model from -c, --vus/--think and --rate,
// refusing combinations that contradict each other.
func loadModel(o *options, fallback engine.Model) (engine.Model, error) {
	given := []string{}
	for _, n := range []string{"c", "vus", "rate"} {
		if o.set[n] {
			given = append(given, "--"+n)
		}
	}
	if len(given) > 1 {
		return nil, usagef("%s choose different load models; give only one of -c (max), --vus (closed) or --rate (open)", strings.Join(given, " and "))
	}
	// A plan of users with think time ramps the closed model.
	thinkPlan := o.set["stages"] && len(given) == 0
	if o.set["think"] && !o.set["vus"] && !(len(given) == 0 && isClosed(fallback)) && !thinkPlan {
		return nil, usagef("--think applies to virtual users; add --vus N")
	}
	if o.set["max-in-flight"] && !o.set["rate"] {
		return nil, usagef("--max-in-flight applies to the open model; add --rate R")
	}
	switch {
	case o.set["c"] && o.conns < 1:
		return nil, usagef("-c must be at least 1 connection, got %d", o.conns)
	case o.set["vus"] && o.vus < 1:
		return nil, usagef("--vus must be at least 1, got %d", o.vus)
	case o.set["think"] && o.think < 0:
		return nil, usagef("--think must not be negative, got %s", o.think)
	case o.set["rate"] && !(o.rate > 0) && !(o.set["stages"] && o.rate == 0):
		return nil, usagef("--rate must be above 0 requests/s, got %g", o.rate)
	case o.set["max-in-flight"] && o.maxInFlight < 1:
		return nil, usagef("--max-in-flight must be at least 1, got %d", o.maxInFlight)
	}
	for _, c := range []struct {
		flag string
		n    int
	}{{"c", o.conns}, {"vus", o.vus}, {"max-in-flight", o.maxInFlight}} {
		if err := engine.CheckConns(c.n); err != nil && o.set[c.flag] {
			return nil, usagef("%s %d: %v", dashed(c.flag), c.n, err)
		}
	}
	var model engine.Model
	switch {
	case o.set["c"]:
		model = engine.Max{Conns: o.conns}
	case o.set["vus"]:
		think := o.think
		// Users alone keep the think time of the load they replace (an
		// experiment's plan); --think alone keeps its users.
		if c, ok := fallback.(engine.Closed); ok && !o.set["think"] {
			think = c.Think
		}
		model = engine.Closed{VUs: o.vus, Think: think}
	case o.set["rate"]:
		model = engine.Open{Rate: o.rate, MaxInFlight: o.maxInFlight}
	default:
		model = fallback
		if c, ok := fallback.(engine.Closed); ok && o.set["think"] {
			c.Think = o.think
			model = c
		} else if thinkPlan && o.set["think"] {
			model = engine.Closed{Think: o.think}
		}
	}
	if o.set["stages"] {
		stages, perSecond, err := parseStages(o.stages)
		if err != nil {
			return nil, err
		}
		for _, st := range stages {
			n := int(min(st.Target, math.MaxInt32))
			if err := engine.CheckConns(n); err != nil && !perSecond {
				return nil, usagef("--stages %s: %d users or connections: %v", o.stages, n, err)
			}
		}
		return stagesModel(o, model, perSecond)
	}
	return model, nil
}

func isClosed(m engine.Model) bool {
	_, ok := m.(engine.Closed)
	return ok
}

// loadOptions turns --duration, --timeout, --max-body and --insecure into
// generator options.
func loadOptions(o *options, defaultDuration time.Duration) ([]engine.Option, error) {
	d := defaultDuration
	if o.set["duration"] {
		if o.duration <= 0 {
			return nil, usagef("--duration must be above 0, got %s", o.duration)
		}
		d = o.duration
	}
	opts := []engine.Option{engine.Duration(d)}
	perSecond := false
	if o.set["stages"] {
		if o.set["duration"] {
			return nil, usagef("--duration and --stages: the stages' durations add up to the run's; drop --duration")
		}
		stages, ps, err := parseStages(o.stages)
		if err != nil {
			return nil, err
		}
		opts, perSecond = []engine.Option{engine.Stages(stages...)}, ps
	}
	if o.set["timeout"] {
		if o.timeout <= 0 {
			return nil, usagef("--timeout must be above 0, got %s", o.timeout)
		}
		opts = append(opts, engine.Timeout(o.timeout))
	}
	if o.set["max-body"] {
		opts = append(opts, engine.MaxBody(int(o.maxBody)))
	}
	if o.set["engine"] {
		if !slices.Contains(engine.Paths, o.enginePath) {
			return nil, usagef("--engine %q: choose %s", o.enginePath, strings.Join(engine.Paths, ", "))
		}
		opts = append(opts, engine.Path(o.enginePath))
	}
	if o.realtime {
		switch {
		case o.enginePath == engine.PathGoroutine:
			return nil, usagef("--realtime-pacer raises the event loop's pacer; --engine goroutine has none (its pacer is the runtime's timers)")
		case !o.set["rate"] && !perSecond:
			return nil, usagef("--realtime-pacer paces the open model: add --rate R (or --stages in requests a second)")
		}
		opts = append(opts, engine.RealtimePacer())
	}
	if o.insecure {
		opts = append(opts, engine.TLSConfig(&tls.Config{InsecureSkipVerify: true}))
	}
	if o.hdrLog != "" {
		opts = append(opts, engine.IntervalHistograms())
	}
	return opts, nil
}

// describeLoad is the one-line statement of a run shown before it starts.
func describeLoad(target string, l engine.Load, d time.Duration) string {
	s := fmt.Sprintf("perflab: %s, %s", target, l)
	if d > 0 {
		s += ", for " + d.String()
	}
	return s
}
