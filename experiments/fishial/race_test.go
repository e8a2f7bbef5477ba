package fishial

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	mock "perflab/server/fishial"
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
		if got := c.Ideal(s).Seconds(); math.Abs(got-w) > 1e-9 {
			t.Errorf("%s ideal %.4f s, want %.2f s", s, got, w)
		}
	}
	c.TimeScale = 0.1
	if got := c.Ideal(StrategyAsync).Seconds(); math.Abs(got-0.085) > 1e-9 {
		t.Errorf("async ideal at scale 0.1: %.4f s, want 0.085 s", got)
	}
	c.Images, c.Nodes = 33, 16 // three rounds: 16 + 16 + 1
	if got := c.Ideal(StrategyDistributed).Seconds(); math.Abs(got-0.25) > 1e-9 {
		t.Errorf("distributed ideal for 33 images on 16 nodes at scale 0.1: %.4f, want 0.25", got)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		h    string
		want time.Duration
	}{
		{"2", 2 * time.Second},
		{"0.02", 20 * time.Millisecond},
		{"0", 0},
		{"Wed, 01 May 2024 12:00:03 GMT", 3 * time.Second},
		{"", time.Second},
		{"soon", time.Second},
	}
	for _, c := range cases {
		if got := retryAfter(c.h, now); got != c.want {
			t.Errorf("retryAfter(%q) = %v, want %v", c.h, got, c.want)
		}
	}
}

// testBench is a mock and a photo bucket for client tests.
func testBench(t *testing.T, cfg mock.Config, images int) (*mock.Server, *apiClient, []photoJob) {
	t.Helper()
	m, err := mock.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ims := Images(images)
	b, err := startPhotoBucket(ims)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	id, secret := m.Credentials()
	c := newAPIClient(Endpoints{Auth: m.URL(), API: m.URL()}, id, secret)
	var jobs []photoJob
	for i, im := range ims {
		jobs = append(jobs, photoJob{Image: i, Name: im.Name, URL: b.url + "/photos/" + im.Name})
	}
	return m, c, jobs
}

// staleOnce hands out a token the service will refuse, then real ones.
type staleOnce struct {
	inner  tokenSource
	mu     sync.Mutex
	stales int
}

func (s *staleOnce) Token(ctx context.Context, st *flowStats) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stales == 0 {
		return "eyJhbGciOiJIUzI1NiJ9.e30.forged", nil
	}
	return s.inner.Token(ctx, st)
}

func (s *staleOnce) Stale(ctx context.Context, tok string) {
	s.mu.Lock()
	s.stales++
	s.mu.Unlock()
}

func TestClientFlowRecognisesAndRecoversFrom401(t *testing.T) {
	m, c, jobs := testBench(t, mock.Config{TimeScale: 0.01}, 2)
	src := &staleOnce{inner: &localTokens{c: c}}
	res, err := c.recognise(context.Background(), jobs[1], src, "w")
	if err != nil {
		t.Fatal(err)
	}
	if src.stales != 1 {
		t.Fatalf("token reported stale %d times, want once (the forged one)", src.stales)
	}
	im := Images(2)[1]
	b, err := m.Lookup(res.SignedID)
	if err != nil || res.MD5 != im.MD5() || b.Checksum != im.MD5() || !b.Uploaded || res.Species == "" || res.Image != 1 {
		t.Fatalf("result %+v, blob %+v (%v): want image 1's MD5, uploaded, with a species", res, b, err)
	}
	if st := m.Stats(); st.Unauthorized != 1 || st.Tokens != 1 {
		t.Fatalf("mock stats %+v: want the forged token refused once and one real token", st)
	}
}

func TestClientRefusesExpiredTokensWithoutLooping(t *testing.T) {
	_, c, jobs := testBench(t, mock.Config{TimeScale: 0.01, TokenTTL: -time.Minute}, 1)
	_, err := c.recognise(context.Background(), jobs[0], &localTokens{c: c}, "w")
	var se *statusError
	if !errors.As(err, &se) || se.status != 401 || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("error %v: want the service's 401 about an expired token after one retry", err)
	}
}

func TestClientCountsEvery429(t *testing.T) {
	m, c, jobs := testBench(t, mock.Config{TimeScale: 0.01, Prob429: 0.4, Seed: 3}, 6)
	retries := 0
	for _, j := range jobs {
		res, err := c.recognise(context.Background(), j, perImageTokens{c}, "w")
		if err != nil {
			t.Fatal(err)
		}
		retries += res.Retries429
	}
	if st := m.Stats(); retries == 0 || int64(retries) != st.TooMany || st.Recognitions != 6 {
		t.Fatalf("client counted %d retries, mock sent %d 429s and answered %d recognitions; want equal, nonzero, 6", retries, st.TooMany, st.Recognitions)
	}
}

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

			ideal := cfg.Ideal(c.strategy).Seconds()
			if res.IdealSeconds != ideal || res.Seconds < ideal || res.CPUSeconds <= 0 ||
				math.Abs(res.ImagesPerCPUSecond-float64(cfg.Images)/res.CPUSeconds) > 1e-9 || res.Speedup <= 0 {
				t.Fatalf("result %+v: want wall >= ideal %.3f, CPU > 0, images/CPU consistent", res, ideal)
			}
		})
	}
}
