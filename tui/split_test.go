package tui

import (
	"strings"
	"testing"
	"time"

	"perflab/engine"
)

func timingPart(name string, p50ms float64, carried int64) engine.Timing {
	f := engine.Figures{Requests: carried, Answered: carried, P50: time.Duration(p50ms * float64(time.Millisecond))}
	return engine.Timing{Name: name, Last: f, Run: f}
}

// TestSplitParts: each metric lands in its part, weighted by the share
// of the answers that carried it; names the panel does not know add up
// in "other"; a "total" metric is not a part.
func TestSplitParts(t *testing.T) {
	parts, ok := partsOf([]engine.Timing{
		timingPart("queue", 10, 100), timingPart("db", 40, 5), timingPart("cache", 0.5, 100),
		timingPart("view", 3, 100), timingPart("hop", 2, 100), timingPart("broker", 1, 50),
		timingPart("total", 60, 100), timingPart(engine.TimingRest, 1.5, 100),
	})
	if !ok {
		t.Fatal("no split")
	}
	want := [nParts]float64{10, 2, 0.5, 3, 2.5, 1.5}
	for k := range nParts {
		if d := parts[k] - want[k]; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s = %v, want %v", partNames[k], parts[k], want[k])
		}
	}
	if _, ok := partsOf(nil); ok {
		t.Error("a second without Server-Timing has a split")
	}
}

// splitPanel is the split panel's lines on the screen: the rows of the
// bottom right-hand box that starts with the split title.
func splitPanel(screen string) string {
	var out []string
	col := -1
	for _, line := range strings.Split(screen, "\n") {
		r := []rune(line)
		if col < 0 {
			if i := strings.Index(line, "╭─ split"); i >= 0 {
				col = len([]rune(line[:i]))
			} else {
				continue
			}
		}
		if col >= len(r) {
			break
		}
		end := col + 1
		for end < len(r) && r[end] != '│' && r[end] != '╮' && r[end] != '╯' {
			end++
		}
		out = append(out, string(r[col:min(end+1, len(r))]))
		if r[col] == '╰' {
			break
		}
	}
	return strings.Join(out, "\n")
}

// TestSplitPanelShowsTheCache: on the likes screen the split panel shows
// the database's share, and after c the cache's part with the database
// nearly gone from the bars.
func TestSplitPanelShowsTheCache(t *testing.T) {
	f := newFakeTwin(testLikes, likesSettings)
	hn := newHarness(t, Config{Entries: entries(f, newFakeRace()), Start: "likes"}, 120, 40)
	hn.awaitOpened()
	for i := 0; i < 120; i++ {
		hn.frame(f, withSplit(snapshot(i, false, f.Load()), i, false))
	}
	before := splitPanel(hn.screen())
	for _, want := range []string{"split p50 ms, 30 s", "█ queue", "▓ db 2", "░ view 4.00", "┊ network 1.00", "▓▓▓"} {
		if !strings.Contains(before, want) {
			t.Errorf("before the cache, the split panel lacks %q:\n%s", want, before)
		}
	}
	if strings.Contains(before, "cache") {
		t.Errorf("a cache part before the cache is on:\n%s", before)
	}
	hn.press("c")
	hn.await("cache on", is[changeDoneMsg])
	for i := 120; i < 160; i++ {
		hn.frame(f, withSplit(snapshot(i, true, f.Load()), i, true))
	}
	if got := splitPanel(hn.screen()); !strings.Contains(got, "▲") || !strings.Contains(got, "▓▓") {
		t.Errorf("10 s after c, the panel lacks the change's mark or the seconds before it:\n%s", got)
	}
	for i := 160; i < 280; i++ {
		hn.frame(f, withSplit(snapshot(i, true, f.Load()), i, true))
	}
	after := splitPanel(hn.screen())
	for _, want := range []string{"▒ cache 0.40", "▓ db 0.", "░░░"} {
		if !strings.Contains(after, want) {
			t.Errorf("after c, the split panel lacks %q:\n%s", want, after)
		}
	}
	if strings.Contains(after, "▓▓") {
		t.Errorf("after c, the database still fills the bars:\n%s", after)
	}
}

// TestSplitPanelOfAService: against a URL, the panel shows the split of
// the step whose answers carry Server-Timing, says so when none do, and
// counts what it could not use.
func TestSplitPanelOfAService(t *testing.T) {
	hn, _ := urlRun(t, 120, 40, engine.Load{Model: "max", Conns: 50})
	if got := splitPanel(hn.screen()); !strings.Contains(got, "the service sends no Server-Timing") {
		t.Errorf("without the header:\n%s", got)
	}
	f := newFakeURL(engine.Load{Model: "max", Conns: 50})
	hn = newHarness(t, Config{Stage: f}, 120, 40)
	hn.awaitOpened()
	for i := 0; i < 24; i++ {
		s := snapshot(i, false, f.Load())
		step := s.All
		step.Name = "GET /api/items"
		step.Timing = []engine.Timing{timingPart("app", 12, 40), timingPart("db", 5, 40), timingPart(engine.TimingRest, 2, 40)}
		s.Steps = []engine.Series{step}
		s.ServerTiming = engine.TimingCounts{Malformed: 3, Dropped: 7}
		hn.frame(f, s)
	}
	got := splitPanel(hn.screen())
	for _, want := range []string{"▓ db 5.00", "▚ other 12.0", "┊ network 2.00", "skipped: 3 malformed, 7 past 16 names"} {
		if !strings.Contains(got, want) {
			t.Errorf("the service's split lacks %q:\n%s", want, got)
		}
	}
}

// TestSplitPanelOfATwinPage: a twin step without Server-Timing (a page,
// not the API) says where the twin sends it.
func TestSplitPanelOfATwinPage(t *testing.T) {
	f := newFakeTwin(testLikes, likesSettings)
	hn := newHarness(t, Config{Entries: entries(f, newFakeRace()), Start: "likes"}, 120, 40)
	hn.awaitOpened()
	for i := 0; i < 8; i++ {
		hn.frame(f, snapshot(i, false, f.Load()))
	}
	if got := splitPanel(hn.screen()); !strings.Contains(got, "the twin sends it") || !strings.Contains(got, "its API answers") {
		t.Errorf("a twin step without the header:\n%s", got)
	}
}
