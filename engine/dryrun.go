package engine

import (
	"context"
	"errors"
	"time"
)

// Exchange is one request of a dry run and its answer.
type Exchange struct {
	Step string
	// Phase is "setup" (once per run), "user setup" (once per user) or
	// the flow's name ("" for a scenario of one flow).
	Phase   string
	Request []byte // as sent
	// Status, Header (as received) and Body describe the answer; Status
	// is 0 when there was none.
	Status  int
	Header  []byte
	Body    []byte
	Latency time.Duration
	Outcome Outcome
	// Failure says what failed, in words; "" when the step passed.
	Failure string
	// Captured are the variables the step captured, with their values.
	Captured []Header
}

// DryRun sends one iteration of one user, as a load run would but with
// no think time: the run's setup, the user's setup, then each flow once,
// in order; each exchange goes to each as it happens. It stops at the
// first setup step that fails, and returns an error saying so. A
// generator that ran dry cannot Run.
func (g *Generator) DryRun(ctx context.Context, each func(Exchange)) error {
	g.mu.Lock()
	if g.started {
		g.mu.Unlock()
		return errors.New("generator already ran")
	}
	g.started = true
	g.dry = true
	g.mu.Unlock()
	defer context.AfterFunc(ctx, g.Stop)()

	setup := g.setupWorker()
	setup.trace = g.tracer(setup, "setup", each)
	err := g.runSetup(setup)
	setup.closeConns()
	if err != nil {
		return err
	}
	w := g.newUser(0)
	defer w.closeConns()
	if w.rowless {
		return errors.New("no data row for the user")
	}
	phase := "user setup"
	w.trace = func(i int, req []byte, s sample) {
		if i >= g.nSetup+g.nUser {
			phase = g.scn.flows()[g.flowOf(i)].Name
		}
		g.tracer(w, phase, each)(i, req, s)
	}
	for f := range g.flows {
		if !w.iterate(f, time.Time{}) {
			break
		}
		if !w.ready {
			return errors.New("a setup step of the user failed, so its flow did not run")
		}
	}
	return nil
}

// flowOf is the flow step i belongs to.
func (g *Generator) flowOf(i int) int {
	for f, sp := range g.flows {
		if i >= sp.from && i < sp.to {
			return f
		}
	}
	return 0
}

// tracer hands each of w's exchanges to each, in phase.
func (g *Generator) tracer(w *worker, phase string, each func(Exchange)) func(int, []byte, sample) {
	return func(i int, req []byte, s sample) {
		st := g.steps[i]
		x := Exchange{
			Step: st.Name, Phase: phase, Request: append([]byte(nil), req...),
			Outcome: s.outcome, Latency: time.Duration(s.service) * time.Microsecond,
		}
		if s.status != 0 {
			x.Status = int(s.status)
			x.Header = append([]byte(nil), w.resp.Header.Header()...)
			x.Body = append([]byte(nil), w.resp.Body()...)
		}
		if s.outcome != OutcomeOK {
			x.Failure = w.failure(i, s)
		} else {
			for _, c := range st.Capture {
				x.Captured = append(x.Captured, Header{Key: c.Var, Value: w.vars[c.Var]})
			}
		}
		each(x)
	}
}
