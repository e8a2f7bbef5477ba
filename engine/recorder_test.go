package engine

import (
	"sync/atomic"
	"testing"
)

// TestRecorderLosesNothing drains while the worker records, as the
// aggregator does, and checks every sample arrives exactly once.
func TestRecorderLosesNothing(t *testing.T) {
	const n = 200_000
	var r recorder
	var finished atomic.Bool
	go func() {
		for i := 1; i <= n; i++ {
			r.record(sample{latency: uint32(i)})
		}
		finished.Store(true)
	}()
	seen := make([]bool, n+1)
	count := 0
	take := func(s []sample) {
		for _, x := range s {
			if seen[x.latency] {
				t.Fatalf("sample %d drained twice", x.latency)
			}
			seen[x.latency] = true
			count++
		}
	}
	for !finished.Load() {
		r.drain(take)
	}
	r.drain(take) // what was recorded after the last drain above
	if count != n {
		t.Fatalf("drained %d samples, want %d", count, n)
	}
}

// BenchmarkRecord is the cost a worker pays per request to log it.
func BenchmarkRecord(b *testing.B) {
	var r recorder
	s := sample{latency: 1234, service: 1200, status: 200, step: 1}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.record(s)
		if i&4095 == 4095 {
			b.StopTimer()
			r.drain(func([]sample) {})
			b.StartTimer()
		}
	}
}
