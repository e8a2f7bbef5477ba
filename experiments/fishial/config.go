package fishial

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	mock "perflab/server/fishial"
	"perflab/server/redisconn"
)

// The strategies: four ways to call the API, as the study ran them.
const (
	StrategySequential   = "sequential"   // one process, one thread, a token per image
	StrategyMultiprocess = "multiprocess" // P processes, a shared queue, one token under a lock
	StrategyDistributed  = "distributed"  // N nodes sharing only a Redis
	StrategyAsync        = "async"        // one process, one thread, every image in flight
)

// Strategies are the strategies in the study's order, slowest
// first; runs always follow this order.
var Strategies = []string{StrategySequential, StrategyMultiprocess, StrategyDistributed, StrategyAsync}

// Config is one race. DefaultConfig is the study's.
type Config struct {
	Images     int      // photos to recognise
	TimeScale  float64  // multiplies the mock API's latencies
	Strategies []string // subset of Strategies
	Processes  int      // multiprocess: OS processes
	Nodes      int      // distributed: nodes
	Prob429    float64  // chance the mock answers an API call with 429
	Redis      string   // distributed: "embedded" (or empty) or redis://host:port[/db]
}

// Bounds of Config, checked by Validate.
const (
	MaxImages    = 1000
	MaxScale     = 10
	MaxProcesses = 64
	MaxNodes     = 64
)

// DefaultConfig is the study's race: 40 images at the mock's real
// latencies, all four strategies, 4 processes, 16 nodes, embedded Redis.
func DefaultConfig() Config {
	return Config{
		Images:     40,
		TimeScale:  1,
		Strategies: slices.Clone(Strategies),
		Processes:  4,
		Nodes:      16,
		Redis:      "embedded",
	}
}

// Validate names the flag at fault and what it accepts.
func (c Config) Validate() error {
	switch {
	case c.Images < 1 || c.Images > MaxImages:
		return fmt.Errorf("--images must be 1..%d (got %d)", MaxImages, c.Images)
	case math.IsNaN(c.TimeScale) || c.TimeScale <= 0 || c.TimeScale > MaxScale:
		return fmt.Errorf("--time-scale must be above 0 and at most %d (got %g); 1 is the study's latencies, 0.1 ten times faster", MaxScale, c.TimeScale)
	case len(c.Strategies) == 0:
		return fmt.Errorf("--strategies is empty; choose from %s", strings.Join(Strategies, ","))
	case c.Processes < 1 || c.Processes > MaxProcesses:
		return fmt.Errorf("--processes must be 1..%d (got %d)", MaxProcesses, c.Processes)
	case c.Nodes < 1 || c.Nodes > MaxNodes:
		return fmt.Errorf("--nodes must be 1..%d (got %d)", MaxNodes, c.Nodes)
	case math.IsNaN(c.Prob429) || c.Prob429 < 0 || c.Prob429 >= 1:
		return fmt.Errorf("--fishial-429 must be at least 0 and below 1 (got %g): it is the chance that an API call is answered 429", c.Prob429)
	}
	seen := map[string]bool{}
	for _, s := range c.Strategies {
		if !slices.Contains(Strategies, s) {
			return fmt.Errorf("--strategies: unknown strategy %q; choose from %s", s, strings.Join(Strategies, ","))
		}
		if seen[s] {
			return fmt.Errorf("--strategies names %s twice", s)
		}
		seen[s] = true
	}
	if c.Redis != "" && c.Redis != "embedded" {
		if _, err := redisconn.ParseURL(c.Redis, raceRedis); err != nil {
			return fmt.Errorf("--redis %q: %v; give embedded or redis://host:port", c.Redis, err)
		}
	}
	return nil
}

// ordered returns the chosen strategies in the study's order.
func (c Config) ordered() []string {
	out := make([]string, 0, len(c.Strategies))
	for _, s := range Strategies {
		if slices.Contains(c.Strategies, s) {
			out = append(out, s)
		}
	}
	return out
}

// Workers is how many processes or nodes a strategy runs (threads for
// the one-process strategies).
func (c Config) Workers(strategy string) int {
	switch strategy {
	case StrategyMultiprocess:
		return c.Processes
	case StrategyDistributed:
		return c.Nodes
	}
	return 1
}

// Latencies are the mock API's waits at this config's time scale.
func (c Config) Latencies() mock.Latencies {
	return mock.SeedLatencies().Scaled(c.TimeScale)
}

// Ideal is the strategy's best possible wall time against the mock.
func (c Config) Ideal(strategy string) time.Duration {
	return Ideal(strategy, c.Images, c.Workers(strategy), c.Latencies())
}

// Ideal is a strategy's wall time with zero overhead, from the
// API's latencies and the strategy's shape:
//
//	sequential:   images x (token + chain)          token fetched per image
//	multiprocess: token + ceil(images/P) x chain    one shared token
//	distributed:  token + ceil(images/N) x (chain + network)
//	async:        token + chain                     every image at once
//
// where chain is signed upload + upload + recognition.
func Ideal(strategy string, images, workers int, lat mock.Latencies) time.Duration {
	rounds := func(w int) time.Duration { return time.Duration((images + w - 1) / w) }
	switch strategy {
	case StrategySequential:
		return time.Duration(images) * (lat.Token + lat.PerImage())
	case StrategyMultiprocess:
		return lat.Token + rounds(workers)*lat.PerImage()
	case StrategyDistributed:
		return lat.Token + rounds(workers)*(lat.PerImage()+lat.Network)
	case StrategyAsync:
		return lat.Token + lat.PerImage()
	}
	return 0
}

