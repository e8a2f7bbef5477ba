package tui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"perflab/engine"
	"perflab/engine/report"
)

// Header is the stage's title and state, and the run's progress.
func (p *loadPage) Header() (string, string, string) {
	info := p.frame.info
	if info == "" {
		info = "starting…"
	}
	snap := p.frame.snap
	if snap == nil {
		return p.info.title, info, ""
	}
	right := clock(snap.Elapsed)
	if snap.Duration > 0 {
		right += " / " + clock(snap.Duration)
	}
	switch {
	case p.ended:
		right = "finished " + right
	case snap.Paused:
		right = "paused " + right
	case p.sweeping():
		right = "sweeping " + right
	}
	return p.info.title, info, right
}

func (p *loadPage) View() string {
	if p.width <= 0 || p.height <= 0 {
		return ""
	}
	st := p.styles
	l := p.layout()
	knobs := st.box(p.knobsTitle(), p.knobLines(l.knobW-4, l.topH-2), l.knobW, l.topH)
	charts := p.latencyPanel(l.chartsW, l.latH)
	if l.rpsH > 0 {
		charts = stack(charts, p.rpsPanel(l.chartsW, l.rpsH))
	}
	top := beside(knobs, charts)
	bottom := ""
	if l.botH > 0 {
		var panels []string
		for i, pl := range l.bottom {
			panels = append(panels, p.panel(pl, l.botH, l.allFit, i == len(l.bottom)-1))
		}
		bottom = beside(panels...)
	}
	return stack(top, bottom, p.healthLine(p.width))
}

func (p *loadPage) knobsTitle() string {
	if p.info.hasTwin {
		return "knobs"
	}
	return "load"
}

// knobLines lists every knob with its key and value, then the load's
// setting and whether it runs.
func (p *loadPage) knobLines(w, h int) []string {
	st := p.styles
	var lines []string
	row := func(keys, name, value, hint string) string {
		left := st.Key.Render(padRight(keys, 4)) + padRight(name, 9)
		if visibleWidth(left)+visibleWidth(value) > w {
			// A change under way on a narrow panel: where it goes matters
			// more than where it was.
			if i := strings.Index(value, "→"); i >= 0 {
				value = st.Pending.Render(ansi.Strip(value[i:]))
			}
		}
		line := left + value
		if hint != "" && visibleWidth(line)+1+visibleWidth(hint) <= w {
			line = padRight(line, w-visibleWidth(hint)) + st.Dim.Render(hint)
		}
		return line
	}
	for _, kk := range p.keys.Knobs {
		k := kk.Knob
		keys := k.Key
		hint := ""
		if len(k.Values) > 2 {
			keys += "/" + strings.ToUpper(k.Key)
			hint = k.Values[0] + ".." + k.Values[len(k.Values)-1]
		}
		lines = append(lines, row(keys, shortName(k.Name), p.settingText(k.Name, p.frameKnob(k.Name)), hint))
	}
	if len(lines) > 0 && len(lines)+3 <= h {
		lines = append(lines, "")
	}
	l := p.loadModel()
	switch l.Model {
	case "open":
		lines = append(lines, row("r/R", "rate/s", p.settingText(settingRate, formatRate(l.Rate)), ""))
	case "max":
		lines = append(lines, row("v/V", "conns", p.settingText(settingVUs, strconv.Itoa(l.Conns)), ""))
	case "closed":
		think := ""
		if l.Think > 0 {
			think = "think " + l.Think.String()
		}
		lines = append(lines, row("v/V", "users", p.settingText(settingVUs, strconv.Itoa(l.VUs)), think))
	}
	state := "running"
	switch {
	case p.frame.snap == nil:
		state = "starting"
	case p.ended:
		state = "finished"
	case p.frame.snap.Paused:
		state = "paused"
	}
	lines = append(lines, row("spc", "load", p.settingText(settingPause, state), ""))
	if name, text := p.explained(); text != "" && len(lines)+3 <= h {
		lines = append(lines, "", st.Dim.Render(name+":"))
		for _, l := range wrap(text, w) {
			lines = append(lines, st.Dim.Render(l))
		}
	}
	return lines
}

// modelHelp says what each arrival model's setting means for the figures.
var modelHelp = map[string]string{
	"closed": "each user sends a request, waits for the answer, thinks, and repeats; a slower target gets fewer requests",
	"open":   "requests start on a fixed schedule whatever the target does; latency counts from the scheduled start, so queueing shows, and service is the answer alone",
	"max":    "each connection keeps one request in flight, as fast as the target answers",
}

// explained is what the panel spells out below the values: the knob
// changed last, or the load when that changed last or there are no knobs.
func (p *loadPage) explained() (name, text string) {
	if p.lastKnob != nil {
		return p.lastKnob.Name, p.lastKnob.Help
	}
	model := p.loadModel().Model
	if len(p.keys.Knobs) > 0 && !p.loadExplained {
		k := p.keys.Knobs[0].Knob
		return k.Name, k.Help
	}
	names := map[string]string{"closed": "users", "open": "rate", "max": "connections"}
	return names[model], modelHelp[model]
}

func (p *loadPage) frameKnob(name string) string {
	for _, kv := range p.frame.knobs {
		if kv.Knob.Name == name {
			return kv.Value
		}
	}
	return ""
}

// settingText shows a setting's value and, while a change is on its way,
// where it is going.
func (p *loadPage) settingText(name, shown string) string {
	st := p.styles
	if c, ok := p.pending[name]; ok {
		to := c.value
		if name == settingPause {
			to = map[string]string{"on": "paused", "off": "running"}[to]
		}
		return st.Value.Render(shown) + st.Pending.Render(" → "+to+"…")
	}
	if v, ok := p.settled[name]; ok && name != settingPause {
		shown = v
	}
	return st.Value.Render(shown)
}

