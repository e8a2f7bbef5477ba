package tui

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"perflab/engine"
	"perflab/experiments"
)

// testLikes is the likes experiment; testKnobs are its live knobs with
// instance-cpus fixed at two values, so the screens do not depend on this
// machine's cores.
var testLikes = experiments.Likes

var testKnobs = func() []*experiments.Knob {
	var out []*experiments.Knob
	for _, k := range testLikes.LiveKnobs() {
		if k.Name == "instance-cpus" {
			c := *k
			c.Values, c.Default = []string{"1", "2"}, "1"
			k = &c
		}
		out = append(out, k)
	}
	return out
}()

var likesSettings = experiments.Settings{"workers": "4", "mode": "sync", "cache": "off", "query": "naive", "profile": "django", "instance-cpus": "1", "db": "postgres", "db-conn": "per-request"}

const fishialTitle = "Fishial race: sequential, processes, nodes, async"

// entries is a home screen with likes on stage f and the race r.
func entries(f *fakeTwin, r *fakeRace) []Entry {
	return []Entry{
		{Name: "static", Title: experiments.Static.Title, Lesson: experiments.Static.Lesson,
			OpenStage: func(ctx context.Context) (Stage, error) {
				return nil, errors.New("the twin did not start: address in use")
			}},
		{Name: "likes", Title: testLikes.Title, Lesson: testLikes.Lesson,
			OpenStage: func(ctx context.Context) (Stage, error) { return f, nil }},
		{Name: "fishial", Title: fishialTitle, Lesson: r.Setup().Lesson,
			OpenRace: func(ctx context.Context) (Race, error) { return r, nil }},
	}
}

// likesRun opens likes on a w×h terminal and plays 40 s of load: a
// baseline marked at 30 s (the 30 s before it), the cache switched on at
// 35 s, then 25 s cached: the change line has intervals where the cache
// moved a figure and ~ where it did not.
func likesRun(t *testing.T, w, h int) (*harness, *fakeTwin) {
	t.Helper()
	f := newFakeTwin(testLikes, likesSettings)
	hn := newHarness(t, Config{Entries: entries(f, newFakeRace()), Start: "likes"}, w, h)
	hn.awaitOpened()
	for i := 0; i < 240; i++ {
		if i == 120 {
			hn.press("b")
		}
		if i == 140 {
			hn.press("c")
			hn.await("cache on", is[changeDoneMsg])
		}
		hn.frame(f, withSplit(snapshot(i, i > 140, f.Load()), i, i > 140))
	}
	return hn, f
}

// urlRun opens the load screen on an external target under model l.
func urlRun(t *testing.T, w, h int, l engine.Load) (*harness, *fakeStage) {
	t.Helper()
	f := newFakeURL(l)
	hn := newHarness(t, Config{Stage: f}, w, h)
	hn.awaitOpened()
	for i := 0; i < 24; i++ {
		s := snapshot(i, false, f.Load())
		if l.Model == "open" {
			s.Health.TargetRate = l.Rate
			s.Health.SendLagP50, s.Health.SendLagP99 = 120_000, 2_400_000
			s.All.LastService.Mean -= 20_000_000
			s.All.LastService.P99 -= 300_000_000
		}
		s.Checks = nil
		hn.frame(f, s)
	}
	return hn, f
}

// sweepCells is the likes seed sweep five configurations in, the sixth
// running.
func sweepCells(f *fakeTwin) []experiments.SweepCell {
	var cells []experiments.SweepCell
	for i, s := range testLikes.StudyRuns() {
		seed, ok := testLikes.StudyFor(s)
		cell := experiments.SweepCell{Index: i, Total: len(testLikes.StudyRuns()), Settings: s, Label: seed.Label, Study: seed, HasStudy: ok}
		running := cell
		running.Running = true
		cells = append(cells, running)
		if i == 5 {
			break
		}
		done := cell
		done.Figures = snapshot(i*7, false, f.Load()).All.Last
		cells = append(cells, done)
	}
	return cells
}

func raceRun(t *testing.T, w, h int, finish bool) (*harness, *fakeRace) {
	t.Helper()
	r := newFakeRace()
	hn := newHarness(t, Config{Entries: entries(newFakeTwin(testLikes, likesSettings), r), Start: "fishial"}, w, h)
	hn.awaitOpened()
	hn.await("race start", is[raceStartedMsg])
	for _, ev := range raceProgress() {
		r.events <- ev
	}
	hn.await("race progress", is[raceEventsMsg])
	if finish {
		r.events <- raceDone()
		close(r.events)
		hn.await("race end", func(m tea.Msg) bool { e, ok := m.(raceEventsMsg); return ok && e.closed })
	}
	return hn, r
}

