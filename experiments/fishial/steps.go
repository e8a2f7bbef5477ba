package fishial

import (
	"context"
	"time"
)

// An async flow's steps: the CPU the one thread spends on an image
// between two of its waits, read from the thread's own CPU clock. Step 1
// runs from the flow's start to its signed-upload request (the photo's
// hash and the token included; the wait for the token is not), step 2
// from the grant to the upload, step 3 from the upload's answer to the
// recognition request, step 4 from the recognition's answer to the
// result. A step whose stretches ran on threads the meter could not
// follow (the runtime may move a goroutine to another thread after a
// system call) is not measured.
const asyncSteps = 4

// stepMeter measures one flow's steps. The transport ends a step when it
// has sent a request and starts the next when the answer comes; the flow
// pauses it while it waits for anything else.
type stepMeter struct {
	steps []time.Duration // each step's CPU; -1 if it was not measured
	cur   time.Duration   // the current step's CPU so far
	lost  bool            // part of the current step could not be read
	tid   int             // the thread running the flow since start
	base  time.Duration   // that thread's CPU clock at start
	on    bool
}

type meterKey struct{}

func withMeter(ctx context.Context, m *stepMeter) context.Context {
	return context.WithValue(ctx, meterKey{}, m)
}

func meterFrom(ctx context.Context) *stepMeter {
	m, _ := ctx.Value(meterKey{}).(*stepMeter)
	return m
}

// start: the flow runs again.
func (m *stepMeter) start() {
	if m == nil {
		return
	}
	tid, cpu, ok := threadCPU()
	m.tid, m.base, m.on = tid, cpu, true
	m.lost = m.lost || !ok
}

// stop: the flow is about to wait.
func (m *stepMeter) stop() {
	if m == nil || !m.on {
		return
	}
	m.on = false
	tid, cpu, ok := threadCPU()
	if !ok || tid != m.tid || cpu < m.base {
		m.lost = true
		return
	}
	m.cur += cpu - m.base
}

// endStep: the flow has sent what the step was for.
func (m *stepMeter) endStep() {
	if m == nil {
		return
	}
	m.stop()
	v := m.cur
	if m.lost {
		v = -1
	}
	m.steps = append(m.steps, v)
	m.cur, m.lost = 0, false
}

// seconds are the steps' CPU for a result; nil if the flow did not take
// the usual four steps (a 429 or a refused token adds exchanges).
func (m *stepMeter) seconds() []float64 {
	if m == nil || len(m.steps) != asyncSteps {
		return nil
	}
	s := make([]float64, len(m.steps))
	for i, d := range m.steps {
		s[i] = d.Seconds()
		if d < 0 {
			s[i] = -1
		}
	}
	return s
}

// stepSums adds each step's CPU over the images whose step was measured.
func stepSums(recs []imageResult) []time.Duration {
	sums := make([]time.Duration, asyncSteps)
	for _, r := range recs {
		if len(r.Steps) != asyncSteps {
			continue
		}
		for k, s := range r.Steps {
			if s >= 0 {
				sums[k] += time.Duration(s * float64(time.Second))
			}
		}
	}
	return sums
}
