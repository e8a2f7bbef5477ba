package tui

import (
	"image/color"

	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
	"github.com/guptarohit/asciigraph"
)

// Styles are every look the dashboard uses, built for the terminal's
// background. Colours come from the 256-colour palette in pairs chosen to
// keep contrast on a light and on a dark background; under NO_COLOR the
// program strips them and the layout alone carries the meaning (the
// percentile lines are ordered, p99 on top).
type Styles struct {
	IsDark bool
	// NoColor is set when the terminal shows no colour, so the charts
	// skip their colour codes altogether.
	NoColor bool

	Brand      lipgloss.Style
	Title      lipgloss.Style
	Dim        lipgloss.Style
	Key        lipgloss.Style
	Value      lipgloss.Style
	Pending    lipgloss.Style
	Good       lipgloss.Style
	Bad        lipgloss.Style
	Warn       lipgloss.Style
	Selected   lipgloss.Style
	Border     lipgloss.Style
	PanelTitle lipgloss.Style
	Note       lipgloss.Style
	BarDone    lipgloss.Style
	BarLeft    lipgloss.Style

	// Series colour the chart lines and their legends.
	P50, P90, P99, RPS lipgloss.Style
	Chart              ChartColors

	Help help.Styles
}

// ChartColors are the chart's colours as asciigraph takes them; Default
// (0) leaves a part uncoloured.
type ChartColors struct {
	P50, P90, P99, RPS, Axis asciigraph.AnsiColor
}

// palette is one colour for a light and one for a dark background, as
// 256-colour indices.
type palette struct{ light, dark uint8 }

var (
	colBrand   = palette{30, 86}
	colDim     = palette{242, 245}
	colKey     = palette{130, 215}
	colPending = palette{136, 221}
	colGood    = palette{28, 114}
	colBad     = palette{160, 203}
	colWarn    = palette{166, 214}
	colBorder  = palette{250, 240}
	colP50     = palette{26, 75}
	colP90     = palette{130, 214}
	colP99     = palette{160, 203}
	colRPS     = palette{28, 114}
	colAxis    = palette{246, 240}
)

func (p palette) pick(isDark bool) uint8 {
	if isDark {
		return p.dark
	}
	return p.light
}

func (p palette) color(isDark bool) color.Color { return lipgloss.ANSIColor(p.pick(isDark)) }

func (p palette) chart(isDark bool) asciigraph.AnsiColor { return asciigraph.AnsiColor(p.pick(isDark)) }

// DefaultStyles builds the dashboard's styles for a dark or light
// terminal background.
func DefaultStyles(isDark bool) *Styles {
	fg := func(p palette) lipgloss.Style { return lipgloss.NewStyle().Foreground(p.color(isDark)) }
	s := &Styles{
		IsDark:     isDark,
		Brand:      fg(colBrand).Bold(true),
		Title:      lipgloss.NewStyle().Bold(true),
		Dim:        fg(colDim),
		Key:        fg(colKey).Bold(true),
		Value:      lipgloss.NewStyle().Bold(true),
		Pending:    fg(colPending).Italic(true),
		Good:       fg(colGood),
		Bad:        fg(colBad).Bold(true),
		Warn:       fg(colWarn).Bold(true),
		Selected:   fg(colBrand).Bold(true),
		Border:     fg(colBorder),
		PanelTitle: lipgloss.NewStyle().Bold(true),
		Note:       fg(colWarn).Bold(true),
		BarDone:    fg(colBrand),
		BarLeft:    fg(colBorder),
		P50:        fg(colP50),
		P90:        fg(colP90),
		P99:        fg(colP99),
		RPS:        fg(colRPS),
		Chart: ChartColors{
			P50: colP50.chart(isDark), P90: colP90.chart(isDark), P99: colP99.chart(isDark),
			RPS: colRPS.chart(isDark), Axis: colAxis.chart(isDark),
		},
	}
	s.Help = help.DefaultStyles(isDark)
	s.Help.ShortKey = s.Key
	s.Help.FullKey = s.Key
	s.Help.ShortDesc = s.Dim
	s.Help.FullDesc = s.Dim
	return s
}

// withoutColor drops the chart's colour codes; the program strips the
// others itself.
func (s *Styles) withoutColor() *Styles {
	c := *s
	c.NoColor = true
	c.Chart = ChartColors{}
	return &c
}
