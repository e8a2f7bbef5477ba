package tui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// page is one screen below the header and above the help line. The root
// routes messages to the active page, gives it its size, and renders its
// header and keys.
type page interface {
	Update(msg tea.Msg) (page, tea.Cmd)
	// View renders exactly the size last given to SetSize.
	View() string
	SetSize(width, height int)
	// Header is the page's title, a line about its state, and what goes
	// on the right (progress, state).
	Header() (title, info, right string)
	Keys() KeyMap
}

// box draws a rounded frame of exactly w×h cells with title set in its
// top edge and lines inside, one cell of padding each side. Lines are
// expected to fit; any that do not are cut at the frame rather than
// pushing it out of shape.
func (s *Styles) box(title string, lines []string, w, h int) string {
	if w < 4 || h < 2 {
		return blank(w, h)
	}
	inner := w - 4
	var b strings.Builder
	title = fit(title, w-6)
	used := 2
	if title != "" {
		used += ansi.StringWidth(title) + 2
	}
	b.WriteString(s.Border.Render("╭─"))
	if title != "" {
		b.WriteString(" " + s.PanelTitle.Render(title) + " ")
	}
	b.WriteString(s.Border.Render(strings.Repeat("─", max(0, w-used-1)) + "╮"))
	side := s.Border.Render("│")
	for i := 0; i < h-2; i++ {
		line := ""
		if i < len(lines) {
			line = lines[i]
		}
		if ansi.StringWidth(line) > inner {
			line = ansi.Truncate(line, inner, "")
		}
		b.WriteString("\n" + side + " " + padRight(line, inner) + " " + side)
	}
	b.WriteString("\n" + s.Border.Render("╰"+strings.Repeat("─", w-2)+"╯"))
	return b.String()
}

// blank is w×h spaces.
func blank(w, h int) string {
	if w <= 0 || h <= 0 {
		return ""
	}
	line := strings.Repeat(" ", w)
	lines := make([]string, h)
	for i := range lines {
		lines[i] = line
	}
	return strings.Join(lines, "\n")
}

// block pads or cuts lines to exactly w×h cells.
func block(lines []string, w, h int) string {
	out := make([]string, h)
	for i := range out {
		line := ""
		if i < len(lines) {
			line = lines[i]
		}
		if ansi.StringWidth(line) > w {
			line = ansi.Truncate(line, w, "")
		}
		out[i] = padRight(line, w)
	}
	return strings.Join(out, "\n")
}

// beside joins blocks of equal height left to right.
func beside(blocks ...string) string {
	var rows [][]string
	n := 0
	for _, b := range blocks {
		if b == "" {
			continue
		}
		lines := strings.Split(b, "\n")
		rows = append(rows, lines)
		n = max(n, len(lines))
	}
	var out strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			out.WriteByte('\n')
		}
		for _, lines := range rows {
			if i < len(lines) {
				out.WriteString(lines[i])
			}
		}
	}
	return out.String()
}

// stack joins blocks top to bottom, skipping empty ones.
func stack(blocks ...string) string {
	var parts []string
	for _, b := range blocks {
		if b != "" {
			parts = append(parts, b)
		}
	}
	return strings.Join(parts, "\n")
}
