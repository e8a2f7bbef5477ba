package tui

import (
	"slices"
	"testing"
)

// A hyphenated word that does not fit moves to the next line whole: no
// line holds a lone hyphen or a word's half.
func TestWrapKeepsHyphenatedWordsWhole(t *testing.T) {
	got := wrap("this step's answers carry no Server-Timing: the twin sends it", 28)
	want := []string{"this step's answers carry no", "Server-Timing: the twin", "sends it"}
	if !slices.Equal(got, want) {
		t.Fatalf("wrap = %q, want %q", got, want)
	}
}
