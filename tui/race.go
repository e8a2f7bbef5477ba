package tui

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

type raceStartedMsg struct {
	run int
	ch  <-chan RaceEvent
	err error
}

type raceEventsMsg struct {
	run    int
	events []RaceEvent
	closed bool
}

func startRace(ctx context.Context, r Race, c RaceConfig, run int) tea.Cmd {
	return func() tea.Msg {
		ch, err := r.Start(ctx, c)
		return raceStartedMsg{run: run, ch: ch, err: err}
	}
}

// raceBatch is how long events are gathered into one message: images
// finish in bursts, and the screen needs no more than ten frames a second.
const raceBatch = 100 * time.Millisecond

func waitRace(run int, ch <-chan RaceEvent) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return raceEventsMsg{run: run, closed: true}
		}
		msg := raceEventsMsg{run: run, events: []RaceEvent{ev}}
		window := time.NewTimer(raceBatch)
		defer window.Stop()
		for !ev.Done {
			select {
			case ev, ok = <-ch:
				if !ok {
					msg.closed = true
					return msg
				}
				msg.events = append(msg.events, ev)
			case <-window.C:
				return msg
			}
		}
		return msg
	}
}

// Steps of the race keys.
var (
	imageSteps     = []int{5, 10, 20, 40, 80, 160}
	timeScaleSteps = []float64{0.02, 0.05, 0.1, 0.2, 0.5, 1, 2}
)

// racePage is the Fishial screen: the strategies race as bars, then a
// table of their figures beside the study's.
type racePage struct {
	race    Race
	setup   RaceSetup
	styles  *Styles
	keys    KeyMap
	canHome bool
	ctx     context.Context
	cancel  context.CancelFunc

	next    RaceConfig // applies to the next run
	ran     RaceConfig // the current or last run
	run     int
	stopRun context.CancelFunc
	running bool
	events  <-chan RaceEvent

	progress map[string]RaceProgress
	results  []RaceResult
	err      error

	width, height int
}

func newRacePage(ctx context.Context, r Race, setup RaceSetup, styles *Styles, canHome bool) *racePage {
	ctx, cancel := context.WithCancel(ctx)
	p := &racePage{race: r, setup: setup, styles: styles, keys: DefaultKeyMap(), canHome: canHome,
		ctx: ctx, cancel: cancel, next: setup.Defaults}
	p.keys.setScreen(screenRace)
	p.keys.Back.SetEnabled(canHome)
	return p
}

// init starts the first race: all at once, the visual race.
func (p *racePage) init() tea.Cmd { return p.start(false) }

func (p *racePage) close() { p.cancel() }

// start runs the next race, all at once or one strategy after another.
func (p *racePage) start(inTurn bool) tea.Cmd {
	if p.stopRun != nil {
		p.stopRun()
	}
	ctx, stop := context.WithCancel(p.ctx)
	p.run++
	p.stopRun = stop
	p.next.InTurn = inTurn
	p.ran = p.next
	p.running = true
	p.progress = map[string]RaceProgress{}
	p.results = nil
	p.err = nil
	return startRace(ctx, p.race, p.ran, p.run)
}

func (p *racePage) SetSize(w, h int) { p.width, p.height = w, h }

func (p *racePage) Keys() KeyMap { return p.keys }

func (p *racePage) Header() (string, string, string) {
	title := fmt.Sprintf("Fishial race: %d images, time-scale %s", p.ran.Images, formatScale(p.ran.TimeScale))
	right := "done"
	switch {
	case p.err != nil:
		right = "failed"
	case p.running:
		right = "racing"
	}
	if p.next.Images != p.ran.Images || p.next.TimeScale != p.ran.TimeScale {
		right = fmt.Sprintf("next: %d images, time-scale %s (r/R)", p.next.Images, formatScale(p.next.TimeScale))
	}
	return title, "mock API: " + p.setup.Mock, right
}

