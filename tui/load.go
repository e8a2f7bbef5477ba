package tui

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"perflab/engine"
	"perflab/experiments"
)

// stageInfo is what the load screen learns about a stage as it opens.
type stageInfo struct {
	title   string
	knobs   []experiments.KnobValue
	hasTwin bool
	lesson  string
}

// describeStage reads a stage's fixed facts; it runs in a command since
// the stage may answer slowly.
func describeStage(st Stage) stageInfo {
	info := stageInfo{title: st.Title()}
	if tw, ok := st.(TwinStage); ok {
		info.hasTwin = true
		info.knobs = tw.Knobs()
		_, info.lesson, _ = tw.Study()
	}
	return info
}

// frameMsg is one snapshot with everything read from the stage beside
// it, gathered off the UI goroutine.
type frameMsg struct {
	st      Stage
	snap    *engine.Snapshot
	info    string
	knobs   []experiments.KnobValue
	why     experiments.ServerFigures
	hasWhy  bool
	seed    experiments.StudyCell
	hasSeed bool
}

// stageEndedMsg says the stage's snapshots have stopped for good.
type stageEndedMsg struct {
	st  Stage
	err error
}

// nextFrame waits for the stage's next snapshot. The load screen re-arms
// it after every frame, so exactly one is pending at a time and a slow
// screen sees the newest snapshot rather than a queue.
func nextFrame(st Stage) tea.Cmd {
	ch := st.Snapshots()
	return func() tea.Msg {
		snap, ok := <-ch
		if !ok {
			return stageEndedMsg{st: st, err: st.Err()}
		}
		return readFrame(st, snap)
	}
}

// readFrame gathers what the screen shows beside a snapshot.
func readFrame(st Stage, snap *engine.Snapshot) frameMsg {
	f := frameMsg{st: st, snap: snap, info: st.Info()}
	if tw, ok := st.(TwinStage); ok {
		f.knobs = tw.Knobs()
		f.why, f.hasWhy = tw.ServerFigures(), true
		f.seed, _, f.hasSeed = tw.Study()
	}
	return f
}

// lane serialises changes that must apply in order: the twin's knobs
// (each may restart workers for seconds) and the load's settings, which
// apply at once and so never wait behind a restart.
type lane int

const (
	laneTwin lane = iota
	laneLoad
)

// Load settings handled like knobs.
const (
	settingVUs   = "vus"
	settingRate  = "rate"
	settingPause = "pause"
)

func laneOf(name string) lane {
	switch name {
	case settingVUs, settingRate, settingPause:
		return laneLoad
	}
	return laneTwin
}

type change struct{ name, value, label string }

// changeDoneMsg reports a change applied, or why it was not.
type changeDoneMsg struct {
	st Stage
	change
	err error
}

// applyChange performs one change on the stage.
func applyChange(st Stage, c change) tea.Cmd {
	return func() tea.Msg {
		var err error
		switch c.name {
		case settingVUs:
			n, _ := strconv.Atoi(c.value)
			err = st.SetVUs(n)
		case settingRate:
			r, _ := strconv.ParseFloat(c.value, 64)
			err = st.SetRate(r)
		case settingPause:
			if c.value == "on" {
				st.Pause()
			} else {
				st.Resume()
			}
		default:
			tw, ok := st.(TwinStage)
			if !ok {
				err = errNoTwin
				break
			}
			err = tw.SetKnob(c.name, c.value)
		}
		return changeDoneMsg{st: st, change: c, err: err}
	}
}

var (
	errNoTwin  = errors.New("an external target has no twin knobs; open an experiment to change the server")
	errNoStudy = errors.New("an external target has no study to sweep; open an experiment")
)

type sweepCellMsg struct {
	st   Stage
	cell experiments.SweepCell
}

type sweepDoneMsg struct {
	st  Stage
	err error
}

// startSweep runs the stage's seed sweep on its own goroutine and
// returns its first cell; waitSweep returns the next ones.
func startSweep(ctx context.Context, st Stage, cells chan experiments.SweepCell, errc chan error) tea.Cmd {
	return func() tea.Msg {
		go func() {
			tw, ok := st.(TwinStage)
			if !ok {
				errc <- errNoStudy
				close(cells)
				return
			}
			errc <- tw.StudySweep(ctx, func(c experiments.SweepCell) {
				select {
				case cells <- c:
				case <-ctx.Done():
				}
			})
			close(cells)
		}()
		return waitSweep(st, cells, errc)()
	}
}

