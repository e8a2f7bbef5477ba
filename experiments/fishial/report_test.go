package fishial

import (
	"bytes"
	"encoding/csv"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCSVRows(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	res := Result{Strategy: "async", Images: 2, Workers: 1, Seconds: 0.8612, IdealSeconds: 0.852, WaitsSeconds: 0.85, Speedup: 40.17,
		CPUSeconds: 0.05, ImagesPerCPUSecond: 40, ImageCPUSeconds: 0.00104}
	events := []Progress{
		{Strategy: "async", Done: 1, Total: 2, Elapsed: 850 * time.Millisecond},
		{Strategy: "async", Done: 2, Total: 2, Elapsed: 861 * time.Millisecond},
		{Strategy: "async", Done: 2, Total: 2, Elapsed: 861 * time.Millisecond, Result: &res},
	}
	for i, e := range events {
		if err := w.Progress(e); err != nil {
			t.Fatal(err)
		}
		// Every row is in the buffer as soon as it is written.
		if got := strings.Count(buf.String(), "\n"); got != i+2 {
			t.Fatalf("after event %d the output has %d lines, want %d", i, got, i+2)
		}
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		Columns,
		{"progress", "async", "1", "", "0.850", "", "", "", "", "", "", ""},
		{"progress", "async", "2", "", "0.861", "", "", "", "", "", "", ""},
		{"summary", "async", "2", "1", "0.861", "0.852", "40.17", "0.050", "40.0", "0.000", "1.040", "0.850"},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows %q, want %q", rows, want)
	}
	for i := range want {
		if strings.Join(rows[i], ",") != strings.Join(want[i], ",") {
			t.Fatalf("row %d = %q, want %q", i, rows[i], want[i])
		}
	}
	// The contract's columns come first, in its order; new ones only after.
	if !strings.HasPrefix(strings.Join(Columns, ","), "kind,strategy,images,workers,seconds,ideal_seconds,speedup,cpu_seconds,images_per_cpu_second,") {
		t.Fatal("Fishial CSV columns differ from the design contract")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestCSVReportsWriteErrors(t *testing.T) {
	if _, err := NewCSV(failWriter{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err %v, want the write error", err)
	}
}

func TestTableShowsStudyBeside(t *testing.T) {
	var b strings.Builder
	cfg := DefaultConfig()
	results := []Result{
		{Strategy: "sequential", Images: 40, Workers: 1, Seconds: 34.21, IdealSeconds: 34, Speedup: 1, CPUSeconds: 0.4, ImagesPerCPUSecond: 100},
		{Strategy: "distributed", Images: 40, Workers: 16, Seconds: 2.53, IdealSeconds: 2.5, Speedup: 13.5, CPUSeconds: 1.2, ImagesPerCPUSecond: 33, Requeued: 1,
			CoordinatorCPUSeconds: 0.321, ImageCPUSeconds: 0.0021},
	}
	if err := WriteTable(&b, cfg, results); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"34.210", "34.59", "16 nodes", "2.76", "12.5x", "+0.6%", "  coordinator Redis, reaper", "0.321", "2.100", "study s", Lesson} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "The study's figures are for") || strings.Contains(out, "seed") {
		t.Errorf("table warns about a different batch for the study's own configuration, or says seed for the study:\n%s", out)
	}
	// Sequential has no coordinator, so no coordinator line follows it.
	if strings.Count(out, "coordinator ") != 1 {
		t.Errorf("want one coordinator line, distributed's:\n%s", out)
	}
}
