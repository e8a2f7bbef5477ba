package experiments

import (
	"time"

	"perflab/engine"
	"perflab/server"
)

// Static is the study's experiment 1: the SPA served by the instance, then
// by a CDN edge, under 100 users each loading the page every half second.
var Static = &Experiment{
	Name:  "static",
	Title: "static offload: the page from the instance or an edge",
	Lesson: "Once the static files leave the instance it serves the API only, " +
		"and both latency and throughput improve.",
	Plan: Plan{
		VUs:      100,
		Think:    500 * time.Millisecond,
		Duration: 30 * time.Second,
		Measured: "static",
		PageStep: "static",
		Scenario: func(site Site) engine.Scenario {
			return engine.Scenario{Steps: []engine.Step{
				{Name: "static", URL: site.Page + "/", Expect: 200, Check: "page loaded"},
			}}
		},
	},
	// SEED.md, experiment 1: k6, 100 VUs, 2 min.
	Claims: []Claim{{Text: "offload cuts latency", Knob: "offload", From: "off", To: "on"}},
	Study: []StudyCell{
		{When: Settings{"offload": "off"}, Under: djangoCosts, Label: "served by the instance",
			Mean: ms(41.44), P50: ms(32.57), P90: ms(60.25), Max: ms(539.83), RPS: 183.72},
		{When: Settings{"offload": "on"}, Under: djangoCosts, Label: "served by the CDN edge",
			Mean: ms(14.85), P50: ms(11.65), P90: ms(20.12), Max: ms(253.59), RPS: 193.61},
	},
}

// djangoCosts is the condition every run of the study shared: its Python
// stack, which the django profile stands in for.
var djangoCosts = Settings{"profile": server.ProfileDjango}
