// Package agents spreads one load run over several machines. Agents
// (`perflab agent`) register in a shared Redis and wait for plans; a
// controller (`perflab --url URL --agents redis://...`) splits the load
// among them in proportion to their cores, starts them at one moment, and
// merges what they send back, each second's histograms and exact counts
// per series, into snapshots whose percentiles are those of one histogram
// of every request (engine.Tally), never averages of percentiles.
//
// Everything crosses Redis: an agent's heartbeat (a sorted set scored by
// time), its inbox (a list of commands: plan, share, pause, resume,
// stop), the run's outbox (a list of the agents' messages: accept,
// refuse, interval, end) and the controller's heartbeat (a key that
// expires). An agent that misses heartbeats for LostAfter is lost and its
// share moves to the others; agents whose controller's heartbeat (a key
// living two heartbeats) expires stop their load and wait for the next
// plan, within about three seconds of the controller's death.
package agents

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"path"
	"runtime/debug"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"perflab/engine"
)

// Timing of the protocol.
const (
	Heartbeat = time.Second     // how often agents and the controller say they are alive
	LostAfter = 3 * time.Second // silence after which either side gives the other up
	// StartLead is how far ahead of the plan's sending its common start
	// time lies, so every agent has it before then.
	StartLead = time.Second
)

// Version is what agents and the controller must share: the protocol's
// number and the build's revision, so two builds refuse each other.
var Version = func() string {
	v := "agents/1"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return v + "+" + s.Value[:12]
			}
		}
	}
	return v + "+dev"
}()

// Redis keys.
const prefix = "perflab:agents:"

func keyRegistry() string          { return prefix + "registry" }
func keyInfo(agent string) string  { return prefix + "info:" + agent }
func keyInbox(agent string) string { return prefix + "inbox:" + agent }
func keyOutbox(run string) string  { return prefix + "run:" + run + ":out" }
func keyAlive(run string) string   { return prefix + "run:" + run + ":alive" }

// Info is what an agent says of itself.
type Info struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Host    string   `json:"host"`
	Cores   int      `json:"cores"`
	Version string   `json:"version"`
	Allow   []string `json:"allow"`
}

// Plan is a run as the controller gives it to one agent: the request, the
// agent's share of the load, and when to start.
type Plan struct {
	Run     string   `json:"run"`
	Version string   `json:"version"`
	Method  string   `json:"method"`
	URL     string   `json:"url"`
	Headers []string `json:"headers,omitempty"`
	Body    string   `json:"body,omitempty"`
	Model   string   `json:"model"` // closed, open, max
	Level   float64  `json:"level"` // users, connections or rate: the agent's share
	ThinkMS float64  `json:"think_ms,omitempty"`
	MaxIn   int      `json:"max_in_flight,omitempty"`
	Stages  []Stage  `json:"stages,omitempty"`
	Seconds float64  `json:"duration_s,omitempty"`
	Timeout float64  `json:"timeout_s,omitempty"`
	MaxBody int      `json:"max_body,omitempty"`
	// Engine is the engine path the run asked for ("" lets each agent
	// take the loop where the plan fits it), and Realtime asks for the
	// real-time pacer (engine.RealtimePacer).
	Engine   string            `json:"engine,omitempty"`
	Realtime bool              `json:"realtime_pacer,omitempty"`
	Tags     map[string]string `json:"tags,omitempty"`
	StartAt  int64             `json:"start_at_ms"` // unix ms
}

// Stage is one stage of a plan, its target the agent's share.
type Stage struct {
	Seconds float64 `json:"s"`
	Target  float64 `json:"target"`
}

// Command is what lands in an agent's inbox.
type Command struct {
	Type  string  `json:"type"` // plan, share, pause, resume, stop
	Run   string  `json:"run,omitempty"`
	Plan  *Plan   `json:"plan,omitempty"`
	Level float64 `json:"level,omitempty"` // share: the agent's new users, connections or rate
}

