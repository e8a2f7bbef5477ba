// Package htmlreport makes the report page of recorded sessions: load
// runs (an experiment's, or against a URL) and Fishial races, one section
// per file, from the CSV that --record wrote. `perflab report` reads the
// files; the "html" output (--report FILE) builds the same page from a
// session's events as it ends, by writing that CSV into memory and
// reading it back, so the two pages cannot differ.
package htmlreport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"perflab/engine/report"
	"perflab/engine/report/page"
	"perflab/experiments"
	"perflab/experiments/fishial"
)

// ErrNotRecorded says a file is not a CSV that perflab wrote.
var ErrNotRecorded = errors.New("not a CSV that perflab --record wrote")

// Recorded is one recorded file read back: a load session or a race.
type Recorded struct {
	// Name is the file's path, or "" for the session that is writing
	// the page; the page calls it by its base name.
	Name string
	load *report.Recording
	race *fishial.RecordedRace
}

// Read reads a recorded CSV of either kind, telling them apart by their
// header. A file cut short is read as far as it goes (CutShort says
// why); an empty file, one with a header and no rows, or one perflab did
// not write is an error.
func Read(name string, r io.Reader) (*Recorded, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	f := &Recorded{Name: name}
	header, _, _ := bytes.Cut(data, []byte("\n"))
	switch h := string(bytes.TrimSpace(header)); {
	case h == "" && len(bytes.TrimSpace(data)) == 0:
		return nil, report.ErrEmpty
	case strings.HasPrefix(h, strings.Join(report.Columns[:23], ",")):
		f.load, err = report.ReadRecording(bytes.NewReader(data))
	case strings.HasPrefix(h, strings.Join(fishial.Columns[:9], ",")):
		f.race, err = fishial.ReadRace(bytes.NewReader(data))
	default:
		if len(h) > 60 {
			h = h[:60] + "..."
		}
		return nil, fmt.Errorf("%w: its first line is %q, not the header of a load run (kind,run,elapsed_s,...) or of a Fishial race (kind,strategy,images,...)", ErrNotRecorded, h)
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// CutShort says why the file looks cut short; empty when it does not.
func (f *Recorded) CutShort() []string {
	if f.load != nil {
		return f.load.CutShort
	}
	return f.race.CutShort
}

// Section is the file's part of the page.
func (f *Recorded) Section() *page.Section {
	name := filepath.Base(f.Name)
	if f.Name == "" {
		name = ""
	}
	prefix := page.Slug(strings.TrimSuffix(name, filepath.Ext(name)))
	if f.race != nil {
		return fishial.Section(titled(name, "the Fishial race"), prefixed(prefix, "fishial"), f.race)
	}
	what := "load runs against a URL"
	if e, ok := experiments.ByName(f.load.Runs[0].Experiment); ok {
		what = "the " + e.Name + " experiment"
	}
	return experiments.LoadSection(titled(name, what), prefixed(prefix, "load"), f.load)
}

func titled(name, what string) string {
	if name == "" {
		return strings.ToUpper(what[:1]) + what[1:]
	}
	return name + ": " + what
}

func prefixed(prefix, def string) string {
	if prefix == "" {
		return def
	}
	return prefix
}

// Page is the report of the files, in order.
func Page(files []*Recorded) *page.Page {
	p := &page.Page{Title: "perflab report"}
	var names []string
	for _, f := range files {
		if f.Name != "" {
			names = append(names, filepath.Base(f.Name))
		}
		p.Sections = append(p.Sections, f.Section())
	}
	if len(names) > 0 {
		p.Title += ": " + strings.Join(names, ", ")
		p.Lines = append(p.Lines, "Made by perflab report from "+strings.Join(names, ", ")+".")
	}
	if len(files) == 0 {
		p.Lines = append(p.Lines, "Nothing was recorded: the session ended before its first run.")
	}
	return p
}
