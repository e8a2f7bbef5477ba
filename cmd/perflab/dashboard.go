package main

import (
	"context"
	"io"
	"slices"
	"sort"
	"strings"

	tea "charm.land/bubbletea/v2"

	"perflab/engine"
	"perflab/tui"
)

func init() { runDashboard = dashboard }

// dashboardEntry turns the command line into one home-screen entry of the
// dashboard; it checks the options it uses, so bad ones are reported
// before the screen opens.
type dashboardEntry func(o *options) (tui.Entry, error)

// dashboardExperiments maps experiment names to their home-screen
// entries. The files that adapt an experiment to the dashboard (a twin
// session as a tui.Stage, the Fishial race as a tui.Race) register theirs
// in init; the home screen lists exactly these, then the custom URL.
var dashboardExperiments = map[string]dashboardEntry{}

// dashboardOrder is the study's order; experiments it does not name
// follow alphabetically.
var dashboardOrder = []string{"static", "likes", "fishial"}

func dashboardNames() []string {
	var names []string
	for n := range dashboardExperiments {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := slices.Index(dashboardOrder, names[i]), slices.Index(dashboardOrder, names[j])
		if a < 0 {
			a = len(dashboardOrder)
		}
		if b < 0 {
			b = len(dashboardOrder)
		}
		if a != b {
			return a < b
		}
		return names[i] < names[j]
	})
	return names
}

// dashboard runs the terminal dashboard: on the load screen against
// --url, on the experiment --experiment names, or on the home screen.
func dashboard(o *options, stdout, stderr io.Writer) error {
	cfg := tui.Config{OpenURL: func(ctx context.Context, url string) (tui.Stage, error) { return urlStage(o, url) }}
	for _, name := range dashboardNames() {
		e, err := dashboardExperiments[name](o)
		if err != nil {
			return err
		}
		cfg.Entries = append(cfg.Entries, e)
	}
	switch {
	case o.url != "":
		st, err := urlStage(o, o.url)
		if err != nil {
			return err
		}
		cfg.Stage = st
	case o.experiment != "":
		if _, ok := dashboardExperiments[o.experiment]; !ok {
			names := dashboardNames()
			if len(names) == 0 {
				return usagef("the dashboard has no experiment %q in this build; use --url URL, or run perflab alone", o.experiment)
			}
			return usagef("the dashboard has no experiment %q; choose one of: %s", o.experiment, strings.Join(names, ", "))
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
func urlStage(o *options, url string) (*tui.URLStage, error) {
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
	return tui.StartURLStage(gen, step.Method+" "+url), nil
}
