package htmlreport

import (
	"bytes"
	"errors"
	"fmt"

	"perflab/engine/report"
	"perflab/experiments/fishial"
)

func init() {
	report.Register(report.Format{Name: "html", Help: "the report page (charts and tables) written whole when the session closes",
		New: func(d report.Dest) (report.Output, error) {
			if d.Path == "" {
				return nil, fmt.Errorf("the html output replaces a file whole; give it a path")
			}
			o := &output{path: d.Path}
			var err error
			if o.load, err = report.New("csv", report.Dest{W: &o.loadCSV, KnobColumns: d.KnobColumns, Thresholds: d.Thresholds}); err != nil {
				return nil, err
			}
			if o.race, err = fishial.NewCSV(&o.raceCSV); err != nil {
				return nil, err
			}
			return o, nil
		}})
}

// output keeps the session's CSV in memory, as --record writes it, and
// when the session closes (Ctrl-C included) reads it back into the page,
// written to a temporary file renamed over the path.
type output struct {
	path             string
	load             report.Output
	race             *fishial.CSV
	loadCSV, raceCSV bytes.Buffer
	began, raced     bool
}

func (o *output) Write(ev report.Event) error {
	switch ev.(type) {
	case fishial.Start, fishial.Progress:
		o.raced = true
		return o.race.Write(ev)
	case report.Begin:
		o.began = true
	}
	return o.load.Write(ev)
}

func (o *output) Close() error {
	if err := errors.Join(o.load.Close(), o.race.Close()); err != nil {
		return err
	}
	var files []*Recorded
	for _, rec := range []struct {
		used bool
		csv  *bytes.Buffer
	}{{o.began, &o.loadCSV}, {o.raced, &o.raceCSV}} {
		if !rec.used {
			continue
		}
		f, err := Read("", rec.csv)
		if errors.Is(err, report.ErrNoRows) {
			continue // nothing measured: nothing to chart
		}
		if err != nil {
			return fmt.Errorf("report page: %w", err)
		}
		files = append(files, f)
	}
	html, err := Page(files).Bytes()
	if err != nil {
		return fmt.Errorf("report page: %w", err)
	}
	return report.WriteAtomically(o.path, html)
}
