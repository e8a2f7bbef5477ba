package engine

import (
	"math"
	"time"
)

// schedule maps open-model slots to start times: slot base starts at at,
// each later slot interval after the previous.
type schedule struct {
	at       time.Time
	base     int64
	interval time.Duration
	// ramp, when set, times the slots by a plan instead of the interval.
	ramp *ramp
}

// never is a start time no run reaches: a plan that ended at 0/s has no
// more slots.
const never = 100 * 365 * 24 * time.Hour

func (s *schedule) start(slot int64) time.Time {
	if s.ramp != nil {
		at, ok := s.ramp.when(float64(slot-s.base) + 1)
		if !ok {
			return s.at.Add(never)
		}
		return s.at.Add(at)
	}
	return s.at.Add(time.Duration(slot-s.base) * s.interval)
}

// due is the number of slots whose start time has come by now.
func (s *schedule) due(now time.Time) int64 {
	if s.ramp != nil {
		return s.base + int64(s.ramp.count(now.Sub(s.at)))
	}
	return s.base + int64(now.Sub(s.at)/s.interval) + 1
}

func rateInterval(r float64) time.Duration {
	return time.Duration(math.Max(1, float64(time.Second)/r))
}
