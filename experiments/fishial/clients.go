package fishial

import (
	"context"
	"fmt"
	"time"
)

// clientConfig tells a client process its mode, its name and where the
// API (and, for the multiprocess mode, its coordinator) is.
func (r *race) clientConfig(mode, worker string, coord *coordinator) childConfig {
	id, secret := r.mock.Credentials()
	cfg := childConfig{Mode: mode, Worker: worker, Auth: r.mock.URL(), API: r.mock.URL(), ClientID: id, ClientSecret: secret}
	if coord != nil {
		cfg.Coordinator = coord.addr
	}
	if mode == modeAsync {
		cfg.Conns = r.cfg.Images // every image in flight at once
	}
	return cfg
}

// runClients runs k fishial-client processes in one mode and, for the
// multiprocess mode, the coordinator that serves them the queue and the
// token lock. It returns the CPU time of the clients and of the
// coordinator.
func (r *race) runClients(ctx context.Context, t *tally, mode string, k int) (cpu cpuTimes, err error) {
	gate := make(chan struct{})
	ready := make(chan struct{}, k)
	failed := make(chan error, 4*k+4)
	fail := func(err error) {
		select {
		case failed <- err:
		default:
		}
	}

	var coord *coordinator
	if mode == modeProcess {
		if coord, err = startCoordinator(ctx, coordConfig{Kind: coordQueue}, t, fail); err != nil {
			return cpu, err
		}
	}
	var children []*child
	everyone := func() []*child {
		if coord == nil {
			return children
		}
		return append([]*child{coord.child}, children...)
	}
	abort := func(err error) (cpuTimes, error) {
		killChildren(everyone())
		return cpuTimes{}, err
	}
	// Sequential and async get their whole list from the parent at once,
	// as a script has its list of files; the multiprocess clients take
	// theirs off the coordinator's queue.
	list := &jobQueue{}
	if coord == nil {
		list.put(r.jobs(""))
	}
	for i := range k {
		name := fmt.Sprintf("%s process %d", t.strategy, i+1)
		if k == 1 {
			name = t.strategy + " process"
		}
		ch, err := startChild(name, roleClient)
		if err != nil {
			return abort(err)
		}
		children = append(children, ch)
		go r.serveClient(ctx, ch, r.clientConfig(mode, fmt.Sprintf("%s-%d", t.strategy, i+1), coord), list, gate, ready, t, fail)
	}

	exits := make(chan *child, k)
	for _, ch := range children {
		go func() { <-ch.exited; exits <- ch }()
	}
	if err := awaitReady(ctx, k, "processes", ready, exits, failed); err != nil {
		return abort(err)
	}
	t.begin()
	close(gate)
	if coord != nil {
		if err := coord.begin(r.jobs("")); err != nil {
			return abort(err)
		}
	}
	if err := awaitImages(ctx, t, k, exits, failed); err != nil {
		return abort(err)
	}
	// Every image is in: the processes are leaving on their own, and
	// have told their CPU (reaped, so their messages are all read).
	cpu.workers = stopChildren(children)
	if coord != nil {
		cpu.coordinator = stopChildren([]*child{coord.child})
	}
	return cpu, nil
}

// awaitImages waits for every image of the race to come back, or for a
// failure: a process reporting one, leaving badly, or all k leaving with
// images missing.
func awaitImages(ctx context.Context, t *tally, k int, exits <-chan *child, failed <-chan error) error {
	for exited := 0; ; {
		select {
		case <-t.complete:
			return nil
		case err := <-failed:
			return err
		case ch := <-exits:
			exited++
			if !ch.state.Success() {
				return ch.failure()
			}
			if exited == k {
				select {
				case <-t.complete:
					return nil
				default:
					return fmt.Errorf("every process left with %d of %d images recognised", t.count(), t.total)
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// cpuTimes is what a strategy's processes used, whole lives, start-up
// included: its workers and its coordinator.
type cpuTimes struct{ workers, coordinator time.Duration }

// serveClient is the parent's side of one client process's link: its
// list (sequential, async), its results and its CPU.
func (r *race) serveClient(ctx context.Context, ch *child, cfg childConfig, list *jobQueue, gate chan struct{}, ready chan<- struct{}, t *tally, fail func(error)) {
	if err := ch.send(linkMsg{Op: "config", Config: &cfg}); err != nil {
		fail(fmt.Errorf("%s: write config: %w", ch.name, err))
		ch.reap()
		return
	}
	ch.listen(fail, func(m linkMsg) {
		switch m.Op {
		case "ready":
			ready <- struct{}{}
		case "next":
			select {
			case <-gate:
				ch.send(linkMsg{Op: "jobs", Jobs: list.take(m.N)})
			case <-ctx.Done():
			}
		case "done":
			if m.Result == nil {
				fail(fmt.Errorf("%s sent a result without content", ch.name))
			} else if err := t.add(*m.Result); err != nil {
				fail(err)
			}
		case "retries":
			t.addRetries(m.N)
		case "cpu":
			t.addWorkCPU(time.Duration(m.Seconds * float64(time.Second)))
		case "error":
			fail(fmt.Errorf("%s: %s", ch.name, m.Error))
		default:
			fail(fmt.Errorf("%s sent unknown message %q", ch.name, m.Op))
		}
	})
}
