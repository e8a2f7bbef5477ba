package fishial

import (
	"context"
	"sync/atomic"
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
// system call) is not measured, nor is one during which another flow ran
// on the thread (see stretches).
const asyncSteps = 4

// stretches counts the stretches every meter has started. The async
// client runs its flows on one thread, so a flow that parks inside a
// step (a socket that will not take the whole photo yet, an answer that
// comes in two parts) lets other flows run on that thread before it
// resumes; the thread's clock then holds their CPU too, and counting it
// would put it in two steps and lift the bound above what the thread
// needs. A stretch during which any other one started is not measured.
var stretches atomic.Uint64

// clockSlack allows for the thread's CPU clock and the wall clock being
// read a moment apart.
const clockSlack = 20 * time.Microsecond

// threadClock reads the running thread's id and CPU clock (threadCPU;
// tests put a clock of their own here). A thread's clock can take time
// late: on a virtual machine a stall of tens of microseconds leaves it
// where it was, and the next read counts the stall all at once, so a
// stretch that holds such a catch-up reads more CPU than the time that
// passed and is not measured.
var threadClock = threadCPU

// stepMeter measures one flow's steps. The transport ends a step when it
// has sent a request and starts the next when the answer comes; the flow
// pauses it while it waits for anything else.
type stepMeter struct {
	steps []time.Duration // each step's CPU; -1 if it was not measured
	cur   time.Duration   // the current step's CPU so far
	lost  bool            // part of the current step could not be read
	tid   int             // the thread running the flow since start
	base  time.Duration   // that thread's CPU clock at start
	seq   uint64          // stretches, counting this one, at start
	began time.Time       // when the stretch started
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
	m.seq = stretches.Add(1)
	tid, cpu, ok := threadClock()
	m.tid, m.base, m.began, m.on = tid, cpu, time.Now(), true
	m.lost = m.lost || !ok
}

// stop: the flow is about to wait.
func (m *stepMeter) stop() {
	if m == nil || !m.on {
		return
	}
	m.on = false
	tid, cpu, ok := threadClock()
	// One thread cannot spend more CPU than the time that passed: a
	// clock that says so is not believed.
	if !ok || tid != m.tid || cpu < m.base || cpu-m.base > time.Since(m.began)+clockSlack || stretches.Load() != m.seq {
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
