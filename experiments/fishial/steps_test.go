package fishial

import (
	"context"
	"runtime"
	"testing"
	"time"

	mock "perflab/server/fishial"
)

// spin burns d of the calling thread's CPU.
func spin(t *testing.T, d time.Duration) {
	t.Helper()
	_, start, ok := threadCPU()
	if !ok {
		t.Skip("this platform cannot read a thread's CPU clock; steps are not measured here")
	}
	x := 1.0
	for {
		for range 1000 {
			x = x*1.000001 + 1e-9
		}
		if _, now, _ := threadCPU(); now-start >= d {
			break
		}
	}
	runtime.KeepAlive(x)
}

// fakeClock stands in for the thread's CPU clock: it moves only when the
// test says the thread ran.
type fakeClock struct {
	tid int
	cpu time.Duration
}

func (c *fakeClock) run(d time.Duration) { c.cpu += d }

func useFakeClock(t *testing.T) *fakeClock {
	c := &fakeClock{tid: 1, cpu: time.Second}
	threadClock = func() (int, time.Duration, bool) { return c.tid, c.cpu, true }
	t.Cleanup(func() { threadClock = threadCPU })
	return c
}

// A step counts the CPU the flow spends between its waits, and none of
// the time it waits, read from the thread's real clock. That clock may
// count a stall late (see threadClock), and a stretch that holds the
// catch-up is rightly left unmeasured, so the flow is tried a few times
// for one whose steps were all measured.
func TestStepMeterCountsCPUNotWaits(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var m *stepMeter
	for try := 0; try < 8 && (m == nil || m.steps[0] < 0 || m.steps[1] < 0); try++ {
		m = &stepMeter{}
		m.start()
		spin(t, 3*time.Millisecond)
		m.stop()
		time.Sleep(50 * time.Millisecond) // a wait inside the step
		m.start()
		spin(t, 2*time.Millisecond)
		m.endStep()
		m.start()
		spin(t, time.Millisecond)
		m.endStep()
		if len(m.steps) != 2 {
			t.Fatalf("steps %v; want 2", m.steps)
		}
	}
	if s := m.steps[0]; s < 5*time.Millisecond || s > 40*time.Millisecond {
		t.Fatalf("first step %v in the last of 8 tries: want its 5 ms of CPU, without the 50 ms it waited", s)
	}
	if s := m.steps[1]; s < time.Millisecond || s > m.steps[0] {
		t.Fatalf("second step %v in the last of 8 tries: want its 1 ms of CPU", s)
	}
}

// A flow that parked inside a step, so that another flow ran on its
// thread before it resumed, leaves that step unmeasured: the thread's
// clock holds the other flow's CPU too. The other flow's stretch, which
// nothing interrupted, counts. (The stretches are shorter than
// clockSlack, so the fake clock never runs ahead of the time passed.)
func TestStepMeterDropsAStepAnotherFlowRanInside(t *testing.T) {
	clock := useFakeClock(t)
	a, b := &stepMeter{}, &stepMeter{}
	a.start()
	clock.run(time.Microsecond)
	b.start() // a parked; b runs on the same thread
	clock.run(2 * time.Microsecond)
	b.endStep()
	a.endStep()
	a.start()
	clock.run(3 * time.Microsecond)
	a.endStep()
	if len(a.steps) != 2 || a.steps[0] != -1 {
		t.Fatalf("a's steps %v: want the first unmeasured (-1), b ran inside it", a.steps)
	}
	if a.steps[1] != 3*time.Microsecond {
		t.Fatalf("a's second step %v: want its 3 µs, nothing ran inside it", a.steps[1])
	}
	if len(b.steps) != 1 || b.steps[0] != 2*time.Microsecond {
		t.Fatalf("b's steps %v: want its 2 µs measured", b.steps)
	}
}

// A stretch whose thread clock says it ran longer than the time that
// passed is not believed; the next one, which the clock reads rightly,
// is.
func TestStepMeterDropsAStretchLongerThanItsTime(t *testing.T) {
	clock := useFakeClock(t)
	m := &stepMeter{}
	m.start()
	clock.run(2 * time.Millisecond) // in far less than 2 ms
	m.endStep()
	m.start()
	clock.run(clockSlack / 2)
	m.endStep()
	if len(m.steps) != 2 || m.steps[0] != -1 || m.steps[1] != clockSlack/2 {
		t.Fatalf("steps %v: want the first unmeasured (-1), the second %v", m.steps, clockSlack/2)
	}
}

// A stretch the meter could not follow (another thread) leaves its step
// unmeasured, and a flow that did not take the four usual steps reports
// none; nil meters (the flows of other strategies) do nothing.
func TestStepMeterReportsOnlyWhatItMeasured(t *testing.T) {
	clock := useFakeClock(t)
	m := &stepMeter{}
	for k := range asyncSteps {
		m.start()
		clock.run(time.Duration(k+1) * time.Microsecond)
		if k == 1 {
			m.tid = -1 // as if the flow had moved to another thread
		}
		m.endStep()
	}
	s := m.seconds()
	if len(s) != asyncSteps || s[0] != 1e-6 || s[1] != -1 || s[2] != 3e-6 || s[3] != 4e-6 {
		t.Fatalf("steps %v: want [1e-06 -1 3e-06 4e-06], the second unmeasured", s)
	}
	m.start()
	m.endStep()
	if s := m.seconds(); s != nil {
		t.Fatalf("a flow of five steps reported %v; want none", s)
	}
	var none *stepMeter
	none.start()
	none.stop()
	none.endStep()
	if meterFrom(context.Background()) != nil || none.seconds() != nil {
		t.Fatal("a context without a meter has one")
	}

	recs := []imageResult{
		{Steps: []float64{0.001, 0.002, 0.003, 0.004}},
		{Steps: []float64{0.001, -1, 0.003, 0.004}},
		{}, // a flow that met a 429
	}
	sums := stepSums(recs)
	want := []time.Duration{2 * time.Millisecond, 2 * time.Millisecond, 6 * time.Millisecond, 8 * time.Millisecond}
	for k := range want {
		if d := sums[k] - want[k]; d > time.Microsecond || d < -time.Microsecond {
			t.Fatalf("step sums %v; want %v", sums, want)
		}
	}
}

// The pipeline bound: the image whose step k ends last has waited the
// waits before and after its steps, and the thread has run every image's
// steps j to k after the waits before step j; step 1 may start before
// the token comes.
func TestPipelineIdeal(t *testing.T) {
	lat := mock.StudyLatencies().Scaled(0.1) // token 10 ms, chain 75 ms
	ms := time.Millisecond
	cases := []struct {
		steps []time.Duration
		want  time.Duration
	}{
		{nil, 0},
		{[]time.Duration{4 * ms, 15 * ms, 5 * ms, 5 * ms}, 100 * ms},  // step 2 alone: 10 + 75 + 15
		{[]time.Duration{30 * ms, 2 * ms, ms, ms}, 105 * ms},          // step 1 alone: 75 + 30
		{[]time.Duration{ms, ms, ms, 12 * ms}, 97 * ms},               // step 4 alone
		{[]time.Duration{30 * ms, 20 * ms, 5 * ms, 5 * ms}, 120 * ms}, // steps 1 and 2: 30 + 20 + 70
		{[]time.Duration{ms, 30 * ms, 30 * ms, ms}, 125 * ms},         // steps 2 and 3: 15 + 60 + 50
	}
	for _, c := range cases {
		if got := PipelineIdeal(lat, c.steps); got != c.want {
			t.Errorf("PipelineIdeal(%v) = %v; want %v", c.steps, got, c.want)
		}
	}
}
