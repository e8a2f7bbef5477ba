package report

import (
	"encoding/csv"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"perflab/engine"
	"perflab/engine/threshold"
)

// recordSession writes a session of two runs through the csv output:
// run 1 over a two-stage plan with a knob changed, three seconds, two
// thresholds; run 2 of another configuration, two seconds.
func recordSession(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	var ths []threshold.Threshold
	for _, e := range []string{"p(99)<250ms", "rps>1000"} {
		th, err := threshold.Parse(e)
		if err != nil {
			t.Fatal(err)
		}
		ths = append(ths, th)
	}
	out, err := New("csv", Dest{W: &b, KnobColumns: contractKnobs, Thresholds: ths})
	if err != nil {
		t.Fatal(err)
	}
	staged := func(s *engine.Snapshot, stage int, target float64) *engine.Snapshot {
		s.Load.Stage, s.Load.Stages, s.Load.Target = stage, 2, target
		return s
	}
	events := []Event{
		Begin{Labels: Labels{Run: 1, Repeat: 1, Experiment: "likes", Knobs: map[string]string{"workers": "1", "cache": "off"}}},
		staged(snapshot(0, false), 1, 10),
		staged(snapshot(1, false), 1, 10),
		Change{Elapsed: 1500 * time.Millisecond, Knob: "workers", Value: "4"},
		staged(snapshot(2, false), 2, 50),
		staged(snapshot(3, false), 2, 50),
		staged(snapshot(0, true), 3, 0), // the plan is over: no event
		Begin{Labels: Labels{Run: 2, Repeat: 1, Experiment: "likes", Knobs: map[string]string{"workers": "1", "cache": "on"}}},
		snapshot(1, false), snapshot(2, false), snapshot(0, true),
	}
	for _, ev := range events {
		if err := out.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestCSVEventAndThresholdRows: a knob change and each stage as it
// starts are event rows; each threshold against the ended run is a
// threshold row; every row has the header's cells.
func TestCSVEventAndThresholdRows(t *testing.T) {
	rows, err := csv.NewReader(strings.NewReader(recordSession(t))).ReadAll()
	if err != nil {
		t.Fatalf("not valid CSV: %v", err)
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	if col["event"] <= col["retries"] || col["threshold_ok"] != len(rows[0])-1 {
		t.Errorf("event columns at %d..%d, want appended after retries (%d)", col["event"], col["threshold_ok"], col["retries"])
	}
	var events, thresholds []string
	for _, r := range rows[1:] {
		switch r[0] {
		case "event":
			events = append(events, r[col["run"]]+"@"+r[col["elapsed_s"]]+" "+r[col["event"]]+" workers="+r[col["workers"]])
		case "threshold":
			thresholds = append(thresholds, r[col["run"]]+" "+r[col["series"]]+" "+r[col["threshold"]]+" "+r[col["threshold_value"]]+" "+r[col["threshold_ok"]])
		}
	}
	wantEvents := "1@0.000 stage 1/2 → 10 users workers=1|1@1.500 workers=4 workers=1|1@2.000 stage 2/2 → 50 users workers=1"
	if got := strings.Join(events, "|"); got != wantEvents {
		t.Errorf("events %q,\nwant %q", got, wantEvents)
	}
	wantThresholds := "1 all p(99)<250ms 400 false|1 all rps>1000 40 false|2 all p(99)<250ms 400 false|2 all rps>1000 40 false"
	if got := strings.Join(thresholds, "|"); got != wantThresholds {
		t.Errorf("thresholds %q,\nwant %q", got, wantThresholds)
	}
}

// TestReadRecording reads a session back whole: runs in order, their
// seconds, summaries, events and thresholds.
func TestReadRecording(t *testing.T) {
	rec, err := ReadRecording(strings.NewReader(recordSession(t)))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Runs) != 2 || len(rec.CutShort) != 0 {
		t.Fatalf("%d runs, cut short %q; want 2, whole", len(rec.Runs), rec.CutShort)
	}
	r := rec.Runs[0]
	if r.Run != 1 || r.Experiment != "likes" || r.Knobs["cache"] != "off" || strings.Join(r.Series, ",") != "all,signin,likes" {
		t.Errorf("run 1 = %+v", r)
	}
	if n := len(r.Intervals["likes"]); n != 3 || r.Seconds() != 3 {
		t.Errorf("run 1 has %d seconds of likes, want 3", n)
	}
	if p99 := r.Intervals["likes"][1].Num("p99_ms"); p99 != 400 {
		t.Errorf("second 2's p99 = %g, want 400", p99)
	}
	if len(r.Summary) != 3 || r.Summary["all"].Cell("elapsed_s") != "0.000" {
		t.Errorf("run 1 summary = %v", r.Summary)
	}
	if len(r.Events) != 3 || r.Events[1] != (RecordedEvent{At: 1.5, What: "workers=4"}) {
		t.Errorf("run 1 events = %v", r.Events)
	}
	if len(r.Thresholds) != 2 || r.Thresholds[1].Expr != "rps>1000" || r.Thresholds[1].Value != 40 || r.Thresholds[1].OK {
		t.Errorf("run 1 thresholds = %v", r.Thresholds)
	}
	if rec.Runs[1].Knobs["cache"] != "on" || len(rec.Runs[1].Intervals["all"]) != 2 {
		t.Errorf("run 2 = %+v", rec.Runs[1])
	}
}

// TestReadRecordingCutShort: a file whose writer was killed keeps what it
// holds: half a last row is dropped, a run without its summary is kept,
// and CutShort says both.
func TestReadRecordingCutShort(t *testing.T) {
	whole := recordSession(t)
	// Up to run 2's second interval rows, then half a row.
	i := strings.Index(whole, "interval,2,2,")
	cut := whole[:i] + "interval,2,2,likes,al"
	rec, err := ReadRecording(strings.NewReader(cut))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Runs) != 2 || rec.Runs[1].Seconds() != 1 || len(rec.Runs[1].Summary) != 0 {
		t.Fatalf("runs %d, run 2 seconds %d: want run 2 with its first second and no summary", len(rec.Runs), rec.Runs[1].Seconds())
	}
	if got := strings.Join(rec.CutShort, "; "); !strings.Contains(got, "last line stops in the middle of a row") ||
		!strings.Contains(got, "run 2 has no summary: it was cut off after 1 s") {
		t.Errorf("cut short %q", got)
	}
}

func TestReadRecordingRefuses(t *testing.T) {
	header := strings.Join(Columns, ",") + "\n"
	row := "interval,1,1,,all" + strings.Repeat(",", len(Columns)-5) + "\n"
	cases := []struct {
		name, in string
		want     error
		text     string
	}{
		{"empty", "", ErrEmpty, "empty"},
		{"blank lines", "\n \n", ErrEmpty, "empty"},
		{"header only", header, ErrNoRows, "no rows"},
		{"another CSV", "a,b,c\n1,2,3\n", ErrNotLoadCSV, "header does not start with kind,run"},
		{"a race", "kind,strategy,images,workers,seconds,ideal_seconds,speedup,cpu_seconds,images_per_cpu_second\n", ErrNotLoadCSV, "Fishial"},
		{"a short row inside", header + "interval,1\n" + row, ErrNotLoadCSV, "line 2 has 2 cells"},
		{"a broken quote inside", header + "interval,\"1\n" + row, ErrNotLoadCSV, "line"},
	}
	for _, c := range cases {
		_, err := ReadRecording(strings.NewReader(c.in))
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: error %v, want %v saying %q", c.name, err, c.want, c.text)
		}
	}
}

