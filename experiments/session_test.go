package experiments

import (
	"context"
	"testing"
	"time"

	"perflab/engine"
	"perflab/server"
)

func openSession(t *testing.T, e *Experiment, changes map[string]string) *Session {
	t.Helper()
	s, err := e.Apply(e.Defaults(), changes)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := Open(context.Background(), e, s, server.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	return sess
}

// eventually polls cond until it holds or 15 s pass (sign-in alone can
// take seconds under the race detector).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestSessionCacheToggleShowsInServerFigures flips the cache on during a run: the
// why figures must go from the N+1 queries on every request to cache hits.
func TestSessionCacheToggleShowsInServerFigures(t *testing.T) {
	sess := openSession(t, Likes, map[string]string{"profile": "go"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *engine.Snapshot, 1)
	go func() {
		final, err := sess.Run(ctx, engine.Closed{VUs: 4, Think: 20 * time.Millisecond}, nil)
		if err != nil {
			t.Error(err)
		}
		done <- final
	}()
	var why ServerFigures
	eventually(t, "uncached requests with the N+1 queries", func() bool {
		why = sess.ServerFigures()
		return why.QueriesPerRequest > 2 && why.CacheLookups == 0
	})
	if err := sess.Set(ctx, "cache", "on"); err != nil {
		t.Fatal(err)
	}
	// One query remains per request: authentication loads the user.
	eventually(t, "cache hits and the user lookup only", func() bool {
		why = sess.ServerFigures()
		return why.CacheHitPct > 90 && why.QueriesPerRequest < 1.5
	})
	if sess.Settings()["cache"] != "on" {
		t.Fatal("settings do not show the cache on")
	}
	cancel()
	if final := <-done; final == nil || final.All.Run.Errors != 0 {
		t.Fatalf("run across the toggle: %+v", final)
	}
}

// TestSessionOffloadMovesPage: turning offload on mid-run sends the page
// requests to the edge, without errors.
func TestSessionOffloadMovesPage(t *testing.T) {
	sess := openSession(t, Static, map[string]string{"profile": "go"})
	ctx := context.Background()
	done := make(chan *engine.Snapshot, 1)
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		final, _ := sess.Run(ctx, engine.Closed{VUs: 3, Think: 20 * time.Millisecond}, nil)
		done <- final
	}()
	eventually(t, "page requests on the instance", func() bool { return sess.Twin().Stats().Total.Requests > 10 })
	edgeBefore := sess.Twin().Stats().Edge.Requests
	if err := sess.Set(ctx, "offload", "on"); err != nil {
		t.Fatal(err)
	}
	var edgeAfter uint64
	eventually(t, "page requests on the edge", func() bool {
		edgeAfter = sess.Twin().Stats().Edge.Requests
		return edgeAfter > 10
	})
	cancel()
	final := <-done
	if edgeBefore != 0 || edgeAfter < 10 {
		t.Fatalf("edge requests before %d, after %d: the page did not move", edgeBefore, edgeAfter)
	}
	if final.All.Run.Errors != 0 {
		t.Fatalf("errors across the move: %+v", final.Errors)
	}
}

func TestSessionRefusesBadSettings(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, Likes, Settings{"workers": "99"}, server.DefaultConfig()); err == nil {
		t.Fatal("opened with 99 workers")
	}
	sess := openSession(t, Likes, map[string]string{"profile": "go"})
	if err := sess.Set(ctx, "offload", "on"); err == nil {
		t.Fatal("likes accepted the offload knob")
	}
	if err := sess.Set(ctx, "workers", "0"); err == nil {
		t.Fatal("accepted 0 workers")
	}
}

// TestCacheHalvesLikesLatency guards the study's second conclusion: with
// Django's costs and the N+1 view, caching the likes list in Redis cuts
// the likes request's mean latency by at least half (the study: 152.9 ->
// 45.64 ms at 4 workers; the twin's calibration gives about a tenth).
func TestCacheHalvesLikesLatency(t *testing.T) {
	sess := openSession(t, Likes, map[string]string{"workers": "2"})
	base := sess.Settings()
	cached, err := Likes.Apply(base, map[string]string{"cache": "on", "query": "prefetch"})
	if err != nil {
		t.Fatal(err)
	}
	results, err := sess.Sweep(context.Background(), Sweep{
		Runs:  []Settings{base, cached},
		Model: engine.Closed{VUs: 10, Think: 100 * time.Millisecond},
		Opts:  []engine.Option{engine.Duration(3 * time.Second)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 {
		t.Fatalf("%d runs measured, want 2", len(results))
	}
	off, on := Likes.Measured(results[0].Final).Run, Likes.Measured(results[1].Final).Run
	if off.Answered < 10 || on.Answered < 10 || off.Errors+on.Errors > 0 {
		t.Fatalf("runs too thin to compare: uncached %+v, cached %+v", off, on)
	}
	t.Logf("likes mean: uncached %s, cached %s (%.2fx)", off.Mean, on.Mean, float64(on.Mean)/float64(off.Mean))
	if on.Mean*2 > off.Mean {
		t.Fatalf("cached mean %s is not below half the uncached %s", on.Mean, off.Mean)
	}
}
