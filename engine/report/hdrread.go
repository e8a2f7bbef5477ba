package report

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// HDR interval logs hold a run's latency histograms, one line per series
// per second, in HdrHistogram's standard log format: values are
// microseconds, each line tagged with its series. Logs of several runs or
// machines merge exactly, histogram by histogram.

// LogWindow selects the intervals of a log that start in [From, To),
// measured from the log's start; To 0 means the end.
type LogWindow struct {
	From, To time.Duration
}

// Merged is the histogram of one tag across the logs read.
type Merged struct {
	Tag       string
	Hist      *hdr.Histogram
	Intervals int
	// First and Last bound the intervals in time, ms since the epoch:
	// logs of agents that ran at once overlap, logs of runs one after
	// another do not.
	First, Last int64
}

// Span is the time from the first interval's start to the last one's end.
func (m *Merged) Span() time.Duration { return time.Duration(m.Last-m.First) * time.Millisecond }

var startTimeLine = regexp.MustCompile(`^#\[StartTime: ([0-9.]+)`)

// ReadHDRLogs merges the interval histograms of logs by tag, keeping the
// tags that keep(tag) accepts and the intervals in w.
func ReadHDRLogs(logs map[string]io.Reader, order []string, keep func(tag string) bool, w LogWindow) ([]*Merged, error) {
	byTag := map[string]*Merged{}
	var tags []string
	for _, name := range order {
		data, err := io.ReadAll(logs[name])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		start, err := logStart(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		r := hdr.NewHistogramLogReader(bytes.NewReader(data))
		for {
			h, err := r.NextIntervalHistogram()
			if err != nil {
				return nil, fmt.Errorf("%s: not an HdrHistogram interval log: %w", name, err)
			}
			if h == nil {
				break
			}
			at := time.Duration(h.StartTimeMs()-start) * time.Millisecond
			if at < w.From || w.To > 0 && at >= w.To || !keep(h.Tag()) {
				continue
			}
			m, ok := byTag[h.Tag()]
			if !ok {
				m = &Merged{Tag: h.Tag(), Hist: hdr.New(1, h.HighestTrackableValue(), int(h.SignificantFigures()))}
				byTag[h.Tag()] = m
				tags = append(tags, h.Tag())
			}
			if dropped := m.Hist.Merge(h); dropped > 0 {
				return nil, fmt.Errorf("%s: %d values beyond the histogram's range", name, dropped)
			}
			if m.Intervals == 0 || h.StartTimeMs() < m.First {
				m.First = h.StartTimeMs()
			}
			m.Last = max(m.Last, h.EndTimeMs())
			m.Intervals++
		}
	}
	out := make([]*Merged, len(tags))
	for i, t := range tags {
		out[i] = byTag[t]
	}
	return out, nil
}

// logStart is the log's start in ms since the epoch: its StartTime line,
// else its first interval's start.
func logStart(data []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if m := startTimeLine.FindStringSubmatch(line); m != nil {
			sec, err := strconv.ParseFloat(m[1], 64)
			return int64(sec * 1000), err
		}
		if !strings.HasPrefix(line, "#") && line != "" {
			break
		}
	}
	r := hdr.NewHistogramLogReader(bytes.NewReader(data))
	h, err := r.NextIntervalHistogram()
	if err != nil || h == nil {
		return 0, fmt.Errorf("no interval histograms (%v)", err)
	}
	return h.StartTimeMs(), nil
}

// WriteMerged prints each merged tag's count, rate and percentiles (ms).
func WriteMerged(w io.Writer, ms []*Merged) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%-24s %10s %9s %9s %9s %9s %9s %9s %9s %9s %9s\n", "series", "count", "req/s", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max")
	us := func(v float64) string { return strconv.FormatFloat(v/1000, 'f', 3, 64) }
	for _, m := range ms {
		h := m.Hist
		rate := "-"
		if m.Span() > 0 {
			rate = strconv.FormatFloat(float64(h.TotalCount())/m.Span().Seconds(), 'f', 1, 64)
		}
		q := h.ValueAtPercentilesSlice([]float64{50, 90, 95, 99, 99.9})
		fmt.Fprintf(&b, "%-24s %10d %9s %9s %9s %9s %9s %9s %9s %9s %9s\n", m.Tag, h.TotalCount(), rate,
			us(float64(h.Min())), us(h.Mean()), us(float64(q[0])), us(float64(q[1])), us(float64(q[2])), us(float64(q[3])), us(float64(q[4])), us(float64(h.Max())))
	}
	b.WriteString("latency in ms; req/s from the first interval's start to the last one's end\n")
	_, err := io.WriteString(w, b.String())
	return err
}
