package main

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"perflab/engine"
	"perflab/engine/report"
	"perflab/engine/threshold"
)

// exitThresholds is the exit status of a run that failed a threshold, as
// k6 uses it.
const exitThresholds = 99

// thresholdsFailed is a run that ended but failed a threshold.
type thresholdsFailed struct{ msg string }

func (e thresholdsFailed) Error() string { return e.msg }

// parseThresholds reads --threshold, --abort-on-fail and --abort-grace.
func parseThresholds(o *options) ([]threshold.Threshold, error) {
	var ths []threshold.Threshold
	for _, expr := range o.thresholds {
		t, err := threshold.Parse(expr)
		if err != nil {
			return nil, usagef("--threshold: %v", err)
		}
		ths = append(ths, t)
	}
	if o.abortOnFail && len(ths) == 0 {
		return nil, usagef("--abort-on-fail needs a --threshold to hold the run to")
	}
	if o.set["abort-grace"] && !o.abortOnFail {
		return nil, usagef("--abort-grace applies to --abort-on-fail; add it")
	}
	if o.abortGrace <= 0 {
		return nil, usagef("--abort-grace must be above 0, got %s", o.abortGrace)
	}
	for flag, path := range map[string]string{"--summary-json": o.summaryJSON, "--hdr-log": o.hdrLog, "--report": o.reportPage} {
		if path != "" {
			if err := checkOutputPath(flag, path); err != nil {
				return nil, err
			}
		}
	}
	return ths, nil
}

// abortWatch stops a session as soon as a threshold has failed on the
// run so far for the whole grace period.
type abortWatch struct {
	ths    []threshold.Threshold
	grace  time.Duration
	cancel context.CancelCauseFunc

	mu     sync.Mutex
	reason string
}

// newAbortWatch returns nil without --abort-on-fail.
func newAbortWatch(o *options, ths []threshold.Threshold) *abortWatch {
	if !o.abortOnFail {
		return nil
	}
	return &abortWatch{ths: ths, grace: o.abortGrace}
}

// bind sets what the watch cancels to stop the session.
func (w *abortWatch) bind(cancel context.CancelCauseFunc) *abortWatch {
	if w != nil {
		w.cancel = cancel
	}
	return w
}

// watch holds one run to the thresholds.
func (w *abortWatch) watch(gen *engine.Generator) {
	if w == nil {
		return
	}
	since := make([]time.Duration, len(w.ths)) // when each started failing; -1 when it holds
	for i := range since {
		since[i] = -1
	}
	gen.Observe(func(s *engine.Snapshot) {
		if s.Done {
			return
		}
		for i, t := range w.ths {
			r := t.Evaluate(s)
			switch {
			case math.IsNaN(r.Value):
				continue // no data yet: not failing
			case r.OK:
				since[i] = -1
				continue
			case since[i] < 0:
				since[i] = s.Elapsed
			}
			if s.Elapsed-since[i] >= w.grace {
				w.mu.Lock()
				if w.reason == "" {
					w.reason = fmt.Sprintf("%s failed for %s (%s at %s)", t.Expr, w.grace, r.Text(), report.Duration(s.Elapsed))
				}
				w.mu.Unlock()
				gen.Stop()
				w.cancel(fmt.Errorf("aborted"))
				return
			}
		}
	})
}

// Reason says why the watch stopped the session; "" when it did not.
func (w *abortWatch) Reason() string {
	if w == nil {
		return ""
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reason
}

// judge returns thresholdsFailed when a threshold failed on a final
// snapshot or the watch aborted the session.
func judge(ths []threshold.Threshold, finals []*engine.Snapshot, w *abortWatch) error {
	if r := w.Reason(); r != "" {
		return thresholdsFailed{"aborted: " + r}
	}
	failed := 0
	for _, s := range finals {
		for _, r := range report.Evaluate(ths, s) {
			if !r.OK {
				failed++
			}
		}
	}
	if failed > 0 {
		return thresholdsFailed{fmt.Sprintf("%d threshold check(s) failed; see the thresholds above", failed)}
	}
	return nil
}