var sizes = []struct {
	name string
	w, h int
}{{"80x24", 80, 24}, {"120x40", 120, 40}, {"64x20", MinWidth, MinHeight}}

func TestGoldenScreens(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			f := newFakeTwin(testLikes, likesSettings)
			home := newHarness(t, Config{Entries: entries(f, newFakeRace()), OpenURL: func(ctx context.Context, url string) (Stage, error) {
				return newFakeURL(engine.Load{Model: "max", Conns: 50}), nil
			}}, sz.w, sz.h)
			home.golden("home_" + sz.name)
			home.press("up", "enter")
			home.golden("prompt_" + sz.name)

			likes, _ := likesRun(t, sz.w, sz.h)
			likes.golden("likes_" + sz.name)
			likes.press("?")
			likes.golden("likes_help_" + sz.name)

			sweep, sf := likesRun(t, sz.w, sz.h)
			sf.sweep, sf.holdSweep = sweepCells(sf), true
			sweep.press("s")
			sweep.awaitCells(len(sf.sweep))
			sweep.golden("sweep_" + sz.name)

			url, _ := urlRun(t, sz.w, sz.h, engine.Load{Model: "open", Rate: 500})
			url.golden("url_open_" + sz.name)

			racing, _ := raceRun(t, sz.w, sz.h, false)
			racing.golden("race_running_" + sz.name)
			raced, _ := raceRun(t, sz.w, sz.h, true)
			raced.golden("race_done_" + sz.name)
		})
	}
}

func TestTooSmall(t *testing.T) {
	hn, _ := likesRun(t, 50, 14)
	hn.golden("too_small_50x14")
	if !strings.Contains(hn.screen(), "terminal too small") {
		t.Fatalf("no note below the minimum size:\n%s", hn.screen())
	}
	// Growing the terminal brings the screen back at once.
	hn.update(tea.WindowSizeMsg{Width: 80, Height: 24})
	if s := hn.screen(); strings.Contains(s, "too small") || !strings.Contains(s, "latency ms") {
		t.Fatalf("after resize to 80x24:\n%s", s)
	}
	checkShape(t, hn.screen(), 80, 24)
}

// Every size from the minimum up keeps the screen's shape: nothing wider
// than the terminal, exactly its height.
func TestResizeKeepsShape(t *testing.T) {
	hn, f := likesRun(t, 80, 24)
	f.sweep = sweepCells(f)
	hn.press("s")
	hn.await("sweep end", is[sweepDoneMsg])
	for w := MinWidth; w <= 200; w += 7 {
		for h := MinHeight; h <= 60; h += 5 {
			hn.update(tea.WindowSizeMsg{Width: w, Height: h})
			checkShape(t, hn.screen(), w, h)
			for range 3 {
				hn.press("tab")
				checkShape(t, hn.screen(), w, h)
			}
			hn.press("?")
			checkShape(t, hn.screen(), w, h)
			hn.press("?")
		}
	}
}

func TestResizeOtherScreens(t *testing.T) {
	home := newHarness(t, Config{Entries: entries(newFakeTwin(testLikes, likesSettings), newFakeRace()),
		OpenURL: func(context.Context, string) (Stage, error) { return nil, nil }}, 80, 24)
	race, _ := raceRun(t, 80, 24, true)
	for _, hn := range []*harness{home, race} {
		for w := MinWidth; w <= 200; w += 9 {
			for h := MinHeight; h <= 60; h += 7 {
				hn.update(tea.WindowSizeMsg{Width: w, Height: h})
				checkShape(t, hn.screen(), w, h)
				hn.press("?")
				checkShape(t, hn.screen(), w, h)
				hn.press("?")
			}
		}
	}
}

