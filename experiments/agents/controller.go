package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"perflab/engine"
	"perflab/engine/report"
)

// ControllerOptions are a distributed run.
type ControllerOptions struct {
	Redis string
	Min   int  // agents to wait for before starting
	Plan  Plan // the whole load: Level and the stages' targets are totals
	Steps []string
	Log   io.Writer
	// OnSnapshot hears every merged snapshot in order; OnAgent every
	// agent's own, under its name; OnLost an agent given up. They run on
	// the controller's goroutine.
	OnSnapshot func(*engine.Snapshot)
	OnAgent    func(name string, s *engine.Snapshot)
	OnLost     func(name string)
}

// AgentState is one agent's part in a run, for the screen.
type AgentState struct {
	Name     string
	Cores    int
	Share    float64 // users, connections or rate asked of it
	Achieved float64 // requests started per second, last second
	LagP99   time.Duration
	CPU      float64
	// Engine is how the agent drives its connections: its engine path,
	// and on the event loop how it reads and writes ("loop (io_uring)").
	// Pacer is its pacer's priority when real time was asked for
	// (engine.PacerRealtime or engine.PacerNormal), else "".
	Engine    string
	Pacer     string
	Heartbeat time.Time
	Lost      bool
}

// runAgent is the controller's record of one agent.
type runAgent struct {
	info     Info
	share    float64
	tally    *engine.Tally
	last     Message // the newest message: cumulative errors, checks, health
	elapsed  time.Duration
	ended    bool
	lost     bool
	finalMsg *Message
	beat     time.Time
}

// Controller runs a plan over agents and merges their intervals.
type Controller struct {
	o      ControllerOptions
	rdb    *redis.Client
	run    string
	open   bool
	merged *engine.Tally

	mu      sync.Mutex
	agents  []*runAgent
	byID    map[string]*runAgent
	pending map[int]map[string]*Message
	next    int // the next whole second to merge
	total   float64
	load    engine.Load
	err     error
}

// Start waits for the agents, sends each its share and starts the merge.
// It returns once every agent accepted (or one refused: an error).
func Start(ctx context.Context, o ControllerOptions) (*Controller, error) {
	rdb, err := Connect(ctx, o.Redis)
	if err != nil {
		return nil, err
	}
	c := &Controller{o: o, rdb: rdb, run: newID(), open: o.Plan.Model == "open", byID: map[string]*runAgent{},
		pending: map[int]map[string]*Message{}, next: 1, total: o.Plan.Level}
	if c.o.Log == nil {
		c.o.Log = io.Discard
	}
	c.merged = engine.NewTally(o.Steps, c.open)
	infos, err := c.waitAgents(ctx)
	if err != nil {
		rdb.Close()
		return nil, err
	}
	c.alive(ctx)
	if err := c.sendPlans(ctx, infos); err != nil {
		c.stopAll()
		rdb.Close()
		return nil, err
	}
	return c, nil
}

