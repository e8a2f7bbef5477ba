package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"perflab/engine"
)

// parseStages reads --stages D:T,...: each stage ramps the load linearly
// to target T over duration D. Targets are users or connections, or
// requests per second with "/s" (the open model); perSecond says which.
func parseStages(s string) (stages []engine.Stage, perSecond bool, err error) {
	bad := func(part, format string, a ...any) error {
		return usagef("--stages %q: %q: %s", s, part, fmt.Sprintf(format, a...))
	}
	units := map[bool]int{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		d, t, ok := strings.Cut(part, ":")
		if !ok {
			return nil, false, bad(part, "a stage is DURATION:TARGET, e.g. 30s:50 or 1m:500/s")
		}
		dur, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil {
			return nil, false, bad(part, "%q is not a duration; give a unit, e.g. 30s or 2m", d)
		}
		if dur <= 0 {
			return nil, false, bad(part, "a stage lasts more than 0s")
		}
		t = strings.TrimSpace(t)
		rate := strings.HasSuffix(t, "/s")
		target, err := strconv.ParseFloat(strings.TrimSuffix(t, "/s"), 64)
		switch {
		case err != nil || target < 0 || target != target:
			return nil, false, bad(part, "target %q is not a number of 0 or more", t)
		case !rate && target != float64(int64(target)):
			return nil, false, bad(part, "%q users or connections: give a whole number, or a rate with /s", t)
		}
		units[rate] = 1
		stages = append(stages, engine.Stage{Duration: dur, Target: target})
	}
	if len(units) > 1 {
		return nil, false, usagef("--stages %q mixes rates (/s) with users; a plan ramps one of them", s)
	}
	return stages, units[true] == 1, nil
}

// stagesModel is the model a plan ramps: the one the load flags give,
// else the fallback's kind starting from nothing (a plan of rates, the
// open model).
func stagesModel(o *options, fallback engine.Model, perSecond bool) (engine.Model, error) {
	given := o.set["c"] || o.set["vus"] || o.set["rate"]
	if perSecond {
		switch {
		case o.set["rate"]:
			return engine.Open{Rate: o.rate, MaxInFlight: o.maxInFlight}, nil
		case given:
			return nil, usagef("--stages with /s ramps the open model's rate; drop -c or --vus (--rate R gives the starting rate)")
		}
		return engine.Open{MaxInFlight: o.maxInFlight}, nil
	}
	switch m := fallback.(type) {
	case engine.Closed:
		if !o.set["vus"] {
			m.VUs = 0
		}
		return m, nil
	case engine.Max:
		if !o.set["c"] {
			m.Conns = 0
		}
		return m, nil
	}
	return fallback, nil
}
