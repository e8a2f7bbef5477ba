package engine

import "time"

// cpuMeter reports the process's CPU use over roughly the last second.
type cpuMeter struct {
	ring [quartersPerSecond + 1]cpuReading
	n    int
}

type cpuReading struct {
	at  time.Time
	cpu time.Duration
}

func (m *cpuMeter) reset(now time.Time) {
	m.n = 0
	m.push(now)
}

func (m *cpuMeter) push(now time.Time) {
	m.ring[m.n%len(m.ring)] = cpuReading{at: now, cpu: processCPU()}
	m.n++
}

// sample records a reading and returns the cores used since the oldest
// reading kept (one second ago once the run is a second old).
func (m *cpuMeter) sample(now time.Time) float64 {
	m.push(now)
	newest := m.ring[(m.n-1)%len(m.ring)]
	oldest := m.ring[max(0, m.n-len(m.ring))%len(m.ring)]
	wall := newest.at.Sub(oldest.at)
	if wall <= 0 {
		return 0
	}
	return float64(newest.cpu-oldest.cpu) / float64(wall)
}
