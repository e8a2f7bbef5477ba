package tui

import (
	"context"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
)

// Entry is one experiment on the home screen.
type Entry struct {
	Name   string // as given to --experiment
	Title  string
	Lesson string // one or two sentences; the home screen shows one line
	// OpenStage starts a load experiment (the twin and its load);
	// OpenRace prepares a race. Exactly one is set. Both may take seconds
	// and run off the UI goroutine; ctx ends when the dashboard quits.
	OpenStage func(ctx context.Context) (Stage, error)
	OpenRace  func(ctx context.Context) (Race, error)
}

// urlEntry is the home screen's last line: a load run against any URL.
var urlEntry = Entry{
	Name:   "url",
	Title:  "custom URL: load any HTTP endpoint",
	Lesson: "Point the generator at your own service; change users or rate live and watch the percentiles move.",
}

// homePage lists the experiments; Enter opens one.
type homePage struct {
	styles  *Styles
	keys    KeyMap
	entries []Entry
	withURL bool
	cursor  int

	prompt    textinput.Model
	prompting bool
	opening   string
	status    string

	open    func(Entry) tea.Cmd
	openURL func(url string) tea.Cmd

	width, height int
}

func newHomePage(styles *Styles, entries []Entry, open func(Entry) tea.Cmd, openURL func(string) tea.Cmd) *homePage {
	h := &homePage{styles: styles, keys: DefaultKeyMap(), entries: entries, open: open, openURL: openURL}
	if openURL != nil {
		h.entries = append(append([]Entry{}, entries...), urlEntry)
		h.withURL = true
	}
	h.prompt = textinput.New()
	h.prompt.Prompt = "URL "
	h.prompt.Placeholder = "http://127.0.0.1:8000/"
	h.prompt.CharLimit = 2048
	return h
}

func (h *homePage) SetSize(w, hgt int) {
	h.width, h.height = w, hgt
	h.prompt.SetWidth(max(w-12, 10))
}

func (h *homePage) Keys() KeyMap {
	k := h.keys
	if h.prompting {
		k.setScreen(screenPrompt)
	} else {
		k.setScreen(screenHome)
		k.Open.SetEnabled(h.opening == "" && len(h.entries) > 0)
	}
	return k
}

func (h *homePage) Header() (string, string, string) {
	return "live performance experiments", "", ""
}

// failed shows why an experiment could not be opened.
func (h *homePage) failed(name string, err error) {
	h.opening = ""
	h.status = "could not open " + name + ": " + err.Error()
}

func (h *homePage) Update(msg tea.Msg) (page, tea.Cmd) {
	kp, ok := msg.(tea.KeyPressMsg)
	if !ok {
		if h.prompting {
			var cmd tea.Cmd
			h.prompt, cmd = h.prompt.Update(msg)
			return h, cmd
		}
		return h, nil
	}
	k := h.Keys()
	if h.prompting {
		switch {
		case key.Matches(kp, k.Submit):
			url := strings.TrimSpace(h.prompt.Value())
			if url == "" {
				h.status = "type the URL to load, e.g. http://127.0.0.1:8000/"
				return h, nil
			}
			h.prompting = false
			h.prompt.Blur()
			h.opening = url
			h.status = ""
			return h, h.openURL(url)
		case key.Matches(kp, k.Cancel):
			h.prompting = false
			h.prompt.Blur()
			return h, nil
		}
		var cmd tea.Cmd
		h.prompt, cmd = h.prompt.Update(msg)
		return h, cmd
	}
	switch {
	case key.Matches(kp, k.Up):
		h.cursor = (h.cursor - 1 + len(h.entries)) % max(len(h.entries), 1)
	case key.Matches(kp, k.Down):
		h.cursor = (h.cursor + 1) % max(len(h.entries), 1)
	case key.Matches(kp, k.Open):
		e := h.entries[h.cursor]
		h.status = ""
		if h.withURL && h.cursor == len(h.entries)-1 {
			h.prompting = true
			return h, h.prompt.Focus()
		}
		h.opening = e.Name
		return h, h.open(e)
	}
	return h, nil
}

func (h *homePage) View() string {
	st := h.styles
	w := h.width
	var lines []string
	nameW := 9
	for i, e := range h.entries {
		marker := "  "
		name := padRight(e.Name, nameW)
		title := e.Title
		if i == h.cursor {
			marker = st.Selected.Render("▸ ")
			name = st.Selected.Render(name)
			title = st.Value.Render(fit(title, w-6-nameW-2))
		} else {
			title = fit(title, w-6-nameW-2)
		}
		lines = append(lines, marker+name+title)
		lines = append(lines, strings.Repeat(" ", 2+nameW)+st.Dim.Render(fit(e.Lesson, w-6-nameW-2)))
	}
	if len(h.entries) == 0 {
		lines = append(lines, st.Dim.Render("no experiments in this build"))
	}
	listH := min(len(lines)+2, h.height)
	list := st.box("experiments", lines, w, listH)

	var detail []string
	switch {
	case h.prompting:
		detail = append(detail, h.prompt.View(), "",
			st.Dim.Render(fit("enter starts the load against it; the load keys change it live", w-4)))
	case h.opening != "":
		detail = append(detail, st.Pending.Render(fit("opening "+h.opening+"…", w-4)))
	case len(h.entries) > 0:
		detail = wrap(h.entries[h.cursor].Lesson, w-4)
	}
	if h.status != "" {
		detail = append(detail, "")
		for _, l := range wrap(h.status, w-4) {
			detail = append(detail, st.Bad.Render(l))
		}
	}
	rest := h.height - listH
	if rest < 3 {
		return block(strings.Split(list, "\n"), w, h.height)
	}
	title := "lesson"
	if h.prompting {
		title = "custom URL"
	}
	detailH := min(len(detail)+2, rest)
	box := st.box(title, clip(detail, detailH-2, w-4), w, detailH)
	return block(strings.Split(stack(list, box), "\n"), w, h.height)
}
