package fishial

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"perflab/server/proc"
)

// child is one race process and the parent's end of its pipes.
type child struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.ReadCloser
	stderr *tailBuffer
	wmu    sync.Mutex
	enc    *json.Encoder
	exited chan struct{} // closed once the process is reaped
	state  *os.ProcessState
}

// readyTimeout bounds process start-up (16 nodes on two busy cores, or
// a race-detector build, can take several seconds).
const readyTimeout = 60 * time.Second

// startChild starts a race process with one OS thread for Go code, like
// the single interpreter thread of the study's Python workers.
func startChild(name, role string, args ...string) (*child, error) {
	cmd, err := proc.Command(role, args...)
	if err != nil {
		return nil, err
	}
	cmd.Env = append(cmd.Env, "GOMAXPROCS=1")
	ch := &child{name: name, cmd: cmd, stderr: &tailBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = ch.stderr
	if ch.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if ch.stdout, err = cmd.StdoutPipe(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	ch.enc = json.NewEncoder(ch.stdin)
	if err := proc.Start(cmd, nil); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return ch, nil
}

func (c *child) send(m linkMsg) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.enc.Encode(m)
}

// listen hands every line the child writes to handle, in order, then
// reaps it once its stdout closes. An unreadable line is reported to fail.
func (c *child) listen(fail func(error), handle func(linkMsg)) {
	defer c.reap()
	dec := json.NewDecoder(c.stdout)
	for {
		var m linkMsg
		if err := dec.Decode(&m); err != nil {
			if !errors.Is(err, io.EOF) {
				fail(fmt.Errorf("%s: read link: %w", c.name, err))
			}
			return
		}
		handle(m)
	}
}

// reap waits for the process once its stdout is drained.
func (c *child) reap() {
	io.Copy(io.Discard, c.stdout)
	c.cmd.Wait()
	c.state = c.cmd.ProcessState
	close(c.exited)
}

func (c *child) kill() {
	select {
	case <-c.exited:
	default:
		c.cmd.Process.Kill()
	}
}

// failure describes how a child ended, with the end of its stderr.
func (c *child) failure() error {
	msg := "exited"
	if c.state != nil {
		msg = c.state.String()
	}
	if tail := strings.TrimSpace(c.stderr.String()); tail != "" {
		msg += ": " + lastLines(tail, 3)
	}
	return fmt.Errorf("%s %s", c.name, msg)
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// awaitReady waits until n children have said they are ready. It fails
// when one exits first or reports an error on failed (nil if they have
// no such channel), or after readyTimeout; what names the children in
// that message.
func awaitReady(ctx context.Context, n int, what string, ready <-chan struct{}, exits <-chan *child, failed <-chan error) error {
	timeout := time.NewTimer(readyTimeout)
	defer timeout.Stop()
	for got := 0; got < n; {
		select {
		case <-ready:
			got++
		case err := <-failed:
			return err
		case ch := <-exits:
			return fmt.Errorf("before it was ready: %w", ch.failure())
		case <-timeout.C:
			return fmt.Errorf("%d of %d %s ready after %v; the machine may be overloaded", got, n, what, readyTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// stopChildren closes every child's stdin (the way to ask it to leave),
// waits up to childGrace, kills what is left and returns their CPU time.
func stopChildren(children []*child) time.Duration {
	for _, c := range children {
		c.stdin.Close()
	}
	deadline := time.NewTimer(childGrace)
	defer deadline.Stop()
	var cpu time.Duration
	for _, c := range children {
		select {
		case <-c.exited:
		case <-deadline.C:
			for _, k := range children {
				k.kill()
			}
			<-c.exited
		}
		if c.state != nil {
			cpu += c.state.UserTime() + c.state.SystemTime()
		}
	}
	return cpu
}

// childGrace is how long a child that was told to stop may take before
// it is killed.
const childGrace = 10 * time.Second

func killChildren(children []*child) {
	for _, c := range children {
		c.kill()
	}
	for _, c := range children {
		<-c.exited
	}
}

// tailBuffer keeps the end of a child's stderr for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 4 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
