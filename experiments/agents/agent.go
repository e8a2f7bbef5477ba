package agents

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"perflab/engine"
	"perflab/server/redisconn"
)

// AgentOptions configure one agent.
type AgentOptions struct {
	Redis string // redis:// or rediss:// URL, credentials included
	Name  string // as shown to the controller; default the host name
	Cores int    // cores it offers; default all of this machine's
	// Allow are the target patterns it accepts (see Allowed); default
	// DefaultAllow.
	Allow []string
	// Log hears what the agent does, a line each.
	Log io.Writer
}

// Connect opens a client to the Redis at rawURL and checks it answers.
func Connect(ctx context.Context, rawURL string) (*redis.Client, error) {
	quietOnce.Do(func() { redis.SetLogger(quiet{}) })
	c, err := redisconn.NewClient(rawURL, redisconn.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("--redis %s: %w", rawURL, err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("Redis at %s does not answer: %w", rawURL, err)
	}
	return c, nil
}

// agent is one agent's state.
type agent struct {
	rdb  *redis.Client
	info Info
	log  io.Writer
}

// RunAgent registers an agent and runs the plans it is given, one after
// another, until ctx ends.
func RunAgent(ctx context.Context, o AgentOptions) error {
	rdb, err := Connect(ctx, o.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	host, _ := os.Hostname()
	a := &agent{rdb: rdb, log: o.Log, info: Info{ID: newID(), Name: o.Name, Host: host, Cores: o.Cores, Version: Version, Allow: o.Allow}}
	if a.info.Name == "" {
		a.info.Name = host
	}
	if a.info.Cores <= 0 {
		a.info.Cores = runtime.NumCPU()
	}
	if len(a.info.Allow) == 0 {
		a.info.Allow = DefaultAllow
	}
	if a.log == nil {
		a.log = io.Discard
	}
	stop := a.heartbeat(ctx)
	defer stop()
	fmt.Fprintf(a.log, "agent %s (%s) waiting for plans\n", a.info.Name, a.info.ID)
	for ctx.Err() == nil {
		cmd, err := a.next(ctx, time.Second)
		if err != nil || cmd == nil {
			continue
		}
		if cmd.Type == "plan" && cmd.Plan != nil {
			a.run(ctx, cmd.Plan)
		}
	}
	return nil
}

func newID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// heartbeat says the agent is alive every Heartbeat until stopped, and
// unregisters it then.
func (a *agent) heartbeat(ctx context.Context) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	beat := func() {
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		a.rdb.Set(c, keyInfo(a.info.ID), marshal(a.info), 10*LostAfter)
		a.rdb.ZAdd(c, keyRegistry(), redis.Z{Score: float64(time.Now().UnixMilli()), Member: a.info.ID})
	}
	beat()
	go func() {
		defer close(finished)
		t := time.NewTicker(Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				beat()
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		a.rdb.ZRem(c, keyRegistry(), a.info.ID)
		a.rdb.Del(c, keyInfo(a.info.ID), keyInbox(a.info.ID))
	}
}

// next waits up to wait for a command.
func (a *agent) next(ctx context.Context, wait time.Duration) (*Command, error) {
	res, err := a.rdb.BLPop(ctx, wait, keyInbox(a.info.ID)).Result()
	if err != nil {
		return nil, err
	}
	var cmd Command
	if err := json.Unmarshal([]byte(res[1]), &cmd); err != nil {
		fmt.Fprintf(a.log, "agent: ignoring a command that is not JSON: %v\n", err)
		return nil, nil
	}
	return &cmd, nil
}

// send puts a message on the run's outbox.
func (a *agent) send(run string, m Message) {
	m.Agent = a.info.ID
	c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	a.rdb.RPush(c, keyOutbox(run), marshal(m))
}

// run carries out one plan: refuses it if the versions differ or the
// target is not allowed, else waits for the start and drives its share,
// sending every interval, until the plan ends, the controller stops it or
// goes silent.
func (a *agent) run(ctx context.Context, p *Plan) {
	gen, err := a.generator(p)
	if err != nil {
		fmt.Fprintf(a.log, "agent: refusing run %s: %v\n", p.Run, err)
		a.send(p.Run, Message{Type: "refuse", Error: err.Error()})
		return
	}
	a.send(p.Run, Message{Type: "accept"})
	fmt.Fprintf(a.log, "agent: run %s: %s %s, %s %g\n", p.Run, p.Method, p.URL, p.Model, p.Level)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	sender := a.sender(p.Run)
	gen.Observe(func(s *engine.Snapshot) {
		if s.Second > 0 || s.Done {
			sender.add(s)
		}
	})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.follow(runCtx, p, gen)
	}()
	if wait := time.Until(time.UnixMilli(p.StartAt)); wait > 0 {
		select {
		case <-time.After(wait):
		case <-runCtx.Done():
		}
	}
	if runCtx.Err() == nil {
		if _, err := gen.Run(runCtx); err != nil {
			a.send(p.Run, Message{Type: "refuse", Error: err.Error()})
		}
	}
	cancel()
	wg.Wait()
	sender.close()
	fmt.Fprintf(a.log, "agent: run %s over\n", p.Run)
}

// follow applies the controller's commands to the running generator and
// stops it when the controller says so or stops saying it is alive: its
// heartbeat key lives two heartbeats, so once it is gone the controller
// has been silent that long.
func (a *agent) follow(ctx context.Context, p *Plan, gen *engine.Generator) {
	for ctx.Err() == nil {
		cmd, err := a.next(ctx, time.Second)
		if err == nil && cmd != nil && cmd.Run == p.Run {
			switch cmd.Type {
			case "share":
				if p.Model == "open" {
					gen.SetRate(cmd.Level)
				} else {
					gen.SetVUs(max(1, int(cmd.Level+0.5)))
				}
			case "pause":
				gen.Pause()
			case "resume":
				gen.Resume()
			case "stop":
				gen.Stop()
				return
			}
		}
		if alive, err := a.rdb.Exists(ctx, keyAlive(p.Run)).Result(); err == nil && alive == 0 {
			fmt.Fprintf(a.log, "agent: the controller of run %s went silent; stopping\n", p.Run)
			gen.Stop()
			return
		}
	}
}

// generator builds the plan's generator, after checking version and
// target.
func (a *agent) generator(p *Plan) (*engine.Generator, error) {
	if p.Version != Version {
		return nil, fmt.Errorf("version mismatch: the controller is %s, this agent %s; run the same perflab build on both", p.Version, Version)
	}
	if err := Allowed(p.URL, a.info.Allow); err != nil {
		return nil, err
	}
	step := engine.Step{Name: "url", Method: p.Method, URL: p.URL, Body: p.Body}
	for _, h := range p.Headers {
		hdr, err := engine.ParseHeader(h)
		if err != nil {
			return nil, err
		}
		step.Header = append(step.Header, hdr)
	}
	var model engine.Model
	switch p.Model {
	case "closed":
		model = engine.Closed{VUs: int(p.Level + 0.5), Think: time.Duration(p.ThinkMS * float64(time.Millisecond))}
	case "max":
		model = engine.Max{Conns: int(p.Level + 0.5)}
	case "open":
		model = engine.Open{Rate: p.Level, MaxInFlight: p.MaxIn}
	default:
		return nil, errors.New("unknown model " + strconv.Quote(p.Model))
	}
	opts := []engine.Option{engine.IntervalHistograms()}
	if len(p.Stages) > 0 {
		var st []engine.Stage
		for _, s := range p.Stages {
			st = append(st, engine.Stage{Duration: time.Duration(s.Seconds * float64(time.Second)), Target: s.Target})
		}
		opts = append(opts, engine.Stages(st...))
	} else {
		opts = append(opts, engine.Duration(time.Duration(p.Seconds*float64(time.Second))))
	}
	if p.Timeout > 0 {
		opts = append(opts, engine.Timeout(time.Duration(p.Timeout*float64(time.Second))))
	}
	if p.MaxBody > 0 {
		opts = append(opts, engine.MaxBody(p.MaxBody))
	}
	if p.Engine != "" {
		opts = append(opts, engine.Path(p.Engine))
	}
	if p.Realtime {
		opts = append(opts, engine.RealtimePacer())
	}
	return engine.New(engine.Scenario{Steps: []engine.Step{step}}, model, opts...)
}

// sender ships interval messages from its own goroutine, so the
// generator's never waits on Redis.
type sender struct {
	a    *agent
	run  string
	ch   chan *engine.Snapshot
	done chan struct{}
}

func (a *agent) sender(run string) *sender {
	s := &sender{a: a, run: run, ch: make(chan *engine.Snapshot, 64), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for snap := range s.ch {
			a.send(run, intervalMessage(snap))
		}
	}()
	return s
}

func (s *sender) add(snap *engine.Snapshot) { s.ch <- snap }

func (s *sender) close() {
	close(s.ch)
	<-s.done
}

// intervalMessage is a snapshot's interval on the wire.
func intervalMessage(s *engine.Snapshot) Message {
	m := Message{Type: "interval", Second: s.Second, ElapsedMS: float64(s.Elapsed) / float64(time.Millisecond),
		Errors: s.Errors, Statuses: s.Statuses, Checks: s.Checks, Health: s.Health, Load: s.Load}
	if s.Done {
		m.Type = "end"
	}
	for _, series := range append([]engine.Series{s.All}, s.Steps...) {
		if series.Interval == nil {
			continue
		}
		rec, err := encodeRecord(series.Name, series.Interval)
		if err != nil {
			continue
		}
		m.Series = append(m.Series, rec)
	}
	return m
}

// go-redis logs its own complaints (a lost connection, a truncated
// timeout) to stderr, which the agent's and the run's lines own; perflab
// reports what matters itself.
var quietOnce sync.Once

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}
