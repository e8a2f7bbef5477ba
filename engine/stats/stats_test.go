package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func seq(from, to float64) []float64 {
	var out []float64
	for v := from; v <= to; v++ {
		out = append(out, v)
	}
	return out
}

func TestSummarizeMedianAndInterval(t *testing.T) {
	s := Summarize([]float64{5, 1, 4, 2, 3, 6, 7})
	if s.Median != 4 || s.N != 7 {
		t.Fatalf("median %v n %d, want 4 and 7", s.Median, s.N)
	}
	if !s.Finite() || s.Lo > s.Median || s.Hi < s.Median || s.Confidence < Confidence {
		t.Fatalf("interval %v..%v at %v: want a finite one around the median at >= 95%%", s.Lo, s.Hi, s.Confidence)
	}
	if small := Summarize([]float64{1, 2, 3, 4, 5}); small.Finite() || !math.IsInf(small.Spread(), 1) {
		t.Fatalf("5 values gave %+v; 95%% needs %d", small, MinIntervalN)
	}
	if s := Summarize(seq(1, 6)); !s.Finite() {
		t.Fatalf("%d values gave no interval: %+v", MinIntervalN, s)
	}
	if sp := (Summary{Median: 100, Lo: 90, Hi: 103}).Spread(); math.Abs(sp-0.10) > 1e-9 {
		t.Fatalf("spread %v, want the larger side, 10%%", sp)
	}
}

func TestCompareKnownAnswers(t *testing.T) {
	cases := []struct {
		name     string
		old, new []float64
		verdict  string
		sig      bool
	}{
		{"equal samples", seq(1, 8), seq(1, 8), "~", false},
		{"interleaved samples", []float64{1, 3, 5, 7, 9}, []float64{2, 4, 6, 8, 10}, "~", false},
		{"shifted up", seq(1, 10), seq(11, 20), "+181.82%", true},
		{"shifted down", seq(11, 15), seq(1, 5), "-76.92%", true},
		{"three each cannot reach 0.05", []float64{1, 2, 3}, []float64{10, 11, 12}, "n<4", false},
		{"one run is no verdict", []float64{100}, []float64{50}, "n<4", false},
	}
	for _, c := range cases {
		got := Compare(c.old, c.new)
		if got.Verdict() != c.verdict || got.Significant != c.sig {
			t.Errorf("%s: verdict %q significant %v (p=%.4f), want %q %v", c.name, got.Verdict(), got.Significant, got.P, c.verdict, c.sig)
		}
	}
	if c := Compare(seq(1, 5), seq(6, 10)); c.P >= Alpha || c.P <= 0 {
		t.Fatalf("5 vs 5 fully apart: p=%v, want the exact minimum 0.0079", c.P)
	}
}

// ar1 is a series whose neighbours are correlated by phi, around mean m.
func ar1(rng *rand.Rand, n int, phi, m float64) []float64 {
	out := make([]float64, n)
	x := 0.0
	for i := range out {
		x = phi*x + rng.NormFloat64()
		out[i] = m + 10*x
	}
	return out
}

func TestBlockLengthFollowsAutocorrelation(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	if b := BlockLength(ar1(rng, 60, 0, 100)); b > 3 {
		t.Errorf("independent series: block %d, want at most 3", b)
	}
	if b := BlockLength(ar1(rng, 60, 0.9, 100)); b < 8 {
		t.Errorf("strongly correlated series: block %d, want several seconds", b)
	}
}

func TestBootstrapShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := ar1(rng, 30, 0.5, 100)
	up := ar1(rng, 20, 0.5, 150)
	s := BootstrapShift(base, up, rng)
	if !s.Real() || s.Lo > 0.5 || s.Hi < 0.5 || s.Change < 0.3 {
		t.Fatalf("a 50%% rise: %+v, want a real change with 0.5 inside the interval", s)
	}
	if s := BootstrapShift(base, up[:MinBootstrapN-1], rng); s.Ready {
		t.Fatalf("%d seconds gave a verdict: %+v", MinBootstrapN-1, s)
	}
}

// TestBootstrapFalseAlarms: between windows of one correlated process
// (30 s of baseline, 20 s since the change) the interval excludes zero
// not far from as often as its level says (5%), where resampling single
// seconds calls about 40% of such pairs different; and a real 30% rise is
// still found most of the time.
func TestBootstrapFalseAlarms(t *testing.T) {
	for _, c := range []struct {
		phi       float64
		maxAlarms int // of 300
		minFound  int // of 300
	}{{0, 30, 290}, {0.3, 36, 270}, {0.6, 45, 180}} {
		rng := rand.New(rand.NewPCG(5, 6))
		alarms, found := 0, 0
		for range 300 {
			base := ar1(rng, 30, c.phi, 100)
			if BootstrapShift(base, ar1(rng, 20, c.phi, 100), rng).Real() {
				alarms++
			}
			if s := BootstrapShift(base, ar1(rng, 20, c.phi, 130), rng); s.Real() && s.Lo > 0 {
				found++
			}
		}
		t.Logf("lag-1 correlation %.1f: %d false alarms and %d of 300 real rises found", c.phi, alarms, found)
		if alarms > c.maxAlarms || found < c.minFound {
			t.Errorf("lag-1 correlation %.1f: %d false alarms (at most %d) and %d rises found (at least %d) in 300 pairs", c.phi, alarms, c.maxAlarms, found, c.minFound)
		}
	}
}

// A window with a drift in it (a queue growing under one worker) is far
// more correlated than a steady one. Each side takes blocks of its own
// length, so a steady window 20 s after the step has a verdict although
// the drifting baseline's blocks are a third of its 30 s.
func TestBootstrapShiftBesideADriftingBaseline(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	base := ar1(rng, 30, 0.3, 300)
	for i := range base {
		base[i] += 10 * float64(i) // a queue growing
	}
	cur := ar1(rng, 20, 0.3, 150)
	if BlockLength(base) <= len(cur)/MinBlocks {
		t.Fatalf("the drifting baseline's block %d: the test needs one too long for %d s", BlockLength(base), len(cur))
	}
	s := BootstrapShift(base, cur, rng)
	if !s.Ready || !s.Real() || s.Hi >= 0 {
		t.Fatalf("a fall beside a drifting baseline, 20 s in: %+v, want a real fall", s)
	}
}
