package engine

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// SetStepURL sends the named step's requests to url from now on, e.g.
// when the page under test moves to another server; the step's series
// continues. It returns once no request to the old URL is in flight (or
// ctx ends), so the old server may stop serving it without failing any.
func (g *Generator) SetStepURL(ctx context.Context, step, url string) error {
	for i := range g.steps {
		if g.steps[i].Name != step {
			continue
		}
		old := g.routes[i].Load()
		st := old.step
		st.URL = url
		if err := CheckURL(templateStub(url)); err != nil {
			return err
		}
		r, err := newRoute(st)
		if err != nil {
			return err
		}
		if g.loopPath {
			if err := loopServes(r); err != nil {
				return fmt.Errorf("the event loop drives this run and cannot send step %s to %s: it %w", step, url, err)
			}
		}
		g.routes[i].Store(r)
		return g.waitRoute(ctx, old)
	}
	return fmt.Errorf("no step named %q", step)
}

// waitRoute polls until no worker is in a request on route r.
func (g *Generator) waitRoute(ctx context.Context, r *route) error {
	for {
		g.mu.Lock()
		busy := false
		for _, list := range [][]*worker{g.workers, g.retired} {
			for _, w := range list {
				busy = busy || w.onRoute.Load() == r
			}
		}
		g.mu.Unlock()
		if !busy {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// route is where one step's requests go and, for a step that uses no
// variable, its request bytes, shared read-only by every worker.
type route struct {
	step   Step
	ep     endpoint
	static []byte
	// replayable says a request the connection failed to send may be
	// sent again (see conn.roundTrip).
	replayable bool
	// head says the step is a HEAD request, whose answer has no body.
	head bool
	// contains is the body check's text when it uses no variable.
	contains []byte
	// fields are the JSON checks' paths; captures the captures' paths,
	// nil for a header.
	fields, captures []jsonPath
}

func newRoute(st Step) (*route, error) {
	ep, err := endpointOf(templateStub(st.URL))
	if err != nil {
		return nil, fmt.Errorf("step %s: %w", st.Name, err)
	}
	r := &route{step: st, ep: ep, replayable: replayable(methodOf(st)), head: methodOf(st) == "HEAD"}
	if !st.usesVars() {
		if r.static, err = buildRequest(st, nil); err != nil {
			return nil, err
		}
	}
	if !strings.Contains(st.Contains, "{{") {
		r.contains = []byte(st.Contains)
	}
	for _, f := range st.Fields {
		p, err := parseJSONPath(f.Path)
		if err != nil {
			return nil, fmt.Errorf("step %s: %w", st.Name, err)
		}
		r.fields = append(r.fields, p)
	}
	for _, c := range st.Capture {
		var p jsonPath
		if c.Header == "" {
			if p, err = parseJSONPath(c.Field); err != nil {
				return nil, fmt.Errorf("step %s: %w", st.Name, err)
			}
		}
		r.captures = append(r.captures, p)
	}
	return r, nil
}
