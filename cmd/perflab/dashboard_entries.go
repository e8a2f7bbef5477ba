package main

import (
	"context"

	"perflab/experiments"
	"perflab/tui"
)

func init() {
	dashboardExperiments["fishial"] = fishialEntry
}

// fishialEntry is the race on the home screen. The race flags apply when
// the command line opens the race itself; from elsewhere it starts from
// the study's configuration.
func fishialEntry(o *options) (tui.Entry, error) {
	base := experiments.DefaultFishialConfig()
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
