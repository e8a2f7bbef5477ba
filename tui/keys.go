package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"

	"perflab/experiments"
)

// KeyMap is every key the dashboard answers. Screens enable the bindings
// that apply to them and their state; a disabled binding neither matches
// nor shows in the help, so the help line always lists exactly the keys
// that work.
type KeyMap struct {
	screen screen

	Up, Down, Open key.Binding
	Submit, Cancel key.Binding // the custom URL prompt

	// Knobs step the twin's knobs: the knob's key to the next value,
	// shifted to the previous one.
	Knobs []KnobKeys
	// More and Less step the load: users or connections (v/V), or the
	// open model's rate (r/R).
	More, Less key.Binding
	Pause      key.Binding
	Baseline   key.Binding
	Sweep      key.Binding
	// SweepRepeat asks how many times to repeat the study sweep; the
	// Count keys answer it.
	SweepRepeat                                      key.Binding
	CountDigit, CountErase, CountSubmit, CountCancel key.Binding
	Panels                                           key.Binding

	// Rerun races the strategies all at once, RerunInTurn one after
	// another, each with the machine to itself.
	Rerun, RerunInTurn      key.Binding
	MoreImages, FewerImages key.Binding
	ScaleDown, ScaleUp      key.Binding

	Back, Help, Quit key.Binding
}

// KnobKeys are the bindings of one knob.
type KnobKeys struct {
	Knob       *experiments.Knob
	Next, Prev key.Binding
}

// screen selects which bindings the help lists.
type screen int

const (
	screenHome screen = iota
	screenPrompt
	screenLoad
	screenRace
)

// DefaultKeyMap returns the bindings with every screen-specific key
// disabled; screens enable theirs.
func DefaultKeyMap() KeyMap {
	k := KeyMap{
		Up:     key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "select")),
		Down:   key.NewBinding(key.WithKeys("down", "j")),
		Open:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open")),
		Submit: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "start load")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),

		More:     key.NewBinding(key.WithKeys("v"), key.WithHelp("v/V", "users")),
		Less:     key.NewBinding(key.WithKeys("V")),
		Pause:    key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "pause")),
		Baseline: key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "baseline")),
		Sweep:    key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "seed sweep")),

		SweepRepeat: key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "repeated sweep")),
		CountDigit:  key.NewBinding(key.WithKeys("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"), key.WithHelp("0-9", "count")),
		CountErase:  key.NewBinding(key.WithKeys("backspace"), key.WithHelp("⌫", "erase")),
		CountSubmit: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "start")),
		CountCancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		Panels:      key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "panels")),

		Rerun:       key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "all at once")),
		RerunInTurn: key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "one by one")),
		MoreImages:  key.NewBinding(key.WithKeys("+", "="), key.WithHelp("+/-", "images")),
		FewerImages: key.NewBinding(key.WithKeys("-")),
		ScaleDown:   key.NewBinding(key.WithKeys("t"), key.WithHelp("t/T", "time-scale")),
		ScaleUp:     key.NewBinding(key.WithKeys("T")),

		Back: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "home")),
		Help: key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "more")),
		Quit: key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
	k.setScreen(screenHome)
	return k
}

// setScreen enables the bindings of screen s and disables the others;
// the screen then narrows them down to its state.
func (k *KeyMap) setScreen(s screen) {
	k.screen = s
	on := func(enabled bool, bs ...*key.Binding) {
		for _, b := range bs {
			b.SetEnabled(enabled)
		}
	}
	on(s == screenHome, &k.Up, &k.Down, &k.Open)
	on(s == screenPrompt, &k.Submit, &k.Cancel)
	on(s == screenLoad, &k.More, &k.Less, &k.Pause, &k.Baseline, &k.Sweep, &k.SweepRepeat, &k.Panels)
	on(false, &k.CountDigit, &k.CountErase, &k.CountSubmit, &k.CountCancel) // the load screen turns them on while it asks
	on(s == screenRace, &k.Rerun, &k.RerunInTurn, &k.MoreImages, &k.FewerImages, &k.ScaleDown, &k.ScaleUp)
	for i := range k.Knobs {
		on(s == screenLoad, &k.Knobs[i].Next, &k.Knobs[i].Prev)
	}
	on(s == screenLoad || s == screenRace, &k.Back)
	on(s != screenPrompt, &k.Help, &k.Quit)
}

// setKnobs binds the keys of a twin's knobs: the knob's key steps forward,
// its upper case backward when the knob has more than two values.
func (k *KeyMap) setKnobs(knobs []experiments.KnobValue) {
	k.Knobs = k.Knobs[:0]
	for _, kv := range knobs {
		kk := KnobKeys{Knob: kv.Knob}
		help := kv.Knob.Key
		if len(kv.Knob.Values) > 2 {
			help += "/" + strings.ToUpper(kv.Knob.Key)
			kk.Prev = key.NewBinding(key.WithKeys(strings.ToUpper(kv.Knob.Key)))
		} else {
			kk.Prev = key.NewBinding(key.WithDisabled())
		}
		kk.Next = key.NewBinding(key.WithKeys(kv.Knob.Key), key.WithHelp(help, kv.Knob.Name))
		k.Knobs = append(k.Knobs, kk)
	}
}

// ShortHelp lists the keys of the current screen, the ones that are
// always there last.
func (k KeyMap) ShortHelp() []key.Binding {
	var bs []key.Binding
	switch k.screen {
	case screenHome:
		bs = []key.Binding{k.Up, k.Open}
	case screenPrompt:
		return []key.Binding{k.Submit, k.Cancel}
	case screenLoad:
		for _, kk := range k.Knobs {
			bs = append(bs, kk.Next)
		}
		if k.CountSubmit.Enabled() {
			return []key.Binding{k.CountDigit, k.CountErase, k.CountSubmit, k.CountCancel, k.Help, k.Quit}
		}
		bs = append(bs, k.More, k.Pause, k.Baseline, k.Sweep, k.SweepRepeat, k.Panels)
	case screenRace:
		bs = []key.Binding{k.Rerun, k.RerunInTurn, k.MoreImages, k.ScaleDown}
	}
	return append(bs, k.Back, k.Help, k.Quit)
}

// FullHelp groups the same keys in columns: what changes the target,
// what changes the view, and moving about.
func (k KeyMap) FullHelp() [][]key.Binding {
	var knobs []key.Binding
	for _, kk := range k.Knobs {
		knobs = append(knobs, kk.Next)
	}
	switch k.screen {
	case screenLoad:
		if k.CountSubmit.Enabled() {
			return [][]key.Binding{{k.CountDigit, k.CountErase}, {k.CountSubmit, k.CountCancel}, {k.Help, k.Quit}}
		}
		return [][]key.Binding{knobs, {k.More, k.Pause, k.Sweep, k.SweepRepeat}, {k.Baseline, k.Panels}, {k.Back, k.Help, k.Quit}}
	case screenRace:
		return [][]key.Binding{{k.Rerun, k.RerunInTurn}, {k.MoreImages, k.ScaleDown}, {k.Back, k.Help, k.Quit}}
	}
	return [][]key.Binding{k.ShortHelp()}
}
