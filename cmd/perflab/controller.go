package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"perflab/engine"
	"perflab/engine/report"
	"perflab/engine/threshold"
	"perflab/experiments/agents"
)

// agentFlags spread a --url run over load agents.
var agentFlags = flagGroup{"Load agents (with --url)", []string{"agents", "agents-min"}}

// runOverAgents is a --url run spread over the agents of a shared Redis:
// it waits for them, gives each its share, merges what they send into the
// outputs, and says how each agent fared.
func runOverAgents(o *options, step engine.Step, model engine.Model, ths []threshold.Threshold, stdout, stderr io.Writer) error {
	plan, err := agentPlan(o, step, model)
	if err != nil {
		return err
	}
	outs, closeOuts, err := openOutputs(loadOutputs(o, ths, "summary"), stdout, stderr)
	if err != nil {
		return err
	}
	defer closeOuts()
	ctx, cancel := signalContext()
	defer cancel()
	outs.Write(report.Begin{Labels: report.Labels{Run: 1, Repeat: 1, Agent: "all"}, Total: 1, Repeats: 1})
	c, err := agents.Start(ctx, agents.ControllerOptions{
		Redis: o.agents, Min: o.agentsMin, Plan: plan, Steps: []string{step.Name}, Log: stderr,
		OnSnapshot: outs.Snapshot,
		OnAgent:    func(name string, s *engine.Snapshot) { outs.Write(report.AgentSnapshot{Agent: name, Snapshot: s}) },
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if strings.Contains(err.Error(), "does not answer") || strings.Contains(err.Error(), "--redis") {
			return usagef("--agents: %v", err)
		}
		return failedError{err.Error()}
	}
	final, err := c.Wait(ctx)
	if err != nil {
		return failedError{err.Error()}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "perflab: interrupted; the agents stopped and the figures cover the run so far")
	}
	if err := closeOuts(); err != nil {
		return err
	}
	writeAgents(stdout, c.Agents())
	if all := final.All.Run; all.Requests == 0 {
		return failedError{"no request completed on any agent"}
	}
	return judge(ths, []*engine.Snapshot{final}, nil)
}

// agentPlan is the whole run as the controller splits it.
func agentPlan(o *options, step engine.Step, model engine.Model) (agents.Plan, error) {
	p := agents.Plan{Method: step.Method, URL: step.URL, Body: step.Body, Timeout: o.timeout.Seconds(), MaxBody: int(o.maxBody),
		Realtime: o.realtime}
	if o.set["engine"] {
		p.Engine = o.enginePath
	}
	for _, h := range step.Header {
		p.Headers = append(p.Headers, h.Key+": "+h.Value)
	}
	switch m := model.(type) {
	case engine.Closed:
		p.Model, p.Level, p.ThinkMS = "closed", float64(m.VUs), float64(m.Think)/float64(time.Millisecond)
	case engine.Max:
		p.Model, p.Level = "max", float64(m.Conns)
	case engine.Open:
		p.Model, p.Level, p.MaxIn = "open", m.Rate, m.MaxInFlight
	}
	if o.set["stages"] {
		stages, _, err := parseStages(o.stages)
		if err != nil {
			return p, err
		}
		for _, s := range stages {
			p.Stages = append(p.Stages, agents.Stage{Seconds: s.Duration.Seconds(), Target: s.Target})
		}
	} else {
		d := defaultURLDuration
		if o.set["duration"] {
			d = o.duration
		}
		p.Seconds = d.Seconds()
	}
	if o.agentsMin < 1 {
		return p, usagef("--agents-min must be at least 1, got %d", o.agentsMin)
	}
	return p, nil
}

// writeAgents says how each agent fared.
func writeAgents(w io.Writer, as []agents.AgentState) {
	var b strings.Builder
	b.WriteString("  agents:\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "    name\tcores\tshare\treq/s\tlag p99\tcpu\tengine\tpacer\tstate\t")
	for _, a := range as {
		state := "ok"
		if a.Lost {
			state = "LOST"
		}
		engine, pacer := a.Engine, a.Pacer
		if engine == "" {
			engine = "-"
		}
		if pacer == "" {
			pacer = "-"
		}
		fmt.Fprintf(tw, "    %s\t%d\t%g\t%.1f\t%s\t%.2f\t%s\t%s\t%s\t\n", a.Name, a.Cores, a.Share, a.Achieved, report.Duration(a.LagP99), a.CPU, engine, pacer, state)
	}
	tw.Flush()
	io.WriteString(w, b.String()+"\n")
}

// agentsStage opens the dashboard's run over agents, after they are all
// there: the waiting is said on stderr before the screen takes the
// terminal.
func agentsStage(o *options, stderr io.Writer) (*agents.Remote, error) {
	step, err := urlStep(o)
	if err != nil {
		return nil, err
	}
	model, err := loadModel(o, engine.Max{Conns: defaultURLConns})
	if err != nil {
		return nil, err
	}
	plan, err := agentPlan(o, step, model)
	if err != nil {
		return nil, err
	}
	if !o.set["duration"] && !o.set["stages"] {
		plan.Seconds = 24 * 3600 // the dashboard's run goes on until quit
	}
	ctx, cancel := signalContext()
	defer cancel()
	r, err := agents.StartRemote(ctx, agents.ControllerOptions{Redis: o.agents, Min: o.agentsMin, Plan: plan,
		Steps: []string{step.Name}, Log: stderr}, step.Method+" "+step.URL)
	if err != nil {
		if strings.Contains(err.Error(), "does not answer") {
			return nil, usagef("--agents: %v", err)
		}
		return nil, failedError{err.Error()}
	}
	return r, nil
}