func TestRowNumbers(t *testing.T) {
	tab, err := ReadTable(strings.NewReader("a,b,c\n1.5,,x\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := tab.Row(0)
	if r.Num("a") != 1.5 || !math.IsNaN(r.Num("b")) || !math.IsNaN(r.Num("c")) || !math.IsNaN(r.Num("nope")) || r.Int("b", 7) != 7 || r.Cell("nope") != "" {
		t.Errorf("row reads a=%g b=%g c=%g", r.Num("a"), r.Num("b"), r.Num("c"))
	}
}

// TestReadRecordingOfAgents: in a run spread over load agents the merged
// rows are the run's; each agent's own are left out, and named.
func TestReadRecordingOfAgents(t *testing.T) {
	var b strings.Builder
	out, err := New("csv", Dest{W: &b, KnobColumns: contractKnobs})
	if err != nil {
		t.Fatal(err)
	}
	out.Write(Begin{Labels: Labels{Run: 1, Repeat: 1, Agent: "all"}})
	for s := 1; s <= 2; s++ {
		out.Write(AgentSnapshot{Agent: "gen-a", Snapshot: snapshot(s, false)})
		out.Write(AgentSnapshot{Agent: "gen-b", Snapshot: snapshot(s, false)})
		out.Write(snapshot(s, false))
	}
	out.Write(snapshot(0, true))
	out.Close()
	rec, err := ReadRecording(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	r := rec.Runs[0]
	if len(rec.Runs) != 1 || len(r.Intervals["all"]) != 2 || strings.Join(r.Agents, ",") != "gen-a,gen-b" || len(r.Summary) != 3 {
		t.Fatalf("runs %d, seconds of all %d, agents %v, summaries %d: want 1, 2, gen-a and gen-b, 3",
			len(rec.Runs), len(r.Intervals["all"]), r.Agents, len(r.Summary))
	}
}
