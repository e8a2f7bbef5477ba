package tui

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"perflab/engine"
	"perflab/engine/threshold"
	"perflab/experiments"
)

func TestKnobKeys(t *testing.T) {
	tests := []struct {
		keys  []string
		calls []string
		mark  string
	}{
		{[]string{"w"}, []string{"set workers=5"}, "w=5"},
		{[]string{"W"}, []string{"set workers=3"}, "w=3"},
		{[]string{"m"}, []string{"set mode=async"}, "mode async"},
		{[]string{"c"}, []string{"set cache=off"}, "cache off"}, // on since 25 s
		{[]string{"n"}, []string{"set query=prefetch"}, "query prefetch"},
		{[]string{"p"}, []string{"set profile=go"}, "profile go"},
		{[]string{"i"}, []string{"set instance-cpus=2"}, "i=2"},
		{[]string{"m", "m"}, []string{"set mode=async", "set mode=sync"}, "mode sync"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.keys, ""), func(t *testing.T) {
			hn, f := likesRun(t, 120, 40)
			f.calls = nil
			for _, k := range tt.keys {
				hn.press(k)
				hn.await("change", is[changeDoneMsg])
			}
			if got := f.Calls(); !slices.Equal(got, tt.calls) {
				t.Fatalf("calls %q, want %q", got, tt.calls)
			}
			// The mark is on the chart's time axis by the next update.
			hn.frame(f, snapshot(240, true, f.Load()))
			if !strings.Contains(hn.screen(), tt.mark) {
				t.Fatalf("no %q mark on the chart:\n%s", tt.mark, hn.screen())
			}
		})
	}
}

// A knob pressed again while a restart is under way costs one more
// change with the newest value, not one per press; the panel shows where
// the knob is going meanwhile.
func TestKnobChangesCoalesce(t *testing.T) {
	hn, f := likesRun(t, 120, 40)
	f.calls = nil
	f.gate = make(chan struct{})
	hn.press("w")
	hn.press("w", "w")
	if !strings.Contains(hn.screen(), "4 → 7…") {
		t.Fatalf("the knob panel does not show the change under way:\n%s", hn.screen())
	}
	f.gate <- struct{}{}
	hn.await("first change", is[changeDoneMsg])
	f.gate <- struct{}{}
	hn.await("second change", is[changeDoneMsg])
	if got, want := f.Calls(), []string{"set workers=5", "set workers=7"}; !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
	hn.frame(f, snapshot(241, true, f.Load()))
	if s := hn.screen(); !strings.Contains(s, "workers  7") || strings.Contains(s, "→") {
		t.Fatalf("the panel does not settle on 7:\n%s", s)
	}
}

// On a narrow panel a change under way shows where it goes, whole.
func TestPendingChangeOnNarrowPanel(t *testing.T) {
	hn, f := likesRun(t, 80, 24)
	f.gate = make(chan struct{})
	hn.press("p")
	if s := hn.screen(); !strings.Contains(s, "profile  → go…") {
		t.Fatalf("the pending profile change is not shown whole:\n%s", s)
	}
	close(f.gate)
	hn.await("change", is[changeDoneMsg])
}

// Load changes never wait behind a twin restart.
func TestLoadKeysDoNotWaitForTheTwin(t *testing.T) {
	hn, f := likesRun(t, 120, 40)
	f.calls = nil
	f.gate = make(chan struct{})
	hn.press("w", "v")
	hn.await("users change", is[changeDoneMsg])
	if got := f.Calls(); !slices.Contains(got, "vus 60") {
		t.Fatalf("calls %q: the users change waited for the workers restart", got)
	}
	close(f.gate)
	hn.await("workers change", is[changeDoneMsg])
}

