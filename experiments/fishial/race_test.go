package fishial

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"
)

// raceOnce runs one strategy of a small race with its own mock.
func raceOnce(t *testing.T, cfg Config, strategy string) (*race, Result, []imageResult, []Progress) {
	t.Helper()
	var mu sync.Mutex
	var events []Progress
	r, err := newRace(cfg, func(p Progress) {
		mu.Lock()
		events = append(events, p)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, recs, err := r.run(ctx, strategy)
	if err != nil {
		t.Fatal(err)
	}
	return r, res, recs, events
}

func smallRace() Config {
	c := DefaultConfig()
	c.Images, c.TimeScale, c.Processes, c.Nodes, c.Prob429 = 12, 0.02, 3, 4, 0.1
	return c
}

func TestEachStrategyRecognisesEveryImageOnce(t *testing.T) {
	cases := []struct {
		strategy   string
		workers    int
		tokens     int64 // tokens the mock issues: the strategy's token shape
		minWorkers int   // distinct processes or nodes that reported results
	}{
		{StrategySequential, 1, 12, 1},
		{StrategyMultiprocess, 3, 1, 3},
		{StrategyDistributed, 4, 1, 2},
		{StrategyAsync, 1, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.strategy, func(t *testing.T) {
			cfg := smallRace()
			r, res, recs, events := raceOnce(t, cfg, c.strategy)
			assertNoChildren(t)

			if len(recs) != cfg.Images || res.Images != cfg.Images || res.Workers != c.workers {
				t.Fatalf("%d records, result %+v: want %d images, %d workers", len(recs), res, cfg.Images, c.workers)
			}
			workers := map[string]bool{}
			retries := 0
			for i, rec := range recs {
				if rec.Image != i || rec.MD5 != r.md5s[i] {
					t.Fatalf("record %d = %+v: want image %d with MD5 %s", i, rec, i, r.md5s[i])
				}
				workers[rec.Worker] = true
				retries += rec.Retries429
			}
			if len(workers) < c.minWorkers {
				t.Errorf("results came from %d workers %v, want at least %d", len(workers), workers, c.minWorkers)
			}
			st := r.mock.Stats()
			if st.Tokens != c.tokens {
				t.Errorf("mock issued %d tokens, want %d for %s", st.Tokens, c.tokens, c.strategy)
			}
			if st.Recognitions < int64(cfg.Images) {
				t.Errorf("mock answered %d recognitions for %d images", st.Recognitions, cfg.Images)
			}
			if int64(res.Retries429) != st.TooMany || retries > res.Retries429 {
				t.Errorf("result counts %d retries (records %d), mock sent %d 429s", res.Retries429, retries, st.TooMany)
			}

			// One event per image, counting up, then the result.
			if len(events) != cfg.Images+1 {
				t.Fatalf("%d progress events, want %d images + 1 final", len(events), cfg.Images)
			}
			for i, e := range events[:cfg.Images] {
				if e.Strategy != c.strategy || e.Done != i+1 || e.Total != cfg.Images || e.Result != nil || e.Elapsed <= 0 {
					t.Fatalf("event %d = %+v", i, e)
				}
			}
			last := events[cfg.Images]
			if last.Result == nil || last.Result.Strategy != c.strategy || last.Done != cfg.Images {
				t.Fatalf("final event %+v lacks the result", last)
			}

			checkFigures(t, c.strategy, cfg, r, res, recs)
			// The photos were on disk before the clock started: none was
			// downloaded.
			if n := r.bucket.served.Load(); n != 0 {
				t.Fatalf("%d photos downloaded during the race; they are read from the race's folder", n)
			}
		})
	}
}

// checkFigures checks a strategy's result: the ideals from the mock's
// latencies and the CPU per image (for async, its steps' too), the CPU
// figures consistent with each other, and the coordinator's share where
// the strategy has one.
func checkFigures(t *testing.T, strategy string, cfg Config, r *race, res Result, recs []imageResult) {
	t.Helper()
	waits := cfg.Ideal(strategy, 0).Seconds()
	perImage := time.Duration(res.ImageCPUSeconds * float64(time.Second))
	ideal := Ideal(strategy, cfg.Images, res.Workers, r.mock.Latencies(), perImage).Seconds()
	if strategy == StrategyAsync {
		checkSteps(t, recs, res)
		pipe := PipelineIdeal(r.mock.Latencies(), stepSums(recs)).Seconds()
		// A lower bound: a step that counted CPU not its own (another
		// flow's, run on the thread while it was parked) would lift it
		// above the wall.
		if pipe > res.Seconds*1.02 {
			t.Fatalf("the steps' bound %.3f s is above the wall %.3f s (step sums %v)", pipe, res.Seconds, stepSums(recs))
		}
		ideal = max(ideal, pipe)
	}
	if res.WaitsSeconds != waits || math.Abs(res.IdealSeconds-ideal) > 1e-6 || res.IdealSeconds <= waits || res.Seconds < waits ||
		res.CPUSeconds <= 0 || math.Abs(res.ImagesPerCPUSecond-float64(cfg.Images)/res.CPUSeconds) > 1e-9 || res.Speedup <= 0 {
		t.Fatalf("result %+v: want wall >= the waits' ideal %.3f, the ideal %.3f counting %v of CPU per image, CPU > 0, images/CPU consistent",
			res, waits, ideal, perImage)
	}
	// The CPU per image is the workers' work on the images: some,
	// and less than their whole lives, which include start-up.
	workerCPU := res.CPUSeconds - res.CoordinatorCPUSeconds
	if res.ImageCPUSeconds <= 0 || res.ImageCPUSeconds*float64(cfg.Images) >= workerCPU {
		t.Fatalf("CPU per image %.6f s x %d images, workers' CPU %.3f s: want some, and less than the workers' whole lives",
			res.ImageCPUSeconds, cfg.Images, workerCPU)
	}
	// Coordination is counted, as its own share, where there is any.
	if has := res.CoordinatorCPUSeconds > 0; has != HasCoordinator(strategy) || res.CoordinatorCPUSeconds >= res.CPUSeconds || res.RedisOutside {
		t.Fatalf("coordinator CPU %.3f s of %.3f s (Redis outside: %v): want a share of the total exactly for the strategies with a coordinator",
			res.CoordinatorCPUSeconds, res.CPUSeconds, res.RedisOutside)
	}
}

// checkSteps checks the async thread measured its steps: four for most
// images that met no 429 (a flow that found no token yet fetches it, an
// exchange more), some CPU in each, and all of them together no more
// than the CPU the thread spent on the images.
func checkSteps(t *testing.T, recs []imageResult, res Result) {
	t.Helper()
	var total float64
	steps, measured := 0, 0
	for _, rec := range recs {
		if rec.Retries429 > 0 {
			continue
		}
		if len(rec.Steps) != asyncSteps {
			continue
		}
		for _, s := range rec.Steps {
			steps++
			if s > 0 {
				measured++
			}
			total += max(s, 0)
		}
	}
	// The runtime may move a flow to another thread after a system call,
	// which leaves that step unmeasured (-1); the race detector's slower
	// system calls, and other tests' load, make that more frequent, so
	// whole images with every step measured may be few. Counted step by
	// step, most are measured.
	if steps == 0 || measured < steps/4 {
		t.Fatalf("%d of %d steps of images without a 429 measured; want a good part (records %+v)", measured, steps, recs)
	}
	if work := res.ImageCPUSeconds * float64(res.Images); total > work {
		t.Fatalf("steps add up to %.6f s of CPU, more than the %.6f s the thread spent on its images", total, work)
	}
}

// Cancelling the context stops the race at once and leaves no process.
func TestCancelStopsEveryProcess(t *testing.T) {
	cases := []struct {
		name       string
		strategies []string
		concurrent bool
	}{
		{"sequential", []string{StrategySequential}, false},
		{"all at once", Strategies, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := smallRace()
			cfg.TimeScale, cfg.Strategies, cfg.Prob429 = 0.2, c.strategies, 0
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var mu sync.Mutex
			seen := 0
			start := time.Now()
			results, err := Run(ctx, cfg, c.concurrent, func(p Progress) {
				mu.Lock()
				defer mu.Unlock()
				if p.Strategy == StrategySequential && p.Done == 2 {
					cancel()
				}
				seen++
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err %v, want context.Canceled", err)
			}
			for _, r := range results {
				if r.Strategy == StrategySequential {
					t.Fatalf("sequential reported as finished after being cancelled: %+v", r)
				}
			}
			// Sequential alone would take 12 x 0.17 s; cancelled after two
			// images, it must stop well before that.
			if d := time.Since(start); d > cfg.Ideal(StrategySequential, 0)+10*time.Second {
				t.Fatalf("cancelled race took %v", d)
			}
			assertNoChildren(t)
		})
	}
}

func TestRacingAllAtOnce(t *testing.T) {
	cfg := smallRace()
	var mu sync.Mutex
	done := map[string]int{}
	finals := map[string]*Result{}
	results, err := Run(context.Background(), cfg, true, func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.Result != nil {
			finals[p.Strategy] = p.Result
			return
		}
		if p.Done != done[p.Strategy]+1 {
			t.Errorf("%s: event done=%d after %d", p.Strategy, p.Done, done[p.Strategy])
		}
		done[p.Strategy] = p.Done
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 4 {
		t.Fatalf("%d results, want 4", len(results))
	}
	for i, r := range results {
		if r.Strategy != Strategies[i] || done[r.Strategy] != cfg.Images || finals[r.Strategy] == nil {
			t.Fatalf("result %d = %+v (events %d, final %v): want %s with %d images", i, r, done[r.Strategy], finals[r.Strategy], Strategies[i], cfg.Images)
		}
	}
	if results[0].Speedup != 1 {
		t.Fatalf("sequential speed-up %.3f, want 1 (it is the base)", results[0].Speedup)
	}
	for _, r := range results[1:] {
		if want := results[0].Seconds / r.Seconds; r.Speedup != want {
			t.Fatalf("%s speed-up %.3f, want measured sequential / its time = %.3f", r.Strategy, r.Speedup, want)
		}
	}
	assertNoChildren(t)
}
