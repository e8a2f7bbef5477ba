package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"perflab/experiments"
	"perflab/server"
)

// serveOptions are `perflab serve`'s flags as given.
type serveOptions struct {
	cfg   server.Config
	knobs map[string]string // the knob table's flags given
	every time.Duration
}

func newServeFlags(o *serveOptions) *flag.FlagSet {
	o.cfg = server.DefaultConfig()
	o.cfg.Addr = "127.0.0.1:8000" // the study's gunicorn port
	fs := flag.NewFlagSet("perflab serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := &o.cfg
	fs.StringVar(&c.Addr, "addr", c.Addr, "API listener `HOST:PORT`; port 0 picks a free one (default 127.0.0.1:8000)")
	fs.StringVar(&c.EdgeAddr, "edge-addr", c.EdgeAddr, "static edge listener `HOST:PORT` (default a free loopback port)")
	o.knobs = map[string]string{}
	addKnobFlags(fs, o.knobs)
	fs.StringVar(&c.DataDir, "data-dir", "", "keep database, SPA files and log in `DIR` (default a temporary directory)")
	fs.BoolVar(&c.KeepData, "keep-data", false, "leave the data in place on exit (reused by the next start)")
	durationVar(fs, &o.every, "stats-every", 5*time.Second, "print a line of figures every `D`, 0 for never (default 5s)")
	return fs
}

const serveIntro = `perflab serve: the reference twin alone, a stand-in for the seed's Django +
gunicorn + Redis + Celery service with the SPA, for k6, wrk or curl.

Usage:
  perflab serve [--addr 127.0.0.1:8000] [--workers N] [--mode sync|async] [--cache on|off]
                [--query naive|prefetch] [--offload on|off] [--profile django|go]
                [--instance-cpus N] [--redis embedded|redis://host:port] [--data-dir DIR]

Endpoints: POST /api/auths/signin/, GET /api/logbooks/likes/,
POST /api/logbooks/{id}/like/ and /unlike/, GET / (the SPA), GET /_perflab/stats.
The fixture user is ruby@gmail.com with password 12345678.

Flags:
`

func parseServe(args []string, stdout io.Writer) (*serveOptions, error) {
	o := &serveOptions{}
	fs := newServeFlags(o)
	pos, err := parseVerb(fs, args, serveIntro, "\nCtrl-C or SIGTERM stops every process of the twin within 2 s.\n", stdout)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, usagef("serve: unexpected argument %q; perflab serve takes flags only; see perflab serve --help", pos[0])
	}
	if o.every < 0 {
		return nil, usagef("serve: --stats-every must not be negative, got %s", o.every)
	}
	settings := experiments.Settings{}
	for _, k := range experiments.Knobs {
		settings[k.Name] = k.Default
	}
	for name, v := range o.knobs {
		settings[name] = v
	}
	cfg, err := experiments.TwinConfig(o.cfg, settings)
	if err != nil {
		return nil, usagef("serve: %v; see perflab serve --help", err)
	}
	o.cfg = cfg
	return o, nil
}

// runServe is `perflab serve`: start the twin, print where it is and a
// line of figures now and then, stop on Ctrl-C or SIGTERM.
func runServe(args []string, stdout, stderr io.Writer) error {
	o, err := parseServe(args, stdout)
	if err != nil {
		return err
	}
	for _, w := range o.cfg.Warnings() {
		fmt.Fprintf(stderr, "perflab: warning: %s\n", w)
	}
	ctx, cancel := signalContext()
	defer cancel()
	tw, err := server.Start(ctx, o.cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while starting
		}
		return failedError{fmt.Sprintf("serve: %v", err)}
	}
	printServing(stdout, tw)
	if o.every > 0 {
		go reportFigures(ctx, stdout, tw, o.every)
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "perflab serve: stopping")
	if err := tw.Close(); err != nil {
		return failedError{fmt.Sprintf("serve: stop: %v", err)}
	}
	fmt.Fprintln(stdout, "perflab serve: stopped")
	return nil
}

func printServing(w io.Writer, tw *server.Twin) {
	c := tw.Stats().Config
	fmt.Fprintf(w, "perflab serve: the twin is up\n")
	fmt.Fprintf(w, "  app    %s/  (API; the SPA too while --offload is off)\n", tw.AppURL())
	fmt.Fprintf(w, "  edge   %s/  (the SPA, as the CDN serves it)\n", tw.EdgeURL())
	fmt.Fprintf(w, "  stats  %s%s\n", tw.AppURL(), server.StatsPath)
	fmt.Fprintf(w, "  log    %s\n", tw.LogPath())
	fmt.Fprintf(w, "  config %s\n", describeConfig(c))
	fmt.Fprintf(w, "  user   %s / %s\n", server.FixtureEmail, server.FixturePassword)
	fmt.Fprintf(w, "Ctrl-C stops it.\n")
}

func describeConfig(c server.Config) string {
	return fmt.Sprintf("%d worker(s), %s, cache %s, query %s, offload %s, profile %s, %d instance CPU(s), redis %s",
		c.Workers, c.Mode, onOffText(c.Cache), c.Query, onOffText(c.Offload), c.Profile, c.InstanceCPUs, c.Redis)
}

func onOffText(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// reportFigures prints one line of the twin's figures every interval,
// with rates over the interval.
func reportFigures(ctx context.Context, w io.Writer, tw *server.Twin, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	prev := tw.Stats()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s := tw.Stats()
		fmt.Fprintln(w, figuresLine(prev, s))
		prev = s
	}
}

// figuresLine describes what happened between two snapshots.
func figuresLine(a, b server.Stats) string {
	secs := b.Time.Sub(a.Time).Seconds()
	if secs <= 0 {
		secs = 1
	}
	reqs := b.Total.Requests - a.Total.Requests
	queriesPerReq := "-"
	if api := b.Total.APIRequests - a.Total.APIRequests; api > 0 {
		queriesPerReq = fmt.Sprintf("%.1f", float64(b.Total.DBQueries-a.Total.DBQueries)/float64(api))
	}
	hitRate := "-"
	if looks := (b.Total.CacheHits + b.Total.CacheMisses) - (a.Total.CacheHits + a.Total.CacheMisses); looks > 0 {
		hitRate = fmt.Sprintf("%.0f%%", 100*float64(b.Total.CacheHits-a.Total.CacheHits)/float64(looks))
	}
	redis := "redis ok"
	if !b.RedisReachable {
		redis = "REDIS DOWN"
	}
	cpu := (instanceCPU(b) - instanceCPU(a)) / secs
	return fmt.Sprintf("%s  workers %d/%d  %.1f req/s  in flight %d  db q/req %s  cache hit %s  5xx %d  redis errors %d  queue %d  tasks %d  cpu %.2f cores  edge %.1f req/s  %s",
		b.Time.Format("15:04:05"), b.WorkersUp, b.Config.Workers, float64(reqs)/secs, b.Total.InFlight,
		queriesPerReq, hitRate, b.Total.Errors5xx, b.Total.RedisErrors+b.Tasks.RedisErrors,
		b.Tasks.QueueDepth, b.Tasks.Applied, cpu, float64(b.Edge.Requests-a.Edge.Requests)/secs, redis)
}

// instanceCPU is the CPU seconds the instance's processes used: workers,
// task worker and the embedded Redis (the edge stands for a CDN
// elsewhere).
func instanceCPU(s server.Stats) float64 {
	cpu := s.Total.CPUSeconds + s.Tasks.CPUSeconds
	if s.Redis != nil {
		cpu += s.Redis.CPUSeconds
	}
	return cpu
}
