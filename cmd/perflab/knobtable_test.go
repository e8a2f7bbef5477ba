package main

import (
	"context"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"perflab/engine"
	"perflab/engine/report"
	"perflab/experiments"
	"perflab/server"
	"perflab/tui"
)

// withTestKnob adds a knob to the table for the length of a test. It has
// no server field, so it changes nothing in the twin; everything that
// names knobs must still show it.
func withTestKnob(t *testing.T) *experiments.Knob {
	t.Helper()
	k := &experiments.Knob{
		Name: "tempo", Key: "x", Values: []string{"slow", "fast"}, Default: "slow", Column: "tempo",
		Title: "how fast the test knob goes", Help: "a knob only this test has",
		Experiments: []string{"likes"},
		Apply:       func(*server.Config, string) {},
	}
	saved := experiments.Knobs
	experiments.Knobs = append(slices.Clip(saved), k)
	t.Cleanup(func() { experiments.Knobs = saved })
	return k
}

// TestOneTableEntryAddsAKnob: a knob is one entry of the table; the
// flags, their help, validation, the CSV header, the run labels and the
// dashboard's knob panel and help line all follow from it.
func TestOneTableEntryAddsAKnob(t *testing.T) {
	withTestKnob(t)

	var help strings.Builder
	if _, err := parseRoot([]string{"--help"}, &help); err != errHelp {
		t.Fatalf("--help: %v", err)
	}
	if !strings.Contains(help.String(), "--tempo slow|fast") || !strings.Contains(help.String(), "how fast the test knob goes") {
		t.Errorf("root help lacks the knob:\n%s", help.String())
	}
	if !slices.Contains(knobFlags().flags, "tempo") {
		t.Error("the knob is not among the twin knob flags")
	}
	o, err := parseRoot([]string{"--experiment", "likes", "--tempo", "fast"}, &help)
	if err != nil {
		t.Fatal(err)
	}
	settings, err := experimentSettings(experiments.Likes, o)
	if err != nil || settings["tempo"] != "fast" {
		t.Fatalf("settings %v, %v: want tempo=fast", settings, err)
	}
	bad, _ := parseRoot([]string{"--experiment", "likes", "--tempo", "warp"}, &help)
	if _, err := experimentSettings(experiments.Likes, bad); err == nil || !strings.Contains(err.Error(), "use one of slow, fast") {
		t.Errorf("--tempo warp: %v, want the allowed values", err)
	}
	static, _ := parseRoot([]string{"--experiment", "static", "--tempo", "fast"}, &help)
	if _, err := experimentSettings(experiments.Static, static); err == nil || !strings.Contains(err.Error(), "has no knob --tempo") {
		t.Errorf("static --tempo: %v, want refused", err)
	}
	if _, err := parseServe([]string{"--tempo", "fast"}, &help); err != nil {
		t.Errorf("serve --tempo: %v", err)
	}

	// CSV: the column after every fixed one, the run's value in it.
	var b strings.Builder
	out, err := report.New("csv", report.Dest{W: &b, KnobColumns: experiments.KnobColumns()})
	if err != nil {
		t.Fatal(err)
	}
	labels := experiments.Likes.Labels(settings, 1)
	if labels.Knobs["tempo"] != "fast" {
		t.Errorf("labels %v lack tempo=fast", labels)
	}
	out.Write(report.Begin{Labels: labels, Settings: settings, Total: 1})
	out.Write(&engine.Snapshot{Done: true, Load: engine.Load{Model: "closed", VUs: 1}, All: engine.Series{Name: engine.AllSeries}})
	rows, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("CSV %q: %v", b.String(), err)
	}
	if h := rows[0]; h[len(h)-1] != "tempo" || strings.Join(h[:23], ",") != strings.Join(report.Columns[:23], ",") {
		t.Errorf("header %v: want the contract's columns first and tempo last", h)
	}
	if r := rows[1]; r[len(r)-1] != "fast" {
		t.Errorf("summary row %v: want fast in the tempo column", r)
	}
	if !strings.Contains(experiments.Likes.Describe(settings), "tempo=fast") {
		t.Errorf("run description %q lacks the knob", experiments.Likes.Describe(settings))
	}

	// The dashboard: the knob panel and the help line.
	screen := dashboardScreen(t, newKnobStage(settings))
	if !strings.Contains(screen, "x tempo") {
		t.Errorf("help line lacks the knob's key:\n%s", screen)
	}
	if !strings.Contains(screen, "fast") {
		t.Errorf("knob panel lacks the knob's value:\n%s", screen)
	}
}

