package experiments

import (
	"strings"
	"testing"
	"time"

	"perflab/engine"
	"perflab/engine/report"
)

// TestStudyTableSplit: the study table gains where the measured step's
// time went per configuration, and the change of each part between the
// configurations the study's conclusions compare.
func TestStudyTableSplit(t *testing.T) {
	var b strings.Builder
	tab := &studyTable{w: &b}
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	part := func(name string, p50 float64) engine.Timing {
		return engine.Timing{Name: name, Run: engine.Figures{Requests: 100, Answered: 100, P50: ms(p50)}}
	}
	runs := []struct {
		workers, cache string
		timing         []engine.Timing
	}{
		{"1", "off", []engine.Timing{part("queue", 40), part("db", 20), part("view", 4), part(engine.TimingRest, 1)}},
		{"4", "off", []engine.Timing{part("queue", 10), part("db", 50), part("view", 9), part(engine.TimingRest, 1)}},
		{"4", "on", []engine.Timing{part("queue", 1), part("db", 1), part("view", 4), part(engine.TimingRest, 1), part("cache", 0.5)}},
	}
	for i, r := range runs {
		settings := map[string]string{"workers": r.workers, "mode": "sync", "cache": r.cache}
		tab.Write(report.Begin{Labels: report.Labels{Run: i + 1, Experiment: "likes"}, Settings: settings,
			Config: "workers=" + r.workers + " cache=" + r.cache, Measured: "likes"})
		f := engine.Figures{Requests: 100, Answered: 100, Mean: ms(60), P50: ms(50), P90: ms(90), RPS: 45}
		tab.Write(&engine.Snapshot{Done: true, Steps: []engine.Series{{Name: "likes", Run: f, Timing: r.timing}}})
	}
	if err := tab.Close(); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Where the time went in the likes step",
		"queue     db  view  cache  (network)",
		"workers=1 cache=off  40.00  20.00  4.00      -       1.00",
		"workers 1 -> 4 (cache=off): queue p50 -30.0 ms, db p50 +30.0 ms, view p50 +5.0 ms, (network) p50 +0.0 ms",
		"cache off -> on (workers=4): queue p50 -9.0 ms, db p50 -49.0 ms, view p50 -5.0 ms, cache p50 +0.5 ms, (network) p50 +0.0 ms",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("study table lacks %q:\n%s", want, out)
		}
	}
}
