package agents

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"perflab/engine"
)

// Remote is a run over agents as the dashboard drives it: merged snapshots
// on one channel, the newest winning, and the load's controls reaching
// every agent.
type Remote struct {
	c      *Controller
	title  string
	out    chan *engine.Snapshot
	cancel context.CancelFunc
	done   chan struct{}
	err    error

	mu        sync.Mutex
	paused    bool
	closeOnce sync.Once
}

// StartRemote waits for the agents, starts the run and merges it in the
// background until it ends or Close.
func StartRemote(ctx context.Context, o ControllerOptions, title string) (*Remote, error) {
	s := &Remote{title: title, out: make(chan *engine.Snapshot, 1), done: make(chan struct{})}
	o.OnSnapshot = s.forward
	runCtx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	c, err := Start(runCtx, o)
	if err != nil {
		cancel()
		return nil, err
	}
	s.c, s.cancel = c, cancel
	go func() {
		defer close(s.done)
		defer close(s.out)
		_, s.err = c.Wait(runCtx)
	}()
	return s, nil
}

func (s *Remote) forward(snap *engine.Snapshot) {
	for {
		select {
		case s.out <- snap:
			return
		default:
			select {
			case <-s.out:
			default:
			}
		}
	}
}

// Title names the target.
func (s *Remote) Title() string { return s.title }

// Info says how the agents fare, a few words each.
func (s *Remote) Info() string {
	var parts []string
	for _, a := range s.c.Agents() {
		if a.Lost {
			parts = append(parts, a.Name+" LOST")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.0f/s", a.Name, a.Achieved))
	}
	return fmt.Sprintf("%d agents: %s", len(parts), strings.Join(parts, ", "))
}

// Snapshots delivers the merged snapshots; closed when the run ends.
func (s *Remote) Snapshots() <-chan *engine.Snapshot { return s.out }

// Err waits for the run to end and says why it ended early, if it did.
func (s *Remote) Err() error {
	<-s.done
	return s.err
}

// Load is the whole run's load.
func (s *Remote) Load() engine.Load { return s.c.Load() }

// SetVUs sets the run's users or connections, split over the agents.
func (s *Remote) SetVUs(n int) error {
	if s.c.Load().Model == "open" {
		return errors.New("the open model sets a rate, not users")
	}
	s.c.SetLevel(context.Background(), float64(n))
	return nil
}

// SetRate sets the open model's rate, split over the agents.
func (s *Remote) SetRate(r float64) error {
	if s.c.Load().Model != "open" {
		return errors.New("only the open model has a rate")
	}
	s.c.SetLevel(context.Background(), r)
	return nil
}

// Pause holds every agent's load.
func (s *Remote) Pause() {
	s.mu.Lock()
	s.paused = true
	s.mu.Unlock()
	s.c.command(context.Background(), "pause")
}

// Resume starts it again.
func (s *Remote) Resume() {
	s.mu.Lock()
	s.paused = false
	s.mu.Unlock()
	s.c.command(context.Background(), "resume")
}

// Paused reports whether the load is paused.
func (s *Remote) Paused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paused
}

// Close stops every agent's load and waits for the run to end.
func (s *Remote) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		select {
		case <-s.done:
		case <-time.After(2 * LostAfter):
		}
	})
	return nil
}
