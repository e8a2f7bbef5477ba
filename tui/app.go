// Package tui is perflab's dashboard: a home screen listing the
// experiments, a load screen over a Stage (live charts, figures, the
// generator's health; with a TwinStage also the knobs, the server's
// figures and the study's) and a race screen over a Race. It only renders
// and sends keys: the load, the twin and sweeps live in experiments, which
// implement the small Stage, TwinStage and Race interfaces; the screens
// read engine snapshots.
package tui

import (
	"context"
	"errors"
	"io"
	"log"
	"perflab/engine/threshold"
	"slices"
	"strings"
	"sync"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
)

// Minimum terminal size; below it the dashboard says so instead of
// drawing panels over each other.
const (
	MinWidth  = 64
	MinHeight = 20
)

// Config is what the dashboard shows and how it opens things.
type Config struct {
	// Entries are the home screen's experiments, in order.
	Entries []Entry
	// OpenURL builds a stage against a URL typed on the home screen; nil
	// leaves the custom URL line out.
	OpenURL func(ctx context.Context, url string) (Stage, error)
	// Stage, when set, is opened at once on the load screen with no home
	// screen behind it (perflab --url). The dashboard tells stages and
	// races apart by identity, so implement them on pointer types.
	Stage Stage
	// Start, when set, names the entry opened at once (perflab
	// --experiment NAME); esc still leads home.
	Start string
	// Thresholds are held against every load's run so far, shown live in
	// the figures panel.
	Thresholds []threshold.Threshold
}

// App is the root model: a header, the active page and the help line.
type App struct {
	cfg     Config
	ctx     context.Context
	open    *openTracker
	styles  *Styles
	isDark  bool
	noColor bool
	help    help.Model

	width, height int
	home          *homePage
	page          page
	showAll       bool
}

// New returns the dashboard's root model. ctx bounds everything it opens.
func New(ctx context.Context, cfg Config) *App {
	a := &App{cfg: cfg, ctx: ctx, open: &openTracker{}, isDark: true, help: help.New()}
	a.styles = DefaultStyles(true)
	a.help.Styles = a.styles.Help
	var openURL func(string) tea.Cmd
	if cfg.OpenURL != nil {
		openURL = a.openURLCmd
	}
	a.home = newHomePage(a.styles, cfg.Entries, a.openCmd, openURL)
	a.page = a.home
	return a
}

// Init asks the terminal for its background, and opens what the command
// line named.
func (a *App) Init() tea.Cmd {
	cmds := []tea.Cmd{tea.RequestBackgroundColor}
	switch {
	case a.cfg.Stage != nil:
		st := a.cfg.Stage
		a.open.add(st)
		cmds = append(cmds, func() tea.Msg { return openedMsg{name: "url", stage: st, info: describeStage(st), direct: true} })
	case a.cfg.Start != "":
		i := slices.IndexFunc(a.home.entries, func(e Entry) bool { return e.Name == a.cfg.Start })
		if i < 0 {
			a.home.status = "there is no experiment " + a.cfg.Start + " here; pick one below"
			break
		}
		a.home.cursor = i
		a.home.opening = a.cfg.Start
		cmds = append(cmds, a.openCmd(a.home.entries[i]))
	}
	return tea.Batch(cmds...)
}

// openedMsg carries a stage or race opened off the UI goroutine.
type openedMsg struct {
	name   string
	stage  Stage
	info   stageInfo
	race   Race
	setup  RaceSetup
	err    error
	direct bool // no home screen behind it
}

// closedMsg reports a stage or race closed after leaving its screen.
type closedMsg struct{ err error }

func (a *App) openCmd(e Entry) tea.Cmd {
	ctx, tr := a.ctx, a.open
	return func() tea.Msg {
		if !tr.begin() {
			return nil
		}
		defer tr.end()
		switch {
		case e.OpenStage != nil:
			st, err := e.OpenStage(ctx)
			if err != nil {
				return openedMsg{name: e.Name, err: err}
			}
			tr.add(st)
			return openedMsg{name: e.Name, stage: st, info: describeStage(st)}
		case e.OpenRace != nil:
			r, err := e.OpenRace(ctx)
			if err != nil {
				return openedMsg{name: e.Name, err: err}
			}
			tr.add(r)
			return openedMsg{name: e.Name, race: r, setup: r.Setup()}
		}
		return openedMsg{name: e.Name, err: errors.New("this build cannot open it")}
	}
}

func (a *App) openURLCmd(url string) tea.Cmd {
	ctx, tr, open := a.ctx, a.open, a.cfg.OpenURL
	return func() tea.Msg {
		if !tr.begin() {
			return nil
		}
		defer tr.end()
		st, err := open(ctx, url)
		if err != nil {
			return openedMsg{name: url, err: err}
		}
		tr.add(st)
		return openedMsg{name: url, stage: st, info: describeStage(st)}
	}
}

