package main

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"perflab/engine"
	"perflab/engine/report"
	"perflab/experiments"
	"perflab/experiments/scenarios"
)

// options are the root command's flags, as given.
type options struct {
	// what to run
	url         string
	scenario    string
	dryRun      bool
	experiment  string
	record      string
	sweeps      listFlag
	repeat      int
	shuffle     bool
	shuffleSeed uint64

	stages string

	// pass or fail, and files
	thresholds  listFlag
	abortOnFail bool
	abortGrace  time.Duration
	summaryJSON string
	hdrLog      string
	reportPage  string

	// load agents
	agents    string
	agentsMin int

	// load
	vus         int
	think       time.Duration
	rate        float64
	conns       int
	duration    time.Duration
	timeout     time.Duration
	maxInFlight int
	maxBody     byteSize
	enginePath  string
	realtime    bool
	method      string
	headers     listFlag
	body        string
	insecure    bool

	// knobs holds the knob table's flags given, by knob name.
	knobs map[string]string

	// Fishial race
	images     int
	timeScale  float64
	strategies string
	processes  int
	nodes      int
	fishial429 float64

	set map[string]bool // flags given on the command line
}

// listFlag collects a repeatable flag's values.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// flagGroup is a set of root flags that apply together: the help text
// lists them under its title, and each kind of run accepts some groups and
// refuses the flags of the others.
type flagGroup struct {
	title string
	flags []string
}

// The root's flag groups; every flag the root accepts is in one.
var (
	runFlags     = flagGroup{"What to run", []string{"experiment", "url", "scenario", "dry-run", "record", "sweep", "repeat", "shuffle", "shuffle-seed"}}
	loadFlags    = flagGroup{"Load", []string{"vus", "think", "rate", "c", "duration", "stages", "timeout", "max-in-flight", "max-body", "engine", "realtime-pacer"}}
	requestFlags = flagGroup{"Request (with --url)", []string{"method", "header", "body", "insecure"}}
	fishialFlags = flagGroup{"Fishial race (--experiment fishial)", []string{"images", "time-scale", "strategies", "processes", "nodes", "fishial-429"}}
	passFlags    = flagGroup{"Pass or fail, and more outputs", []string{"threshold", "abort-on-fail", "abort-grace", "summary-json", "hdr-log", "report"}}
)

// knobFlags are the knob table's flags.
func knobFlags() flagGroup {
	g := flagGroup{title: "Twin knobs (experiments " + strings.Join(experimentNamesWithKnobs(), " and ") + ")"}
	for _, k := range experiments.Knobs {
		g.flags = append(g.flags, k.Name)
	}
	return g
}

func experimentNamesWithKnobs() []string {
	var names []string
	for _, e := range experiments.All() {
		if len(e.Knobs()) > 0 {
			names = append(names, e.Name)
		}
	}
	return names
}

func flagGroups() []flagGroup {
	return []flagGroup{runFlags, loadFlags, passFlags, agentFlags, requestFlags, knobFlags(), fishialFlags}
}

// given returns the first flag of the groups that was given, as the user
// typed it ("-c", "--workers"), or "".
func (o *options) given(groups ...flagGroup) string {
	for _, g := range groups {
		for _, name := range g.flags {
			if o.set[name] {
				return dashed(name)
			}
		}
	}
	return ""
}

func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// knobValue is a knob flag: it records its value in a map by knob name,
// checked when the run knows which experiment it is for.
type knobValue struct {
	m    map[string]string
	name string
}

func (v knobValue) String() string {
	if v.m == nil {
		return ""
	}
	return v.m[v.name]
}

func (v knobValue) Set(s string) error { v.m[v.name] = s; return nil }

// addKnobFlags defines a flag per knob of the table on fs, into m.
func addKnobFlags(fs *flag.FlagSet, m map[string]string) {
	for _, k := range experiments.Knobs {
		fs.Var(knobValue{m: m, name: k.Name}, k.Name, k.FlagUsage())
	}
}

