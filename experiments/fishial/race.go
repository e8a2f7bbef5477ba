package fishial

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	mock "perflab/server/fishial"
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
	IdealSeconds float64 // the least wall time the API's waits and the workers' CPU per image allow (Ideal)
	WaitsSeconds float64 // the least wall time the API's waits alone allow
	// Speedup is over the sequential run measured in the same race, or
	// over sequential's ideal when it was not run (or, racing all at
	// once, had not finished yet when this strategy did).
	Speedup float64
	// CPUSeconds is what the strategy cost in all: user + system CPU of
	// every process it started, from start-up to exit, its coordinator
	// included.
	CPUSeconds float64
	// CoordinatorCPUSeconds is the coordinator's share of CPUSeconds:
	// the multiprocess queue and token lock, the distributed Redis and
	// reaper; 0 for the strategies that have none.
	CoordinatorCPUSeconds float64
	// RedisOutside is set when the distributed Redis was the race's own
	// (--redis redis://...): its CPU is not in CoordinatorCPUSeconds.
	RedisOutside bool
	// ImageCPUSeconds is the workers' CPU per image while the race ran:
	// read, hash and send a photo, fetch or wait for a token, read the
	// answers, report the result. Start-up and idle polling are not in it.
	ImageCPUSeconds    float64
	ImagesPerCPUSecond float64 // Images / CPUSeconds
	Retries429         int     // 429s answered and retried after Retry-After
	Requeued           int     // distributed: in-flight images taken back from dead nodes
}

// HasCoordinator reports whether the strategy runs a coordinator.
func HasCoordinator(strategy string) bool {
	return strategy == StrategyMultiprocess || strategy == StrategyDistributed
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

// race is one Run: the mock API, the photos (in a folder, and served
// for nodes elsewhere), shared by the strategies it runs. All of it is
// made before any strategy's clock starts.
type race struct {
	cfg    Config
	mock   *mock.Server
	dir    string // the photos
	bucket *photoBucket
	images []Image
	md5s   []string
	lease  time.Duration // distributed: a node silent this long is dead

	emitMu sync.Mutex
	emit   func(Progress)

	seqMu      sync.Mutex
	seqSeconds float64 // measured sequential time, once known
}

func newRace(c Config, onProgress func(Progress)) (*race, error) {
	r := &race{cfg: c, lease: defaultLease, emit: onProgress}
	r.images = Images(c.Images)
	for _, im := range r.images {
		r.md5s = append(r.md5s, im.MD5())
	}
	var err error
	if r.dir, err = os.MkdirTemp("", "perflab-fishial-"); err != nil {
		return nil, fmt.Errorf("make a folder for the race's photos: %w", err)
	}
	if err := writePhotos(r.dir, r.images); err != nil {
		os.RemoveAll(r.dir)
		return nil, err
	}
	r.mock, err = mock.Start(mock.Config{TimeScale: c.TimeScale, Prob429: c.Prob429, Seed: uint64(time.Now().UnixNano())})
	if err != nil {
		os.RemoveAll(r.dir)
		return nil, err
	}
	if r.bucket, err = startPhotoBucket(r.images); err != nil {
		r.mock.Close()
		os.RemoveAll(r.dir)
		return nil, err
	}
	return r, nil
}

func (r *race) close() {
	r.mock.Close()
	r.bucket.Close()
	os.RemoveAll(r.dir)
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
		out[i] = photoJob{Image: i, Name: im.Name, Path: filepath.Join(r.dir, im.Name), URL: r.bucket.url + "/photos/" + im.Name, Run: run}
	}
	return out
}

// runAll runs the configured strategies and fills in the speed-ups.
func (r *race) runAll(ctx context.Context, concurrent bool) ([]Result, error) {
	order := r.cfg.ordered()
	if slices.Contains(order, StrategyDistributed) && !r.cfg.embeddedRedis() {
		// Find out now, not after the slower strategies ran, whether the
		// Redis is there.
		rdb, err := connectRedis(ctx, r.cfg.Redis)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", StrategyDistributed, err)
		}
		rdb.Close()
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
	var cpu cpuTimes
	var err error
	switch strategy {
	case StrategySequential:
		cpu, err = r.runClients(ctx, t, modeSequential, 1)
	case StrategyAsync:
		cpu, err = r.runClients(ctx, t, modeAsync, 1)
	case StrategyMultiprocess:
		cpu, err = r.runClients(ctx, t, modeProcess, r.cfg.Processes)
	case StrategyDistributed:
		cpu, err = r.runDistributed(ctx, t)
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
	lat := r.mock.Latencies()
	perImage := t.workCPU() / time.Duration(r.cfg.Images)
	ideal := Ideal(strategy, r.cfg.Images, workers, lat, perImage)
	if strategy == StrategyAsync {
		ideal = max(ideal, PipelineIdeal(lat, stepSums(recs)))
	}
	res := Result{
		Strategy:              strategy,
		Images:                r.cfg.Images,
		Workers:               workers,
		Seconds:               t.wall().Seconds(),
		IdealSeconds:          ideal.Seconds(),
		WaitsSeconds:          Ideal(strategy, r.cfg.Images, workers, lat, 0).Seconds(),
		CPUSeconds:            (cpu.workers + cpu.coordinator).Seconds(),
		CoordinatorCPUSeconds: cpu.coordinator.Seconds(),
		RedisOutside:          strategy == StrategyDistributed && !r.cfg.embeddedRedis(),
		ImageCPUSeconds:       perImage.Seconds(),
	}
	res.Retries429, res.Requeued = t.counts()
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
		base = Ideal(StrategySequential, r.cfg.Images, 1, lat, 0).Seconds()
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
	retries  int           // 429s met outside any image's flow
	requeued int           // jobs the coordinator took back from dead nodes
	cpu      time.Duration // workers' CPU on the images, as they report it
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

// has reports whether image i has its result.
func (t *tally) has(i int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return i >= 0 && i < t.total && t.recs[i] != nil
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
	t.cpu += time.Duration(res.CPU * float64(time.Second))
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

func (t *tally) addRequeued(n int) {
	t.mu.Lock()
	t.requeued += n
	t.mu.Unlock()
}

// addWorkCPU counts CPU a worker spent on its images, reported for all
// of them at once.
func (t *tally) addWorkCPU(d time.Duration) {
	t.mu.Lock()
	t.cpu += d
	t.mu.Unlock()
}

func (t *tally) workCPU() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cpu
}

// counts are the 429s met outside any image's flow and the jobs taken
// back from dead nodes.
func (t *tally) counts() (retries, requeued int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.retries, t.requeued
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