func TestFailedChange(t *testing.T) {
	hn, f := likesRun(t, 120, 40)
	f.setErr = errors.New("the workers did not come up")
	hn.press("w")
	hn.await("change", is[changeDoneMsg])
	s := hn.screen()
	if !strings.Contains(s, "workers 5: the workers did not come up") {
		t.Fatalf("the failure is not shown:\n%s", s)
	}
	if strings.Contains(s, "w=5") {
		t.Fatalf("a change that failed is still marked on the chart:\n%s", s)
	}
	if !strings.Contains(s, "workers  4") {
		t.Fatalf("the panel does not keep the value in force:\n%s", s)
	}
}

func TestLoadKeys(t *testing.T) {
	tests := []struct {
		load  engine.Load
		keys  []string
		calls []string
		shows string
	}{
		{engine.Load{Model: "closed", VUs: 50}, []string{"v"}, []string{"vus 60"}, "users    60"},
		{engine.Load{Model: "closed", VUs: 50}, []string{"V"}, []string{"vus 40"}, "users    40"},
		{engine.Load{Model: "closed", VUs: 1}, []string{"V"}, []string{"vus 1"}, "users    1"},
		{engine.Load{Model: "max", Conns: 64}, []string{"v"}, []string{"vus 80"}, "conns    80"},
		{engine.Load{Model: "open", Rate: 500}, []string{"r"}, []string{"rate 600"}, "rate/s   600"},
		{engine.Load{Model: "open", Rate: 500}, []string{"R"}, []string{"rate 400"}, "rate/s   400"},
		{engine.Load{Model: "open", Rate: 500}, []string{"v"}, nil, "rate/s   500"},
		{engine.Load{Model: "closed", VUs: 50}, []string{"r"}, nil, "users    50"},
		{engine.Load{Model: "closed", VUs: 50}, []string{"space"}, []string{"pause"}, "paused"},
	}
	for _, tt := range tests {
		t.Run(tt.load.String()+" "+strings.Join(tt.keys, ""), func(t *testing.T) {
			hn, f := urlRun(t, 120, 40, tt.load)
			f.calls = nil
			for _, k := range tt.keys {
				hn.press(k)
			}
			if tt.calls != nil {
				hn.await("change", is[changeDoneMsg])
			} else {
				hn.drain()
			}
			if got := f.Calls(); !slices.Equal(got, tt.calls) {
				t.Fatalf("calls %q, want %q", got, tt.calls)
			}
			s := snapshot(30, false, f.Load())
			s.Paused = f.Paused()
			hn.frame(f, s)
			if !strings.Contains(hn.screen(), tt.shows) {
				t.Fatalf("the panel does not show %q:\n%s", tt.shows, hn.screen())
			}
		})
	}
}

// TestUsersCappedByFileLimit: asking for more connections than the
// open-file limit allows sets as many as it allows, and the screen says
// so instead of showing the number asked for.
func TestUsersCappedByFileLimit(t *testing.T) {
	hn, f := urlRun(t, 120, 40, engine.Load{Model: "max", Conns: 64})
	f.vusLimit = 70
	hn.press("v")
	hn.await("change", is[changeDoneMsg])
	hn.frame(f, snapshot(30, false, f.Load()))
	s := hn.screen()
	for _, want := range []string{"connections capped at 70, not 80", "ulimit -n", "conns    70", "c=70"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "c=80") {
		t.Errorf("the chart marks the refused 80:\n%s", s)
	}
}

// TestHealthLineShowsRetriesAndDrops: requests sent twice appear on the
// health line as soon as there are any, and connections the server
// dropped among the errors by kind.
func TestHealthLineShowsRetriesAndDrops(t *testing.T) {
	hn, f := urlRun(t, 120, 40, engine.Load{Model: "max", Conns: 64})
	s := snapshot(30, false, f.Load())
	hn.frame(f, s)
	if strings.Contains(hn.screen(), "retries") {
		t.Fatalf("retries shown before there are any:\n%s", hn.screen())
	}
	s = snapshot(31, false, f.Load())
	s.All.Run.Retries = 12
	s.Errors = engine.ErrorCounts{Dropped: 40, TooLarge: 2}
	hn.frame(f, s)
	for _, want := range []string{"retries 12", "errors 40 dropped, 2 body too large"} {
		if !strings.Contains(hn.screen(), want) {
			t.Errorf("screen lacks %q:\n%s", want, hn.screen())
		}
	}
}

