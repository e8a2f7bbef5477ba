package engine

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testRing is a ring for a test, which skips where the kernel has none to
// give (a container's seccomp profile may refuse io_uring).
func testRing(t *testing.T) *ring {
	t.Helper()
	r, err := newRing(8)
	if err != nil {
		t.Skipf("SKIP: the kernel gives no io_uring here (%v); the event loop reads and writes one call at a time", err)
	}
	t.Cleanup(r.close)
	return r
}

// Every op of a batch behaves as the non-blocking call it stands for:
// nothing to read is EAGAIN, a write to a closed peer is EPIPE (and no
// SIGPIPE), and data goes through in order.
func TestRingOps(t *testing.T) {
	setsItsPath(t)
	r := testRing(t)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	buf := make([]byte, 16)
	ops := []ringOp{
		{fd: fds[1], buf: buf},
		{send: true, fd: fds[0], buf: []byte("hello")},
		{send: true, fd: fds[0], buf: []byte(" world")},
	}
	if err := r.do(ops); err != nil {
		t.Fatal(err)
	}
	if ops[0].res != -int32(unix.EAGAIN) || ops[1].res != 5 || ops[2].res != 6 {
		t.Fatalf("results %d %d %d, want -EAGAIN 5 6", ops[0].res, ops[1].res, ops[2].res)
	}
	for round := range 20 { // more batches than the ring has entries
		ops = []ringOp{{fd: fds[1], buf: buf}, {send: true, fd: fds[0], buf: []byte("x")}}
		if err := r.do(ops); err != nil {
			t.Fatal(err)
		}
		want := "hello world"
		if round > 0 {
			want = "x"
		}
		if got := string(buf[:max(ops[0].res, 0)]); got != want {
			t.Fatalf("round %d read %q (res %d), want %q", round, got, ops[0].res, want)
		}
	}
	unix.Close(fds[1])
	ops = []ringOp{{send: true, fd: fds[0], buf: []byte("gone")}}
	if err := r.do(ops); err != nil {
		t.Fatal(err)
	}
	if ops[0].res != -int32(unix.EPIPE) {
		t.Fatalf("a write to a closed peer returned %d, want -EPIPE", ops[0].res)
	}
}

// The event loops send every read and write through their rings in these
// tests, however short the batch, so that every test of the loop path
// checks the ring's way (TestLoopWithoutRing checks the other).
func init() { ringMin = 1 }

// TestLoopBatchesThroughRing: a run on the event loop says it batched
// its reads and writes, and did: its loops' rings took every request.
func TestLoopBatchesThroughRing(t *testing.T) {
	setsItsPath(t)
	testRing(t)
	url := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false)
	g, err := New(oneStep(url), Max{Conns: 8}, Duration(300*time.Millisecond), Path(PathLoop))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := g.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	run := snap.All.Run
	if run.Requests < 100 || run.Errors != 0 {
		t.Fatalf("%d requests, %d errors: the run did not work", run.Requests, run.Errors)
	}
	if got := snap.Health.LoopIO; got != LoopIOBatched {
		t.Fatalf("loop io %q, want %q", got, LoopIOBatched)
	}
	if got := snap.Health.Loops; got != len(g.loops) {
		t.Fatalf("the run says %d loop threads; it had %d, each with workers", got, len(g.loops))
	}
	var sends, recvs int64
	for _, l := range g.loops {
		sends += l.ringSends
		recvs += l.ringRecvs
	}
	// A connection's first request is written when its connect
	// completes, one call on its own; every other goes through the ring,
	// as does every read.
	if sends < run.Requests-8 || recvs < run.Answered {
		t.Fatalf("the rings took %d writes and %d reads for %d requests (%d answered)", sends, recvs, run.Requests, run.Answered)
	}
}

// TestLoopWithoutRing runs the event loop's tests of hostile servers and
// framing one read or write call at a time, as on a kernel that gives no
// io_uring, and checks that the run says so. (Bodies are bounded by the
// same code either way, and a ring's read that fills its slot goes on one
// call at a time: TestBodyIsBounded covers both.)
func TestLoopWithoutRing(t *testing.T) {
	setsItsPath(t)
	ringIO = false
	defer func() { ringIO = true }()
	url := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false)
	snap := mustRun(t, oneStep(url), Max{Conns: 4}, Duration(200*time.Millisecond), Path(PathLoop))
	if got, want := snap.Health.LoopIO, LoopIOCalls+", io_uring turned off"; got != want {
		t.Fatalf("loop io %q, want %q", got, want)
	}
	for name, test := range map[string]func(*testing.T){
		"dropped":       TestDroppedRequestsAreErrors,
		"idle close":    TestIdleCloseIsNotAnError,
		"retries":       TestRetriesAreCountedAndOnlyForSafeMethods,
		"unfinished":    TestUnfinishedRequestsAreCounted,
		"early answer":  TestEarlyAnswerDuringUpload,
		"body kinds":    TestLoopFramesEveryBodyKind,
		"timeout":       TestTimeoutIsCounted,
		"no allocation": TestLoopAllocatesNothingPerRequest,
	} {
		t.Run(name, test)
	}
}