// Message is what an agent sends on a run's outbox.
type Message struct {
	Type  string `json:"type"` // accept, refuse, interval, end
	Agent string `json:"agent"`
	Error string `json:"error,omitempty"`
	// An interval: the whole second it closes (0 for the run's last
	// stretch, with Type end), its span and the run's elapsed time.
	Second    int                `json:"second,omitempty"`
	SpanMS    float64            `json:"span_ms,omitempty"`
	ElapsedMS float64            `json:"elapsed_ms,omitempty"`
	Series    []SeriesRecord     `json:"series,omitempty"`
	Errors    engine.ErrorCounts `json:"errors"`
	Statuses  map[int]int64      `json:"statuses,omitempty"`
	Checks    []engine.Check     `json:"checks,omitempty"`
	Health    engine.Health      `json:"health"`
	Load      engine.Load        `json:"load"`
}

// SeriesRecord is one series' interval record on the wire: histograms in
// HdrHistogram's compressed encoding, base64.
type SeriesRecord struct {
	Name                                  string `json:"name"`
	Latency                               string `json:"lat"`
	Service                               string `json:"svc,omitempty"`
	Requests, Errors, Unfinished, Retries int64
	LatSum, SvcSum                        uint64
	LatMin, LatMax, SvcMin, SvcMax        uint32
}

// encodeRecord puts a record on the wire.
func encodeRecord(name string, r *engine.IntervalRecord) (SeriesRecord, error) {
	s := SeriesRecord{Name: name, Requests: r.Requests, Errors: r.Errors, Unfinished: r.Unfinished, Retries: r.Retries,
		LatSum: r.LatSum, SvcSum: r.SvcSum, LatMin: r.LatMin, LatMax: r.LatMax, SvcMin: r.SvcMin, SvcMax: r.SvcMax}
	var err error
	if s.Latency, err = encodeHist(r.Latency); err != nil {
		return s, err
	}
	if r.Service != nil {
		s.Service, err = encodeHist(r.Service)
	}
	return s, err
}

func encodeHist(h *hdr.Histogram) (string, error) {
	b, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// decode takes a record off the wire.
func (s SeriesRecord) decode() (*engine.IntervalRecord, error) {
	r := &engine.IntervalRecord{Requests: s.Requests, Errors: s.Errors, Unfinished: s.Unfinished, Retries: s.Retries,
		LatSum: s.LatSum, SvcSum: s.SvcSum, LatMin: s.LatMin, LatMax: s.LatMax, SvcMin: s.SvcMin, SvcMax: s.SvcMax}
	var err error
	if r.Latency, err = hdr.Decode([]byte(s.Latency)); err != nil {
		return nil, fmt.Errorf("series %s: %w", s.Name, err)
	}
	if s.Service != "" {
		if r.Service, err = hdr.Decode([]byte(s.Service)); err != nil {
			return nil, fmt.Errorf("series %s: %w", s.Name, err)
		}
	}
	return r, nil
}

func marshal(v any) string {
	var b bytes.Buffer
	json.NewEncoder(&b).Encode(v)
	return strings.TrimSpace(b.String())
}

// DefaultAllow are the targets an agent accepts unless told otherwise:
// this machine only, so that a shared Redis cannot aim it elsewhere.
var DefaultAllow = []string{"localhost", "127.0.0.0/8", "::1/128"}

// Allowed reports whether target's host matches one of the patterns: an
// address inside a CIDR pattern, or a host name matching a glob pattern
// ("*.staging.example.com"), "localhost" being loopback.
func Allowed(target string, patterns []string) error {
	u, err := url.Parse(target)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("target %q is not a URL with a host", target)
	}
	host := strings.ToLower(u.Hostname())
	ip := net.ParseIP(host)
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSpace(p))
		if _, cidr, err := net.ParseCIDR(p); err == nil {
			if ip != nil && cidr.Contains(ip) {
				return nil
			}
			continue
		}
		if ip != nil && net.ParseIP(p) != nil && net.ParseIP(p).Equal(ip) {
			return nil
		}
		if ok, _ := path.Match(p, host); ok && ip == nil {
			return nil
		}
	}
	return fmt.Errorf("target %s is outside this agent's --allow (%s); start the agent with --allow %s to accept it",
		host, strings.Join(patterns, ","), host)
}