func TestHomeKeys(t *testing.T) {
	f := newFakeTwin(testLikes, likesSettings)
	var opened []string
	hn := newHarness(t, Config{Entries: entries(f, newFakeRace()), OpenURL: func(ctx context.Context, url string) (Stage, error) {
		opened = append(opened, url)
		return newFakeURL(engine.Load{Model: "closed", VUs: 50}), nil
	}}, 80, 24)
	home := hn.app.home
	steps := []struct {
		key    string
		cursor int
	}{{"down", 1}, {"j", 2}, {"down", 3}, {"down", 0}, {"up", 3}, {"k", 2}}
	for _, s := range steps {
		hn.press(s.key)
		if home.cursor != s.cursor {
			t.Fatalf("after %s the cursor is on %d, want %d", s.key, home.cursor, s.cursor)
		}
	}
	// An experiment that fails to open says why and stays home.
	hn.press("k", "k", "enter")
	hn.awaitOpened()
	if hn.app.page != home || !strings.Contains(hn.screen(), "address in use") {
		t.Fatalf("a failed open should stay home and say why:\n%s", hn.screen())
	}
	// The custom URL line asks for a URL; esc cancels, enter opens it.
	hn.press("up", "enter")
	if !home.prompting {
		t.Fatal("enter on the custom URL line does not prompt for a URL")
	}
	hn.press("esc")
	if home.prompting {
		t.Fatal("esc does not cancel the URL prompt")
	}
	hn.press("enter")
	hn.press("enter")
	if home.prompting == false || !strings.Contains(hn.screen(), "type the URL") {
		t.Fatalf("an empty URL should be refused:\n%s", hn.screen())
	}
	for _, r := range "http://x/q?" { // q and ? are typed, not keys, here
		hn.press(string(r))
	}
	if hn.quit {
		t.Fatal("typing q in the URL quit the dashboard")
	}
	hn.press("enter")
	hn.awaitOpened()
	if len(opened) != 1 || opened[0] != "http://x/q?" {
		t.Fatalf("opened %q, want the typed URL", opened)
	}
	if _, ok := hn.app.page.(*loadPage); !ok {
		t.Fatal("the URL did not open the load screen")
	}
	// esc leads home again and closes the stage.
	hn.press("esc")
	if hn.app.page != home {
		t.Fatal("esc does not lead home")
	}
	hn.await("closed", is[closedMsg])
	// Enter on likes opens its load screen.
	hn.press("down", "down", "enter") // from the URL line, wrapping to likes
	hn.awaitOpened()
	if lp, ok := hn.app.page.(*loadPage); !ok || lp.st != f {
		t.Fatalf("enter on likes opened %T", hn.app.page)
	}
}

func TestQuitKeys(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		hn := newHarness(t, Config{Entries: entries(newFakeTwin(testLikes, likesSettings), newFakeRace())}, 80, 24)
		hn.press(k)
		hn.await("quit", func(tea.Msg) bool { return hn.quit })
	}
	// ctrl+c quits from the URL prompt too, where q is typed.
	hn := newHarness(t, Config{OpenURL: func(context.Context, string) (Stage, error) { return nil, nil }}, 80, 24)
	hn.press("enter", "q")
	if hn.quit {
		t.Fatal("q in the prompt quit")
	}
	hn.press("ctrl+c")
	hn.await("quit", func(tea.Msg) bool { return hn.quit })
}

func TestHelpToggles(t *testing.T) {
	hn, _ := likesRun(t, 120, 40)
	short := hn.screen()
	hn.press("?")
	full := hn.screen()
	if short == full || !strings.Contains(strings.Join(strings.Fields(full), " "), "? less") {
		t.Fatalf("? does not show the full help:\n%s", full)
	}
	// Every key the screen answers is listed in the full help.
	for _, want := range []string{"w/W workers", "m mode", "c cache", "n query", "p profile", "i instance-cpus",
		"v/V users", "space pause", "s seed sweep", "b baseline", "esc home", "q quit"} {
		if !strings.Contains(strings.Join(strings.Fields(full), " "), want) {
			t.Errorf("full help lacks %q", want)
		}
	}
	checkShape(t, full, 120, 40)
	hn.press("?")
	if hn.screen() != short {
		t.Fatal("? again does not go back to the short help")
	}
}

func TestRaceKeys(t *testing.T) {
	hn, r := raceRun(t, 120, 40, true)
	page := hn.app.page.(*racePage)
	rc := func(images int, scale float64) RaceConfig { return RaceConfig{Images: images, TimeScale: scale} }
	tests := []struct {
		key  string
		next RaceConfig
	}{
		{"+", rc(80, 1)}, {"=", rc(160, 1)}, {"+", rc(160, 1)},
		{"-", rc(80, 1)}, {"t", rc(80, 0.5)}, {"t", rc(80, 0.2)},
		{"T", rc(80, 0.5)},
	}
	for _, tt := range tests {
		hn.press(tt.key)
		if page.next != tt.next {
			t.Fatalf("after %s the next race is %+v, want %+v", tt.key, page.next, tt.next)
		}
	}
	if !strings.Contains(hn.screen(), "next: 80 images, time-scale 0.5 (r/R)") {
		t.Fatalf("the header does not announce the next race:\n%s", hn.screen())
	}
	hn.press("r")
	hn.await("race start", is[raceStartedMsg])
	if page.running != true || len(page.results) != 0 {
		t.Fatal("r does not start a fresh race")
	}
	hn.press("R")
	hn.await("race start", is[raceStartedMsg])
	r.mu.Lock()
	starts := append([]RaceConfig{}, r.starts...)
	r.mu.Unlock()
	inTurn := rc(80, 0.5)
	inTurn.InTurn = true
	if want := []RaceConfig{rc(40, 1), rc(80, 0.5), inTurn}; !slices.Equal(starts, want) {
		t.Fatalf("races %+v, want %+v: the first and r at once, R one after another", starts, want)
	}
	if s := hn.screen(); !strings.Contains(s, "one after another") || strings.Contains(s, "sharing") || strings.Contains(s, "next:") {
		t.Fatalf("R's race does not say it runs one after another:\n%s", s)
	}
	hn.press("esc")
	hn.await("closed", is[closedMsg])
	if r.closed != 1 {
		t.Fatalf("the race was closed %d times, want once", r.closed)
	}
}