// waitAgents waits for at least Min agents of this version.
func (c *Controller) waitAgents(ctx context.Context) ([]Info, error) {
	said := -1
	for {
		infos, stale, err := c.registered(ctx)
		if err != nil {
			return nil, err
		}
		var ok []Info
		for _, in := range infos {
			if in.Version != Version {
				return nil, fmt.Errorf("agent %s runs perflab %s, this controller %s; run the same perflab build on both", in.Name, in.Version, Version)
			}
			ok = append(ok, in)
		}
		if len(ok) >= max(1, c.o.Min) {
			return ok, nil
		}
		if len(ok) != said {
			fmt.Fprintf(c.o.Log, "perflab: waiting for %d agent(s) on %s; %d ready (%d silent)\n", max(1, c.o.Min), c.o.Redis, len(ok), stale)
			said = len(ok)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// registered lists the agents whose heartbeat is fresh, and counts the
// silent ones.
func (c *Controller) registered(ctx context.Context) ([]Info, int, error) {
	zs, err := c.rdb.ZRangeWithScores(ctx, keyRegistry(), 0, -1).Result()
	if err != nil {
		return nil, 0, err
	}
	now := time.Now().UnixMilli()
	var out []Info
	stale := 0
	for _, z := range zs {
		id, _ := z.Member.(string)
		if now-int64(z.Score) > LostAfter.Milliseconds() {
			stale++
			continue
		}
		raw, err := c.rdb.Get(ctx, keyInfo(id)).Result()
		if err != nil {
			continue
		}
		var in Info
		if json.Unmarshal([]byte(raw), &in) == nil {
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, stale, nil
}

// shares splits a level over agents by their cores: whole numbers of
// users or connections by largest remainder, rates as they fall.
func shares(level float64, cores []int, whole bool) []float64 {
	total := 0
	for _, n := range cores {
		total += max(1, n)
	}
	out := make([]float64, len(cores))
	if !whole {
		for i, n := range cores {
			out[i] = level * float64(max(1, n)) / float64(total)
		}
		return out
	}
	type rem struct {
		i int
		r float64
	}
	var rems []rem
	left := int(math.Round(level))
	for i, n := range cores {
		exact := level * float64(max(1, n)) / float64(total)
		out[i] = math.Floor(exact)
		left -= int(out[i])
		rems = append(rems, rem{i, exact - out[i]})
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].r > rems[b].r })
	for k := 0; k < left && k < len(rems); k++ {
		out[rems[k].i]++
	}
	return out
}

// sendPlans gives each agent its share with a common start time and waits
// for them to accept.
func (c *Controller) sendPlans(ctx context.Context, infos []Info) error {
	cores := make([]int, len(infos))
	for i, in := range infos {
		cores[i] = in.Cores
	}
	whole := c.o.Plan.Model != "open"
	lv := shares(c.o.Plan.Level, cores, whole)
	stageShares := make([][]float64, len(c.o.Plan.Stages))
	for k, s := range c.o.Plan.Stages {
		stageShares[k] = shares(s.Target, cores, whole)
	}
	start := time.Now().Add(StartLead).UnixMilli()
	for i, in := range infos {
		p := c.o.Plan
		p.Run, p.Version, p.StartAt, p.Level = c.run, Version, start, lv[i]
		p.Stages = nil
		for k, s := range c.o.Plan.Stages {
			p.Stages = append(p.Stages, Stage{Seconds: s.Seconds, Target: stageShares[k][i]})
		}
		ra := &runAgent{info: in, share: lv[i], tally: engine.NewTally(c.o.Steps, c.open), beat: time.Now()}
		c.agents = append(c.agents, ra)
		c.byID[in.ID] = ra
		if err := c.rdb.RPush(ctx, keyInbox(in.ID), marshal(Command{Type: "plan", Run: c.run, Plan: &p})).Err(); err != nil {
			return err
		}
	}
	accepted := 0
	deadline := time.Now().Add(StartLead)
	for accepted < len(infos) {
		m, err := c.receive(ctx, max(time.Second, time.Until(deadline)))
		if err != nil {
			return fmt.Errorf("agents did not answer the plan in time (%d of %d accepted): %w", accepted, len(infos), err)
		}
		switch m.Type {
		case "refuse":
			name := m.Agent
			if a := c.byID[m.Agent]; a != nil {
				name = a.info.Name
			}
			return fmt.Errorf("agent %s refused the run: %s", name, m.Error)
		case "accept":
			accepted++
		default:
			c.take(m)
		}
	}
	c.load = engine.Load{Model: c.o.Plan.Model, Think: time.Duration(c.o.Plan.ThinkMS * float64(time.Millisecond))}
	c.setLoadLevel(c.total)
	fmt.Fprintf(c.o.Log, "perflab: %d agent(s) accepted run %s; starting together\n", len(infos), c.run)
	return nil
}

// receive waits up to wait for the agents' next message.
func (c *Controller) receive(ctx context.Context, wait time.Duration) (*Message, error) {
	if wait <= 0 {
		return nil, errors.New("timed out")
	}
	res, err := c.rdb.BLPop(ctx, wait, keyOutbox(c.run)).Result()
	if err != nil {
		return nil, err
	}
	var m Message
	if err := json.Unmarshal([]byte(res[1]), &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// alive keeps the controller's heartbeat until the context ends.
func (c *Controller) alive(ctx context.Context) {
	set := func() {
		cc, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c.rdb.Set(cc, keyAlive(c.run), "1", 2*Heartbeat)
	}
	set()
	go func() {
		t := time.NewTicker(Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				set()
			case <-ctx.Done():
				return
			}
		}
	}()
}

// Wait merges the agents' intervals until every agent ended or was lost,
// handing every merged snapshot to OnSnapshot, and returns the final one.
func (c *Controller) Wait(ctx context.Context) (*engine.Snapshot, error) {
	defer c.rdb.Close()
	defer c.stopAll()
	lastCheck := time.Now()
	for {
		if time.Since(lastCheck) >= Heartbeat/2 {
			c.checkLost(ctx)
			lastCheck = time.Now()
		}
		if c.allDone() {
			return c.final(), nil
		}
		if ctx.Err() != nil {
			c.stopAll()
			ctx = context.Background() // let the agents send what they have
			return c.drainAfterStop(ctx)
		}
		m, err := c.receive(ctx, time.Second)
		if err != nil || m == nil {
			continue
		}
		c.take(m)
	}
}

// drainAfterStop collects the agents' last messages after a stop.
func (c *Controller) drainAfterStop(ctx context.Context) (*engine.Snapshot, error) {
	deadline := time.Now().Add(LostAfter)
	for !c.allDone() && time.Now().Before(deadline) {
		if m, err := c.receive(ctx, time.Second); err == nil && m != nil {
			c.take(m)
		}
	}
	return c.final(), nil
}

// take files one message and merges every second now complete.
func (c *Controller) take(m *Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.byID[m.Agent]
	if a == nil || a.lost {
		return // a lost agent's late words are not counted twice
	}
	a.last = *m
	a.beat = time.Now()
	switch m.Type {
	case "interval":
		if c.pending[m.Second] == nil {
			c.pending[m.Second] = map[string]*Message{}
		}
		c.pending[m.Second][m.Agent] = m
	case "end":
		a.finalMsg = m
		a.ended = true
	}
	c.mergeReady()
}

// mergeReady merges, in order, every whole second that every agent still
// running has sent.
func (c *Controller) mergeReady() {
	for {
		got := c.pending[c.next]
		waiting := false
		for _, a := range c.agents {
			if a.lost || a.ended && got[a.info.ID] == nil {
				continue
			}
			if got[a.info.ID] == nil {
				waiting = true
			}
		}
		if waiting || len(got) == 0 {
			return
		}
		var elapsed time.Duration
		for id, m := range got {
			a := c.byID[id]
			c.addTo(a, m)
			e := time.Duration(m.ElapsedMS * float64(time.Millisecond))
			span := e - a.elapsed
			a.elapsed = e
			elapsed = max(elapsed, e)
			if c.o.OnAgent != nil {
				c.o.OnAgent(a.info.Name, a.tally.Snapshot(c.next, span, e, false, stateOf([]*runAgent{a}, a.last.Load)))
			}
		}
		s := c.merged.Snapshot(c.next, time.Second, elapsed, false, stateOf(c.agents, c.load))
		delete(c.pending, c.next)
		c.next++
		if c.o.OnSnapshot != nil {
			c.o.OnSnapshot(s)
		}
	}
}

// addTo merges an agent's message into its own tally and the run's.
func (c *Controller) addTo(a *runAgent, m *Message) {
	for _, sr := range m.Series {
		r, err := sr.decode()
		if err != nil {
			continue
		}
		c.merged.Add(sr.Name, r) // Add copies what it keeps
		a.tally.Add(sr.Name, r)
	}
}

// checkLost gives up agents whose heartbeat is older than LostAfter and
// moves their share to the others.
func (c *Controller) checkLost(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	lost := false
	for _, a := range c.agents {
		if a.lost || a.ended {
			continue
		}
		score, err := c.rdb.ZScore(ctx, keyRegistry(), a.info.ID).Result()
		if err == nil {
			a.beat = time.UnixMilli(int64(score))
		}
		if now.Sub(a.beat) > LostAfter {
			a.lost, lost = true, true
			fmt.Fprintf(c.o.Log, "perflab: agent %s lost (no heartbeat for %s); its share moves to the others\n", a.info.Name, LostAfter)
			if c.o.OnLost != nil {
				c.o.OnLost(a.info.Name)
			}
		}
	}
	if lost {
		if len(c.o.Plan.Stages) > 0 {
			// A share command would end the others' own stages.
			fmt.Fprintln(c.o.Log, "perflab: the run follows stages, which are not re-planned: the others keep their own shares")
		} else {
			c.reshare(ctx)
		}
		c.mergeReady()
	}
}

// reshare sends the live agents their shares of the total; c.mu is held.
func (c *Controller) reshare(ctx context.Context) {
	var live []*runAgent
	var cores []int
	for _, a := range c.agents {
		if !a.lost && !a.ended {
			live = append(live, a)
			cores = append(cores, a.info.Cores)
		}
	}
	lv := shares(c.total, cores, c.o.Plan.Model != "open")
	for i, a := range live {
		a.share = lv[i]
		c.rdb.RPush(ctx, keyInbox(a.info.ID), marshal(Command{Type: "share", Run: c.run, Level: lv[i]}))
	}
}

func (c *Controller) allDone() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.agents {
		if !a.lost && !a.ended {
			return false
		}
	}
	return true
}

// final merges the agents' last stretches into the run's final snapshot.
func (c *Controller) final() *engine.Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mergeReady()
	var elapsed time.Duration
	for _, a := range c.agents {
		if a.finalMsg == nil || a.lost {
			continue
		}
		c.addTo(a, a.finalMsg)
		e := time.Duration(a.finalMsg.ElapsedMS * float64(time.Millisecond))
		if c.o.OnAgent != nil {
			c.o.OnAgent(a.info.Name, a.tally.Snapshot(0, e-a.elapsed, e, true, stateOf([]*runAgent{a}, a.last.Load)))
		}
		elapsed = max(elapsed, e)
	}
	span := elapsed - time.Duration(c.next-1)*time.Second
	s := c.merged.Snapshot(0, max(span, 0), elapsed, true, stateOf(c.agents, c.load))
	if c.o.OnSnapshot != nil {
		c.o.OnSnapshot(s)
	}
	return s
}

// stopAll tells every agent to stop and drops the heartbeat.
func (c *Controller) stopAll() {
	cc, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.agents {
		if !a.ended && !a.lost {
			c.rdb.RPush(cc, keyInbox(a.info.ID), marshal(Command{Type: "stop", Run: c.run}))
		}
	}
}

// Agents are the run's agents as the screen shows them.
func (c *Controller) Agents() []AgentState {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []AgentState
	for _, a := range c.agents {
		h := a.last.Health
		out = append(out, AgentState{Name: a.info.Name, Cores: a.info.Cores, Share: a.share, Achieved: h.AchievedRate,
			LagP99: h.SendLagP99, CPU: h.CPU, Engine: report.EngineName(h, false), Pacer: strings.SplitN(h.PacerPriority, " ", 2)[0],
			Heartbeat: a.beat, Lost: a.lost})
	}
	return out
}

// SetLevel changes the run's total users, connections or rate live; every
// agent gets its share within one interval.
func (c *Controller) SetLevel(ctx context.Context, level float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total = level
	c.setLoadLevel(level)
	c.reshare(ctx)
}

// setLoadLevel sets the merged load's level; c.mu is held or not needed.
func (c *Controller) setLoadLevel(level float64) {
	switch c.load.Model {
	case "closed":
		c.load.VUs = int(math.Round(level))
	case "max":
		c.load.Conns = int(math.Round(level))
	case "open":
		c.load.Rate = level
	}
}

func (c *Controller) command(ctx context.Context, typ string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.agents {
		if !a.lost && !a.ended {
			c.rdb.RPush(ctx, keyInbox(a.info.ID), marshal(Command{Type: typ, Run: c.run}))
		}
	}
}

// Load is the run's load in force.
func (c *Controller) Load() engine.Load {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.load
}