func newRootFlags(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("perflab", flag.ContinueOnError)
	fs.SetOutput(io.Discard)

	fs.StringVar(&o.experiment, "experiment", "", "`NAME` of the experiment to open or run: "+strings.Join(experimentNames(), ", "))
	fs.StringVar(&o.url, "url", "", "drive load at this `URL` (http or https) instead of the twin; with --scenario, the base its relative URLs join")
	fs.StringVar(&o.scenario, "scenario", "", "run the flow of a scenario `FILE` (YAML; see the README), or of an embedded one by name: "+strings.Join(scenarios.Names(), ", "))
	fs.BoolVar(&o.dryRun, "dry-run", false, "with --scenario: send one iteration of one user and print each request and answer, then stop")
	fs.StringVar(&o.record, "record", "", "run headless and write CSV rows to `FILE`")
	fs.Var(&o.sweeps, "sweep", "run every combination of `knob=v1,v2,...` (repeatable; needs --record)")
	fs.IntVar(&o.repeat, "repeat", 1, "run every configuration `N` times, interleaved, and give medians with 95% intervals (needs --record)")
	fs.BoolVar(&o.shuffle, "shuffle", false, "shuffle the order of the configurations in each round of --repeat; the seed is printed")
	fs.Uint64Var(&o.shuffleSeed, "shuffle-seed", 0, "shuffle with seed `S` (a run printed it), to repeat an order")

	fs.IntVar(&o.vus, "vus", 0, "closed model: `N` virtual users, each looping the scenario")
	durationVar(fs, &o.think, "think", 0, "closed model: pause `D` between a user's iterations")
	fs.Float64Var(&o.rate, "rate", 0, "open model: start `R` requests per second whatever the target does")
	fs.IntVar(&o.conns, "c", 0, "max model: keep `N` connections busy (default 50 with --url)")
	durationVar(fs, &o.duration, "duration", 0, "stop after `D` (default 10s for --url headless runs, 30s for experiments)")
	fs.StringVar(&o.stages, "stages", "", "ramp the load linearly through `D:T,...`: to T users (or connections, or T/s requests a second) over D each, e.g. 30s:50,1m:50,30s:0")
	durationVar(fs, &o.timeout, "timeout", 0, "give up on a request after `D` (default 30s)")
	fs.IntVar(&o.maxInFlight, "max-in-flight", 0, "open model: at most `N` requests outstanding (default 10000, or what the open-file limit allows)")
	fs.StringVar(&o.enginePath, "engine", engine.PathAuto, "drive the connections by `PATH`: loop (epoll event loops, one per core, or one per two cores for a loopback target, their reads and writes batched through io_uring where the kernel allows; plain-HTTP steps with fixed requests, judged by status), goroutine (one per user or connection; everything), or auto (the loop where the run fits it)")
	fs.BoolVar(&o.realtime, "realtime-pacer", false, "open model on the event loop: run its pacers at real-time priority (SCHED_FIFO), so that other busy threads cannot make starts late; needs root, CAP_SYS_NICE or an RLIMIT_RTPRIO above 0, else the run says it was refused and goes on. Keep the target off the generator's cores")
	o.maxBody = engine.DefaultMaxBody
	fs.Var(&o.maxBody, "max-body", "keep at most `SIZE` of an answer's body, e.g. 512KiB or 8MiB; a longer body fails the request as \"body too large\" (default "+formatSize(engine.DefaultMaxBody)+")")

	fs.Var(&o.thresholds, "threshold", "fail the run (exit 99) unless `EXPR` holds, e.g. 'p(99)<250ms', 'http_req_failed<1%', 'p(95){step:likes}<50ms' (repeatable)")
	fs.BoolVar(&o.abortOnFail, "abort-on-fail", false, "stop the run as soon as a threshold has failed for --abort-grace on the run so far")
	durationVar(fs, &o.abortGrace, "abort-grace", 10*time.Second, "stop after a threshold failed for `D` on the run so far, with --abort-on-fail")
	fs.StringVar(&o.hdrLog, "hdr-log", "", "write every second's latency histogram per series to `FILE`, an HdrHistogram interval log (perflab hdr reads it)")
	fs.StringVar(&o.reportPage, "report", "", "write the report page (charts and tables, as perflab report makes it) to `FILE` when the session ends, also on Ctrl-C")
	fs.StringVar(&o.agents, "agents", "", "spread the --url run over the load agents of the Redis at `URL` (perflab agent)")
	fs.IntVar(&o.agentsMin, "agents-min", 1, "wait for `N` agents before starting")
	fs.StringVar(&o.summaryJSON, "summary-json", "", "write the end-of-run summary as JSON to `FILE` ("+report.SummarySchema+"), also on Ctrl-C")

	fs.StringVar(&o.method, "method", "GET", "request `METHOD`")
	fs.Var(&o.headers, "header", "add a request header `'K: V'` (repeatable)")
	fs.StringVar(&o.body, "body", "", "request body: a `STRING`, or @file to read it from a file")
	fs.BoolVar(&o.insecure, "insecure", false, "accept any TLS certificate (self-signed test servers)")

	o.knobs = map[string]string{}
	addKnobFlags(fs, o.knobs)

	fs.IntVar(&o.images, "images", 0, "`N` images to recognise (default 40)")
	fs.Float64Var(&o.timeScale, "time-scale", 0, "multiply the mock API's latencies by `F` (default 1)")
	fs.StringVar(&o.strategies, "strategies", "", "strategies to race, `a,b,...` of sequential,multiprocess,distributed,async")
	fs.IntVar(&o.processes, "processes", 0, "multiprocess strategy: `P` processes (default 4)")
	fs.IntVar(&o.nodes, "nodes", 0, "distributed strategy: `N` nodes (default 16)")
	fs.Float64Var(&o.fishial429, "fishial-429", 0, "mock API answers 429 with probability `P` in 0..1")
	return fs
}