// Raced at once, the figures say they shared the machine and are not set
// beside the study's; raced one after another (R), they are.
func TestRaceFiguresSayHowTheyRan(t *testing.T) {
	hn, r := raceRun(t, 120, 40, true)
	s := hn.screen()
	for _, want := range []string{"all at once, sharing 2 cores", "results of a shared race", "They ran at once, sharing 2 cores", "R runs them one after another", "coordinator"} {
		if !strings.Contains(s, want) {
			t.Errorf("a race at once does not show %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "study s") || strings.Contains(s, "34.59") {
		t.Errorf("a shared race's figures stand beside the study's:\n%s", s)
	}
	hn.press("R")
	hn.await("race start", is[raceStartedMsg])
	r.mu.Lock()
	events := r.events
	r.mu.Unlock()
	events <- raceDone()
	close(events)
	hn.await("race end", func(m tea.Msg) bool { e, ok := m.(raceEventsMsg); return ok && e.closed })
	s = hn.screen()
	for _, want := range []string{"one after another, each alone", "results beside the study's", "study s", "34.59", "coordinator"} {
		if !strings.Contains(s, want) {
			t.Errorf("a race one after another does not show %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "sharing") {
		t.Errorf("a race one after another says it shared the machine:\n%s", s)
	}
}

func TestStylesFollowTheTerminal(t *testing.T) {
	hn, _ := likesRun(t, 120, 40)
	hn.update(tea.BackgroundColorMsg{Color: color.White})
	if hn.app.styles.IsDark || hn.app.styles.Chart.P50 != colP50.chart(false) {
		t.Fatal("a light background did not switch to the light palette")
	}
	if !strings.Contains(hn.app.View().Content, "\x1b[") {
		t.Fatal("no colour at all on a colour terminal")
	}
	hn.update(tea.ColorProfileMsg{Profile: colorprofile.Ascii})
	if !hn.app.styles.NoColor {
		t.Fatal("an Ascii profile (NO_COLOR) did not turn the chart colours off")
	}
	// The plot's own colour codes go; the axis rows are styled like the
	// rest of the screen, which the program strips itself.
	lines := hn.app.page.(*loadPage).hist.latencyChart(hn.app.styles, 80, 12)
	for _, line := range lines[:len(lines)-2] {
		if strings.Contains(line, "\x1b[3") || strings.Contains(line, "38;5") {
			t.Fatalf("chart line still coloured under NO_COLOR: %q", line)
		}
	}
}

func TestKnobKeysDoNotCollide(t *testing.T) {
	fixed := map[string]bool{}
	for _, b := range []string{"v", "V", "r", "R", "space", "b", "s", "tab", "esc", "?", "q", "ctrl+c"} {
		fixed[b] = true
	}
	for _, e := range experiments.All() {
		for _, kn := range e.LiveKnobs() {
			for _, key := range []string{kn.Key, strings.ToUpper(kn.Key)} {
				if fixed[key] {
					t.Errorf("%s knob %s uses key %s, which the load screen already answers", e.Name, kn.Name, key)
				}
			}
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct{ got, want string }{
		{ms(1234567), "1.23"}, {ms(45_640_000), "45.6"}, {ms(2_230_000_000), "2230"},
		{relChange(152.9, 45.6), "-70%"}, {relChange(10, 10.01), "0%"}, {relChange(0, 5), ""},
		{fit("likes: workers, async, cache", 20), "likes: workers…"}, {fit("short", 20), "short"},
		{fit("unbreakable", 5), ""},
		{fmt.Sprint(step(50, true)), "60"}, {fmt.Sprint(step(50, false)), "40"}, {fmt.Sprint(step(1, false)), "1"},
		{fmt.Sprint(step(7, true)), "8"}, {fmt.Sprint(step(1000, true)), "1200"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