func TestPauseResumes(t *testing.T) {
	hn, f := urlRun(t, 120, 40, engine.Load{Model: "closed", VUs: 5})
	hn.press("space")
	hn.await("pause", is[changeDoneMsg])
	s := snapshot(30, false, f.Load())
	s.Paused = true
	hn.frame(f, s)
	if !strings.Contains(hn.screen(), "space resume") || !strings.Contains(hn.screen(), "paused 0:") {
		t.Fatalf("the screen does not say it is paused:\n%s", hn.screen())
	}
	hn.press("space")
	hn.await("resume", is[changeDoneMsg])
	if got := f.Calls(); !slices.Equal(got, []string{"pause", "resume"}) {
		t.Fatalf("calls %q", got)
	}
}

// TestBaseline: b takes the window since the start (at most 30 s); after
// a change, the change line compares the seconds since it with that
// window: a figure that fell to 30% shows about -70% with its interval,
// one that did not move shows ~, and too few seconds show … .
func TestBaseline(t *testing.T) {
	hn, f := urlRun(t, 120, 40, engine.Load{Model: "closed", VUs: 5})
	if strings.Contains(hn.screen(), "change ") {
		t.Fatal("a change row before any baseline")
	}
	for i := 24; i < 80; i++ { // to 20 s
		hn.frame(f, snapshot(i, false, f.Load()))
	}
	hn.press("b")
	for i := 80; i < 100; i++ {
		hn.frame(f, snapshot(i, false, f.Load()))
	}
	hn.press("v") // a change: the comparison starts here
	hn.await("users changed", is[changeDoneMsg])
	change := func() string { return lineWith(hn.screen(), "│ change") }
	for i := 100; i < 112; i++ {
		s := snapshot(i, false, f.Load())
		s.All.Last.P90 = s.All.Last.P90 * 3 / 10
		hn.frame(f, s)
		if i == 104 && !strings.Contains(change(), "…") {
			t.Fatalf("one second after the change: %q, want … (too few seconds)", change())
		}
	}
	for i := 112; i < 180; i++ { // 17 s more
		s := snapshot(i, false, f.Load())
		s.All.Last.P90 = s.All.Last.P90 * 3 / 10
		hn.frame(f, s)
	}
	screen := hn.screen()
	cells := strings.Fields(strings.TrimPrefix(strings.Trim(change(), "│ "), "change"))
	header := strings.Fields(lineWith(screen, "│ ms "))[2:]
	p90 := slices.Index(header, "p90")
	if p90 < 0 || p90 >= len(cells) || !strings.HasPrefix(cells[p90], "-7") || !strings.Contains(cells[p90], "±") {
		t.Fatalf("change row %q under %q: want p90 about -70 with its interval\n%s", cells, header, screen)
	}
	if cells[slices.Index(header, "p50")] != "~" {
		t.Fatalf("change row %q: p50 did not move, want ~\n%s", cells, screen)
	}
	if !strings.Contains(screen, "baseline 0:00-0:20 vs since 0:25") || !strings.Contains(screen, "s blocks") {
		t.Fatalf("the notes do not say which windows are compared:\n%s", screen)
	}
	if !strings.Contains(screen, "base ") && !strings.Contains(screen, "base\n") {
		t.Fatalf("the baseline is not marked on the chart:\n%s", screen)
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

func TestStudySweep(t *testing.T) {
	hn, f := likesRun(t, 120, 40)
	f.sweep = sweepCells(f)
	hn.press("s")
	hn.await("sweep end", is[sweepDoneMsg])
	s := hn.screen()
	for _, want := range []string{"seed sweep", "sync, 1 worker, no cache", "100.58", "running…", "6/9"} {
		if !strings.Contains(s, want) {
			t.Errorf("the sweep screen lacks %q", want)
		}
	}
	if t.Failed() {
		t.Fatal(s)
	}
	if got := f.Calls(); !slices.Contains(got, "sweep") {
		t.Fatalf("calls %q: no sweep", got)
	}
	// s during a sweep stops it: the sweep's context ends.
	f2 := newFakeTwin(testLikes, likesSettings)
	stopped := make(chan struct{})
	blocking := &blockingSweep{fakeTwin: f2, started: make(chan struct{}), stopped: stopped}
	hn2 := newHarness(t, Config{Stage: blocking}, 120, 40)
	hn2.awaitOpened()
	hn2.frame(f2, snapshot(0, false, f2.Load()))
	hn2.press("s")
	<-blocking.started
	if !strings.Contains(hn2.screen(), "s stop sweep") {
		t.Fatalf("the help does not offer to stop the sweep:\n%s", hn2.screen())
	}
	hn2.press("w")
	if slices.Contains(f2.Calls(), "set workers=5") {
		t.Fatal("knob keys work during a sweep, which sets the knobs itself")
	}
	hn2.press("s")
	<-stopped
	hn2.await("sweep end", is[sweepDoneMsg])
	if strings.Contains(hn2.screen(), "sweep stopped:") {
		t.Fatalf("a sweep stopped by the presenter is not an error:\n%s", hn2.screen())
	}
}

type blockingSweep struct {
	*fakeTwin
	started chan struct{}
	stopped chan struct{}
}

func (b *blockingSweep) StudySweep(ctx context.Context, repeat int, onCell func(experiments.SweepCell)) error {
	close(b.started)
	<-ctx.Done()
	close(b.stopped)
	return ctx.Err()
}

func TestPanelsKeyRotates(t *testing.T) {
	hn, _ := likesRun(t, 80, 24)
	seen := map[string]bool{}
	for range 4 {
		s := hn.screen()
		for _, p := range []string{"figures", "why", "seed", "throughput"} {
			if strings.Contains(s, "─ "+p) {
				seen[p] = true
			}
		}
		hn.press("tab")
	}
	for _, p := range []string{"figures", "why", "seed", "throughput"} {
		if !seen[p] {
			t.Errorf("tab never shows the %s panel at 80x24", p)
		}
	}
	wide, _ := likesRun(t, 160, 50)
	if strings.Contains(wide.screen(), "tab panels") {
		t.Error("tab is offered where every panel fits")
	}
}

func TestServerFiguresFollowCache(t *testing.T) {
	hn, _ := likesRun(t, 120, 40)
	s := hn.screen()
	if !strings.Contains(s, "cache hit         98 %") {
		t.Fatalf("the why panel does not show the cache hits after c:\n%s", s)
	}
}

func TestStaleFramesIgnored(t *testing.T) {
	f := newFakeTwin(testLikes, likesSettings)
	hn := newHarness(t, Config{Entries: entries(f, newFakeRace()), Start: "likes"}, 80, 24)
	hn.awaitOpened()
	hn.press("esc")
	// The frame command left behind reads a snapshot after the page has
	// gone; it must not bring the page back or disturb home.
	f.snaps <- snapshot(0, false, f.Load())
	var frame, closed bool
	hn.await("stale frame and close", func(m tea.Msg) bool {
		frame = frame || is[frameMsg](m)
		closed = closed || is[closedMsg](m)
		return frame && closed
	})
	if hn.app.page != hn.app.home {
		t.Fatal("a stale frame moved the screen")
	}
	if f.closed != 1 {
		t.Fatalf("the stage was closed %d times, want once", f.closed)
	}
}

func TestStageEnd(t *testing.T) {
	hn, f := urlRun(t, 120, 40, engine.Load{Model: "closed", VUs: 5})
	close(f.snaps)
	hn.await("end", is[stageEndedMsg])
	s := hn.screen()
	lines := strings.Split(s, "\n")
	helpLine := lines[len(lines)-1]
	if !strings.Contains(lines[0], "finished") || strings.Contains(helpLine, "users") || strings.Contains(helpLine, "pause") {
		t.Fatalf("after the end the screen should say finished and offer no load keys:\n%s", s)
	}
}

// TestFiguresShowTheMeasuredStep: on an experiment the screen shows the
// step it measures (likes), as headless runs report it, not the total
// with the sign-in in it.
func TestFiguresShowTheMeasuredStep(t *testing.T) {
	f := newFakeTwin(testLikes, likesSettings)
	hn := newHarness(t, Config{Stage: f}, 120, 40)
	hn.awaitOpened()
	s := snapshot(8, false, f.Load())
	likes := s.All
	likes.Name = "likes"
	likes.Run.Mean = 12_340_000
	signin := s.All
	signin.Name = "signin"
	signin.Run.Mean = 900_000_000
	s.All.Run.Mean = 456_000_000
	s.Steps = []engine.Series{signin, likes}
	hn.frame(f, s)
	var run string
	for _, line := range strings.Split(hn.screen(), "\n") {
		if i := strings.Index(line, "│ run "); i >= 0 {
			run = line[i:]
		}
	}
	if !strings.Contains(run, " 12.3 ") || strings.Contains(run, "456") {
		t.Fatalf("run row %q: want the likes step's mean 12.3, not the total's 456", run)
	}
}

// TestRepeatedStudySweep: S asks for a count, esc cancels without leaving
// the screen, enter starts the sweep that many times over, and the table
// gives medians with their intervals.
func TestRepeatedStudySweep(t *testing.T) {
	hn, f := likesRun(t, 120, 40)
	hn.press("S")
	if s := hn.screen(); !strings.Contains(s, "repeat the study sweep how many times") || !strings.Contains(s, "esc cancel") {
		t.Fatalf("S does not ask for a count:\n%s", s)
	}
	hn.press("esc")
	if s := hn.screen(); strings.Contains(s, "how many times") || !strings.Contains(s, "latency ms") {
		t.Fatalf("esc did not just cancel the question:\n%s", s)
	}
	var cells []experiments.SweepCell
	for i, s := range testLikes.StudyRuns()[:3] {
		c := experiments.SweepCell{Index: i, Total: 9, Settings: s, Repeat: 4, Repeats: 4}
		c.Study, c.HasStudy = testLikes.StudyFor(s)
		for r := range 4 {
			fig := snapshot(10*r+i, i == 2, f.Load()).All.Last
			c.Runs = append(c.Runs, fig)
		}
		cells = append(cells, c)
	}
	f.sweep = cells
	hn.press("S", "backspace", "4", "enter")
	hn.await("sweep end", is[sweepDoneMsg])
	if got := f.Calls(); !slices.Contains(got, "sweep x4") {
		t.Fatalf("calls %q: want a sweep of 4 repeats", got)
	}
	s := hn.screen()
	for _, want := range []string{"medians of 4 runs", "±∞"} {
		if !strings.Contains(s, want) {
			t.Fatalf("the repeated sweep's table lacks %q:\n%s", want, s)
		}
	}
}

// TestThresholdsLive: the command line's thresholds are held against the
// run so far in the figures panel, the failing ones first with their
// values.
func TestThresholdsLive(t *testing.T) {
	var ths []threshold.Threshold
	for _, expr := range []string{"rps>10", "p(99)<250ms"} {
		th, err := threshold.Parse(expr)
		if err != nil {
			t.Fatal(err)
		}
		ths = append(ths, th)
	}
	f := newFakeURL(engine.Load{Model: "closed", VUs: 5})
	hn := newHarness(t, Config{Stage: f, Thresholds: ths}, 120, 40)
	hn.awaitOpened()
	for i := range 8 {
		hn.frame(f, snapshot(i, false, f.Load()))
	}
	line := lineWith(hn.screen(), "✗ p(99)<250ms")
	if !strings.Contains(line, "598.00ms") || !strings.Contains(line, "✓ rps>10") || strings.Index(line, "✗") > strings.Index(line, "✓") {
		t.Fatalf("thresholds line %q: want the failing p(99) with its value first, then rps passing", line)
	}
}

// TestStagesOnScreen: a staged load says its stage and target, and that a
// key press took over from the plan.
func TestStagesOnScreen(t *testing.T) {
	hn, f := urlRun(t, 120, 40, engine.Load{Model: "closed", VUs: 5})
	s := snapshot(30, false, engine.Load{Model: "closed", VUs: 12, Stage: 2, Stages: 3, Target: 20})
	hn.frame(f, s)
	if line := lineWith(hn.screen(), "generator"); !strings.Contains(line, "stage 2/3 → 20 users") {
		t.Fatalf("health line %q: want the stage and its target", line)
	}
	s = snapshot(31, false, engine.Load{Model: "closed", VUs: 14, Stage: 2, Stages: 3, Target: 20, Overridden: true})
	hn.frame(f, s)
	if !strings.Contains(hn.screen(), "stages overridden by a key press") {
		t.Fatalf("no word that a key press took over:\n%s", hn.screen())
	}
}

// TestHealthLineSaysWhatSharesTheCPU: the CPU on the health line is the
// process's; when the twin's supervisor runs in it too, the line says so,
// and it still fits at 120 columns.
func TestHealthLineSaysWhatSharesTheCPU(t *testing.T) {
	f := newFakeTwin(testLikes, likesSettings)
	hn := newHarness(t, Config{Stage: f}, 120, 40)
	hn.awaitOpened()
	s := snapshot(8, false, f.Load())
	s.Health.Sharing = "twin supervisor"
	hn.frame(f, s)
	if screen := hn.screen(); !strings.Contains(screen, "cpu 3% of 1 core (+ twin supervisor)") {
		t.Fatalf("the health line does not name the twin supervisor beside the CPU:\n%s", screen)
	}
}

// healthScreen is the dashboard's screen, 160 columns wide, after a frame
// whose generator health set has changed.
func healthScreen(t *testing.T, set func(*engine.Health)) string {
	t.Helper()
	f := newFakeTwin(testLikes, likesSettings)
	hn := newHarness(t, Config{Stage: f}, 160, 40)
	hn.awaitOpened()
	s := snapshot(8, false, f.Load())
	set(&s.Health)
	hn.frame(f, s)
	return hn.screen()
}

// TestHealthLineSaysHowTheLoopReadsAndWrites: on the event loop, the
// health line says how many threads drove it and whether their reads and
// writes went through io_uring.
func TestHealthLineSaysHowTheLoopReadsAndWrites(t *testing.T) {
	for _, c := range []struct {
		io    string
		loops int
		want  string
	}{
		{engine.LoopIOBatched, 0, "engine loop (io_uring)"},
		{engine.LoopIOBatched, 2, "engine loop (2 threads, io_uring)"},
		{engine.LoopIOCalls + ", io_uring unavailable: operation not permitted", 1, "engine loop (1 thread, read/write)"},
	} {
		screen := healthScreen(t, func(h *engine.Health) { h.Path, h.LoopIO, h.Loops = engine.PathLoop, c.io, c.loops })
		if !strings.Contains(screen, c.want) {
			t.Fatalf("loop io %q: the health line lacks %q:\n%s", c.io, c.want, screen)
		}
	}
}

// TestHealthLineSaysThePacersPriority: a run that asked for a real-time
// pacer says on the health line whether it got it.
func TestHealthLineSaysThePacersPriority(t *testing.T) {
	for _, c := range []struct{ priority, want string }{
		{engine.PacerRealtime, "pacer real-time"},
		{engine.PacerNormal + " (real-time priority refused: operation not permitted)", "pacer normal (real-time priority refused"},
	} {
		screen := healthScreen(t, func(h *engine.Health) { h.PacerPriority = c.priority })
		if !strings.Contains(screen, c.want) {
			t.Fatalf("pacer priority %q: the health line lacks %q:\n%s", c.priority, c.want, screen)
		}
	}
}