func waitSweep(st Stage, cells chan experiments.SweepCell, errc chan error) tea.Cmd {
	return func() tea.Msg {
		c, ok := <-cells
		if !ok {
			return sweepDoneMsg{st: st, err: <-errc}
		}
		return sweepCellMsg{st: st, cell: c}
	}
}

// loadPage is the load screen: knobs, charts, figures, the twin's why,
// the seed, and the generator's health.
type loadPage struct {
	st      Stage
	info    stageInfo
	styles  *Styles
	keys    KeyMap
	canHome bool
	ctx     context.Context
	cancel  context.CancelFunc

	width, height int

	frame frameMsg // newest; snap is nil before the first
	hist  history
	base  *baseline
	ended bool

	// pending are changes asked for and not yet applied, by setting name;
	// inflight the one being applied per lane; settled the values applied
	// that no frame has shown yet.
	pending  map[string]change
	inflight map[lane]change
	settled  map[string]string

	status    string
	statusBad bool

	sweep    *sweepState
	panelAt  int
	lastKnob *experiments.Knob // the knob the panel explains
	// loadExplained is set once the load was changed, so the panel
	// explains the load rather than a knob.
	loadExplained bool
}

func newLoadPage(ctx context.Context, st Stage, info stageInfo, styles *Styles, canHome bool) *loadPage {
	ctx, cancel := context.WithCancel(ctx)
	p := &loadPage{
		st: st, info: info, styles: styles, canHome: canHome, ctx: ctx, cancel: cancel,
		keys:     DefaultKeyMap(),
		pending:  map[string]change{},
		inflight: map[lane]change{},
		settled:  map[string]string{},
	}
	p.frame.knobs = info.knobs
	p.keys.setKnobs(info.knobs)
	p.refreshKeys()
	return p
}

// init starts watching the stage.
func (p *loadPage) init() tea.Cmd { return nextFrame(p.st) }

// close stops what the page started (a sweep); the stage is closed by
// its owner.
func (p *loadPage) close() { p.cancel() }

func (p *loadPage) SetSize(w, h int) {
	p.width, p.height = w, h
	p.refreshKeys()
}

func (p *loadPage) Keys() KeyMap { return p.keys }

func (p *loadPage) loadModel() engine.Load {
	if p.frame.snap != nil {
		return p.frame.snap.Load
	}
	return engine.Load{}
}

func (p *loadPage) sweeping() bool { return p.sweep != nil && p.sweep.running }

// refreshKeys enables exactly the keys that work in the page's state.
func (p *loadPage) refreshKeys() {
	k := &p.keys
	k.setScreen(screenLoad)
	live := !p.ended && p.frame.snap != nil
	steer := live && !p.sweeping()
	for i := range k.Knobs {
		k.Knobs[i].Next.SetEnabled(steer)
		k.Knobs[i].Prev.SetEnabled(steer && len(k.Knobs[i].Knob.Values) > 2)
	}
	switch p.loadModel().Model {
	case "open":
		k.More.SetKeys("r")
		k.Less.SetKeys("R")
		k.More.SetHelp("r/R", "rate")
	case "max":
		k.More.SetKeys("v")
		k.Less.SetKeys("V")
		k.More.SetHelp("v/V", "connections")
	default:
		k.More.SetKeys("v")
		k.Less.SetKeys("V")
		k.More.SetHelp("v/V", "users")
	}
	k.More.SetEnabled(steer)
	k.Less.SetEnabled(steer)
	k.Pause.SetEnabled(steer)
	if p.frame.snap != nil && p.frame.snap.Paused {
		k.Pause.SetHelp("space", "resume")
	} else {
		k.Pause.SetHelp("space", "pause")
	}
	k.Baseline.SetEnabled(p.frame.snap != nil)
	k.Sweep.SetEnabled(p.info.hasTwin && !p.ended && p.frame.snap != nil)
	if p.sweeping() {
		k.Sweep.SetHelp("s", "stop sweep")
	} else {
		k.Sweep.SetHelp("s", "seed sweep")
	}
	k.Panels.SetEnabled(p.width > 0 && !p.layout().allFit)
	k.Back.SetEnabled(p.canHome)
}

func (p *loadPage) Update(msg tea.Msg) (page, tea.Cmd) {
	cmd := p.update(msg)
	p.refreshKeys()
	return p, cmd
}

