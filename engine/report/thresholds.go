package report

import (
	"fmt"
	"io"
	"strings"

	"perflab/engine"
	"perflab/engine/threshold"
)

func init() {
	Register(Format{Name: "thresholds", Help: "each threshold against each run: its value and ok or FAILED", New: func(d Dest) (Output, error) {
		return &thresholdsOutput{w: d.W, ths: d.Thresholds}, nil
	}})
}

// thresholdsOutput lists, when the session closes, every threshold
// against every run that ended: its value and ok or FAILED.
type thresholdsOutput struct {
	w      io.Writer
	ths    []threshold.Threshold
	config string
	runs   []thresholdRun
}

type thresholdRun struct {
	config  string
	results []threshold.Result
}

func (o *thresholdsOutput) Write(ev Event) error {
	switch ev := ev.(type) {
	case Begin:
		o.config = ev.Config
		if ev.Repeats > 1 {
			o.config += fmt.Sprintf(" #%d", ev.Labels.Repeat)
		}
	case *engine.Snapshot:
		if ev.Done && len(o.ths) > 0 {
			o.runs = append(o.runs, thresholdRun{config: o.config, results: Evaluate(o.ths, ev)})
		}
	}
	return nil
}

// Evaluate checks every threshold against a snapshot.
func Evaluate(ths []threshold.Threshold, s *engine.Snapshot) []threshold.Result {
	out := make([]threshold.Result, len(ths))
	for i, t := range ths {
		out[i] = t.Evaluate(s)
	}
	return out
}

func (o *thresholdsOutput) Close() error {
	if len(o.runs) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("  thresholds:\n")
	for _, r := range o.runs {
		indent := "    "
		if len(o.runs) > 1 {
			fmt.Fprintf(&b, "    %s\n", r.config)
			indent = "      "
		}
		for _, res := range r.results {
			mark := "ok    "
			if !res.OK {
				mark = "FAILED"
			}
			fmt.Fprintf(&b, "%s%s %s%s %s\n", indent, mark, res.Expr, strings.Repeat(".", max(2, 32-len(res.Expr))), res.Text())
		}
	}
	b.WriteString("\n")
	_, err := io.WriteString(o.w, b.String())
	return err
}
