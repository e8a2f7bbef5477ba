package tui

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// ms formats a latency in milliseconds with about four significant
// digits, so columns stay narrow from microseconds to seconds.
func ms(d time.Duration) string { return msf(float64(d) / float64(time.Millisecond)) }

func msf(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 1000:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// rate formats requests per second.
func rate(r float64) string {
	if r >= 1000 {
		return fmt.Sprintf("%.0f", r)
	}
	return fmt.Sprintf("%.1f", r)
}

// relChange is the relative change from base to v, e.g. "-70%"; "" when
// there is no base to compare against.
func relChange(base, v float64) string {
	if base == 0 || math.IsNaN(base) || math.IsNaN(v) {
		return ""
	}
	p := (v - base) / base * 100
	if math.Abs(p) < 0.5 {
		return "0%"
	}
	return fmt.Sprintf("%+.0f%%", p)
}

// clock formats d as m:ss, or h:mm:ss past an hour.
func clock(d time.Duration) string {
	sec := int(d.Round(time.Second) / time.Second)
	if sec >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", sec/3600, sec/60%60, sec%60)
	}
	return fmt.Sprintf("%d:%02d", sec/60, sec%60)
}

// fit shortens s to at most w cells, cutting between words and marking
// the cut with an ellipsis, so no word is ever shown in part.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	plain := ansi.Strip(s)
	cut := ansi.Truncate(plain, w-1, "")
	if i := strings.LastIndexAny(cut, " ,;:/"); i > 0 {
		cut = cut[:i]
	} else {
		return ""
	}
	return strings.TrimRight(cut, " ,;:/") + "…"
}

// wrap breaks s into lines of at most w cells between words; a word
// longer than a line is cut hard, since it cannot fit any other way.
// Hyphenated words stay whole (Server-Timing, per-request): the word
// wrapper would otherwise put a lone hyphen on a line of its own.
func wrap(s string, w int) []string {
	if w <= 0 {
		return nil
	}
	s = strings.ReplaceAll(s, "-", nbHyphen)
	s = ansi.Hardwrap(ansi.Wordwrap(s, w, ""), w, true)
	return strings.Split(strings.ReplaceAll(s, nbHyphen, "-"), "\n")
}

// nbHyphen is a non-breaking hyphen, one cell wide like "-".
const nbHyphen = "\u2011"

// clip keeps at most n lines of text, the last of them ending in an
// ellipsis at a word boundary when lines were dropped.
func clip(lines []string, n, w int) []string {
	if len(lines) <= n {
		return lines
	}
	if n <= 0 {
		return nil
	}
	out := append([]string{}, lines[:n]...)
	last := out[n-1]
	if ansi.StringWidth(last)+1 <= w {
		out[n-1] = last + "…"
	} else {
		out[n-1] = fit(last+" x", ansi.StringWidth(last))
	}
	return out
}

// padRight pads s with spaces to w cells; it never cuts.
func padRight(s string, w int) string {
	if n := w - ansi.StringWidth(s); n > 0 {
		return s + strings.Repeat(" ", n)
	}
	return s
}

// padLeft right-aligns s in w cells; it never cuts.
func padLeft(s string, w int) string {
	if n := w - ansi.StringWidth(s); n > 0 {
		return strings.Repeat(" ", n) + s
	}
	return s
}

// spread places left and right on one line of w cells, cutting right
// first (between words) when both do not fit.
func spread(left, right string, w int) string {
	lw := ansi.StringWidth(left)
	if lw >= w {
		return fit(left, w)
	}
	room := w - lw - 1
	right = fit(right, room)
	gap := w - lw - ansi.StringWidth(right)
	return left + strings.Repeat(" ", gap) + right
}

// visibleWidth is the number of cells s takes on screen.
func visibleWidth(s string) int { return ansi.StringWidth(s) }
