package fishial

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"perflab/engine/report"
)

func init() {
	report.Register(report.Format{Name: "fishial-csv", Help: "the race as CSV: a progress row per image, a summary row per strategy",
		New: func(d report.Dest) (report.Output, error) { return NewCSV(d.W) }})
	report.Register(report.Format{Name: "fishial-table", Help: "the race beside the study's table, and the lesson",
		New: func(d report.Dest) (report.Output, error) { return &table{w: d.W}, nil }})
}

// Start is the event that opens a race's record: the race's
// configuration, which the table states. Each Progress of the race
// follows as its own event.
type Start struct{ Config Config }

// Columns are the Fishial CSV columns: the contract's, in its order,
// then the ones added after it. cpu_seconds is the strategy's whole
// cost, its coordinator's included; coordinator_cpu_seconds is that
// share; cpu_ms_per_image is the workers' CPU per image while the race
// ran, which ideal_seconds counts; waits_ideal_seconds is the ideal from
// the API's waits alone.
var Columns = []string{"kind", "strategy", "images", "workers", "seconds", "ideal_seconds", "speedup", "cpu_seconds", "images_per_cpu_second",
	"coordinator_cpu_seconds", "cpu_ms_per_image", "waits_ideal_seconds"}

// CSV writes a race's rows: a progress row per finished image
// (images done so far, seconds since the strategy started) and a summary
// row per strategy. Every row reaches the writer as it is produced, so a
// race stopped early leaves a valid file.
type CSV struct {
	mu  sync.Mutex
	w   *csv.Writer
	err error
}

// NewCSV writes the header row and returns the writer.
func NewCSV(w io.Writer) (*CSV, error) {
	c := &CSV{w: csv.NewWriter(w)}
	if err := c.write(Columns); err != nil {
		return nil, fmt.Errorf("write CSV header: %w", err)
	}
	return c, nil
}

// Progress writes the row for an event: progress for an image, summary
// for a strategy's final event.
func (c *CSV) Progress(p Progress) error {
	if p.Result != nil {
		return c.Summary(*p.Result)
	}
	row := make([]string, len(Columns))
	row[0], row[1], row[2], row[4] = "progress", p.Strategy, strconv.Itoa(p.Done), num(p.Elapsed.Seconds(), 3)
	return c.write(row)
}

// Summary writes one strategy's summary row.
func (c *CSV) Summary(r Result) error {
	return c.write([]string{"summary", r.Strategy, strconv.Itoa(r.Images), strconv.Itoa(r.Workers),
		num(r.Seconds, 3), num(r.IdealSeconds, 3), num(r.Speedup, 2), num(r.CPUSeconds, 3), num(r.ImagesPerCPUSecond, 1),
		num(r.CoordinatorCPUSeconds, 3), num(1000*r.ImageCPUSeconds, 3), num(r.WaitsSeconds, 3)})
}

// Write writes the rows of a race's Progress events.
func (c *CSV) Write(ev report.Event) error {
	if p, ok := ev.(Progress); ok {
		return c.Progress(p)
	}
	return nil
}

// Close reports the first write error; the caller owns the file.
func (c *CSV) Close() error { return c.Err() }

// Err is the first write error, if any.
func (c *CSV) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *CSV) write(row []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	c.w.Write(row)
	c.w.Flush()
	c.err = c.w.Error()
	return c.err
}

func num(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }

// resources names a strategy's workers as the study's table does.
func resources(strategy string, workers int) string {
	switch strategy {
	case StrategyMultiprocess:
		return plural(workers, "process", "processes")
	case StrategyDistributed:
		return plural(workers, "node", "nodes")
	}
	return "1 thread"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// table prints the race beside the study's table when the race's record
// closes, with the strategies that finished.
type table struct {
	w       io.Writer
	config  *Config
	results []Result
}

func (t *table) Write(ev report.Event) error {
	switch ev := ev.(type) {
	case Start:
		t.config = &ev.Config
	case Progress:
		if ev.Result != nil {
			t.results = append(t.results, *ev.Result)
		}
	}
	return nil
}

func (t *table) Close() error {
	if t.config == nil || len(t.results) == 0 {
		return nil
	}
	return WriteTable(t.w, *t.config, t.results)
}

// WriteTable prints the measured race beside the study's table,
// then the lesson.
func WriteTable(w io.Writer, c Config, results []Result) error {
	var b strings.Builder
	lat := c.Latencies()
	fmt.Fprintf(&b, "Fishial race: %d images, time-scale %g. Mock API: token %.3f, signed upload %.3f, upload %.3f, recognition %.3f s; nodes +%.3f s network per image.\n\n",
		c.Images, c.TimeScale, lat.Token.Seconds(), lat.SignedUpload.Seconds(), lat.Upload.Seconds(), lat.Recognition.Seconds(), lat.Network.Seconds())
	const row = "%-13s %-12s %8s %8s %8s %8s %7s %9s %7s %5s %8s   %-12s %7s %8s\n"
	fmt.Fprintf(&b, row, "strategy", "resources", "wall s", "ideal s", "vs ideal", "speed-up", "CPU s", "img/CPU s", "CPU ms", "429s", "requeued", "study", "study s", "speed-up")
	fmt.Fprintf(&b, row, "", "", "", "", "", "", "", "", "per img", "", "", "", "", "")
	outside := false
	for _, r := range results {
		study, _ := StudyFor(r.Strategy)
		fmt.Fprintf(&b, "%-13s %-12s %8.3f %8.3f %+7.1f%% %7.1fx %7.3f %9.0f %7.3f %5d %8d   %-12s %7.2f %7.1fx\n",
			r.Strategy, resources(r.Strategy, r.Workers), r.Seconds, r.IdealSeconds, 100*r.VsIdeal(), r.Speedup,
			r.CPUSeconds, r.ImagesPerCPUSecond, 1000*r.ImageCPUSeconds, r.Retries429, r.Requeued, study.Resources, study.Seconds, study.Speedup)
		if HasCoordinator(r.Strategy) {
			fmt.Fprintf(&b, "  %-11s %-12s %8s %8s %8s %8s %7.3f\n", "coordinator", CoordinatorOf(r), "", "", "", "", r.CoordinatorCPUSeconds)
		}
		outside = outside || r.RedisOutside
	}
	b.WriteString("\nideal s: the least wall time the API's waits and the CPU per image allow (README: Fishial race).\n")
	b.WriteString("CPU s: every process of the strategy, start-up included, its coordinator's line too; CPU ms per img: the workers' CPU per image while racing.\n")
	if outside {
		b.WriteString("The distributed coordinator's CPU leaves out the Redis given with --redis: it runs outside perflab.\n")
	}
	if c.Images != StudyImages || c.TimeScale != 1 {
		fmt.Fprintf(&b, "The study's figures are for %d images at time-scale 1.\n", StudyImages)
	}
	b.WriteString("requeued: images taken back from dead nodes and recognised by another.\n\n")
	b.WriteString(Lesson)
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// CoordinatorOf names what a strategy's coordinator ran.
func CoordinatorOf(r Result) string {
	switch {
	case r.Strategy == StrategyMultiprocess:
		return "queue, lock"
	case r.RedisOutside:
		return "reaper"
	}
	return "Redis, reaper"
}