func (a *App) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		a.width, a.height = msg.Width, msg.Height
		a.resize()
		return a, nil
	case tea.BackgroundColorMsg:
		a.isDark = msg.IsDark()
		a.restyle()
		return a, nil
	case tea.ColorProfileMsg:
		a.noColor = msg.Profile == colorprofile.NoTTY || msg.Profile == colorprofile.ASCII
		a.restyle()
		return a, nil
	case openedMsg:
		return a, a.opened(msg)
	case closedMsg:
		if msg.err != nil {
			a.home.status = "stopping it left an error: " + msg.err.Error()
		}
		return a, nil
	case tea.KeyPressMsg:
		if msg.String() == "ctrl+c" {
			return a, tea.Quit
		}
		k := a.page.Keys()
		switch {
		case key.Matches(msg, k.Quit):
			return a, tea.Quit
		case key.Matches(msg, k.Help):
			a.showAll = !a.showAll
			a.resize()
			return a, nil
		case key.Matches(msg, k.Back):
			return a, a.back()
		}
	}
	var cmd tea.Cmd
	a.page, cmd = a.page.Update(msg)
	a.resize()
	return a, cmd
}

func (a *App) opened(msg openedMsg) tea.Cmd {
	if msg.err != nil {
		a.home.failed(msg.name, msg.err)
		return nil
	}
	a.home.opening = ""
	canHome := !msg.direct
	switch {
	case msg.stage != nil:
		p := newLoadPage(a.ctx, msg.stage, msg.info, a.styles, canHome)
		p.thresholds = a.cfg.Thresholds
		a.page = p
		a.resize()
		return p.init()
	case msg.race != nil:
		p := newRacePage(a.ctx, msg.race, msg.setup, a.styles, canHome)
		a.page = p
		a.resize()
		return p.init()
	}
	return nil
}

// back leaves a load or race screen for home, closing what it opened off
// the UI goroutine (a twin takes a moment to stop).
func (a *App) back() tea.Cmd {
	var c io.Closer
	switch p := a.page.(type) {
	case *loadPage:
		p.close()
		c = p.st
	case *racePage:
		p.close()
		c = p.race
	default:
		return nil
	}
	a.page = a.home
	a.resize()
	tr := a.open
	return func() tea.Msg { return closedMsg{err: tr.close(c)} }
}

func (a *App) restyle() {
	s := DefaultStyles(a.isDark)
	if a.noColor {
		s = s.withoutColor()
	}
	// Pages hold the same *Styles, so updating it in place restyles them all.
	*a.styles = *s
	a.help.Styles = a.styles.Help
}

// resize gives the page what the header and the help line leave. The
// help depends on the page's state, which depends on its size (whether
// every panel fits, say), so this settles on a size that agrees with both.
func (a *App) resize() {
	a.help.ShowAll = a.showAll
	helpH := strings.Count(a.helpView(), "\n") + 1
	for range 3 {
		a.page.SetSize(a.width, max(a.height-1-helpH, 0))
		next := strings.Count(a.helpView(), "\n") + 1
		if next == helpH {
			return
		}
		helpH = next
	}
}

func (a *App) helpView() string {
	k := a.page.Keys()
	w := a.width - 1
	h := a.help
	h.SetWidth(0) // the lines are fitted here
	if a.showAll {
		k.Help.SetHelp("?", "less")
		return fullHelp(h, k.FullHelp(), w)
	}
	// Moving about, help and quit always show; the screen's own keys as
	// room allows, an ellipsis saying ? has the rest.
	var main, tail []key.Binding
	for _, b := range k.ShortHelp() {
		switch {
		case !b.Enabled():
		case b.Help() == k.Help.Help() || b.Help() == k.Quit.Help() || b.Help() == k.Back.Help():
			tail = append(tail, b)
		default:
			main = append(main, b)
		}
	}
	end := h.ShortHelpView(tail)
	sep := h.Styles.ShortSeparator.Render(h.ShortSeparator)
	room := w - visibleWidth(end) - visibleWidth(sep)
	n, used := 0, 0
	for _, b := range main {
		iw := visibleWidth(b.Help().Key) + 1 + visibleWidth(b.Help().Desc)
		if n > 0 {
			iw += visibleWidth(sep)
		}
		if used+iw > room {
			break
		}
		used += iw
		n++
	}
	if n < len(main) {
		// Make room for the ellipsis.
		for n > 0 && used+2 > room {
			n--
			used = visibleWidth(h.ShortHelpView(main[:n]))
		}
	}
	start := h.ShortHelpView(main[:n])
	if n < len(main) {
		start += " " + h.Styles.Ellipsis.Render(h.Ellipsis)
	}
	if start == "" || end == "" {
		return start + end
	}
	return start + sep + end
}