// Progress is one finished image of one strategy. The strategy's
// last event also carries its Result, once its processes have exited
// and their CPU time is known.
type Progress struct {
	Strategy string
	Done     int
	Total    int
	Elapsed  time.Duration // since the strategy's clock started
	Result   *Result
}

// Result is one strategy's race.
type Result struct {
	Strategy     string
	Images       int
	Workers      int     // threads, processes or nodes (distributed: nodes that took part, outside ones included)
	Seconds      float64 // wall: first image handed out to last result in
	IdealSeconds float64
	// Speedup is over the sequential run measured in the same race, or
	// over sequential's ideal when it was not run (or, racing all at
	// once, had not finished yet when this strategy did).
	Speedup            float64
	CPUSeconds         float64 // user + system of every process the strategy started
	ImagesPerCPUSecond float64
	Retries429         int // 429s answered and retried after Retry-After
	Requeued           int // distributed: in-flight images taken back from dead nodes
}

// VsIdeal is how far the measured time is above the ideal, as a fraction.
func (r Result) VsIdeal() float64 {
	if r.IdealSeconds <= 0 {
		return 0
	}
	return r.Seconds/r.IdealSeconds - 1
}

// StudyRow is one line of the study's table.
type StudyRow struct {
	Strategy  string
	Resources string
	Workers   int
	Seconds   float64
	Speedup   float64
}

// Study is the study's table: 40 images against its mock.
var Study = []StudyRow{
	{StrategySequential, "1 thread", 1, 34.59, 1.0},
	{StrategyMultiprocess, "4 processes", 4, 9.31, 3.7},
	{StrategyDistributed, "16 nodes", 16, 2.76, 12.5},
	{StrategyAsync, "1 thread", 1, 0.86, 40.2},
}

// StudyImages is the study's batch size.
const StudyImages = 40

// StudyFor returns the study's row for a strategy.
func StudyFor(strategy string) (StudyRow, bool) {
	for _, r := range Study {
		if r.Strategy == strategy {
			return r, true
		}
	}
	return StudyRow{}, false
}

// Lesson is the closing note: the study's lesson, and the CPU
// column it could not show.
const Lesson = `The study's lesson: for network-I/O-bound work, non-blocking async beats
adding processes or machines, which mostly buy CPUs that sit waiting.
Waiting costs no CPU, but every extra process or node does: each one
starts a runtime, holds connections and polls its queue, so the CPU
spent per image grows with the workers while the work itself (hash a
photo, send it, read an answer) stays the same. One thread with every
image in flight finishes first and spends the least.`

// Run runs the race: the strategies one after another, or all at
// once when concurrent is true (they then share the machine's cores, so
// each is slower than alone). onProgress, if not nil, is called for every
// finished image, never from two goroutines at once. Cancelling ctx stops
// the race and its processes; the results of the strategies that finished
// come back with the context's error.
func Run(ctx context.Context, c Config, concurrent bool, onProgress func(Progress)) ([]Result, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	r, err := newRace(c, onProgress)
	if err != nil {
		return nil, err
	}
	defer r.close()
	return r.runAll(ctx, concurrent)
}

// runAll runs the configured strategies and fills in the speed-ups.
func (r *race) runAll(ctx context.Context, concurrent bool) ([]Result, error) {
	order := r.cfg.ordered()
	if slices.Contains(order, StrategyDistributed) {
		// Find out now, not after the slower strategies ran, whether the
		// Redis is there.
		if _, _, err := r.redisClient(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", StrategyDistributed, err)
		}
	}
	results := make([]*Result, len(order))
	errs := make([]error, len(order))
	runOne := func(i int) {
		res, _, err := r.run(ctx, order[i])
		if err == nil {
			results[i] = &res
		}
		errs[i] = err
	}
	if concurrent {
		var wg sync.WaitGroup
		for i := range order {
			wg.Go(func() { runOne(i) })
		}
		wg.Wait()
	} else {
		for i := range order {
			if ctx.Err() != nil {
				errs[i] = ctx.Err()
				break
			}
			runOne(i)
			if errs[i] != nil {
				break
			}
		}
	}
	var out []Result
	for _, res := range results {
		if res != nil {
			out = append(out, *res)
		}
	}
	if seq := slices.IndexFunc(out, func(x Result) bool { return x.Strategy == StrategySequential }); seq >= 0 {
		for i := range out {
			out[i].Speedup = speedup(out[seq].Seconds, out[i].Seconds)
		}
	}
	if ctx.Err() != nil {
		return out, ctx.Err()
	}
	return out, errors.Join(errs...)
}

func speedup(base, t float64) float64 {
	if t <= 0 {
		return 0
	}
	return base / t
}
