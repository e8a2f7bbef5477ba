package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"perflab/experiments/fishial"
)

// fishialConfig turns the root flags into a race, refusing flags of the
// other experiments.
func fishialConfig(o *options) (fishial.Config, error) {
	c := fishial.DefaultConfig()
	twinKnobs := knobFlags()
	twinKnobs.flags = slices.DeleteFunc(slices.Clone(twinKnobs.flags), func(n string) bool { return n == "redis" })
	pass := passFlags
	pass.flags = slices.DeleteFunc(slices.Clone(pass.flags), func(n string) bool { return n == "report" })
	if f := o.given(flagGroup{flags: []string{"sweep", "repeat", "shuffle", "shuffle-seed"}}, loadFlags, pass, agentFlags, requestFlags, twinKnobs); f != "" {
		return c, usagef("%s does not apply to --experiment fishial; its flags are --images, --time-scale, --strategies, --processes, --nodes, --fishial-429, --redis, --report", f)
	}
	if o.set["images"] {
		c.Images = o.images
	}
	if o.set["time-scale"] {
		c.TimeScale = o.timeScale
	}
	if o.set["strategies"] {
		c.Strategies = nil
		for _, s := range strings.Split(o.strategies, ",") {
			if s = strings.TrimSpace(s); s != "" {
				c.Strategies = append(c.Strategies, s)
			}
		}
	}
	if o.set["processes"] {
		c.Processes = o.processes
	}
	if o.set["nodes"] {
		c.Nodes = o.nodes
	}
	if o.set["fishial-429"] {
		c.Prob429 = o.fishial429
	}
	if r, ok := o.knobs["redis"]; ok {
		c.Redis = r
	}
	if err := c.Validate(); err != nil {
		return c, usagef("%v", err)
	}
	return c, nil
}

// runFishial is `--experiment fishial`: the dashboard, or with --record
// the strategies one after another, headless.
func runFishial(o *options, stdout, stderr io.Writer) error {
	c, err := fishialConfig(o)
	if err != nil {
		return err
	}
	if o.record == "" {
		if isTerminal(stdout) {
			return dashboard(o, stdout, stderr)
		}
		return usagef("--experiment fishial shows its race in the dashboard, which needs a terminal; to run it headless give --record FILE")
	}
	if err := checkRecordPath(o.record); err != nil {
		return err
	}
	spec := outputSpec{record: o.record, recordFormat: "fishial-csv", stdout: []string{"fishial-table"}}
	if o.reportPage != "" {
		if err := checkOutputPath("--report", o.reportPage); err != nil {
			return err
		}
		spec.files = map[string]string{"html": o.reportPage}
	}
	outs, closeOuts, err := openOutputs(spec, stdout, stderr)
	if err != nil {
		return err
	}
	defer closeOuts()
	ctx, cancel := signalContext()
	defer cancel()

	fmt.Fprintf(stderr, "perflab: Fishial race, %d images at time-scale %g: %s\n", c.Images, c.TimeScale, strings.Join(c.Strategies, ", "))
	outs.Write(fishial.Start{Config: c})
	tty := isTerminal(stderr)
	_, err = fishial.Run(ctx, c, false, func(p fishial.Progress) {
		outs.Write(p)
		switch {
		case p.Result != nil:
			if tty {
				fmt.Fprint(stderr, "\r\x1b[K")
			}
			fmt.Fprintf(stderr, "  %-12s %3d images in %7.3f s (ideal %.3f s), %.3f CPU s\n", p.Strategy, p.Result.Images, p.Result.Seconds, p.Result.IdealSeconds, p.Result.CPUSeconds)
		case tty:
			fmt.Fprintf(stderr, "\r  %-12s %s %3d/%d %7.2f s\x1b[K", p.Strategy, bar(p.Done, p.Total, 30), p.Done, p.Total, p.Elapsed.Seconds())
		}
	})
	if tty {
		fmt.Fprint(stderr, "\r\x1b[K")
	}
	interrupted := ctx.Err() != nil
	if interrupted {
		fmt.Fprintln(stderr, "perflab: interrupted; the table covers the strategies that finished")
	}
	werr := closeOuts()
	if err != nil && !interrupted {
		return failedError{err.Error()}
	}
	return werr
}

// bar is a text progress bar n/total wide w.
func bar(n, total, w int) string {
	if total <= 0 {
		return strings.Repeat("░", w)
	}
	full := min(w, n*w/total)
	return strings.Repeat("█", full) + strings.Repeat("░", w-full)
}

const fishialNodeHelp = `perflab fishial-node: one distributed Fishial node.

Usage:
  perflab fishial-node --redis redis://host:port

The node joins the queue of every Fishial race whose parent uses the same
Redis (perflab --record out.csv --experiment fishial --redis redis://host:port)
and recognises one image at a time until Ctrl-C; an image it holds when it
stops or dies goes back to the queue. The race publishes its API and photo
addresses in Redis; they listen on the race machine's loopback, so a node
on another machine needs those ports forwarded to it (ssh -L).

Flags:
`

// runFishialNode is `perflab fishial-node`.
func runFishialNode(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("perflab fishial-node", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	url := fs.String("redis", "", "the shared Redis, `redis://host:port[/db]`, the one the race was given")
	pos, err := parseVerb(fs, args, fishialNodeHelp, "", stdout)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("fishial-node: unexpected argument %q; it takes --redis only", pos[0])
	case *url == "":
		return usagef("fishial-node needs --redis redis://host:port, the Redis the race was given with --redis")
	case !strings.HasPrefix(*url, "redis://") && !strings.HasPrefix(*url, "rediss://"):
		return usagef("fishial-node --redis %q: give a redis://host:port URL (an embedded Redis lives inside its race and takes no outside nodes)", *url)
	}
	ctx, cancel := signalContext()
	defer cancel()
	fmt.Fprintf(stderr, "perflab: Fishial node on %s; Ctrl-C to stop\n", *url)
	err = fishial.RunNode(ctx, fishial.NodeOptions{
		Redis: *url,
		Ready: func(id string) { fmt.Fprintf(stderr, "perflab: node %s waiting for images\n", id) },
		Log:   stderr,
	})
	if err != nil {
		return failedError{err.Error()}
	}
	return nil
}