func (p *loadPage) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case frameMsg:
		if msg.st != p.st {
			return nil
		}
		p.frame = msg
		p.hist.add(msg.snap)
		for _, kv := range msg.knobs {
			if p.settled[kv.Knob.Name] == kv.Value {
				delete(p.settled, kv.Knob.Name)
			}
		}
		if l := msg.snap.Load; p.settled[settingVUs] == strconv.Itoa(max(l.VUs, l.Conns)) {
			delete(p.settled, settingVUs)
		}
		if p.settled[settingRate] == formatRate(msg.snap.Load.Rate) {
			delete(p.settled, settingRate)
		}
		if p.settled[settingPause] == onOff(msg.snap.Paused) {
			delete(p.settled, settingPause)
		}
		return nextFrame(p.st)
	case stageEndedMsg:
		if msg.st != p.st {
			return nil
		}
		p.ended = true
		if msg.err != nil {
			p.setStatus("the load stopped: "+msg.err.Error(), true)
		}
		return nil
	case changeDoneMsg:
		if msg.st != p.st {
			return nil
		}
		return p.changeDone(msg)
	case sweepCellMsg:
		if msg.st != p.st || p.sweep == nil {
			return nil
		}
		if msg.cell.Running {
			p.hist.mark(fmt.Sprintf("%d/%d", msg.cell.Index+1, msg.cell.Total))
		}
		p.sweep.record(msg.cell)
		return waitSweep(p.st, p.sweep.in, p.sweep.errc)
	case sweepDoneMsg:
		if msg.st != p.st || p.sweep == nil {
			return nil
		}
		p.sweep.running = false
		if msg.err != nil && !errors.Is(msg.err, context.Canceled) {
			p.sweep.err = msg.err
		}
		return nil
	case tea.KeyPressMsg:
		return p.key(msg)
	}
	return nil
}

func (p *loadPage) setStatus(s string, bad bool) { p.status, p.statusBad = s, bad }

func (p *loadPage) key(msg tea.KeyPressMsg) tea.Cmd {
	p.status = ""
	k := p.keys
	for _, kk := range k.Knobs {
		switch {
		case key.Matches(msg, kk.Next):
			p.lastKnob = kk.Knob
			cur := p.knobValue(kk.Knob.Name)
			return p.want(change{name: kk.Knob.Name, value: kk.Knob.Next(cur), label: knobLabel(kk.Knob, kk.Knob.Next(cur))})
		case key.Matches(msg, kk.Prev):
			p.lastKnob = kk.Knob
			cur := p.knobValue(kk.Knob.Name)
			return p.want(change{name: kk.Knob.Name, value: kk.Knob.Prev(cur), label: knobLabel(kk.Knob, kk.Knob.Prev(cur))})
		}
	}
	switch {
	case key.Matches(msg, k.More), key.Matches(msg, k.Less):
		p.lastKnob, p.loadExplained = nil, true
		up := key.Matches(msg, k.More)
		l := p.loadModel()
		if l.Model == "open" {
			r := step(p.rateValue(), up)
			return p.want(change{name: settingRate, value: formatRate(r), label: "rate=" + formatRate(r)})
		}
		n := int(step(float64(p.vusValue()), up))
		what := "vus="
		if l.Model == "max" {
			what = "c="
		}
		return p.want(change{name: settingVUs, value: strconv.Itoa(n), label: what + strconv.Itoa(n)})
	case key.Matches(msg, k.Pause):
		if p.pausedValue() {
			return p.want(change{name: settingPause, value: "off", label: "resume"})
		}
		return p.want(change{name: settingPause, value: "on", label: "pause"})
	case key.Matches(msg, k.Baseline):
		p.base = &baseline{figures: p.frame.snap.All.Last, at: time.Duration(p.hist.last * float64(time.Second))}
		p.hist.mark("base")
		return nil
	case key.Matches(msg, k.Sweep):
		return p.toggleSweep()
	case key.Matches(msg, k.Panels):
		p.panelAt++
		return nil
	}
	return nil
}

// want records a change and starts it unless its lane is busy; the
// newest wish per setting wins, so a key pressed five times during a
// restart costs one more restart, not five.
func (p *loadPage) want(c change) tea.Cmd {
	p.pending[c.name] = c
	delete(p.settled, c.name)
	p.hist.mark(c.label)
	return p.dispatch(laneOf(c.name))
}

