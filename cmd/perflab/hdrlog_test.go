package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// summaryOf reads a --summary-json file's first run's series by name.
func summaryOf(t *testing.T, path string) map[string]map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Runs []struct {
			Series []map[string]any `json:"series"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(data, &doc); err != nil || len(doc.Runs) == 0 {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]map[string]any{}
	for _, s := range doc.Runs[0].Series {
		out[s["name"].(string)] = s
	}
	return out
}

// hdrRow is `perflab hdr`'s row for a series: count then the figures.
func hdrRow(t *testing.T, out, series string) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 11 && f[0] == series {
			return f
		}
	}
	t.Fatalf("no row for %s in:\n%s", series, out)
	return nil
}

// TestHDRLogReproducesTheSummary: the interval log of a run, read back
// and merged, is the run's histogram: the same count and the same
// percentiles as the summary; two logs merge into both runs' counts.
func TestHDRLogReproducesTheSummary(t *testing.T) {
	url := target(t)
	dir := t.TempDir()
	var counts [2]int
	for i, name := range []string{"a", "b"} {
		log, sum := filepath.Join(dir, name+".hlog"), filepath.Join(dir, name+".json")
		if _, stderr, code := perflab(t, "--url", url, "-c", "2", "--duration", "2500ms", "--hdr-log", log, "--summary-json", sum); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		s := summaryOf(t, sum)["url"]
		lat := s["latency_ms"].(map[string]any)
		out, stderr, code := perflab(t, "hdr", log, "--series", "url")
		if code != 0 {
			t.Fatalf("hdr: exit %d: %s", code, stderr)
		}
		row := hdrRow(t, out, "url")
		counts[i] = int(s["answered"].(float64))
		if row[1] != strconv.Itoa(counts[i]) {
			t.Fatalf("log holds %s answers, the summary %d", row[1], counts[i])
		}
		for col, fig := range map[int]string{5: "p50", 6: "p90", 8: "p99", 9: "p99.9"} {
			if want := strconv.FormatFloat(lat[fig].(float64), 'f', 3, 64); row[col] != want {
				t.Errorf("%s: log %s ms, summary %s ms", fig, row[col], want)
			}
		}
	}
	out, _, code := perflab(t, "hdr", filepath.Join(dir, "a.hlog"), filepath.Join(dir, "b.hlog"), "--series", "url")
	if code != 0 || hdrRow(t, out, "url")[1] != strconv.Itoa(counts[0]+counts[1]) {
		t.Fatalf("two logs merged: exit %d\n%s\nwant %d answers", code, out, counts[0]+counts[1])
	}
	if _, stderr, code := perflab(t, "hdr", filepath.Join(dir, "a.json")); code != 2 || !strings.Contains(stderr, "interval") {
		t.Fatalf("a JSON file read as a log: exit %d, %q", code, stderr)
	}
}

// TestAbortOnFail: a server that starts failing half-way stops the run
// within the grace and a second, exit 99, with valid CSV, JSON and HDR
// log files.
func TestAbortOnFail(t *testing.T) {
	var failing atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	time.AfterFunc(3*time.Second, func() { failing.Store(true) })
	dir := t.TempDir()
	csvPath, jsonPath, logPath := filepath.Join(dir, "r.csv"), filepath.Join(dir, "r.json"), filepath.Join(dir, "r.hlog")
	start := time.Now()
	_, stderr, code := perflab(t, "--url", srv.URL, "-c", "2", "--duration", "60s", "--threshold", "http_req_failed<10%",
		"--abort-on-fail", "--abort-grace", "2s", "--record", csvPath, "--summary-json", jsonPath, "--hdr-log", logPath)
	took := time.Since(start)
	if code != exitThresholds || !strings.Contains(stderr, "http_req_failed<10% failed for 2s") {
		t.Fatalf("exit %d, %q; want 99 and the threshold named", code, stderr)
	}
	// Failing from 3 s, the error rate over the run passes 10% a little
	// later; then 2 s of grace; the binary's start-up on top.
	if took > 15*time.Second {
		t.Fatalf("the run took %s: it did not stop", took)
	}
	rows := readCSV(t, csvPath)
	// The run's summary rows, then its threshold's row.
	if last := rows[len(rows)-1]; last[0] != "threshold" || last[column(rows)["threshold_ok"]] != "false" || rows[len(rows)-2][0] != "summary" {
		t.Fatalf("CSV ends with %v after %v, want the summary rows and the failed threshold's row", last, rows[len(rows)-2])
	}
	// The second at which the run's error rate first went over 10%, from
	// the interval rows, and the run's end: grace plus a second at most.
	col := column(rows)
	var reqs, errs float64
	crossed, ended := -1.0, 0.0
	for _, r := range rows[1:] {
		if r[col["series"]] != "all" {
			continue
		}
		at, _ := strconv.ParseFloat(r[col["elapsed_s"]], 64)
		if r[col["kind"]] == "summary" {
			ended = at
			continue
		}
		n, _ := strconv.ParseFloat(r[col["requests"]], 64)
		e, _ := strconv.ParseFloat(r[col["errors"]], 64)
		reqs, errs = reqs+n, errs+e
		if crossed < 0 && errs > 0.1*reqs {
			crossed = at - 1 // it went over during this second
		}
	}
	if crossed < 0 || ended > crossed+2+1+1 {
		t.Fatalf("error rate over 10%% from %.0f s, run ended at %.1f s: want within the 2 s grace and a second", crossed, ended)
	}
	if !strings.Contains(summaryOf(t, jsonPath)["all"]["name"].(string), "all") {
		t.Fatal("no JSON summary")
	}
	if out, _, code := perflab(t, "hdr", logPath); code != 0 || !strings.Contains(out, "url") {
		t.Fatalf("the HDR log does not read back: exit %d\n%s", code, out)
	}
}
