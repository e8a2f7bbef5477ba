package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"perflab/experiments/agents"
)

const agentHelp = `perflab agent: a load agent for a controller on another machine.

Usage:
  perflab agent --redis redis://host:port [--name NAME] [--cpus N] [--allow PATTERN,...]

The agent registers in the shared Redis (heartbeat every second), waits for
a plan from a controller (perflab --url URL --agents redis://host:port),
drives its share of the load with the ordinary engine, sends each
second's histograms and counts back, and waits for the next plan until
Ctrl-C. It only accepts targets its --allow patterns match: host names
(globs such as *.staging.example.com), addresses or CIDR ranges; by default
this machine only (localhost, 127.0.0.0/8, ::1). A controller that goes
silent for 3 s stops the agent's load. rediss:// URLs and passwords
(redis://:secret@host:port) work.

Flags:
`

// runAgent is `perflab agent`.
func runAgent(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("perflab agent", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	url := fs.String("redis", "", "the shared Redis, `redis://[:password@]host:port[/db]` or rediss://")
	name := fs.String("name", "", "the agent's `NAME` on the controller's screen (default the host name)")
	cpus := fs.Int("cpus", 0, "cores `N` the agent offers; the controller gives it load in proportion (default all)")
	allow := fs.String("allow", "", "targets accepted, `PATTERNS` separated by commas (default localhost,127.0.0.0/8,::1/128)")
	pos, err := parseVerb(fs, args, agentHelp, "", stdout)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("agent: unexpected argument %q; it takes flags only", pos[0])
	case *url == "":
		return usagef("agent needs --redis redis://host:port, the Redis its controller uses")
	case *cpus < 0:
		return usagef("agent: --cpus must not be negative, got %d", *cpus)
	}
	var patterns []string
	for _, p := range strings.Split(*allow, ",") {
		if p = strings.TrimSpace(p); p != "" {
			patterns = append(patterns, p)
		}
	}
	ctx, cancel := signalContext()
	defer cancel()
	if c, err := agents.Connect(ctx, *url); err != nil {
		return usagef("agent: %v", err)
	} else {
		c.Close()
	}
	fmt.Fprintf(stderr, "perflab: agent on %s; Ctrl-C to stop\n", *url)
	if err := agents.RunAgent(ctx, agents.AgentOptions{Redis: *url, Name: *name, Cores: *cpus, Allow: patterns, Log: stderr}); err != nil {
		return failedError{err.Error()}
	}
	return nil
}
