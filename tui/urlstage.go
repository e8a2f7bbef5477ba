package tui

import (
	"context"
	"errors"
	"sync"

	"perflab/engine"
	"perflab/experiments"
)

// URLStage is a load run against an external target: no twin, so load
// knobs only (users, rate, connections, pause).
type URLStage struct {
	gen    *engine.Generator
	title  string
	snaps  <-chan *engine.Snapshot
	cancel context.CancelFunc
	done   chan struct{}
	err    error // written before done closes

	closeOnce sync.Once
}

// StartURLStage starts gen's run and returns the stage that watches it.
// title names the target, e.g. "GET http://host/path".
func StartURLStage(gen *engine.Generator, title string) *URLStage {
	ctx, cancel := context.WithCancel(context.Background())
	s := &URLStage{gen: gen, title: title, snaps: gen.Subscribe(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_, s.err = gen.Run(ctx)
	}()
	return s
}

var errNoTwin = errors.New("an external target has no twin knobs; open an experiment to change the server")

func (s *URLStage) Title() string { return s.title }

func (s *URLStage) Info() string { return "external target, " + s.gen.Load().String() }

func (s *URLStage) Snapshots() <-chan *engine.Snapshot { return s.snaps }

// Err waits for the run to return, which it does right after the last
// snapshot.
func (s *URLStage) Err() error {
	<-s.done
	return s.err
}

func (s *URLStage) Knobs() []KnobValue { return nil }

func (s *URLStage) SetKnob(name, value string) error { return errNoTwin }

func (s *URLStage) Load() engine.Load { return s.gen.Load() }

func (s *URLStage) SetVUs(n int) error { return s.gen.SetVUs(n) }

func (s *URLStage) SetRate(r float64) error { return s.gen.SetRate(r) }

func (s *URLStage) Pause() { s.gen.Pause() }

func (s *URLStage) Resume() { s.gen.Resume() }

func (s *URLStage) Paused() bool { return s.gen.Paused() }

func (s *URLStage) Why() (experiments.Why, bool) { return experiments.Why{}, false }

func (s *URLStage) Seed() (experiments.SeedCell, string, bool) {
	return experiments.SeedCell{}, "", false
}

func (s *URLStage) SeedSweep(ctx context.Context, onCell func(SweepCell)) error {
	return errors.New("an external target has no seed to sweep; open an experiment")
}

// Close stops the run and waits until its connections are closed.
func (s *URLStage) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		<-s.done
	})
	return nil
}
