package main

import (
	"context"
	"io"
	"strings"

	tea "charm.land/bubbletea/v2"

	"perflab/engine"
	"perflab/experiments"
	"perflab/tui"
)

// dashboard runs the terminal dashboard: on the load screen against
// --url, on the experiment --experiment names, or on the home screen.
func dashboard(o *options, stdout, stderr io.Writer) error {
	if f := o.given(flagGroup{flags: []string{"abort-on-fail", "abort-grace", "summary-json", "hdr-log", "report"}}); f != "" {
		return usagef("%s runs headless; give --record FILE", f)
	}
	ths, err := parseThresholds(o)
	if err != nil {
		return err
	}
	cfg := tui.Config{OpenURL: func(ctx context.Context, url string) (tui.Stage, error) { return urlStage(o, url) }, Thresholds: ths}
	for _, c := range experimentCmds() {
		e, err := c.entry(o)
		if err != nil {
			return err
		}
		cfg.Entries = append(cfg.Entries, e)
	}
	switch {
	case o.scenario != "":
		st, err := scenarioStage(o)
		if err != nil {
			return err
		}
		cfg.Stage = st
	case o.url != "" && o.agents != "":
		st, err := agentsStage(o, stderr)
		if err != nil {
			return err
		}
		cfg.Stage = st
	case o.url != "":
		st, err := urlStage(o, o.url)
		if err != nil {
			return err
		}
		cfg.Stage = st
	case o.experiment != "":
		if _, ok := experimentCmdNamed(o.experiment); !ok {
			return usagef("the dashboard has no experiment %q; choose one of: %s", o.experiment, strings.Join(experimentNames(), ", "))
		}
		cfg.Start = o.experiment
	}
	if err := tui.Run(context.Background(), cfg, tea.WithOutput(stdout)); err != nil {
		return failedError{"dashboard: " + err.Error()}
	}
	return nil
}

// urlStage starts load against url with the command line's load flags:
// the same request and model a headless --url run would use, running
// until the presenter quits unless --duration says otherwise.
func urlStage(o *options, url string) (*experiments.External, error) {
	oo := *o
	oo.url = url
	step, err := urlStep(&oo)
	if err != nil {
		return nil, err
	}
	model, err := loadModel(&oo, engine.Max{Conns: defaultURLConns})
	if err != nil {
		return nil, err
	}
	opts, err := loadOptions(&oo, 0)
	if err != nil {
		return nil, err
	}
	gen, err := engine.New(engine.Scenario{Steps: []engine.Step{step}}, model, opts...)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return experiments.StartExternal(gen, step.Method+" "+url), nil
}