func formatScale(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func (p *racePage) Update(msg tea.Msg) (page, tea.Cmd) {
	switch msg := msg.(type) {
	case raceStartedMsg:
		if msg.run != p.run {
			return p, nil
		}
		if msg.err != nil {
			p.running, p.err = false, msg.err
			return p, nil
		}
		p.events = msg.ch
		return p, waitRace(msg.run, msg.ch)
	case raceEventsMsg:
		if msg.run != p.run {
			return p, nil
		}
		for _, ev := range msg.events {
			if ev.Done {
				p.running = false
				p.results, p.err = ev.Results, ev.Err
				continue
			}
			p.progress[ev.Progress.Strategy] = ev.Progress
		}
		if msg.closed {
			p.running = false
			return p, nil
		}
		// Keep reading until the channel closes, after the final event too.
		return p, waitRace(msg.run, p.events)
	case tea.KeyPressMsg:
		k := p.keys
		switch {
		case key.Matches(msg, k.Rerun):
			return p, p.start(false)
		case key.Matches(msg, k.RerunInTurn):
			return p, p.start(true)
		case key.Matches(msg, k.MoreImages):
			p.next.Images = stepInt(imageSteps, p.next.Images, true)
		case key.Matches(msg, k.FewerImages):
			p.next.Images = stepInt(imageSteps, p.next.Images, false)
		case key.Matches(msg, k.ScaleDown):
			p.next.TimeScale = stepFloat(timeScaleSteps, p.next.TimeScale, false)
		case key.Matches(msg, k.ScaleUp):
			p.next.TimeScale = stepFloat(timeScaleSteps, p.next.TimeScale, true)
		}
	}
	return p, nil
}

func stepInt(steps []int, v int, up bool) int {
	fs := make([]float64, len(steps))
	for i, s := range steps {
		fs[i] = float64(s)
	}
	return int(stepFloat(fs, float64(v), up))
}

// stepFloat moves v to the next step up or down, staying within the steps.
func stepFloat(steps []float64, v float64, up bool) float64 {
	if up {
		for _, s := range steps {
			if s > v {
				return s
			}
		}
		return steps[len(steps)-1]
	}
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i] < v {
			return steps[i]
		}
	}
	return steps[0]
}

func (p *racePage) View() string {
	if p.width <= 0 || p.height <= 0 {
		return ""
	}
	st := p.styles
	w := p.width
	bars := p.barLines(w - 4)
	barsH := min(len(bars)+2, p.height)
	out := []string{st.box(p.raceTitle(), bars, w, barsH)}
	rest := p.height - barsH
	if table := p.tableLines(w - 4); rest >= 4 && len(table) > 0 {
		h := min(len(table)+2, rest)
		title := "results beside the study's"
		if !p.ran.InTurn {
			title = "results of a shared race"
		}
		out = append(out, st.box(title, clip(table, h-2, w-4), w, h))
		rest -= h
	}
	if p.setup.Lesson != "" && rest >= 3 {
		lesson := wrap(p.setup.Lesson, w-4)
		h := min(len(lesson)+2, rest)
		out = append(out, st.box("lesson", clip(lesson, h-2, w-4), w, h))
	}
	return block(strings.Split(stack(out...), "\n"), w, p.height)
}

