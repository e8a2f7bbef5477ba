package report

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"perflab/engine"
	"perflab/engine/threshold"
)

// SummarySchema names the JSON summary's version; a change that drops or
// renames a field takes a new number.
const SummarySchema = "perflab.summary/1"

func init() {
	Register(Format{Name: "json", Help: "the end-of-run summary as JSON (" + SummarySchema + "), written whole when the session closes", New: func(d Dest) (Output, error) {
		if d.Path == "" {
			return nil, fmt.Errorf("the json output replaces a file whole; give it a path")
		}
		return &jsonOutput{path: d.Path, ths: d.Thresholds}, nil
	}})
}

// JSONSummary is the document --summary-json writes.
type JSONSummary struct {
	Schema string `json:"schema"`
	// ThresholdsOK is false when any threshold failed on any run.
	ThresholdsOK bool      `json:"thresholds_ok"`
	Runs         []JSONRun `json:"runs"`
}

// JSONRun is one run's summary.
type JSONRun struct {
	Run        int               `json:"run"`
	Repeat     int               `json:"repeat"`
	Experiment string            `json:"experiment,omitempty"`
	Config     string            `json:"config,omitempty"`
	Settings   map[string]string `json:"settings,omitempty"`
	Load       JSONLoad          `json:"load"`
	Seconds    float64           `json:"duration_s"`
	Series     []JSONSeries      `json:"series"`
	Errors     map[string]int64  `json:"errors"`
	Statuses   map[string]int64  `json:"statuses"`
	Checks     []JSONCheck       `json:"checks"`
	Thresholds []JSONThreshold   `json:"thresholds"`
	Generator  JSONGenerator     `json:"generator"`
}

// JSONLoad is the arrival model and its setting at the end.
type JSONLoad struct {
	Model   string  `json:"model"`
	VUs     int     `json:"vus,omitempty"`
	ThinkMS float64 `json:"think_ms,omitempty"`
	Conns   int     `json:"conns,omitempty"`
	Rate    float64 `json:"rate,omitempty"`
}

// JSONSeries is one series (all, or a step) over the whole run.
type JSONSeries struct {
	Name     string `json:"name"`
	Requests int64  `json:"requests"`
	Errors   int64  `json:"errors"`
	Answered int64  `json:"answered"`
	// Unfinished were cut off by the end of the run (in neither Requests
	// nor Errors); Retries were sent a second time.
	Unfinished int64   `json:"unfinished"`
	Retries    int64   `json:"retries"`
	Rate       float64 `json:"rate"`
	// Latency is from the scheduled start in the open model (corrected),
	// from the send elsewhere; Service, in the open model only, from the
	// send.
	Latency *JSONLatency `json:"latency_ms"`
	Service *JSONLatency `json:"service_ms,omitempty"`
}

// JSONLatency are latency figures in milliseconds; absent with no answer.
type JSONLatency struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99.9"`
	Max  float64 `json:"max"`
}

// JSONCheck is one named check.
type JSONCheck struct {
	Name   string `json:"name"`
	Step   string `json:"step"`
	Passed int64  `json:"passed"`
	Failed int64  `json:"failed"`
}

// JSONThreshold is a threshold against the run; Value is null without
// data.
type JSONThreshold struct {
	Expr  string   `json:"expr"`
	Value *float64 `json:"value"`
	Unit  string   `json:"unit"`
	OK    bool     `json:"ok"`
}

// JSONGenerator is the generator's health at the end. CPU is its
// process's, which it shares with CPUSharedWith when that is set.
type JSONGenerator struct {
	CPU           float64 `json:"cpu_cores"`
	CPUSharedWith string  `json:"cpu_shared_with,omitempty"`
	Cores         int     `json:"cores"`
	Engine        string  `json:"engine,omitempty"`
	LoopIO        string  `json:"loop_io,omitempty"`
	LoopThreads   int     `json:"loop_threads,omitempty"`
	SendLagP50MS  float64 `json:"send_lag_p50_ms"`
	SendLagP99MS  float64 `json:"send_lag_p99_ms"`
	PacerCPU      float64 `json:"pacer_spin_cores"`
	PacerPriority string  `json:"pacer_priority,omitempty"`
	MissedStarts  int64   `json:"missed_starts"`
	Warning       string  `json:"warning"`
	AchievedRate  float64 `json:"achieved_rate"`
	ScheduledRate float64 `json:"scheduled_rate,omitempty"`
}

