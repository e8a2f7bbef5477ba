package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"perflab/engine"
	"perflab/engine/scenariofile"
	"perflab/experiments"
	"perflab/experiments/scenarios"
)

// runScenario drives load through the flow of a scenario file, or sends
// one iteration of it with --dry-run.
func runScenario(o *options, stdout, stderr io.Writer) error {
	twinOnly := flagGroup{flags: []string{"sweep", "experiment"}}
	if f := o.given(knobFlags(), fishialFlags, twinOnly); f != "" {
		return usagef("%s is a twin experiment setting and does not apply to --scenario; drop it, or use --experiment", f)
	}
	if f := o.given(flagGroup{flags: []string{"method", "header", "body"}}); f != "" {
		return usagef("%s does not apply to --scenario: each step sets its own method, headers and body in the file", f)
	}
	if f := o.given(flagGroup{flags: []string{"agents", "agents-min"}}); f != "" {
		return usagef("%s spreads a --url run over agents; a scenario runs on this machine: drop %s", f, f)
	}
	file, err := readScenarioFile(o)
	if err != nil {
		return err
	}
	if o.dryRun {
		return dryRun(o, file, stdout, stderr)
	}
	r, err := scenarioRun(o, file, defaultURLDuration)
	if err != nil {
		return err
	}
	return runLoad(o, r, stdout, stderr)
}

// scenarioRun is the load run of a scenario file: its settings, with the
// command line's flags over them.
func scenarioRun(o *options, file *scenariofile.File, defaultDuration time.Duration) (loadRun, error) {
	if err := applyFileLoad(o, file); err != nil {
		return loadRun{}, err
	}
	model, err := loadModel(o, engine.Max{Conns: defaultURLConns})
	if err != nil {
		return loadRun{}, err
	}
	opts, err := loadOptions(o, defaultDuration)
	if err != nil {
		return loadRun{}, err
	}
	return loadRun{scenario: file.Scenario, model: model, opts: opts, target: scenarioTarget(file), measured: measuredStep(file.Scenario)}, nil
}

// scenarioStage starts a scenario's load for the dashboard, running until
// the presenter quits unless the file or --duration says otherwise.
func scenarioStage(o *options) (*experiments.External, error) {
	file, err := readScenarioFile(o)
	if err != nil {
		return nil, err
	}
	oo := *o
	oo.set = map[string]bool{}
	for k, v := range o.set {
		oo.set[k] = v
	}
	r, err := scenarioRun(&oo, file, 0)
	if err != nil {
		return nil, err
	}
	gen, err := engine.New(r.scenario, r.model, r.opts...)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return experiments.StartExternal(gen, r.target), nil
}

// scenarioTarget names a scenario run on its opening line and screen.
func scenarioTarget(f *scenariofile.File) string {
	s := "scenario " + f.Title
	if f.Base != "" {
		s += " at " + f.Base
	}
	return s
}

// measuredStep is a scenario's one looped step, whose figures are its
// result as the likes request is the likes experiment's; "" (the total)
// when it loops several.
func measuredStep(s engine.Scenario) string {
	steps := s.Steps
	for _, f := range s.Flows {
		steps = append(steps, f.Steps...)
	}
	if len(steps) == 1 {
		return steps[0].Name
	}
	return ""
}

// readScenarioFile reads --scenario: a file, else an embedded scenario of
// that name. A file's data and @body files are found beside it.
func readScenarioFile(o *options) (*scenariofile.File, error) {
	name := o.scenario
	data, err := os.ReadFile(name)
	readBeside := func(p string) ([]byte, error) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(name), p)
		}
		return os.ReadFile(p)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		embedded, edata, ok := scenarios.Read(name)
		if !ok {
			return nil, usagef("--scenario %s: no such file, and no embedded scenario of that name (embedded: %s)", name, strings.Join(scenarios.Names(), ", "))
		}
		name, data = embedded, edata
		readBeside = os.ReadFile
	case err != nil:
		return nil, usagef("--scenario %s: %v", name, unwrapPathError(err))
	}
	f, err := scenariofile.Parse(name, data, scenariofile.Options{Base: o.url, ReadFile: readBeside})
	if err != nil {
		return nil, usagef("%v", err)
	}
	return f, nil
}

// applyFileLoad fills the load flags the command line did not give from
// the file's settings: flags win. A load model chosen on the command line
// (-c, --vus, --rate) replaces the file's, and its think time unless that
// model has users; --duration or --stages replace the file's plan.
func applyFileLoad(o *options, f *scenariofile.File) error {
	l := f.Load
	has := func(key string) bool { _, ok := l.Lines[key]; return ok }
	lineErr := func(key, format string, a ...any) error {
		return usagef("%s", (&scenariofile.Error{File: f.Name, Line: l.Lines[key], Msg: fmt.Sprintf(format, a...)}).Error())
	}
	if !(o.set["c"] || o.set["vus"] || o.set["rate"]) {
		switch {
		case has("vus"):
			o.vus, o.set["vus"] = l.VUs, true
		case has("rate"):
			o.rate, o.set["rate"] = l.Rate, true
		case has("connections"):
			o.conns, o.set["c"] = l.Conns, true
		}
	}
	if !o.set["duration"] && !o.set["stages"] {
		if has("duration") {
			o.duration, o.set["duration"] = l.Duration, true
		}
		if has("stages") {
			if _, _, err := parseStages(l.Stages); err != nil {
				msg := err.Error()
				if _, rest, ok := strings.Cut(msg, "\": \""); ok {
					msg = "\"" + rest
				}
				return lineErr("stages", "stages: %s", msg)
			}
			o.stages, o.set["stages"] = l.Stages, true
		}
	}
	if has("think") && !o.set["think"] {
		users := o.set["vus"] || (o.set["stages"] && !o.set["c"] && !o.set["rate"])
		switch {
		case users:
			o.think, o.set["think"] = l.Think, true
		case !o.set["c"] && !o.set["rate"]:
			return lineErr("think", "think applies to virtual users; add vus: N (or give --vus N)")
		}
	}
	if has("timeout") && !o.set["timeout"] {
		o.timeout, o.set["timeout"] = l.Timeout, true
	}
	if has("thresholds") && len(o.thresholds) == 0 {
		o.thresholds = append(listFlag(nil), l.Thresholds...)
	}
	return nil
}