func (p *loadPage) dispatch(l lane) tea.Cmd {
	if _, busy := p.inflight[l]; busy {
		return nil
	}
	for _, name := range p.settingOrder() {
		c, ok := p.pending[name]
		if !ok || laneOf(name) != l {
			continue
		}
		p.inflight[l] = c
		return applyChange(p.st, c)
	}
	return nil
}

func (p *loadPage) settingOrder() []string {
	names := make([]string, 0, len(p.frame.knobs)+3)
	for _, kv := range p.frame.knobs {
		names = append(names, kv.Knob.Name)
	}
	return append(names, settingVUs, settingRate, settingPause)
}

func (p *loadPage) changeDone(msg changeDoneMsg) tea.Cmd {
	l := laneOf(msg.name)
	delete(p.inflight, l)
	if c, ok := p.pending[msg.name]; ok && c.value == msg.value {
		delete(p.pending, msg.name)
	}
	if msg.err != nil {
		p.hist.unmark(msg.label)
		p.setStatus(fmt.Sprintf("%s %s: %v", msg.name, msg.value, msg.err), true)
	} else {
		p.settled[msg.name] = msg.value
	}
	return p.dispatch(l)
}

func (p *loadPage) toggleSweep() tea.Cmd {
	if p.sweeping() {
		p.sweep.stop()
		p.setStatus("stopping the sweep after the current run…", false)
		return nil
	}
	// Where the figures and the sweep do not fit side by side, the sweep
	// comes first while it runs.
	if p.width < figuresMinWidth+sweepMinWidth {
		p.panelAt = 1
	} else {
		p.panelAt = 0
	}
	ctx, cancel := context.WithCancel(p.ctx)
	p.sweep = &sweepState{running: true, stop: cancel, in: make(chan experiments.SweepCell, 4), errc: make(chan error, 1)}
	clear(p.settled)
	return startSweep(ctx, p.st, p.sweep.in, p.sweep.errc)
}

// knobValue is a knob's value as the presenter last asked for it.
func (p *loadPage) knobValue(name string) string {
	if c, ok := p.pending[name]; ok {
		return c.value
	}
	if v, ok := p.settled[name]; ok {
		return v
	}
	for _, kv := range p.frame.knobs {
		if kv.Knob.Name == name {
			return kv.Value
		}
	}
	return ""
}

func (p *loadPage) vusValue() int {
	if v, ok := p.valueOf(settingVUs); ok {
		n, _ := strconv.Atoi(v)
		return n
	}
	l := p.loadModel()
	return max(l.VUs, l.Conns)
}

func (p *loadPage) rateValue() float64 {
	if v, ok := p.valueOf(settingRate); ok {
		r, _ := strconv.ParseFloat(v, 64)
		return r
	}
	return p.loadModel().Rate
}

func (p *loadPage) pausedValue() bool {
	if v, ok := p.valueOf(settingPause); ok {
		return v == "on"
	}
	return p.frame.snap != nil && p.frame.snap.Paused
}

func (p *loadPage) valueOf(name string) (string, bool) {
	if c, ok := p.pending[name]; ok {
		return c.value, true
	}
	v, ok := p.settled[name]
	return v, ok
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func formatRate(r float64) string { return strconv.FormatFloat(r, 'f', -1, 64) }

// knobLabel marks a knob change on the charts: "w=4" for a count, "cache
// on" for a setting.
func knobLabel(k *experiments.Knob, value string) string {
	if _, err := strconv.Atoi(value); err == nil {
		return k.Key + "=" + value
	}
	return k.Name + " " + value
}

// loadSteps are the values v/V and r/R step through: roughly 20% apart,
// round numbers a presenter can say out loud.
var loadSteps = func() []float64 {
	var out []float64
	for exp := 1.0; exp <= 1e5; exp *= 10 {
		for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8} {
			v := m * exp
			if exp == 1 && v != math.Trunc(v) {
				continue
			}
			out = append(out, v)
		}
	}
	return out
}()

// step moves v to the next load step up or down, never below 1.
func step(v float64, up bool) float64 {
	if up {
		for _, s := range loadSteps {
			if s > v {
				return s
			}
		}
		return v
	}
	for i := len(loadSteps) - 1; i >= 0; i-- {
		if loadSteps[i] < v {
			return loadSteps[i]
		}
	}
	return 1
}

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

// panelKind names a panel of the bottom row.
type panelKind int

const (
	panelFigures panelKind = iota
	panelWhy
	panelSeed
	panelSweep
	panelRPS
)

type placed struct {
	kind panelKind
	w    int
}