// jsonOutput collects each run's final snapshot and writes the document
// when the session closes, to a temporary file renamed over the path, so
// a reader never sees half of it.
type jsonOutput struct {
	path  string
	ths   []threshold.Threshold
	begin Begin
	doc   JSONSummary
}

func (o *jsonOutput) Write(ev Event) error {
	switch ev := ev.(type) {
	case Begin:
		o.begin = ev
	case *engine.Snapshot:
		if ev.Done {
			o.doc.Runs = append(o.doc.Runs, jsonRun(o.begin, ev, o.ths))
		}
	}
	return nil
}

func (o *jsonOutput) Close() error {
	o.doc.Schema = SummarySchema
	o.doc.ThresholdsOK = true
	for _, r := range o.doc.Runs {
		for _, t := range r.Thresholds {
			o.doc.ThresholdsOK = o.doc.ThresholdsOK && t.OK
		}
	}
	if o.doc.Runs == nil {
		o.doc.Runs = []JSONRun{}
	}
	data, err := json.MarshalIndent(o.doc, "", "  ")
	if err != nil {
		return err
	}
	return WriteAtomically(o.path, append(data, '\n'))
}

// WriteAtomically replaces path with data: a temporary file in the same
// directory, synced, then renamed over it.
func WriteAtomically(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	// A temporary file is private; the file it becomes is not.
	err = f.Chmod(0o644)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func jsonRun(b Begin, s *engine.Snapshot, ths []threshold.Threshold) JSONRun {
	r := JSONRun{
		Run: b.Labels.Run, Repeat: max(1, b.Labels.Repeat), Experiment: b.Labels.Experiment, Config: b.Config, Settings: b.Settings,
		Load:    JSONLoad{Model: s.Load.Model, VUs: s.Load.VUs, ThinkMS: msOf(s.Load.Think), Conns: s.Load.Conns, Rate: s.Load.Rate},
		Seconds: s.Elapsed.Seconds(),
		Errors: map[string]int64{"connect": s.Errors.Connect, "timeout": s.Errors.Timeout, "dropped": s.Errors.Dropped,
			"body_too_large": s.Errors.TooLarge, "io": s.Errors.IO, "status": s.Errors.Status, "check": s.Errors.Check},
		Statuses:   map[string]int64{},
		Checks:     []JSONCheck{},
		Thresholds: []JSONThreshold{},
		Generator: JSONGenerator{CPU: s.Health.CPU, CPUSharedWith: s.Health.Sharing, Cores: s.Health.Cores, Engine: s.Health.Path, LoopIO: s.Health.LoopIO, LoopThreads: s.Health.Loops, SendLagP50MS: msOf(s.Health.SendLagP50),
			SendLagP99MS: msOf(s.Health.SendLagP99), PacerCPU: s.Health.PacerCPU, PacerPriority: s.Health.PacerPriority, MissedStarts: s.Health.Missed, Warning: s.Health.Warning,
			AchievedRate: s.Health.AchievedRate, ScheduledRate: s.Health.TargetRate},
	}
	open := s.Load.Model == "open"
	for _, series := range append([]engine.Series{s.All}, s.Steps...) {
		js := JSONSeries{Name: series.Name, Requests: series.Run.Requests, Errors: series.Run.Errors,
			Answered: series.Run.Answered, Unfinished: series.Run.Unfinished, Retries: series.Run.Retries,
			Rate: series.Run.RPS, Latency: jsonLatency(series.Run)}
		if open {
			js.Service = jsonLatency(series.RunService)
		}
		r.Series = append(r.Series, js)
	}
	for code, n := range s.Statuses {
		r.Statuses[strconv.Itoa(code)] = n
	}
	for _, c := range s.Checks {
		r.Checks = append(r.Checks, JSONCheck{Name: c.Name, Step: c.Step, Passed: c.Passed, Failed: c.Failed})
	}
	for _, res := range Evaluate(ths, s) {
		jt := JSONThreshold{Expr: res.Expr, OK: res.OK, Unit: res.Unit()}
		if !math.IsNaN(res.Value) {
			v := res.Value
			jt.Value = &v
		}
		r.Thresholds = append(r.Thresholds, jt)
	}
	return r
}

func jsonLatency(f engine.Figures) *JSONLatency {
	if f.Answered == 0 {
		return nil
	}
	ms := func(d time.Duration) float64 { return math.Round(msOf(d)*1000) / 1000 }
	return &JSONLatency{Min: ms(f.Min), Mean: ms(f.Mean), P50: ms(f.P50), P90: ms(f.P90), P95: ms(f.P95),
		P99: ms(f.P99), P999: ms(f.P999), Max: ms(f.Max)}
}
