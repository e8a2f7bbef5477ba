package fishial

import (
	"fmt"
	"math"
	"slices"
	"strings"
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
	return mock.StudyLatencies().Scaled(c.TimeScale)
}

// embeddedRedis reports whether the distributed strategy runs its own
// Redis (in its coordinator) rather than the one --redis names.
func (c Config) embeddedRedis() bool { return c.Redis == "" || c.Redis == "embedded" }

// Ideal is the strategy's least possible wall time against the mock
// when its workers spend cpu on each image.
func (c Config) Ideal(strategy string, cpu time.Duration) time.Duration {
	return Ideal(strategy, c.Images, c.Workers(strategy), c.Latencies(), cpu)
}

// Ideal is a strategy's least possible wall time, from the API's
// latencies, the strategy's shape and the CPU c a worker spends on each
// image (0 for the waits alone):
//
//	sequential:   images x (token + chain + c)          a token per image
//	multiprocess: token + ceil(images/P) x (chain + c)  one shared token
//	distributed:  token + ceil(images/N) x (chain + network + c)
//	async:        max(token + chain + c, images x c)   every image at once, one thread
//
// where chain is signed upload + upload + recognition. A worker that
// takes one image at a time cannot spend an image's CPU while it waits
// for that image's answers. The async thread can spend one image's CPU
// while the others wait, so its bound is the longer of one image's path
// (its waits and its own CPU, in series) and the CPU of every image on
// the one thread. Where the async thread measured its steps, the race
// takes the longer of this and PipelineIdeal.
func Ideal(strategy string, images, workers int, lat mock.Latencies, c time.Duration) time.Duration {
	rounds := func(w int) time.Duration { return time.Duration((images + w - 1) / w) }
	switch strategy {
	case StrategySequential:
		return time.Duration(images) * (lat.Token + lat.PerImage() + c)
	case StrategyMultiprocess:
		return lat.Token + rounds(workers)*(lat.PerImage()+c)
	case StrategyDistributed:
		return lat.Token + rounds(workers)*(lat.PerImage()+lat.Network+c)
	case StrategyAsync:
		return max(lat.Token+lat.PerImage()+c, time.Duration(images)*c)
	}
	return 0
}

// PipelineIdeal is the async thread's bound from its steps (steps.go):
// steps[k] is step k+1's CPU summed over the images. No image's step j
// can start before the waits that come before it (Ej: none for step 1,
// whose hash may run during the token's wait; the token and the chain's
// waits up to it for the others). Take the image whose step k ends last:
// by then the one thread has run every image's steps j to k, one at a
// time, all after Ej, and that image still has the waits after step k
// (Ak) before it is done. So for every j <= k:
//
//	wall >= Ej + Sj + ... + Sk + Ak
//
// (j = k gives T + C + Sk, and C + S1 for step 1). It is 0 without
// steps.
func PipelineIdeal(lat mock.Latencies, steps []time.Duration) time.Duration {
	waits := []time.Duration{lat.SignedUpload, lat.Upload, lat.Recognition}
	if len(steps) > len(waits)+1 {
		return 0
	}
	before := func(j int) time.Duration {
		if j == 0 {
			return 0
		}
		d := lat.Token
		for _, w := range waits[:j] {
			d += w
		}
		return d
	}
	var b time.Duration
	for k := range steps {
		var after time.Duration
		for _, w := range waits[k:] {
			after += w
		}
		var cpu time.Duration
		for j := k; j >= 0; j-- {
			cpu += steps[j]
			b = max(b, before(j)+cpu+after)
		}
	}
	return b
}
