//go:build unix

package tui

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"perflab/engine"
)

var (
	recordReplay = flag.Bool("record-replay", false, "record "+replayFile+" from a real load run (30 s)")
	cpuReplay    = flag.Duration("cpu-replay", 3*time.Second, "how long TestDashboardCPU replays snapshots at 4 a second")
)

const replayFile = "testdata/likes-replay.json.gz"

// likesLikeServer answers like the study's likes endpoint: a JSON list of
// logbooks and their likers, about 630 bytes, built anew for every request
// and hashed a few hundred times so each answer costs real CPU.
func likesLikeServer() *httptest.Server {
	type logbook struct {
		ID    int      `json:"id"`
		Likes []string `json:"likes"`
	}
	names := []string{"ruby", "minho", "jisoo", "dami", "seojun", "yuna"}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var books []logbook
		for id := 1; id <= 12; id++ {
			books = append(books, logbook{ID: id, Likes: names[:1+id%len(names)]})
		}
		body, _ := json.Marshal(books)
		sum := sha256.Sum256(body)
		for range 400 {
			sum = sha256.Sum256(sum[:])
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Digest", fmt.Sprintf("%x", sum[:4]))
		w.Write(body)
	}))
}

// TestRecordReplay records the snapshots of a 30 s load run shaped like
// the likes experiment (50 users, a second of think) against a loopback
// server, for TestDashboardCPU to replay. Run with -record-replay.
func TestRecordReplay(t *testing.T) {
	if !*recordReplay {
		t.Skip("records " + replayFile + " only with -record-replay")
	}
	srv := likesLikeServer()
	defer srv.Close()
	gen, err := engine.New(engine.Scenario{Steps: []engine.Step{{Name: "likes", URL: srv.URL + "/api/logbooks/likes/", Expect: 200, Check: "status was 200"}}},
		engine.Closed{VUs: 50, Think: time.Second}, engine.Duration(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var snaps []*engine.Snapshot
	gen.Observe(func(s *engine.Snapshot) { snaps = append(snaps, s) })
	if _, err := gen.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(replayFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	if err := json.NewEncoder(zw).Encode(snaps); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d snapshots in %s", len(snaps), replayFile)
}

func loadReplay(t testing.TB) []*engine.Snapshot {
	f, err := os.Open(filepath.FromSlash(replayFile))
	if err != nil {
		t.Fatalf("%v (go test ./tui -run TestRecordReplay -record-replay records it)", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var snaps []*engine.Snapshot
	if err := json.NewDecoder(zr).Decode(&snaps); err != nil {
		t.Fatal(err)
	}
	if len(snaps) < 100 {
		t.Fatalf("%s holds %d snapshots; record it again", replayFile, len(snaps))
	}
	return snaps
}

// replayAt is the i-th snapshot of the recording played in a loop, its
// clock running on across loops.
func replayAt(snaps []*engine.Snapshot, i int) *engine.Snapshot {
	n := len(snaps) - 1 // the last is the run's final snapshot
	s := *snaps[i%n]
	s.Elapsed += time.Duration(i/n) * snaps[n-1].Elapsed
	s.Duration, s.Done = 0, false
	return &s
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countingWriter stands for the terminal: it counts what the renderer
// writes and keeps none of it.
type countingWriter struct{ n atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return len(p), nil
}

// TestDashboardCPU measures the dashboard's own cost at four updates a
// second: the whole program (model, view, the renderer's diff and its
// escape codes, in 256 colours) on a 120x40 screen, replaying a
// recorded likes-like run through a stage whose twin figures are fixed.
// The load generator and the twin are not in this process, so what it
// uses is the dashboard's alone. The first minute of snapshots is fed
// before the clock starts, so the charts are full. -cpu-replay sets how
// long it measures (the README's figure is -cpu-replay 20s).
func TestDashboardCPU(t *testing.T) {
	if raceEnabled {
		t.Skip("the dashboard's CPU is measured without the race detector, which multiplies it")
	}
	snaps := loadReplay(t)
	f := newFakeTwin(testLikes, likesSettings)
	out := &countingWriter{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	app := New(ctx, Config{Stage: f})
	p := tea.NewProgram(app, tea.WithContext(ctx), tea.WithInput(nil), tea.WithOutput(out), tea.WithWindowSize(120, 40),
		tea.WithColorProfile(colorprofile.ANSI256), tea.WithoutSignalHandler())
	done := make(chan error, 1)
	go func() { _, err := p.Run(); done <- err }()

	i := 0
	for ; i < 240; i++ { // the first minute, as fast as the screen takes it
		f.snaps <- replayAt(snaps, i)
	}
	written := out.n.Load()
	start, wall := cpuTime(), time.Now()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	frames := 0
	for time.Since(wall) < *cpuReplay {
		<-tick.C
		f.snaps <- replayAt(snaps, i)
		i++
		frames++
	}
	used, elapsed := cpuTime()-start, time.Since(wall)
	p.Quit()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if out.n.Load() == written {
		t.Fatal("nothing was rendered while measuring; the measurement is void")
	}
	pct := float64(used) / float64(elapsed) * 100
	t.Logf("dashboard CPU: %.2f%% of one core (%s over %s, %d frames at 4/s, %d KB written)",
		pct, used.Round(time.Millisecond), elapsed.Round(time.Millisecond), frames, (out.n.Load()-written)/1024)
	if pct > 5 {
		t.Fatalf("the dashboard used %.1f%% of a core at 4 updates a second; the bar is 5%%", pct)
	}
}

// BenchmarkView renders the likes screen at 120x40 with a full minute of
// history, a baseline and the cache mark.
func BenchmarkView(b *testing.B) {
	snaps := loadReplay(b)
	f := newFakeTwin(testLikes, likesSettings)
	app := New(context.Background(), Config{Stage: f})
	app.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	app.Update(openedMsg{name: "likes", stage: f, info: describeStage(f), direct: true})
	for i := range 240 {
		if i == 40 {
			app.Update(keyPress("b"))
		}
		app.Update(readFrame(f, replayAt(snaps, i)))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		_ = app.View()
	}
}

// BenchmarkFrame is one update: a snapshot taken in, the screen drawn.
func BenchmarkFrame(b *testing.B) {
	snaps := loadReplay(b)
	f := newFakeTwin(testLikes, likesSettings)
	app := New(context.Background(), Config{Stage: f})
	app.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	app.Update(openedMsg{name: "likes", stage: f, info: describeStage(f), direct: true})
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		app.Update(readFrame(f, replayAt(snaps, i)))
		_ = app.View()
	}
}
