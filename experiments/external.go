package experiments

import (
	"context"
	"sync"

	"perflab/engine"
)

// External is a load run against a target perflab did not start (perflab
// --url): load controls only, no twin behind it.
type External struct {
	gen    *engine.Generator
	title  string
	snaps  <-chan *engine.Snapshot
	cancel context.CancelFunc
	done   chan struct{}
	err    error // written before done closes

	closeOnce sync.Once
}

// StartExternal starts gen's run and returns what watches it. title names
// the target, e.g. "GET http://host/path".
func StartExternal(gen *engine.Generator, title string) *External {
	ctx, cancel := context.WithCancel(context.Background())
	x := &External{gen: gen, title: title, snaps: gen.Subscribe(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(x.done)
		_, x.err = gen.Run(ctx)
	}()
	return x
}

// Title names the target.
func (x *External) Title() string { return x.title }

// Info says what drives the target.
func (x *External) Info() string { return "external target, " + x.gen.Load().String() }

// Snapshots delivers the run's snapshots and closes after the last.
func (x *External) Snapshots() <-chan *engine.Snapshot { return x.snaps }

// Err waits for the run to return, which it does right after the last
// snapshot.
func (x *External) Err() error {
	<-x.done
	return x.err
}

func (x *External) Load() engine.Load       { return x.gen.Load() }
func (x *External) SetVUs(n int) error      { return x.gen.SetVUs(n) }
func (x *External) SetRate(r float64) error { return x.gen.SetRate(r) }
func (x *External) Pause()                  { x.gen.Pause() }
func (x *External) Resume()                 { x.gen.Resume() }
func (x *External) Paused() bool            { return x.gen.Paused() }

// Close stops the run and waits until its connections are closed.
func (x *External) Close() error {
	x.closeOnce.Do(func() {
		x.cancel()
		<-x.done
	})
	return nil
}
