package experiments

import "time"

// SeedCell is one measurement from the study, with the knob values it was
// taken under. Zero durations were not reported.
type SeedCell struct {
	When  Settings // the knobs that must match; others are free
	Label string   // e.g. "sync, 4 workers, no cache"
	Mean  time.Duration
	P50   time.Duration
	P90   time.Duration
	P95   time.Duration
	Max   time.Duration
	RPS   float64
}

// SeedFor returns the study's figures for settings s, if it measured them.
func (e *Experiment) SeedFor(s Settings) (SeedCell, bool) {
	for _, c := range e.Seed {
		if c.matches(s) {
			return c, true
		}
	}
	return SeedCell{}, false
}

func (c SeedCell) matches(s Settings) bool {
	for k, v := range c.When {
		if s[k] != v {
			return false
		}
	}
	return true
}

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