// dashboardScreen opens st on the dashboard at 120x40 and returns the
// screen once it has taken the stage's first snapshot.
func dashboardScreen(t *testing.T, st tui.Stage) string {
	t.Helper()
	app := tui.New(context.Background(), tui.Config{Stage: st})
	app.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	cmds := []tea.Cmd{app.Init()}
	// Two rounds: the stage opens, then its first frame arrives.
	for range 2 {
		var next []tea.Cmd
		for _, msg := range runCmds(cmds) {
			_, cmd := app.Update(msg)
			next = append(next, cmd)
		}
		cmds = next
	}
	return ansi.Strip(app.View().Content)
}

// runCmds runs commands, and the commands of batches, returning their
// messages; a command that does not answer within a second (a timer, a
// wait for a second snapshot) is left behind.
func runCmds(cmds []tea.Cmd) []tea.Msg {
	var msgs []tea.Msg
	for _, cmd := range cmds {
		if cmd == nil {
			continue
		}
		got := make(chan tea.Msg, 1)
		go func() { got <- cmd() }()
		select {
		case msg := <-got:
			if batch, ok := msg.(tea.BatchMsg); ok {
				msgs = append(msgs, runCmds(batch)...)
			} else if msg != nil {
				msgs = append(msgs, msg)
			}
		case <-time.After(time.Second):
		}
	}
	return msgs
}

// knobStage is the likes experiment's knobs with a load that never
// produces a snapshot.
type knobStage struct {
	settings experiments.Settings
	snaps    chan *engine.Snapshot
}

func newKnobStage(s experiments.Settings) *knobStage {
	st := &knobStage{settings: s, snaps: make(chan *engine.Snapshot, 1)}
	st.snaps <- &engine.Snapshot{Load: st.Load(), All: engine.Series{Name: engine.AllSeries}}
	return st
}

func (s *knobStage) Title() string                      { return experiments.Likes.Title }
func (s *knobStage) Info() string                       { return "twin" }
func (s *knobStage) Snapshots() <-chan *engine.Snapshot { return s.snaps }
func (s *knobStage) Err() error                         { return nil }
func (s *knobStage) Load() engine.Load                  { return engine.Load{Model: "closed", VUs: 50} }
func (s *knobStage) SetVUs(int) error                   { return nil }
func (s *knobStage) SetRate(float64) error              { return nil }
func (s *knobStage) Pause()                             {}
func (s *knobStage) Resume()                            {}
func (s *knobStage) Paused() bool                       { return false }
func (s *knobStage) Close() error                       { return nil }
func (s *knobStage) SetKnob(string, string) error       { return nil }
func (s *knobStage) ServerFigures() experiments.ServerFigures {
	return experiments.ServerFigures{}
}
func (s *knobStage) Study() (experiments.StudyCell, string, bool) {
	return experiments.StudyCell{}, "", false
}
func (s *knobStage) Lesson() string   { return "" }
func (s *knobStage) Measured() string { return "likes" }
func (s *knobStage) StudySweep(context.Context, int, func(experiments.SweepCell)) error {
	return nil
}
func (s *knobStage) Knobs() []experiments.KnobValue {
	var out []experiments.KnobValue
	for _, k := range experiments.Likes.LiveKnobs() {
		out = append(out, experiments.KnobValue{Knob: k, Value: s.settings[k.Name]})
	}
	return out
}
