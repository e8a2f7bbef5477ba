package experiments

import (
	"flag"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"perflab/engine/stats"
)

var settleTrials = flag.Int("settle", 0, "TestChangeLineSettles: trials of a live workers 1 -> 4 step at 50 users (0 skips; each takes about 75 s)")

// TestChangeLineSettles measures how long the dashboard's change line
// takes to reach a verdict after the study's workers 1 -> 4 step at 50
// users: the live load runs 30 s at one worker (the baseline window), the
// step is taken, and from then on each second the per-second mean latency
// since the step is compared with the window before it, as the dashboard
// does (stats.BootstrapShift). It reports, per trial, the first second
// after which the verdict stayed a real change. It measures; it asserts
// only that each trial produced seconds to compare.
//
//	go test ./experiments -run TestChangeLineSettles -settle 5 -v
func TestChangeLineSettles(t *testing.T) {
	if *settleTrials == 0 {
		t.Skip("a measurement: run with -settle N")
	}
	for trial := 1; trial <= *settleTrials; trial++ {
		sess := openSession(t, Likes, map[string]string{"workers": "1"})
		live := StartLive(sess, nil, 0)
		var mu sync.Mutex
		var secs []float64
		done := make(chan struct{})
		go func() {
			defer close(done)
			for s := range live.Snapshots() {
				if s.Second > 0 {
					if f := Likes.Measured(s).Last; f.Answered > 0 {
						mu.Lock()
						secs = append(secs, float64(f.Mean)/float64(time.Millisecond))
						mu.Unlock()
					}
				}
			}
		}()
		time.Sleep(32 * time.Second)
		mu.Lock()
		stepAt := len(secs)
		mu.Unlock()
		if err := live.SetKnob("workers", "4"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(40 * time.Second)
		live.Close()
		<-done
		base := secs[max(0, stepAt-30):stepAt]
		settled, verdicts := -1, ""
		for n := stats.MinBootstrapN; stepAt+n <= len(secs); n++ {
			rng := rand.New(rand.NewPCG(uint64(len(base)), uint64(n)))
			s := stats.BootstrapShift(base, secs[stepAt:stepAt+n], rng)
			mark := "."
			switch {
			case !s.Ready:
				mark = "…"
			case s.Real():
				mark = "!"
			default:
				mark = "~"
			}
			verdicts += mark
			if s.Real() {
				if settled < 0 {
					settled = n
				}
			} else {
				settled = -1
			}
		}
		if len(secs)-stepAt < stats.MinBootstrapN {
			t.Fatalf("trial %d: %d seconds after the step", trial, len(secs)-stepAt)
		}
		last := stats.BootstrapShift(base, secs[stepAt:], rand.New(rand.NewPCG(1, 2)))
		t.Logf("trial %d: settled %d s after the step (verdicts from %d s on: %s); change %+.0f%% [%+.0f%%, %+.0f%%], blocks %d s",
			trial, settled, stats.MinBootstrapN, verdicts, 100*last.Change, 100*last.Lo, 100*last.Hi, last.Block)
	}
}