// parseRoot parses the root command line. Usage errors come back as
// usageError; --help prints the help and returns errHelp.
func parseRoot(args []string, stdout io.Writer) (*options, error) {
	o := &options{set: map[string]bool{}}
	fs := newRootFlags(o)
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			printRootHelp(stdout, fs)
			return nil, errHelp
		}
		return nil, usagef("%s; see perflab --help", flagErrorText(err))
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q; perflab takes flags only (subcommands: %s); see perflab --help", fs.Arg(0), subcommandNames())
	}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	return o, nil
}

// flagErrorText rewords the flag package's errors as the help text
// writes flags: "--duration 5: give a unit, e.g. 5s or 2m".
func flagErrorText(err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return fmt.Sprintf("unknown flag --%s", name)
	}
	if m := invalidValue.FindStringSubmatch(msg); m != nil {
		value, _ := strconv.Unquote(m[1])
		why := m[3]
		if why == "parse error" { // the flag package's word for a bad number
			why = "not a number"
		}
		return fmt.Sprintf("%s %s: %s", dashed(m[2]), value, why)
	}
	return msg
}

// invalidValue is the flag package's message for a value Set refused.
var invalidValue = regexp.MustCompile(`^invalid value ("(?:[^"\\]|\\.)*") for flag -([^:]+): (.*)$`)

func subcommandNames() string { return strings.Join(slices.Sorted(maps.Keys(subcommands)), ", ") }

const rootIntro = `perflab: live performance experiments in the terminal, and a load generator.

Usage:
  perflab                                 the dashboard (home lists the experiments)
  perflab --experiment likes              the dashboard, opened on one experiment
  perflab --record out.csv --experiment likes --duration 30s [knobs]
  perflab --record out.csv --experiment likes --sweep workers=1,2,4 --sweep mode=sync,async
  perflab --record out.csv --experiment fishial --images 40
  perflab --url http://host:port/path [-c N | --vus N --think D | --rate R] --duration D [--record out.csv]
  perflab --scenario FILE|likes|static [--url BASE] [--dry-run] [load flags] [--record out.csv]
  perflab --url URL --stages 30s:50,1m:50,30s:0 --threshold 'p(99)<250ms' --summary-json s.json
  perflab --record new.csv --url URL --repeat 5 && perflab compare old.csv new.csv
`

func printRootHelp(w io.Writer, fs *flag.FlagSet) {
	var b strings.Builder
	b.WriteString(rootIntro)
	b.WriteString("\nSubcommands (each has --help):\n")
	for _, n := range slices.Sorted(maps.Keys(subcommands)) {
		fmt.Fprintf(&b, "  perflab %-14s %s\n", n, subcommands[n].summary)
	}
	for _, g := range flagGroups() {
		fmt.Fprintf(&b, "\n%s:\n", g.title)
		for _, name := range g.flags {
			writeFlagHelp(&b, fs.Lookup(name))
		}
	}
	b.WriteString(`
Exit status: 0 ok, 1 the run failed (e.g. every request failed), 2 bad usage,
99 a --threshold failed.
Without --record, a --url run whose output is not a terminal runs headless
and prints a summary; Ctrl-C ends any run early and keeps what it measured.
`)
	io.WriteString(w, b.String())
}

// writeFlagHelp prints one flag as "  --name VALUE   text".
func writeFlagHelp(b *strings.Builder, f *flag.Flag) {
	if f == nil {
		return
	}
	arg, usage := flag.UnquoteUsage(f)
	dash := "--"
	if len(f.Name) == 1 {
		dash = "-"
	}
	left := dash + f.Name
	if arg != "" && arg != "value" {
		left += " " + arg
	} else if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); !isBool {
		left += " VALUE"
	}
	fmt.Fprintf(b, "  %-26s %s\n", left, usage)
}

// checkRecordPath makes sure the CSV can be written before any load
// starts: the directory exists and the file can be created.
func checkRecordPath(path string) error {
	if err := checkOutputPath("--record", path); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return usagef("--record %s is not writable (%v); pick another path", path, unwrapPathError(err))
	}
	return f.Close()
}

// checkOutputPath makes sure a file flag's path can be written before any
// load starts: its directory exists and takes new files, and the path is
// not a directory.
func checkOutputPath(flag, path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return usagef("%s %s: directory %s does not exist; create it or pick another path", flag, path, dir)
	}
	if !st.IsDir() {
		return usagef("%s %s: %s is not a directory", flag, path, dir)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return usagef("%s %s is a directory; give a file name", flag, path)
	}
	probe, err := os.CreateTemp(dir, ".perflab-probe-*")
	if err != nil {
		return usagef("%s %s: cannot write in %s (%v); pick another path", flag, path, dir, unwrapPathError(err))
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// createRecord creates (or empties) the CSV file a run records into.
func createRecord(path string) (*os.File, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, usagef("--record %s: %v", path, unwrapPathError(err))
	}
	return f, nil
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
