package tui

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"perflab/engine"
	"perflab/experiments"
)

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
func startSweep(ctx context.Context, st Stage, repeat int, cells chan experiments.SweepCell, errc chan error) tea.Cmd {
	return func() tea.Msg {
		go func() {
			tw, ok := st.(TwinStage)
			if !ok {
				errc <- errNoStudy
				close(cells)
				return
			}
			errc <- tw.StudySweep(ctx, repeat, func(c experiments.SweepCell) {
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
	var capped *engine.LimitError
	switch {
	case errors.As(msg.err, &capped):
		// Applied, but only as far as the open-file limit allows.
		v := strconv.Itoa(capped.Max)
		p.hist.unmark(msg.label)
		p.hist.mark(strings.TrimSuffix(msg.label, msg.value) + v)
		p.settled[msg.name] = v
		p.setStatus(fmt.Sprintf("%s capped at %s, not %s: %s; raise ulimit -n to go higher", p.loadNoun(), v, msg.value, capped.Reason()), true)
	case msg.err != nil:
		p.hist.unmark(msg.label)
		p.setStatus(fmt.Sprintf("%s %s: %v", msg.name, msg.value, msg.err), true)
	default:
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
	return p.startSweep(1)
}

// maxSweepRepeat bounds the count S asks for: nine configurations of
// 13 s each, twenty times over, is already 40 minutes.
const maxSweepRepeat = 20

// askRepeat starts asking how many times to repeat the study sweep; the
// digits typed next are the answer.
func (p *loadPage) askRepeat() {
	p.asking, p.answer = true, "3"
	p.promptStatus()
}

func (p *loadPage) promptStatus() {
	p.setStatus(fmt.Sprintf("repeat the study sweep how many times (2..%d)? %s▏  enter starts, esc cancels", maxSweepRepeat, p.answer), false)
}

// answerKey takes a key while S asks for a count.
func (p *loadPage) answerKey(msg tea.KeyPressMsg) tea.Cmd {
	k := p.keys
	switch {
	case key.Matches(msg, k.CountCancel):
		p.asking = false
		p.setStatus("", false)
	case key.Matches(msg, k.CountSubmit):
		n, err := strconv.Atoi(p.answer)
		if err != nil || n < 2 || n > maxSweepRepeat {
			p.setStatus(fmt.Sprintf("give a count from 2 to %d; got %q", maxSweepRepeat, p.answer), true)
			p.asking = false
			return nil
		}
		p.asking = false
		p.setStatus("", false)
		return p.startSweep(n)
	case key.Matches(msg, k.CountErase):
		if len(p.answer) > 0 {
			p.answer = p.answer[:len(p.answer)-1]
		}
		p.promptStatus()
	case key.Matches(msg, k.CountDigit):
		if len(p.answer) < 2 {
			p.answer += msg.String()
		} else {
			p.answer = msg.String()
		}
		p.promptStatus()
	}
	return nil
}

// startSweep runs the study sweep repeat times over.
func (p *loadPage) startSweep(repeat int) tea.Cmd {
	// Where the figures and the sweep do not fit side by side, the sweep
	// comes first while it runs.
	if p.width < figuresMinWidth+sweepMinWidth {
		p.panelAt = 1
	} else {
		p.panelAt = 0
	}
	ctx, cancel := context.WithCancel(p.ctx)
	p.sweep = &sweepState{running: true, repeats: repeat, stop: cancel, in: make(chan experiments.SweepCell, 4), errc: make(chan error, 1)}
	clear(p.settled)
	return startSweep(ctx, p.st, repeat, p.sweep.in, p.sweep.errc)
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

// loadNoun names what v/V changes: users or connections.
func (p *loadPage) loadNoun() string {
	if p.loadModel().Model == "max" {
		return "connections"
	}
	return "users"
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