// shortName fits a knob's flag name in the panel's name column.
func shortName(name string) string {
	if len(name) <= 8 {
		return name
	}
	if i := strings.LastIndex(name, "-"); i >= 0 {
		return name[i+1:]
	}
	return name[:8]
}

func (p *loadPage) latencyPanel(w, h int) string {
	st := p.styles
	legend := st.P99.Render("━ p99") + " " + st.P90.Render("━ p90") + " " + st.P50.Render("━ p50")
	title := "latency ms, last 60 s"
	if visibleWidth(title)+visibleWidth(legend)+8 <= w {
		title += "  " + legend
	}
	return st.box(title, p.hist.latencyChart(st, w-4, h-2), w, h)
}

func (p *loadPage) rpsPanel(w, h int) string {
	st := p.styles
	return st.box("throughput req/s", p.hist.rpsChart(st, w-4, h-2), w, h)
}

func (p *loadPage) panel(pl placed, h int, allFit, last bool) string {
	st := p.styles
	iw, ih := pl.w-4, h-2
	snap := p.frame.snap
	more := ""
	if !allFit && last {
		more = " · tab ▸"
	}
	switch pl.kind {
	case panelFigures:
		if snap == nil {
			return st.box("figures"+more, []string{st.Dim.Render("waiting for the first snapshot…")}, pl.w, h)
		}
		lines := figuresLines(st, snap, p.base, iw, ih-min(1, len(p.thresholds)))
		if len(p.thresholds) > 0 {
			lines = append(lines, thresholdsLine(st, p.thresholds, snap, iw))
		}
		return st.box("figures"+more, lines, pl.w, h)
	case panelWhy:
		title := "why: the server"
		if more != "" {
			title = "why"
		}
		if !p.frame.hasWhy {
			return st.box(title+more, []string{st.Dim.Render("waiting for the twin…")}, pl.w, h)
		}
		return st.box(title+more, whyLines(st, p.frame.why, iw), pl.w, h)
	case panelSeed:
		var last engine.Figures
		if snap != nil {
			last = snap.All.Last
		}
		return st.box("seed"+more, seedLines(st, p.frame.seed, p.frame.hasSeed, p.frame.seedGap, p.info.lesson, last, iw, ih), pl.w, h)
	case panelSweep:
		return st.box("seed sweep"+more, sweepLines(st, p.sweep, iw, ih), pl.w, h)
	case panelRPS:
		return p.rpsPanel(pl.w, h)
	case panelSplit:
		title := splitTitle(iw)
		for _, shorter := range []string{"split p50 ms", "split"} {
			if visibleWidth(title+more) > iw-2 {
				title = shorter
			}
		}
		return st.box(title+more, p.splitLines(iw, ih), pl.w, h)
	}
	return blank(pl.w, h)
}

// healthLine is the generator's own state: how fast it really sends,
// how late, what it had to send twice, at what CPU cost, and a warning
// when it is the bottleneck. A status message, when there is one, comes
// first.
func (p *loadPage) healthLine(w int) string {
	st := p.styles
	var parts []string
	if p.status != "" {
		style := st.Pending
		if p.statusBad {
			style = st.Bad
		}
		parts = append(parts, style.Render(p.status))
	}
	snap := p.frame.snap
	if snap != nil {
		hl := snap.Health
		if hl.Warning != "" {
			parts = append(parts, st.Warn.Render("! "+hl.Warning))
		}
		if plan := snap.Load.Plan(); plan != "" {
			parts = append(parts, plan)
		}
		if snap.Load.Model == "open" {
			parts = append(parts, "generator "+rate(hl.AchievedRate)+" of "+rate(hl.TargetRate)+" req/s")
		} else {
			parts = append(parts, "generator "+rate(hl.AchievedRate)+" req/s ("+snap.Load.String()+")")
		}
		if snap.Load.Model == "open" {
			parts = append(parts, fmt.Sprintf("lag p50 %s p99 %s ms", ms(hl.SendLagP50), ms(hl.SendLagP99)),
				fmt.Sprintf("missed %d", hl.Missed), fmt.Sprintf("backlog %d", hl.Backlog))
		}
		parts = append(parts, fmt.Sprintf("in flight %d", hl.InFlight))
		if r := snap.All.Run.Retries; r > 0 {
			parts = append(parts, st.Warn.Render(fmt.Sprintf("retries %d", r)))
		}
		if hl.Cores > 0 {
			// The figure is this process's, the generator's and the
			// dashboard's: say what else is in it.
			cpu := fmt.Sprintf("cpu %.0f%% of %s", hl.CPU*100, report.Cores(hl.Cores))
			if hl.Sharing != "" {
				cpu += " (+ " + hl.Sharing + ")"
			}
			// The reason a loop reads and writes call by call is in the
			// summary; the line only says which way.
			if hl.Path != "" {
				cpu += ", engine " + report.EngineName(hl, false)
			}
			parts = append(parts, cpu)
		}
		switch p := hl.PacerPriority; {
		case p == engine.PacerRealtime:
			parts = append(parts, "pacer real-time")
		case p != "":
			parts = append(parts, st.Warn.Render("pacer "+p))
		}
	}
	line := ""
	for _, part := range parts {
		next := part
		if line != "" {
			next = line + st.Dim.Render("  ·  ") + part
		}
		if visibleWidth(next) > w-1 {
			if line == "" {
				line = fit(part, w-1)
			}
			break
		}
		line = next
	}
	return " " + line
}
