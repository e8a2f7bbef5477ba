package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"perflab/server/proc"
)

// startTimeout bounds a child's start-up: exec, opening the database and
// Redis client, taking the socket.
const startTimeout = 15 * time.Second

// How long a stopping child has before SIGKILL. A worker removed by a
// resize gets its whole drain, so the requests queued on its connections
// are answered, not dropped; when the twin stops, the whole stop must fit
// in two seconds, and what is still running then is cut off.
const (
	resizeGrace = drainTimeout + 400*time.Millisecond
	stopGrace   = 1200 * time.Millisecond
)

// process is one running child.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the child is reaped
	began  time.Time
}

// launch starts a child in slot and waits until it says it serves.
func (t *Twin) launch(ctx context.Context, role string, slot int) (*process, error) {
	cmd, err := proc.Command(role)
	if err != nil {
		return nil, err
	}
	if role == rolePostgres {
		// The cluster's watchdog stops and removes the cluster when
		// perflab dies, so it must live to do so.
		proc.SetDeathSignal(cmd, syscall.SIGTERM)
	}
	spec, err := json.Marshal(t.spec(slot))
	if err != nil {
		return nil, err
	}
	cmd.Stdin = bytes.NewReader(spec)
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", role, err)
	}
	cmd.Stdout = readyW
	cmd.Stderr = t.logFile
	switch role {
	case roleWorker:
		cmd.ExtraFiles = []*os.File{t.appFile, t.boardFile}
	case roleRedis:
		cmd.ExtraFiles = []*os.File{t.redisFile, t.boardFile}
	case roleEdge:
		cmd.ExtraFiles = []*os.File{t.edgeFile, t.boardFile}
	default:
		cmd.ExtraFiles = []*os.File{t.boardFile}
	}
	err = proc.Start(cmd, t.cpusOf(slot))
	readyW.Close()
	if err != nil {
		readyR.Close()
		return nil, fmt.Errorf("start %s: %w", role, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{}), began: time.Now()}
	go func() {
		cmd.Wait()
		readyR.Close()
		close(p.exited)
	}()
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(readyR).ReadString('\n')
		ready <- strings.TrimSpace(line) == readyLine
	}()
	limit := startTimeout
	if role == rolePostgres {
		limit = clusterStart
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case ok := <-ready:
		if ok {
			return p, nil
		}
		<-p.exited
		return nil, fmt.Errorf("%s exited while starting (%v); see %s", role, cmd.ProcessState, t.logPath)
	case <-timer.C:
		err = fmt.Errorf("%s did not start within %s; see %s", role, limit, t.logPath)
	case <-ctx.Done():
		err = ctx.Err()
	}
	// Asked to stop, a child cleans up what it started (the cluster's
	// watchdog removes its directory).
	stopProcess(p, stopGrace)
	return nil, err
}

func (t *Twin) spec(slot int) childSpec {
	s := childSpec{
		Slot:   slot,
		Redis:  t.redisURL,
		Static: t.staticDir,
		Assets: t.bundle.assets,
		Secret: t.secret,
		Config: t.Config(),
	}
	t.dbMu.Lock()
	defer t.dbMu.Unlock()
	if t.db != nil {
		s.DB, s.Dialect = t.db.source, t.db.dialect
	}
	if slot == dbSlot {
		s.Cluster = t.starting
		if s.Cluster == nil && t.db != nil {
			s.Cluster = t.db.cluster
		}
	}
	return s
}

// runner keeps one slot's process alive until told to stop.
type runner struct {
	slot  int
	role  string
	grace time.Duration // before SIGKILL; set before stop is closed
	stop  chan struct{} // closed to drain and end the slot
	done  chan struct{} // closed when the slot's process is gone
}

// startSlot launches the slot's first process and supervises it.
func (t *Twin) startSlot(ctx context.Context, slot int, role string) (*runner, error) {
	b := t.board
	b.slot(slot, sState).Store(stateStarting)
	p, err := t.launch(ctx, role, slot)
	if err != nil {
		b.slot(slot, sState).Store(stateOff)
		return nil, err
	}
	b.slot(slot, sPID).Store(uint64(p.cmd.Process.Pid))
	b.slot(slot, sState).Store(stateUp)
	r := &runner{slot: slot, role: role, stop: make(chan struct{}), done: make(chan struct{})}
	go t.supervise(r, p)
	return r, nil
}

// supervise restarts the slot's process whenever it dies unasked, and
// drains it when the slot stops.
func (t *Twin) supervise(r *runner, p *process) {
	defer close(r.done)
	b := t.board
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-r.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	quickFails := 0
	for {
		select {
		case <-r.stop:
			b.slot(r.slot, sState).Store(stateDraining)
			stopProcess(p, r.grace)
			t.retire(r.slot, p)
			b.slot(r.slot, sPID).Store(0)
			b.slot(r.slot, sState).Store(stateOff)
			return
		case <-p.exited:
		}
		t.retire(r.slot, p)
		b.slot(r.slot, sPID).Store(0)
		b.inc(r.slot, sRestarts)
		t.log.Printf("%s in slot %d (pid %d) exited unasked (%v); restarting it", r.role, r.slot, p.cmd.Process.Pid, p.cmd.ProcessState)
		if time.Since(p.began) < time.Second {
			quickFails++
		} else {
			quickFails = 0
		}
		for {
			b.slot(r.slot, sState).Store(stateStarting)
			select {
			case <-r.stop:
				b.slot(r.slot, sPID).Store(0)
				b.slot(r.slot, sState).Store(stateOff)
				return
			case <-time.After(restartDelay(quickFails)):
			}
			np, err := t.launch(ctx, r.role, r.slot)
			if err == nil {
				p = np
				break
			}
			quickFails++
			t.log.Printf("restart %s in slot %d: %v", r.role, r.slot, err)
		}
		b.slot(r.slot, sPID).Store(uint64(p.cmd.Process.Pid))
		b.slot(r.slot, sState).Store(stateUp)
	}
}

// restartDelay restarts a crashed child at once, but backs off when it
// keeps dying right after start, so a broken setup does not spin.
func restartDelay(quickFails int) time.Duration {
	if quickFails <= 1 {
		return 0
	}
	// Past the cap the shift would overflow, and a child that had kept
	// failing for a minute or two would be restarted in a spin.
	return min(100*time.Millisecond<<min(quickFails-2, 5), 2*time.Second)
}

// stopProcess asks a child to finish (SIGTERM: drain in-flight requests)
// and kills it if it takes too long.
func stopProcess(p *process, grace time.Duration) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.exited:
	case <-timer.C:
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// retire books a reaped process's exact CPU time into its slot and clears
// the gauges it can no longer lower itself.
func (t *Twin) retire(slot int, p *process) {
	b := t.board
	st := p.cmd.ProcessState
	b.add(slot, sCPUBase, uint64(st.UserTime()+st.SystemTime()))
	b.slot(slot, sCPUNow).Store(0)
	b.slot(slot, sInFlight).Store(0)
	b.slot(slot, sActive).Store(0)
}
