package fishial

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"perflab/engine/report"
)

// recordedRace writes a race through the CSV output: every strategy of
// the study with images each, at the study's latencies when studyScale,
// else ten times faster; the last strategy stops halfway when cut.
func recordedRace(t *testing.T, images int, studyScale, cut bool) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	scale := 0.1
	if studyScale {
		scale = 1
	}
	for i, st := range Study {
		seconds := st.Seconds * scale
		last := i == len(Study)-1
		done := images
		if cut && last {
			done = images / 2
		}
		for n := 1; n <= done; n++ {
			w.Progress(Progress{Strategy: st.Strategy, Done: n, Total: images, Elapsed: time.Duration(seconds * float64(n) / float64(images) * float64(time.Second))})
		}
		if cut && last {
			break
		}
		res := Result{Strategy: st.Strategy, Images: images, Workers: st.Workers, Seconds: seconds, IdealSeconds: 0.95 * seconds,
			Speedup: Study[0].Seconds / st.Seconds, CPUSeconds: 0.04 * float64(i+1), ImagesPerCPUSecond: float64(images) / (0.04 * float64(i+1))}
		w.Progress(Progress{Strategy: st.Strategy, Done: images, Total: images, Elapsed: time.Duration(seconds * float64(time.Second)), Result: &res})
	}
	return buf.String()
}

// TestRaceSection: the study's race is charted beside the study's times;
// every chart and the table are there.
func TestRaceSection(t *testing.T) {
	race, err := ReadRace(strings.NewReader(recordedRace(t, StudyImages, true, false)))
	if err != nil {
		t.Fatal(err)
	}
	if len(race.Results) != 4 || len(race.CutShort) != 0 || len(race.Progress["async"]) != StudyImages {
		t.Fatalf("read %d results, cut short %q", len(race.Results), race.CutShort)
	}
	s := Section("f.csv: the Fishial race", "f", race)
	var names []string
	for _, c := range s.Charts {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, " "); got != "f-wall-time f-cpu-per-image f-progress" {
		t.Errorf("charts %q", got)
	}
	if len(s.Tables) != 1 || len(s.Tables[0].Rows) != 4 || s.Tables[0].Rows[3][0] != "async" {
		t.Fatalf("tables %v", s.Tables)
	}
	if cpu := s.Tables[0].Rows[1][7]; cpu != "2.00" {
		t.Errorf("multiprocess CPU ms per image %q, want 2.00 (0.08 s over 40 images)", cpu)
	}
	if strings.Contains(strings.Join(s.After, " "), "did not run") {
		t.Error("the study's own race said to be unlike the study")
	}
}

// TestRaceSectionOfAScaledRaceCutShort: a time-scaled race is not set
// beside the study's times, and a strategy without its summary is
// reported cut short with the images it had.
func TestRaceSectionOfAScaledRaceCutShort(t *testing.T) {
	data := recordedRace(t, 6, false, true)
	race, err := ReadRace(strings.NewReader(data + "progress,async,4,,0.0")) // and half a row
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(race.CutShort, "; "); got != "its last line stops in the middle of a row; async stopped after 3 images, without its summary" {
		t.Errorf("cut short %q", got)
	}
	s := Section("f.csv", "f", race)
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "async stopped after 3 images") {
		t.Errorf("warnings %q", s.Warnings)
	}
	if !strings.Contains(strings.Join(s.After, " "), "which this race did not run") {
		t.Errorf("notes %q: want the study's figures said to be for another race", s.After)
	}
	if s.Charts[0].Caption != "Each strategy's wall time beside its ideal (the API's waits with zero overhead)." {
		t.Errorf("wall time caption %q: want no study", s.Charts[0].Caption)
	}
}

func TestReadRaceRefuses(t *testing.T) {
	for name, c := range map[string]struct {
		in   string
		want error
	}{
		"empty":       {"", report.ErrEmpty},
		"header only": {strings.Join(Columns, ",") + "\n", report.ErrNoRows},
		"a load run":  {"kind,run,elapsed_s\n", ErrNotRaceCSV},
	} {
		if _, err := ReadRace(strings.NewReader(c.in)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}