// raceTitle says how the strategies ran: at once they share the
// machine's cores and slow each other down, so their figures are not
// each strategy's own.
func (p *racePage) raceTitle() string {
	if p.ran.InTurn {
		return "race: one after another, each alone on the machine"
	}
	return "race: all at once, sharing " + plural(p.setup.Cores, "core", "cores")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func (p *racePage) resultOf(name string) (RaceResult, bool) {
	for _, r := range p.results {
		if r.Strategy == name {
			return r, true
		}
	}
	return RaceResult{}, false
}

// barLines draws one bar per strategy: images done over the images to
// do, with the time taken and, once done, the ideal time and resources.
func (p *racePage) barLines(w int) []string {
	st := p.styles
	var lines []string
	if p.err != nil {
		lines = append(lines, st.Bad.Render(fit("the race failed: "+p.err.Error(), w)))
	}
	const nameW, countW, timeW = 13, 8, 9
	extraW := 0
	if w >= 70 {
		extraW = 24
	}
	barW := w - nameW - countW - timeW - extraW
	if barW < 5 {
		barW = 0
	}
	for _, s := range p.setup.Strategies {
		pr, started := p.progress[s.Name]
		total := pr.Total
		if total == 0 {
			total = p.ran.Images
		}
		line := padRight(s.Name, nameW)
		if barW > 0 {
			done := 0
			if total > 0 {
				done = pr.Done * barW / total
			}
			line += st.BarDone.Render(strings.Repeat("█", done)) + st.BarLeft.Render(strings.Repeat("░", barW-done))
		}
		line += padLeft(fmt.Sprintf("%d/%d", pr.Done, total), countW)
		if started {
			line += padLeft(fmt.Sprintf("%.2f s", pr.Elapsed.Seconds()), timeW)
		} else {
			line += padLeft("", timeW)
		}
		if extraW > 0 {
			extra := "  " + s.Resources
			if r, ok := p.resultOf(s.Name); ok {
				extra = fmt.Sprintf("  ideal %.2f  %s", r.IdealSeconds, s.Resources)
			}
			line += st.Dim.Render(fit(extra, extraW))
		}
		lines = append(lines, line)
	}
	return lines
}

// tableLines is the results table, each strategy's coordinator on a
// line of its own. Run one after another, the study's time stands
// beside ours when the image count matches the study's; run at once,
// the figures are slowed by the race itself, so the table says so and
// how to get figures to set beside the study's instead.
func (p *racePage) tableLines(w int) []string {
	if len(p.results) == 0 {
		return nil
	}
	st := p.styles
	var lines []string
	if !p.ran.InTurn {
		note := fmt.Sprintf("They ran at once, sharing %s, so each took longer than it would alone. R runs them one after another, as headless runs do, beside the study's figures.",
			plural(p.setup.Cores, "core", "cores"))
		for _, l := range wrap(note, w) {
			lines = append(lines, st.Dim.Render(l))
		}
	}
	const nameW, num = 14, 10
	cols := []string{"wall s", "ideal s", "speed-up", "CPU s", "img/CPU s"}
	if p.ran.InTurn {
		cols = append(cols, "study s")
	}
	n := min(len(cols), (w-nameW)/num)
	head := padRight("strategy", nameW)
	for _, c := range cols[:n] {
		head += padLeft(c, num)
	}
	lines = append(lines, st.Dim.Render(head))
	row := func(name string, vals []string) string {
		line := padRight(name, nameW)
		for _, v := range vals[:n] {
			line += padLeft(v, num)
		}
		return line
	}
	for _, s := range p.setup.Strategies {
		r, ok := p.resultOf(s.Name)
		if !ok {
			continue
		}
		study := "-"
		if s.StudySeconds > 0 && s.StudyImages == r.Images {
			study = fmt.Sprintf("%.2f", s.StudySeconds)
		}
		lines = append(lines, row(s.Name, []string{
			fmt.Sprintf("%.2f", r.Seconds), fmt.Sprintf("%.2f", r.IdealSeconds), fmt.Sprintf("%.1fx", r.Speedup),
			fmt.Sprintf("%.2f", r.CPUSeconds), fmt.Sprintf("%.0f", r.ImagesPerCPUSecond), study,
		}))
		if r.Coordinator != "" && n >= 4 {
			lines = append(lines, st.Dim.Render(row("  coordinator", []string{"", "", "", fmt.Sprintf("%.2f", r.CoordinatorCPUSeconds), "", ""})))
		}
	}
	return lines
}
