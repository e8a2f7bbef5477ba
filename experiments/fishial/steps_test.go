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

// A step counts the CPU the flow spends between its waits, and none of
// the time it waits.
func TestStepMeterCountsCPUNotWaits(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	m := &stepMeter{}
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
	if s := m.steps[0]; s < 5*time.Millisecond || s > 40*time.Millisecond {
		t.Fatalf("first step %v: want its 5 ms of CPU, without the 50 ms it waited", s)
	}
	if s := m.steps[1]; s < time.Millisecond || s > m.steps[0] {
		t.Fatalf("second step %v: want its 1 ms of CPU", s)
	}
}

// A flow that parked inside a step, so that another flow ran on its
// thread before it resumed, leaves that step unmeasured: the thread's
// clock holds the other flow's CPU too. The other flow's stretch, which
// nothing interrupted, counts.
func TestStepMeterDropsAStepAnotherFlowRanInside(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	a, b := &stepMeter{}, &stepMeter{}
	a.start()
	spin(t, time.Millisecond)
	b.start() // a parked; b runs on the same thread
	spin(t, 2*time.Millisecond)
	b.endStep()
	a.endStep()
	a.start()
	spin(t, time.Millisecond)
	a.endStep()
	if len(a.steps) != 2 || a.steps[0] != -1 {
		t.Fatalf("a's steps %v: want the first unmeasured (-1), b ran inside it", a.steps)
	}
	if a.steps[1] < time.Millisecond {
		t.Fatalf("a's second step %v: want its 1 ms, nothing ran inside it", a.steps[1])
	}
	if len(b.steps) != 1 || b.steps[0] < 2*time.Millisecond {
		t.Fatalf("b's steps %v: want its 2 ms measured", b.steps)
	}
}

// A stretch whose thread clock says it ran longer than the time that
// passed is not believed.
func TestStepMeterDropsAStretchLongerThanItsTime(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	m := &stepMeter{}
	m.start()
	spin(t, 2*time.Millisecond)
	m.began = time.Now() // as if the 2 ms of CPU had taken no time
	m.endStep()
	if len(m.steps) != 1 || m.steps[0] != -1 {
		t.Fatalf("steps %v: want the one unmeasured (-1)", m.steps)
	}
}

// A stretch the meter could not follow (another thread) leaves its step
// unmeasured, and a flow that did not take the four usual steps reports
// none; nil meters (the flows of other strategies) do nothing.
func TestStepMeterReportsOnlyWhatItMeasured(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	m := &stepMeter{}
	for k := range asyncSteps {
		m.start()
		if k == 1 {
			m.tid = -1 // as if the flow had moved to another thread
		}
		m.endStep()
	}
	s := m.seconds()
	if len(s) != asyncSteps || s[1] != -1 || s[0] < 0 || s[2] < 0 || s[3] < 0 {
		t.Fatalf("steps %v: want four, the second unmeasured (-1)", s)
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
