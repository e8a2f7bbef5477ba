package fishial

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	mock "perflab/server/fishial"
	"perflab/server/redisconn"
)

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

// race is one Run: the mock API, the photo bucket and (for the
// distributed strategy) the Redis, shared by the strategies it runs.
type race struct {
	cfg    Config
	mock   *mock.Server
	bucket *photoBucket
	images []Image
	md5s   []string
	lease  time.Duration // distributed: a node silent this long is dead

	emitMu sync.Mutex
	emit   func(Progress)

	seqMu      sync.Mutex
	seqSeconds float64 // measured sequential time, once known

	redisMu  sync.Mutex
	mini     *redisconn.Embedded
	rdb      *redis.Client
	redisURL string
}

func newRace(c Config, onProgress func(Progress)) (*race, error) {
	r := &race{cfg: c, lease: defaultLease, emit: onProgress}
	r.images = Images(c.Images)
	for _, im := range r.images {
		r.md5s = append(r.md5s, im.MD5())
	}
	var err error
	r.mock, err = mock.Start(mock.Config{TimeScale: c.TimeScale, Prob429: c.Prob429, Seed: uint64(time.Now().UnixNano())})
	if err != nil {
		return nil, err
	}
	if r.bucket, err = startPhotoBucket(r.images); err != nil {
		r.mock.Close()
		return nil, err
	}
	return r, nil
}

func (r *race) close() {
	r.mock.Close()
	r.bucket.Close()
	r.redisMu.Lock()
	defer r.redisMu.Unlock()
	if r.rdb != nil {
		r.rdb.Close()
	}
	if r.mini != nil {
		r.mini.Close()
	}
}

func (r *race) progress(p Progress) {
	if r.emit == nil {
		return
	}
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	r.emit(p)
}

// jobs are the race's photos as work items.
func (r *race) jobs(run string) []photoJob {
	out := make([]photoJob, len(r.images))
	for i, im := range r.images {
		out[i] = photoJob{Image: i, Name: im.Name, URL: r.bucket.url + "/photos/" + im.Name, Run: run}
	}
	return out
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

// run races one strategy and checks every image came back exactly once
// with the right bytes behind it.
func (r *race) run(ctx context.Context, strategy string) (Result, []imageResult, error) {
	t := newTally(r, strategy, r.cfg.Images)
	var cpu time.Duration
	var requeued int
	var err error
	switch strategy {
	case StrategySequential:
		cpu, err = r.runClients(ctx, t, modeSequential, 1)
	case StrategyAsync:
		cpu, err = r.runClients(ctx, t, modeAsync, 1)
	case StrategyMultiprocess:
		cpu, err = r.runClients(ctx, t, modeProcess, r.cfg.Processes)
	case StrategyDistributed:
		cpu, requeued, err = r.runDistributed(ctx, t)
	default:
		err = fmt.Errorf("unknown strategy %q", strategy)
	}
	if err != nil {
		return Result{}, nil, fmt.Errorf("%s: %w", strategy, err)
	}
	recs, err := t.verify()
	if err != nil {
		return Result{}, nil, fmt.Errorf("%s: %w", strategy, err)
	}
	workers := r.cfg.Workers(strategy)
	if strategy == StrategyDistributed {
		// Nodes started elsewhere (perflab fishial-node) may have joined.
		seen := map[string]bool{}
		for _, rec := range recs {
			seen[rec.Worker] = true
		}
		workers = max(workers, len(seen))
	}
	res := Result{
		Strategy:     strategy,
		Images:       r.cfg.Images,
		Workers:      workers,
		Seconds:      t.wall().Seconds(),
		IdealSeconds: Ideal(strategy, r.cfg.Images, workers, r.mock.Latencies()).Seconds(),
		CPUSeconds:   cpu.Seconds(),
		Requeued:     requeued,
	}
	res.Retries429 = t.retries
	for _, rec := range recs {
		res.Retries429 += rec.Retries429
	}
	if res.CPUSeconds > 0 {
		res.ImagesPerCPUSecond = float64(res.Images) / res.CPUSeconds
	}
	r.seqMu.Lock()
	if strategy == StrategySequential {
		r.seqSeconds = res.Seconds
	}
	base := r.seqSeconds
	r.seqMu.Unlock()
	if base == 0 {
		base = Ideal(StrategySequential, r.cfg.Images, 1, r.mock.Latencies()).Seconds()
	}
	res.Speedup = speedup(base, res.Seconds)
	final := res
	r.progress(Progress{Strategy: strategy, Done: r.cfg.Images, Total: r.cfg.Images, Elapsed: t.wall(), Result: &final})
	return res, recs, nil
}

func speedup(base, t float64) float64 {
	if t <= 0 {
		return 0
	}
	return base / t
}

// tally collects one strategy's results as they come in.
type tally struct {
	race     *race
	strategy string
	total    int

	mu       sync.Mutex
	start    time.Time
	last     time.Time
	recs     []*imageResult
	done     int
	retries  int // 429s met outside any image's flow
	complete chan struct{}
}

func newTally(r *race, strategy string, total int) *tally {
	return &tally{race: r, strategy: strategy, total: total, recs: make([]*imageResult, total), complete: make(chan struct{})}
}

// begin starts the strategy's clock: its processes are up and the first
// image is about to be handed out.
func (t *tally) begin() {
	t.mu.Lock()
	t.start = time.Now()
	t.mu.Unlock()
}

// add records one recognised image; a second result for the same image
// is an error (results are exactly once).
func (t *tally) add(res imageResult) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if res.Image < 0 || res.Image >= t.total {
		return fmt.Errorf("result for image %d, which is not in this race of %d", res.Image, t.total)
	}
	if prev := t.recs[res.Image]; prev != nil {
		return fmt.Errorf("image %s recognised twice (by %s and %s)", res.Name, prev.Worker, res.Worker)
	}
	t.recs[res.Image] = &res
	t.done++
	t.last = time.Now()
	if t.done == t.total {
		close(t.complete)
	}
	t.race.progress(Progress{Strategy: t.strategy, Done: t.done, Total: t.total, Elapsed: t.last.Sub(t.start)})
	return nil
}

func (t *tally) addRetries(n int) {
	t.mu.Lock()
	t.retries += n
	t.mu.Unlock()
}

func (t *tally) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.done
}

func (t *tally) wall() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last.Sub(t.start)
}

// verify checks every image has exactly one result, its MD5 is the
// photo's, and its signed id is the service's own, for a blob holding
// those very bytes under that name.
func (t *tally) verify() ([]imageResult, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]imageResult, 0, t.total)
	for i, rec := range t.recs {
		im := t.race.images[i]
		if rec == nil {
			return nil, fmt.Errorf("image %s has no result", im.Name)
		}
		if rec.MD5 != t.race.md5s[i] {
			return nil, fmt.Errorf("image %s: result MD5 %s, photo MD5 %s", im.Name, rec.MD5, t.race.md5s[i])
		}
		b, err := t.race.mock.Lookup(rec.SignedID)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", im.Name, err)
		}
		if !b.Uploaded || b.Checksum != rec.MD5 || b.Filename != im.Name {
			return nil, fmt.Errorf("image %s: signed id names blob %q (MD5 %s, uploaded %v)", im.Name, b.Filename, b.Checksum, b.Uploaded)
		}
		out = append(out, *rec)
	}
	return out, nil
}
