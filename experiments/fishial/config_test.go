package fishial

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	cases := []struct {
		name    string
		change  func(*Config)
		wantErr string // "" = valid
	}{
		{"default", func(*Config) {}, ""},
		{"one image", func(c *Config) { c.Images = 1 }, ""},
		{"no images", func(c *Config) { c.Images = 0 }, "--images"},
		{"too many images", func(c *Config) { c.Images = MaxImages + 1 }, "--images"},
		{"zero scale", func(c *Config) { c.TimeScale = 0 }, "--time-scale"},
		{"negative scale", func(c *Config) { c.TimeScale = -1 }, "--time-scale"},
		{"NaN scale", func(c *Config) { c.TimeScale = math.NaN() }, "--time-scale"},
		{"unknown strategy", func(c *Config) { c.Strategies = []string{"threads"} }, `unknown strategy "threads"`},
		{"twice", func(c *Config) { c.Strategies = []string{"async", "async"} }, "twice"},
		{"none", func(c *Config) { c.Strategies = nil }, "--strategies"},
		{"no processes", func(c *Config) { c.Processes = 0 }, "--processes"},
		{"too many nodes", func(c *Config) { c.Nodes = MaxNodes + 1 }, "--nodes"},
		{"429 of 1", func(c *Config) { c.Prob429 = 1 }, "--fishial-429"},
		{"negative 429", func(c *Config) { c.Prob429 = -0.1 }, "--fishial-429"},
		{"redis URL", func(c *Config) { c.Redis = "redis://127.0.0.1:6379/0" }, ""},
		{"redis nonsense", func(c *Config) { c.Redis = "localhost:6379" }, "--redis"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok
			cfg.Strategies = append([]string{}, ok.Strategies...)
			c.change(&cfg)
			err := cfg.Validate()
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("valid config refused: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("error %v, want one naming %q", err, c.wantErr)
			}
		})
	}
}

// The ideal figures follow from the study's latencies.
func TestIdealFromLatencies(t *testing.T) {
	c := DefaultConfig()
	want := map[string]float64{StrategySequential: 34.0, StrategyMultiprocess: 7.6, StrategyDistributed: 2.5, StrategyAsync: 0.85}
	for s, w := range want {
		if got := c.Ideal(s, 0).Seconds(); math.Abs(got-w) > 1e-9 {
			t.Errorf("%s ideal %.4f s, want %.2f s", s, got, w)
		}
	}
	c.TimeScale = 0.1
	if got := c.Ideal(StrategyAsync, 0).Seconds(); math.Abs(got-0.085) > 1e-9 {
		t.Errorf("async ideal at scale 0.1: %.4f s, want 0.085 s", got)
	}
	c.Images, c.Nodes = 33, 16 // three rounds: 16 + 16 + 1
	if got := c.Ideal(StrategyDistributed, 0).Seconds(); math.Abs(got-0.25) > 1e-9 {
		t.Errorf("distributed ideal for 33 images on 16 nodes at scale 0.1: %.4f, want 0.25", got)
	}
}

// The CPU a worker spends on each image adds to the ideal where it lies
// in series with the waits: every image for the threads that take one
// at a time and one round's for each process or node. The one async
// thread overlaps one image's CPU with the others' waits: its bound is
// one image's path or every image's CPU, whichever is longer.
func TestIdealCountsCPUPerImage(t *testing.T) {
	c := DefaultConfig()
	c.TimeScale = 0.1
	cpu := 2 * time.Millisecond
	want := map[string]float64{
		StrategySequential:   40 * (0.010 + 0.075 + 0.002), // 3.48
		StrategyMultiprocess: 0.010 + 10*(0.075+0.002),     // 0.78
		StrategyDistributed:  0.010 + 3*(0.080+0.002),      // 0.256
		StrategyAsync:        0.010 + 0.075 + 0.002,        // 0.087 > 40 x 0.002
	}
	for s, w := range want {
		if got := c.Ideal(s, cpu).Seconds(); math.Abs(got-w) > 1e-9 {
			t.Errorf("%s ideal with 2 ms of CPU per image: %.4f s, want %.4f s", s, got, w)
		}
	}
	c.Images = 100 // 100 x 2 ms of CPU on one thread outlast one image's path
	if got := c.Ideal(StrategyAsync, cpu).Seconds(); math.Abs(got-0.2) > 1e-9 {
		t.Errorf("async ideal for 100 images with 2 ms of CPU each: %.4f s, want 0.2 s", got)
	}
}
