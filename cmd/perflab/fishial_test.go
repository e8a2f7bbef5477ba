package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFishialBadUsageExits2(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "out.csv")
	base := []string{"--record", rec, "--experiment", "fishial"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no images", []string{"--images", "0"}, "--images"},
		{"zero scale", []string{"--time-scale", "0"}, "--time-scale"},
		{"unknown strategy", []string{"--strategies", "sequential,threads"}, `"threads"`},
		{"no processes", []string{"--processes", "0"}, "--processes"},
		{"too many nodes", []string{"--nodes", "1000"}, "--nodes"},
		{"429 of 1", []string{"--fishial-429", "1"}, "--fishial-429"},
		{"twin knob", []string{"--workers", "2"}, "--workers does not apply"},
		{"load flag", []string{"--duration", "5s"}, "--duration does not apply"},
		{"bad redis", []string{"--redis", "localhost"}, "--redis"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append(append([]string{}, base...), c.args...), &stdout, &stderr)
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if code != exitUsage || len(lines) != 1 || !strings.Contains(stderr.String(), c.want) {
				t.Fatalf("exit %d, stderr %q: want exit 2 and one line naming %s", code, stderr.String(), c.want)
			}
		})
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--experiment", "fishial"}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "--record") {
		t.Fatalf("without a terminal or --record: exit %d, %q; want 2 pointing at --record", code, stderr.String())
	}
}

func TestFishialHeadlessRun(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "out.csv")
	var stdout, stderr bytes.Buffer
	code := run([]string{"--record", rec, "--experiment", "fishial", "--images", "3", "--time-scale", "0.02",
		"--strategies", "async,sequential", "--nodes", "2", "--processes", "2"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	rows := readCSV(t, rec)
	if strings.Join(rows[0], ",") != "kind,strategy,images,workers,seconds,ideal_seconds,speedup,cpu_seconds,images_per_cpu_second,coordinator_cpu_seconds,cpu_ms_per_image,waits_ideal_seconds" {
		t.Fatalf("header %q: want the contract's columns, then the appended ones", rows[0])
	}
	var got []string
	for _, r := range rows[1:] {
		got = append(got, r[0]+" "+r[1]+" "+r[2])
	}
	want := []string{
		"progress sequential 1", "progress sequential 2", "progress sequential 3", "summary sequential 3",
		"progress async 1", "progress async 2", "progress async 3", "summary async 3",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("rows %q, want %q (study order, sequential first)", got, want)
	}
	for _, r := range rows[1:] {
		if r[0] == "summary" && (r[3] != "1" || slices.Contains(r, "")) {
			t.Fatalf("summary row %q has empty cells", r)
		}
	}
	out := stdout.String()
	for _, want := range []string{"sequential", "async", "34.59", "0.86", "The study's lesson"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// The study's conclusions hold here, measured headless and read with
// wide margins: sequential is slower than multiprocess, slower than
// distributed, slower than async; the async thread really overlaps its
// images (under twice its ideal, which counts its CPU: one image at a
// time would take eight times that) and the processes theirs
// (multiprocess under half of sequential). 16 images on 3 processes and
// 8 nodes keep each step of the order about two times apart or more in
// theory, and time-scale 0.5 keeps the waits above the CPU a
// race-detector build spends on a busy machine.
func TestFishialStudyConclusions(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "out.csv")
	var stdout, stderr bytes.Buffer
	code := run([]string{"--record", rec, "--experiment", "fishial", "--images", "16", "--time-scale", "0.5",
		"--processes", "3", "--nodes", "8"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	rows := readCSV(t, rec)
	col := func(name string) int { return slices.Index(rows[0], name) }
	wall, ideal := map[string]float64{}, map[string]float64{}
	for _, r := range rows[1:] {
		if r[0] != "summary" {
			continue
		}
		wall[r[1]], _ = strconv.ParseFloat(r[col("seconds")], 64)
		ideal[r[1]], _ = strconv.ParseFloat(r[col("ideal_seconds")], 64)
	}
	t.Logf("wall s %v; ideal s %v", wall, ideal)
	order := []string{"sequential", "multiprocess", "distributed", "async"}
	for i := range order[:3] {
		slow, fast := order[i], order[i+1]
		if !(wall[slow] > 1.25*wall[fast]) {
			t.Errorf("%s took %.3f s, %s %.3f s: want %s at least 1.25 times slower (the study's order)", slow, wall[slow], fast, wall[fast], slow)
		}
	}
	if !(wall["async"] > 0 && wall["async"] < 2*ideal["async"]) {
		t.Errorf("async took %.3f s, its ideal is %.3f s: want under twice that, its images in flight together", wall["async"], ideal["async"])
	}
	if !(wall["multiprocess"] > 0 && wall["multiprocess"] < wall["sequential"]/2) {
		t.Errorf("multiprocess took %.3f s, sequential %.3f s: want under half, its processes working at once", wall["multiprocess"], wall["sequential"])
	}
}

// Ctrl-C during the race leaves a valid file with the summary of every
// strategy that finished.
func TestFishialInterruptKeepsAValidFile(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "out.csv")
	var stdout, stderr bytes.Buffer
	done := make(chan int)
	go func() {
		done <- run([]string{"--record", rec, "--experiment", "fishial", "--images", "3", "--time-scale", "0.3",
			"--strategies", "sequential,multiprocess", "--processes", "1"}, &stdout, &stderr)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(rec)
		if strings.Contains(string(b), "summary,sequential") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sequential never finished")
		}
		time.Sleep(5 * time.Millisecond)
	}
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d after Ctrl-C: %s", code, stderr.String())
	}
	rows := readCSV(t, rec)
	last := rows[len(rows)-1]
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("stderr %q does not say the race was interrupted", stderr.String())
	}
	for _, r := range rows {
		if r[0] == "summary" && r[1] == "multiprocess" {
			t.Fatalf("multiprocess summarised although interrupted: %q", r)
		}
	}
	if last[0] != "progress" && !(last[0] == "summary" && last[1] == "sequential") {
		t.Fatalf("last row %q", last)
	}
	if !strings.Contains(stdout.String(), "sequential") || strings.Contains(stdout.String(), "\nmultiprocess ") {
		t.Fatalf("table should list sequential only:\n%s", stdout.String())
	}
}

func TestFishialNodeUsage(t *testing.T) {
	cases := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"fishial-node", "--help"}, exitOK, "--redis"},
		{[]string{"fishial-node"}, exitUsage, "needs --redis"},
		{[]string{"fishial-node", "--redis", "embedded"}, exitUsage, "redis://"},
		{[]string{"fishial-node", "--redis", "redis://127.0.0.1:1"}, exitFailed, "reach Redis"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(c.args, &stdout, &stderr)
		if code != c.code || !strings.Contains(stdout.String()+stderr.String(), c.out) {
			t.Errorf("%v: exit %d, out %q %q; want %d mentioning %q", c.args, code, stdout.String(), stderr.String(), c.code, c.out)
		}
	}
}
