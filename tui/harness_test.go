package tui

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"perflab/engine"
)

var update = flag.Bool("update", false, "rewrite the golden screens in testdata")

// harness drives the root model as the program would: it runs every
// command on its own goroutine and feeds the messages back through
// Update, one at a time, on the test's goroutine.
type harness struct {
	t    *testing.T
	app  *App
	msgs chan tea.Msg
	quit bool
}

func newHarness(t *testing.T, cfg Config, w, h int) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	hn := &harness{t: t, app: New(ctx, cfg), msgs: make(chan tea.Msg, 1024)}
	t.Cleanup(func() {
		cancel()
		if err := hn.app.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	hn.update(tea.WindowSizeMsg{Width: w, Height: h})
	hn.run(hn.app.Init())
	return hn
}

func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() { h.msgs <- cmd() }()
}

func (h *harness) update(msg tea.Msg) {
	switch msg := msg.(type) {
	case nil:
		return
	case tea.BatchMsg:
		for _, c := range msg {
			h.run(c)
		}
		return
	case tea.QuitMsg:
		h.quit = true
		return
	}
	_, cmd := h.app.Update(msg)
	h.run(cmd)
}

// await handles messages as they come until one satisfies done.
func (h *harness) await(what string, done func(tea.Msg) bool) {
	h.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case msg := <-h.msgs:
			h.update(msg)
			if done(msg) {
				return
			}
		case <-deadline:
			h.t.Fatalf("no %s within 5 s; screen:\n%s", what, h.screen())
		}
	}
}

// drain handles whatever messages are ready without waiting for more.
func (h *harness) drain() {
	for {
		select {
		case msg := <-h.msgs:
			h.update(msg)
		case <-time.After(20 * time.Millisecond):
			return
		}
	}
}

func is[T tea.Msg](msg tea.Msg) bool {
	_, ok := msg.(T)
	return ok
}

// awaitCells waits until the sweep has delivered n cells.
func (h *harness) awaitCells(n int) {
	h.t.Helper()
	seen := 0
	h.await("sweep cells", func(m tea.Msg) bool {
		if is[sweepCellMsg](m) {
			seen++
		}
		return seen == n
	})
}

func (h *harness) awaitOpened() {
	h.t.Helper()
	h.await("opened stage", is[openedMsg])
}

// frame delivers a snapshot through the stage and waits for the screen
// to take it.
func (h *harness) frame(f interface{ feed(*engine.Snapshot) }, snap *engine.Snapshot) {
	h.t.Helper()
	f.feed(snap)
	h.await("frame", is[frameMsg])
}

func (h *harness) press(keys ...string) {
	for _, k := range keys {
		h.update(keyPress(k))
	}
}

func keyPress(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)[0]
	if unicode.IsUpper(r) {
		return tea.KeyPressMsg{Code: unicode.ToLower(r), ShiftedCode: r, Text: k, Mod: tea.ModShift}
	}
	return tea.KeyPressMsg{Code: r, Text: k}
}

// screen is the view as the terminal shows it, colours stripped.
func (h *harness) screen() string { return ansi.Strip(h.app.View().Content) }

// golden compares the screen with testdata/NAME.golden, or rewrites it
// under -update. It also checks the screen's shape: exactly the
// terminal's size, no line wider.
func (h *harness) golden(name string) {
	h.t.Helper()
	got := h.screen()
	checkShape(h.t, got, h.app.width, h.app.height)
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			h.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			h.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		h.t.Fatalf("%v (run go test ./tui -update to create it)", err)
	}
	if got != string(want) {
		h.t.Errorf("%s differs from %s (go test ./tui -update rewrites it)\ngot:\n%s\nwant:\n%s", name, path, got, want)
	}
}

func checkShape(t *testing.T, screen string, w, h int) {
	t.Helper()
	lines := strings.Split(screen, "\n")
	if len(lines) != h {
		t.Errorf("screen has %d lines, terminal %d", len(lines), h)
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Errorf("line %d is %d cells wide, terminal %d: %q", i+1, lw, w, l)
		}
	}
}
