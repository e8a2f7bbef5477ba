package tui

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"perflab/engine"
	"perflab/engine/threshold"
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
		info.lesson = tw.Lesson()
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
	seedGap string // why the study has no figure, when it has none
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

// measuredView is snap with the measured step's figures in place of the
// total, so that every chart and figure of the screen shows the step the
// experiment measures, as headless runs report it. The total stays when
// the step is not in the snapshot.
func measuredView(snap *engine.Snapshot, step string) *engine.Snapshot {
	for _, s := range snap.Steps {
		if s.Name == step && step != "" {
			v := *snap
			v.All = s
			return &v
		}
	}
	return snap
}

// readFrame gathers what the screen shows beside a snapshot.
func readFrame(st Stage, snap *engine.Snapshot) frameMsg {
	f := frameMsg{st: st, snap: snap, info: st.Info()}
	if tw, ok := st.(TwinStage); ok {
		f.snap = measuredView(snap, tw.Measured())
		f.knobs = tw.Knobs()
		f.why, f.hasWhy = tw.ServerFigures(), true
		f.seed, f.seedGap, f.hasSeed = tw.Study()
	}
	return f
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

	frame   frameMsg // newest; snap is nil before the first
	hist    history
	seconds secondLog // the measured series' figures of each whole second
	split   splitLog  // where the measured step's time went, each second
	base    *baseline
	ended   bool

	// pending are changes asked for and not yet applied, by setting name;
	// inflight the one being applied per lane; settled the values applied
	// that no frame has shown yet.
	pending  map[string]change
	inflight map[lane]change
	settled  map[string]string

	status    string
	statusBad bool

	sweep *sweepState
	// thresholds are the command line's criteria, held against the run
	// so far.
	thresholds []threshold.Threshold
	// asking is set while S asks how many times to repeat the sweep;
	// answer is the count typed so far.
	asking   bool
	answer   string
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
	k.Sweep.SetEnabled(p.info.hasTwin && !p.ended && p.frame.snap != nil && !p.asking)
	k.SweepRepeat.SetEnabled(k.Sweep.Enabled() && !p.sweeping())
	for _, b := range []*key.Binding{&k.CountDigit, &k.CountErase, &k.CountSubmit, &k.CountCancel} {
		b.SetEnabled(p.asking)
	}
	if p.sweeping() {
		k.Sweep.SetHelp("s", "stop sweep")
	} else {
		k.Sweep.SetHelp("s", "seed sweep")
	}
	k.Panels.SetEnabled(p.width > 0 && !p.layout().allFit)
	k.Back.SetEnabled(p.canHome && !p.asking)
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
		t := p.hist.add(msg.snap)
		if msg.snap.Second > 0 {
			p.seconds.add(t, msg.snap.All.Last)
			p.split.add(t, msg.snap)
			p.updateShifts()
		}
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
			label := fmt.Sprintf("%d/%d", msg.cell.Index+1, msg.cell.Total)
			if msg.cell.Repeats > 1 {
				label += fmt.Sprintf("#%d", msg.cell.Repeat)
			}
			p.hist.mark(label)
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
	if p.asking {
		return p.answerKey(msg)
	}
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
		p.markBaseline()
		return nil
	case key.Matches(msg, k.Sweep):
		return p.toggleSweep()
	case key.Matches(msg, k.SweepRepeat):
		p.askRepeat()
		return nil
	case key.Matches(msg, k.Panels):
		p.panelAt++
		return nil
	}
	return nil
}
