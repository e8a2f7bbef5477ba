package tui

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"perflab/experiments/fishial"
	"perflab/server/proc"
)

// FishialRace is the Fishial race as the dashboard drives it: every
// strategy at once against the mock API (or one after another), with the
// presenter's images and time-scale over the base configuration.
type FishialRace struct {
	base fishial.Config
}

// NewFishialRace prepares a race from base (processes, nodes, Redis, 429s
// and the strategies stay as given).
func NewFishialRace(base fishial.Config) *FishialRace { return &FishialRace{base: base} }

func (r *FishialRace) Setup() RaceSetup {
	setup := RaceSetup{
		Defaults: RaceConfig{Images: r.base.Images, TimeScale: r.base.TimeScale},
		Lesson:   strings.Join(strings.Fields(fishial.Lesson), " "),
		Cores:    raceCores(),
	}
	lat := r.base.Latencies()
	setup.Mock = fmt.Sprintf("token %s  signed %s  upload %s  recognise %s s",
		seconds(lat.Token.Seconds()), seconds(lat.SignedUpload.Seconds()), seconds(lat.Upload.Seconds()), seconds(lat.Recognition.Seconds()))
	for _, name := range r.base.Strategies {
		st := RaceStrategy{Name: name, Resources: resources(name, r.base.Workers(name))}
		if row, ok := fishial.StudyFor(name); ok {
			st.StudySeconds, st.StudyImages = row.Seconds, fishial.StudyImages
		}
		setup.Strategies = append(setup.Strategies, st)
	}
	return setup
}

// raceCores is how many cores the race's processes may use: this
// process's, which they inherit (fewer than the machine's while it is
// pinned away from a twin's instance).
func raceCores() int {
	if cpus, err := proc.SelfCPUs(); err == nil && len(cpus) > 0 {
		return len(cpus)
	}
	return runtime.NumCPU()
}

func resources(strategy string, n int) string {
	switch strategy {
	case fishial.StrategyMultiprocess:
		return fmt.Sprintf("%d procs", n)
	case fishial.StrategyDistributed:
		return fmt.Sprintf("%d nodes", n)
	}
	return "1 thread"
}

// seconds prints .10 for 0.1, as the study's slides did.
func seconds(v float64) string {
	return strings.TrimPrefix(fmt.Sprintf("%.2f", v), "0")
}

// Start runs every strategy at once, or one after another; see Race.
func (r *FishialRace) Start(ctx context.Context, c RaceConfig) (<-chan RaceEvent, error) {
	cfg := r.base
	cfg.Images, cfg.TimeScale = c.Images, c.TimeScale
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	events := make(chan RaceEvent, 64)
	send := func(ev RaceEvent) bool {
		select {
		case events <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	go func() {
		defer close(events)
		results, err := fishial.Run(ctx, cfg, !c.InTurn, func(p fishial.Progress) {
			send(RaceEvent{Progress: RaceProgress{Strategy: p.Strategy, Done: p.Done, Total: p.Total, Elapsed: p.Elapsed}})
		})
		final := RaceEvent{Done: true, Err: err}
		for _, res := range results {
			rr := RaceResult{
				Strategy: res.Strategy, Images: res.Images, Workers: res.Workers,
				Seconds: res.Seconds, IdealSeconds: res.IdealSeconds, Speedup: res.Speedup,
				CPUSeconds: res.CPUSeconds, ImagesPerCPUSecond: res.ImagesPerCPUSecond,
				CoordinatorCPUSeconds: res.CoordinatorCPUSeconds,
			}
			if fishial.HasCoordinator(res.Strategy) {
				rr.Coordinator = fishial.CoordinatorOf(res)
			}
			final.Results = append(final.Results, rr)
		}
		send(final)
	}()
	return events, nil
}

// Close has nothing to release: each race starts and stops its own mock
// API and Redis.
func (r *FishialRace) Close() error { return nil }
