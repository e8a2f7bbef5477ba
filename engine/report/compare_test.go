package report

import (
	"strings"
	"testing"
	"time"
)

// recordRuns writes a CSV of runs of two configurations (mode sync and
// async), repeat times each, with the likes mean of run i of mode m given
// by mean(m, i).
func recordRuns(t *testing.T, repeat int, mean func(mode string, i int) time.Duration) string {
	t.Helper()
	var b strings.Builder
	c, err := NewCSV(&b, contractKnobs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range repeat {
		for run, mode := range []string{"sync", "async"} {
			c.Write(Begin{Labels: Labels{Run: run + 1, Repeat: i + 1, Experiment: "likes", Knobs: map[string]string{"workers": "4", "mode": mode}}})
			f := figures(40, mean(mode, i))
			s := snapshot(0, true)
			s.Steps[1].Run = f
			c.Write(s)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestStatRowsAndReadBack(t *testing.T) {
	csv := recordRuns(t, 6, func(mode string, i int) time.Duration { return time.Duration(100+i) * time.Millisecond })
	if n := strings.Count(csv, "\nstat,"); n != 2*3*3 {
		t.Fatalf("%d stat rows, want 3 statistics x 3 series x 2 configurations", n)
	}
	median := lineWith(csv, "stat,1,,likes,likes,")
	if !strings.Contains(median, ",median,0.") || !strings.Contains(median, ",102.500,") {
		t.Fatalf("median stat row %q: want the median mean 102.5 ms and a confidence", median)
	}
	rec, err := ReadRecorded(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Runs) != 6*2*3 {
		t.Fatalf("%d summary rows read, want 36", len(rec.Runs))
	}
	pairs := PairBy(rec, "mode", func(string) string { return "likes" })
	if len(pairs) != 1 || len(pairs[0].Old.Runs) != 6 || pairs[0].New.Label != "mode=async" {
		t.Fatalf("pairs %+v: want sync against async, 6 runs each", pairs)
	}
	var out strings.Builder
	worse, err := WriteComparison(&out, pairs, 0.05)
	if err != nil || len(worse) != 0 {
		t.Fatalf("identical sides: regressions %v, %v", worse, err)
	}
	if l := lineWith(out.String(), "mean ms"); !strings.Contains(l, " ~ ") || !strings.Contains(l, "p=1.000") {
		t.Fatalf("identical sides: %q, want ~ and p=1", l)
	}
}

func TestComparisonFindsAShift(t *testing.T) {
	csv := recordRuns(t, 5, func(mode string, i int) time.Duration {
		if mode == "async" {
			return time.Duration(150+i) * time.Millisecond
		}
		return time.Duration(100+i) * time.Millisecond
	})
	rec, err := ReadRecorded(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	worse, _ := WriteComparison(&out, PairBy(rec, "mode", func(string) string { return "likes" }), 0.05)
	if l := lineWith(out.String(), "mean ms"); !strings.Contains(l, "+49.02%") || !strings.Contains(l, "p=0.008") {
		t.Fatalf("mean row %q: want +49.02%% at p=0.008", l)
	}
	if len(worse) == 0 || worse[0].Figure != "mean" {
		t.Fatalf("regressions %v: want the mean among them", worse)
	}
}

func TestReadRecordedRefusesOtherFiles(t *testing.T) {
	for name, in := range map[string]string{
		"empty":   "",
		"fishial": "kind,strategy,images,workers,seconds,ideal_seconds,speedup,cpu_seconds,images_per_cpu_second\n",
		"other":   "a,b,c\n1,2,3\n",
	} {
		if _, err := ReadRecorded(strings.NewReader(in)); err == nil {
			t.Errorf("%s: read as a load-run CSV", name)
		}
	}
}

func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