// fullHelp lays the help's columns side by side, wrapping to another row
// of columns when the terminal is too narrow for all of them.
func fullHelp(h help.Model, groups [][]key.Binding, w int) string {
	var rows []string
	var row [][]key.Binding
	for _, g := range groups {
		try := append(append([][]key.Binding{}, row...), g)
		if len(row) > 0 && visibleWidth(widestLine(h.FullHelpView(try))) > w {
			rows = append(rows, h.FullHelpView(row))
			row = [][]key.Binding{g}
			continue
		}
		row = try
	}
	if len(row) > 0 {
		rows = append(rows, h.FullHelpView(row))
	}
	return strings.Join(rows, "\n")
}

// widestLine returns the widest line of a block.
func widestLine(block string) string {
	widest := ""
	for _, l := range strings.Split(block, "\n") {
		if visibleWidth(l) > visibleWidth(widest) {
			widest = l
		}
	}
	return widest
}

func (a *App) View() tea.View {
	var v tea.View
	v.AltScreen = true
	v.WindowTitle = "perflab"
	if a.width == 0 {
		return v
	}
	if a.width < MinWidth || a.height < MinHeight {
		v.SetContent(a.tooSmall())
		return v
	}
	title, info, right := a.page.Header()
	st := a.styles
	left := st.Brand.Render(" perflab ") + " " + st.Title.Render(title)
	head := left
	if room := a.width - visibleWidth(left) - visibleWidth(right) - 4; room > 8 && info != "" {
		head += "   " + st.Dim.Render(fit(info, room))
	}
	head = spread(head, st.Value.Render(right)+" ", a.width)
	helpLines := strings.Split(a.helpView(), "\n")
	for i := range helpLines {
		helpLines[i] = " " + helpLines[i]
	}
	// The page and the help were sized to fill the terminal exactly; should
	// they ever disagree, the screen still keeps the terminal's shape.
	v.SetContent(block(strings.Split(head+"\n"+a.page.View()+"\n"+strings.Join(helpLines, "\n"), "\n"), a.width, a.height))
	return v
}

func (a *App) tooSmall() string {
	st := a.styles
	lines := []string{
		st.Note.Render("terminal too small"),
		"",
		fit("perflab needs at least 64×20 cells;", a.width),
		fit("enlarge the window or shrink the font.", a.width),
		"",
		st.Dim.Render("q quits"),
	}
	pad := max((a.height-len(lines))/2, 0)
	out := make([]string, 0, a.height)
	for i := 0; i < pad; i++ {
		out = append(out, "")
	}
	for _, l := range lines {
		out = append(out, padLeft(l, (a.width+visibleWidth(l))/2))
	}
	return block(out, a.width, a.height)
}

// Close closes every stage and race the dashboard opened, once any
// still opening has finished. Run calls it; a caller that drives the
// model itself (a test) must.
func (a *App) Close() error { return a.open.closeAll() }

// Run shows the dashboard until the presenter quits, then stops every
// load and twin it started before returning.
func Run(ctx context.Context, cfg Config, opts ...tea.ProgramOption) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A library logging through the standard logger would write over the
	// screen; nothing it says is worth that.
	prev := log.Writer()
	log.SetOutput(io.Discard)
	defer log.SetOutput(prev)

	app := New(ctx, cfg)
	_, err := tea.NewProgram(app, opts...).Run()
	cancel()
	if cerr := app.Close(); err == nil {
		err = cerr
	}
	return err
}

// openTracker remembers what the dashboard opened so all of it is closed
// on the way out, including something still being opened when the
// presenter quit.
type openTracker struct {
	mu      sync.Mutex
	items   []io.Closer
	closing bool
	opening sync.WaitGroup
}

// begin reports whether an open may start; false once closing began.
func (t *openTracker) begin() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return false
	}
	t.opening.Add(1)
	return true
}

func (t *openTracker) end() { t.opening.Done() }

func (t *openTracker) add(c io.Closer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.items = append(t.items, c)
}

// close closes one item and forgets it.
func (t *openTracker) close(c io.Closer) error {
	t.mu.Lock()
	i := slices.Index(t.items, c)
	if i < 0 {
		t.mu.Unlock()
		return nil
	}
	t.items = slices.Delete(t.items, i, i+1)
	t.mu.Unlock()
	return c.Close()
}

func (t *openTracker) closeAll() error {
	t.mu.Lock()
	t.closing = true
	t.mu.Unlock()
	t.opening.Wait()
	t.mu.Lock()
	items := t.items
	t.items = nil
	t.mu.Unlock()
	var errs []error
	for _, c := range items {
		if err := c.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