// loadLayout is where everything goes for the page's size.
type loadLayout struct {
	knobW, topH int
	latH, rpsH  int // rpsH is 0 when the throughput chart is in the bottom row
	botH        int
	bottom      []placed
	allFit      bool
	chartsW     int
}

// layout fits the panels to the page: knobs and charts on top, the
// figures and the panels that explain them below. What does not fit
// side by side is reached with tab, one panel replacing another.
func (p *loadPage) layout() loadLayout {
	w, h := p.width, p.height
	l := loadLayout{knobW: 26}
	if w >= 100 {
		l.knobW = 30
	}
	l.chartsW = w - l.knobW
	body := h - 1 // the health line
	open := p.loadModel().Model == "open"
	// A sweep is what the presenter watches while it runs, so it comes
	// right after the figures.
	cands := []panelKind{panelFigures}
	if p.sweep != nil {
		cands = append(cands, panelSweep)
	}
	if p.info.hasTwin {
		cands = append(cands, panelWhy)
	}
	if p.sweep == nil && p.info.lesson != "" {
		cands = append(cands, panelSeed)
	}
	need := 0
	for _, k := range cands {
		need = max(need, p.panelHeight(k, open))
	}
	minTop := max(9, len(p.keys.Knobs)+4)
	l.botH = max(min(need, body-minTop), 0)
	if l.botH < 4 {
		l.botH = 0 // a frame with nothing in it helps no one
	}
	l.topH = body - l.botH
	if l.topH >= 15 {
		l.rpsH = max(6, l.topH*2/5)
		l.latH = l.topH - l.rpsH
	} else {
		l.latH = l.topH
		cands = append(cands, panelRPS)
	}
	at := p.panelAt % len(cands)
	order := append(append([]panelKind{}, cands[at:]...), cands[:at]...)
	used := 0
	for _, k := range order {
		mw, _ := panelWidths(k)
		if len(l.bottom) > 0 && used+mw > w {
			break
		}
		l.bottom = append(l.bottom, placed{kind: k, w: mw})
		used += mw
	}
	l.allFit = len(l.bottom) == len(cands) || l.botH == 0
	// Width left over goes first to a sweep, then to the figures (up to
	// the columns that matter once they share the row), then to the rest.
	extra := w - used
	grow := func(kind panelKind, pref int) {
		for i := range l.bottom {
			if l.bottom[i].kind == kind {
				add := max(min(extra, pref-l.bottom[i].w), 0)
				l.bottom[i].w += add
				extra -= add
			}
		}
	}
	grow(panelSweep, sweepWidth)
	figPref := figuresWidth
	if len(l.bottom) > 1 {
		figPref = figuresSharedWidth
	}
	grow(panelFigures, figPref)
	for _, pl := range l.bottom {
		_, pw := panelWidths(pl.kind)
		grow(pl.kind, pw)
	}
	l.bottom[len(l.bottom)-1].w += extra
	return l
}

func (p *loadPage) panelHeight(k panelKind, open bool) int {
	switch k {
	case panelFigures:
		return figuresHeight(open)
	case panelWhy:
		return whyHeight
	case panelSeed:
		return seedMaxHeight
	case panelSweep:
		return sweepHeight(max(p.sweep.total, len(p.sweep.cells)))
	}
	return 0
}

func panelWidths(k panelKind) (minW, prefW int) {
	switch k {
	case panelFigures:
		return figuresMinWidth, figuresWidth
	case panelWhy:
		return whyWidth - 2, whyWidth
	case panelSeed:
		return seedMinWidth, seedWidth
	case panelSweep:
		return sweepMinWidth, sweepWidth
	}
	return 30, 30
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
		return st.box("figures"+more, figuresLines(st, snap, p.base, iw, ih), pl.w, h)
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
		return st.box("seed"+more, seedLines(st, p.frame.seed, p.frame.hasSeed, p.info.lesson, last, iw, ih), pl.w, h)
	case panelSweep:
		return st.box("seed sweep"+more, sweepLines(st, p.sweep, iw, ih), pl.w, h)
	case panelRPS:
		return p.rpsPanel(pl.w, h)
	}
	return blank(pl.w, h)
}

// healthLine is the generator's own state: how fast it really sends,
// how late, at what CPU cost, and a warning when it is the bottleneck.
// A status message, when there is one, comes first.
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
		if hl.Cores > 0 {
			parts = append(parts, fmt.Sprintf("cpu %.0f%% of %d cores", hl.CPU*100, hl.Cores))
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
