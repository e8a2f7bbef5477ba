package engine

import (
	"testing"
	"time"
)

func TestWindowFigures(t *testing.T) {
	w := newWindow(true)
	// 1..1000 ms answered, plus 10 connect failures with no latency.
	for i := 1; i <= 1000; i++ {
		w.add(&sample{latency: uint32(i * 1000), service: uint32(i * 500), outcome: OutcomeOK})
	}
	for i := 0; i < 10; i++ {
		w.add(&sample{outcome: OutcomeConnect})
	}
	lat, svc := w.figures(2 * time.Second)
	if lat.Requests != 1010 || lat.Errors != 10 || lat.Answered != 1000 {
		t.Fatalf("counts = %+v", lat)
	}
	if lat.RPS != 505 {
		t.Fatalf("rps = %g, want 505", lat.RPS)
	}
	near := func(name string, got, want time.Duration) {
		t.Helper()
		// three significant digits
		if d := got - want; d < -want/500 || d > want/500 {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	near("min", lat.Min, time.Millisecond)
	near("max", lat.Max, time.Second)
	near("mean", lat.Mean, 500500*time.Microsecond)
	near("p50", lat.P50, 500*time.Millisecond)
	near("p90", lat.P90, 900*time.Millisecond)
	near("p95", lat.P95, 950*time.Millisecond)
	near("p99", lat.P99, 990*time.Millisecond)
	near("service p50", svc.P50, 250*time.Millisecond)
	near("service max", svc.Max, 500*time.Millisecond)
}

func TestSeriesLastSecondSlides(t *testing.T) {
	a := newSeriesAgg("x", false)
	// Quarter 1 has 4 samples at 10 ms, quarters 2..5 one at 20 ms each.
	for i := 0; i < 4; i++ {
		a.add(&sample{latency: 10_000})
	}
	s := a.closeQuarter(tick, tick, false)
	if s.Last.Requests != 4 || s.Run.Requests != 4 {
		t.Fatalf("after quarter 1: last %d run %d", s.Last.Requests, s.Run.Requests)
	}
	for q := 2; q <= 5; q++ {
		a.add(&sample{latency: 20_000})
		s = a.closeQuarter(time.Second, time.Duration(q)*tick, false)
	}
	// Quarter 1 slid out of the last second; the run keeps it.
	if s.Last.Requests != 4 || s.Last.Min != 20*time.Millisecond {
		t.Fatalf("last second = %+v, want the four 20 ms samples", s.Last)
	}
	if s.Run.Requests != 8 || s.Run.Min != 10*time.Millisecond {
		t.Fatalf("run = %+v, want all eight", s.Run)
	}
	if s.Last.RPS != 4 {
		t.Fatalf("last rps = %g, want 4", s.Last.RPS)
	}
}

func TestMicrosClamps(t *testing.T) {
	if micros(0) != 1 || micros(1500*time.Nanosecond) != 2 || micros(2*time.Hour) != maxMicros {
		t.Fatal("micros does not clamp and round as documented")
	}
}

func TestStatusOutcome(t *testing.T) {
	cases := []struct {
		status, expect int
		want           Outcome
	}{
		{200, 0, OutcomeOK}, {302, 0, OutcomeOK}, {404, 0, OutcomeStatus}, {500, 0, OutcomeStatus},
		{200, 200, OutcomeOK}, {201, 200, OutcomeCheck}, {401, 200, OutcomeStatus}, {404, 404, OutcomeOK},
	}
	for _, c := range cases {
		if got := statusOutcome(c.status, c.expect); got != c.want {
			t.Errorf("statusOutcome(%d, %d) = %s, want %s", c.status, c.expect, got, c.want)
		}
	}
}
