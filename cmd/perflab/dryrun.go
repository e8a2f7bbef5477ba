package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"perflab/engine"
	"perflab/engine/report"
	"perflab/engine/scenariofile"
)

// dryShown is how much of a body a dry run prints.
const dryShown = 200

// dryRun sends one iteration of one user through the scenario and prints
// every request and answer, to debug a flow before loading with it. It
// fails when a step failed.
func dryRun(o *options, file *scenariofile.File, stdout, stderr io.Writer) error {
	if f := o.given(flagGroup{flags: []string{"record", "repeat", "shuffle", "shuffle-seed", "summary-json", "hdr-log", "threshold", "abort-on-fail"}}); f != "" {
		return usagef("--dry-run sends one iteration and records nothing; drop %s", f)
	}
	opts, err := loadOptions(o, 0)
	if err != nil {
		return err
	}
	gen, err := engine.New(file.Scenario, engine.Closed{VUs: 1}, opts...)
	if err != nil {
		return usagef("%v", err)
	}
	fmt.Fprintf(stderr, "perflab: dry run of %s: one iteration of one user, no think time\n", scenarioTarget(file))
	sig, cancel := signalContext()
	defer cancel()
	var sent, failed int
	err = gen.DryRun(sig, func(x engine.Exchange) {
		sent++
		if x.Outcome != engine.OutcomeOK {
			failed++
		}
		io.WriteString(stdout, describeExchange(x))
	})
	switch {
	case err != nil:
		return failedError{"dry run: " + err.Error()}
	case failed > 0:
		return failedError{fmt.Sprintf("dry run: %d of %d requests failed", failed, sent)}
	}
	fmt.Fprintf(stderr, "perflab: dry run: %d requests, all passed\n", sent)
	return nil
}

// describeExchange prints one request and its answer: request line,
// headers and the start of the body, the same of the answer, then the
// verdict and what was captured.
func describeExchange(x engine.Exchange) string {
	var b strings.Builder
	phase := ""
	switch x.Phase {
	case "setup":
		phase = " (setup, once per run)"
	case "user setup":
		phase = " (setup, once per user)"
	case "":
	default:
		phase = " (flow " + x.Phase + ")"
	}
	fmt.Fprintf(&b, "\n%s%s\n", x.Step, phase)
	head, body, _ := bytes.Cut(x.Request, []byte("\r\n\r\n"))
	writeMessage(&b, "> ", head, body)
	if x.Status != 0 {
		writeMessage(&b, "< ", bytes.TrimRight(x.Header, "\r\n"), x.Body)
	}
	if x.Outcome == engine.OutcomeOK {
		fmt.Fprintf(&b, "  passed in %s\n", report.Duration(x.Latency))
	} else {
		fmt.Fprintf(&b, "  FAILED: %s\n", x.Failure)
	}
	for _, c := range x.Captured {
		fmt.Fprintf(&b, "  {{%s}} = %s\n", c.Key, clip(c.Value, 80))
	}
	return b.String()
}

// writeMessage writes an HTTP head line by line, then the first
// dryShown bytes of the body.
func writeMessage(b *strings.Builder, mark string, head, body []byte) {
	for _, line := range strings.Split(string(head), "\r\n") {
		fmt.Fprintf(b, "  %s%s\n", mark, line)
	}
	if len(body) == 0 {
		return
	}
	fmt.Fprintf(b, "  %s\n", strings.TrimSpace(mark))
	shown := body
	if len(shown) > dryShown {
		shown = shown[:dryShown]
	}
	for _, line := range strings.Split(printable(shown), "\n") {
		fmt.Fprintf(b, "  %s%s\n", mark, line)
	}
	if len(body) > dryShown {
		fmt.Fprintf(b, "  %s… (the first %d of %d bytes)\n", mark, dryShown, len(body))
	}
}

// printable shows text as it is and other bytes as dots, so a binary
// answer cannot garble the terminal.
func printable(p []byte) string {
	var b strings.Builder
	for len(p) > 0 {
		r, n := utf8.DecodeRune(p)
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == '\r':
		case r == utf8.RuneError && n <= 1, r < 0x20, r == 0x7f:
			b.WriteByte('.')
		default:
			b.WriteRune(r)
		}
		p = p[n:]
	}
	return b.String()
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
