package main

import (
	"context"
	"time"

	"perflab/engine"
	"perflab/experiments"
	"perflab/experiments/fishial"
	"perflab/server"
	"perflab/tui"
)

// twinEntry is a twin experiment on the home screen. Its knob and load
// flags apply when the command line opens it; from elsewhere it starts
// from the study's configuration and load.
func twinEntry(e *experiments.Experiment, o *options) (tui.Entry, error) {
	settings := e.Defaults()
	model := e.DefaultModel()
	var opts []engine.Option
	var duration time.Duration
	if o.experiment == e.Name {
		var err error
		if settings, err = experimentSettings(e, o); err != nil {
			return tui.Entry{}, err
		}
		if model, err = loadModel(o, model); err != nil {
			return tui.Entry{}, err
		}
		if opts, err = loadOptions(o, 0); err != nil {
			return tui.Entry{}, err
		}
		duration = o.duration
	}
	return tui.Entry{
		Name:   e.Name,
		Title:  e.Title,
		Lesson: e.Lesson,
		OpenStage: func(ctx context.Context) (tui.Stage, error) {
			sess, err := experiments.Open(ctx, e, settings, server.DefaultConfig())
			if err != nil {
				return nil, err
			}
			return experiments.StartLive(sess, model, duration, opts...), nil
		},
	}, nil
}

// fishialEntry is the race on the home screen. The race flags apply when
// the command line opens the race itself; from elsewhere it starts from
// the study's configuration.
func fishialEntry(o *options) (tui.Entry, error) {
	base := fishial.DefaultConfig()
	if o.experiment == "fishial" {
		c, err := fishialConfig(o)
		if err != nil {
			return tui.Entry{}, err
		}
		base = c
	}
	return tui.Entry{
		Name:   "fishial",
		Title:  "Fishial race: four ways to call a slow external API",
		Lesson: "For network-I/O-bound work, async beats adding processes or machines, which buy CPUs that sit waiting.",
		OpenRace: func(context.Context) (tui.Race, error) {
			return tui.NewFishialRace(base), nil
		},
	}, nil
}
