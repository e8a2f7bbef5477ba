package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// browser is a headless Chromium driven over the DevTools protocol on a
// pipe (--remote-debugging-pipe: it reads commands from descriptor 3 and
// writes answers and events to descriptor 4, each message ended by a NUL),
// so the test needs no port, no websocket and no client library.
type browser struct {
	t       *testing.T
	cmd     *exec.Cmd
	send    io.WriteCloser
	msgs    chan cdpMessage
	events  []cdpMessage
	nextID  int
	dataDir string
	stderr  bytes.Buffer
}

type cdpMessage struct {
	ID        int             `json:"id"`
	Method    string          `json:"method"`
	SessionID string          `json:"sessionId"`
	Params    json.RawMessage `json:"params"`
	Result    json.RawMessage `json:"result"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// chromiumFlags keep Chromium off the network it does not have here:
// without them it stalls trying to reach its update, sync and field-trial
// servers.
var chromiumFlags = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
	"--mute-audio", "--remote-debugging-pipe"}

// startBrowser starts Chromium with a fresh profile, or skips the test
// loudly when it is not installed (fails under PERFLAB_REQUIRE_EXTERNAL=1).
func startBrowser(t *testing.T) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("PERFLAB_REQUIRE_EXTERNAL") == "1" {
			t.Fatalf("chromium is required (PERFLAB_REQUIRE_EXTERNAL=1) but not installed: %v", err)
		}
		t.Skipf("SKIPPED: chromium is not installed, so the report is not opened in a real browser; install Debian's chromium or set PERFLAB_REQUIRE_EXTERNAL=1 to make this a failure")
	}
	// Not t.TempDir: Chromium's helpers may still be writing the profile
	// for a moment after it exits, which would fail the cleanup.
	dataDir, err := os.MkdirTemp("", "perflab-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, send: cmdW, msgs: make(chan cdpMessage, 256), dataDir: dataDir}
	b.cmd = exec.Command(path, append(chromiumFlags, "--user-data-dir="+dataDir, "about:blank")...)
	b.cmd.ExtraFiles = []*os.File{cmdR, outW} // descriptors 3 and 4
	b.cmd.Stderr = &b.stderr
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	cmdR.Close()
	outW.Close()
	go func() {
		defer close(b.msgs)
		r := bufio.NewReader(outR)
		for {
			raw, err := r.ReadBytes(0)
			if err != nil {
				return
			}
			var m cdpMessage
			if json.Unmarshal(raw[:len(raw)-1], &m) == nil {
				b.msgs <- m
			}
		}
	}()
	t.Cleanup(b.close)
	return b
}

// close asks the browser to quit, then ends its process group.
func (b *browser) close() {
	b.call("", "Browser.close", nil)
	done := make(chan struct{})
	go func() { b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	<-done
	os.RemoveAll(b.dataDir)
}

// call sends a command and waits for its answer, keeping the events that
// arrive meanwhile.
func (b *browser) call(session, method string, params any) (json.RawMessage, error) {
	b.nextID++
	id := b.nextID
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	data, _ := json.Marshal(msg)
	if _, err := b.send.Write(append(data, 0)); err != nil {
		return nil, fmt.Errorf("%s: %v", method, err)
	}
	for {
		m, err := b.next(60 * time.Second)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", method, err)
		}
		if m.ID != id {
			continue
		}
		if m.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		return m.Result, nil
	}
}

// next is the next message, an event kept in events on the way.
func (b *browser) next(timeout time.Duration) (cdpMessage, error) {
	select {
	case m, ok := <-b.msgs:
		if !ok {
			return m, fmt.Errorf("chromium closed the pipe; its stderr:\n%s", tail(b.stderr.String(), 2000))
		}
		if m.Method != "" {
			b.events = append(b.events, m)
		}
		return m, nil
	case <-time.After(timeout):
		return cdpMessage{}, fmt.Errorf("no answer from chromium in %s", timeout)
	}
}

func (b *browser) must(session, method string, params any) json.RawMessage {
	b.t.Helper()
	res, err := b.call(session, method, params)
	if err != nil {
		b.t.Fatal(err)
	}
	return res
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// pageVisit is what a page did while it loaded: what its console said,
// what it fetched, and its screenshot.
type pageVisit struct {
	console  []string // errors and exceptions
	requests []string // URLs other than the page's own
	shot     []byte   // PNG
}

// open loads url in a new tab with the viewport w wide, waits for its
// load event, evaluates check (a JavaScript expression) into result, and
// takes a full-page screenshot.
func (b *browser) open(url string, w int, check string, result any) pageVisit {
	b.t.Helper()
	var target struct{ TargetID string }
	json.Unmarshal(b.must("", "Target.createTarget", map[string]any{"url": "about:blank"}), &target)
	var attached struct{ SessionID string }
	json.Unmarshal(b.must("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}), &attached)
	s := attached.SessionID
	for _, domain := range []string{"Page", "Runtime", "Network", "Log"} {
		b.must(s, domain+".enable", nil)
	}
	b.must(s, "Emulation.setDeviceMetricsOverride", map[string]any{"width": w, "height": 900, "deviceScaleFactor": 1, "mobile": false})
	from := len(b.events)
	b.must(s, "Page.navigate", map[string]any{"url": url})
	for loaded := false; !loaded; {
		for _, e := range b.events[from:] {
			loaded = loaded || e.SessionID == s && e.Method == "Page.loadEventFired"
		}
		if !loaded {
			if _, err := b.next(60 * time.Second); err != nil {
				b.t.Fatalf("%s did not load: %v", url, err)
			}
		}
	}
	var eval struct {
		Result struct {
			Value json.RawMessage
		}
		ExceptionDetails *struct{ Text string }
	}
	json.Unmarshal(b.must(s, "Runtime.evaluate", map[string]any{"expression": check, "returnByValue": true}), &eval)
	if eval.ExceptionDetails != nil {
		b.t.Fatalf("the check threw: %s", eval.ExceptionDetails.Text)
	}
	if err := json.Unmarshal(eval.Result.Value, result); err != nil {
		b.t.Fatalf("the check's result %s: %v", eval.Result.Value, err)
	}
	var height struct{ Result struct{ Value float64 } }
	json.Unmarshal(b.must(s, "Runtime.evaluate", map[string]any{"expression": "document.documentElement.scrollHeight", "returnByValue": true}), &height)
	var shot struct{ Data string }
	json.Unmarshal(b.must(s, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": w, "height": height.Result.Value, "scale": 1}}), &shot)
	v := pageVisit{}
	v.shot, _ = base64.StdEncoding.DecodeString(shot.Data)
	for _, e := range b.events[from:] {
		if e.SessionID != s {
			continue
		}
		var p struct {
			Type      string
			Args      []struct{ Value any }
			Entry     struct{ Level, Text, URL string }
			Exception struct {
				Text      string
				Exception struct{ Description string }
			} `json:"exceptionDetails"`
			Request struct{ URL string }
		}
		json.Unmarshal(e.Params, &p)
		switch e.Method {
		case "Runtime.consoleAPICalled":
			if p.Type == "error" || p.Type == "assert" {
				v.console = append(v.console, fmt.Sprintf("console.%s %v", p.Type, p.Args))
			}
		case "Runtime.exceptionThrown":
			v.console = append(v.console, "exception: "+p.Exception.Text+" "+p.Exception.Exception.Description)
		case "Log.entryAdded":
			if p.Entry.Level == "error" {
				v.console = append(v.console, "log: "+p.Entry.Text+" "+p.Entry.URL)
			}
		case "Network.requestWillBeSent":
			if p.Request.URL != url {
				v.requests = append(v.requests, p.Request.URL)
			}
		}
	}
	b.must("", "Target.closeTarget", map[string]any{"targetId": target.TargetID})
	return v
}

// inked is the share of a PNG's pixels that are not white.
func inked(t *testing.T, shot []byte) float64 {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	r := img.Bounds()
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			if cr, cg, cb, _ := img.At(x, y).RGBA(); cr < 0xf000 || cg < 0xf000 || cb < 0xf000 {
				n++
			}
		}
	}
	return float64(n) / float64((r.Dx()/2)*(r.Dy()/2))
}

// chartCheck is JavaScript that measures every chart on the page as
// rendered: its data marks are the paths drawn in a colour (the frame,
// grid and markers are grey), and they must lie on the axes and span
// most of the horizontal axis.
const chartCheck = `(() => {
  const grey = (c) => { const m = /#([0-9A-Fa-f]{2})([0-9A-Fa-f]{2})([0-9A-Fa-f]{2})/.exec(c || ""); return !m || (m[1] === m[2] && m[2] === m[3]); };
  const colour = (p) => { const s = p.getAttribute("style") || ""; const f = /fill:(#[0-9A-Fa-f]{6})/.exec(s); const k = /stroke:(#[0-9A-Fa-f]{6})/.exec(s); return [f && f[1], k && k[1]]; };
  return {
    title: document.title,
    tables: document.querySelectorAll("table").length,
    charts: [...document.querySelectorAll("figure.chart")].map((fig) => {
      const paths = [...fig.querySelectorAll("svg path")];
      const black = paths.filter((p) => colour(p)[1] === "#000000").map((p) => p.getBoundingClientRect());
      const xAxis = black.filter((r) => r.height < 1).sort((a, b) => b.width - a.width)[0];
      const yAxis = black.filter((r) => r.width < 1).sort((a, b) => b.height - a.height)[0];
      const out = { name: fig.dataset.chart, kind: fig.dataset.kind, marks: 0, span: 0, height: 0, outside: 0, axes: !!(xAxis && yAxis) };
      if (!out.axes) return out;
      let left = Infinity, right = -Infinity, top = Infinity, bottom = -Infinity;
      for (const p of paths) {
        const [fill, stroke] = colour(p);
        if (grey(fill) && grey(stroke)) continue;
        const r = p.getBoundingClientRect();
        if (r.left > xAxis.right + 1) continue; // the legend, right of the plot
        out.marks++;
        if (r.top < yAxis.top - 8 || r.bottom > yAxis.bottom + 8) out.outside++;
        left = Math.min(left, r.left); right = Math.max(right, r.right);
        top = Math.min(top, r.top); bottom = Math.max(bottom, r.bottom);
      }
      if (out.marks > 0) { out.span = (right - left) / xAxis.width; out.height = bottom - top; }
      return out;
    }),
  };
})()`

// pageCharts is chartCheck's result.
type pageCharts struct {
	Title  string
	Tables int
	Charts []struct {
		Name, Kind string
		Marks      int
		Span       float64
		Height     float64
		Outside    int
		Axes       bool
	}
}

// checkInBrowser opens a report page in Chromium and holds it to what a
// reader needs: it loads with no console error and no request beyond
// itself, every chart has axes and data marks on them spanning at least
// minSpan of the horizontal axis, and the screenshot shows something. It
// returns the charts and what is wrong. The screenshot is saved beside
// the page, and in $PERFLAB_SCREENSHOTS when that names a directory.
func checkInBrowser(t *testing.T, b *browser, path string, minCharts int, minSpan float64) (pageCharts, []string) {
	t.Helper()
	url := "file://" + path
	var got pageCharts
	v := b.open(url, 1400, chartCheck, &got)
	shot := strings.TrimSuffix(path, ".html") + ".png"
	if err := os.WriteFile(shot, v.shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("PERFLAB_SCREENSHOTS"); dir != "" {
		os.WriteFile(filepath.Join(dir, filepath.Base(shot)), v.shot, 0o644)
	}
	t.Logf("%s: %d charts, %d tables; screenshot %s", path, len(got.Charts), got.Tables, shot)
	var problems []string
	fault := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	if len(v.console) > 0 {
		fault("the console reported errors: %q", v.console)
	}
	if len(v.requests) > 0 {
		fault("the page fetched %q; it must need nothing beyond itself", v.requests)
	}
	if len(got.Charts) < minCharts {
		fault("%d charts, want at least %d", len(got.Charts), minCharts)
	}
	for _, c := range got.Charts {
		switch {
		case !c.Axes:
			fault("chart %s has no axes", c.Name)
		case c.Marks == 0 || c.Height <= 0:
			fault("chart %s has an empty plot area (%d marks, %.0f px high)", c.Name, c.Marks, c.Height)
		case c.Span < minSpan:
			fault("chart %s's data spans %.0f%% of its axis, want at least %.0f%%", c.Name, 100*c.Span, 100*minSpan)
		case c.Outside > 0:
			fault("chart %s has %d marks off its axes", c.Name, c.Outside)
		}
	}
	if ink := inked(t, v.shot); ink < 0.02 {
		fault("the screenshot is %.1f%% ink: blank", 100*ink)
	}
	return got, problems
}
