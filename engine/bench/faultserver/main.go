// Command faultserver serves one of engine/hostile's misbehaving servers
// on loopback, to measure how perflab and other load tools report a
// broken target (README, "Reliability"). It prints the URL on stderr and,
// when stopped with Ctrl-C or SIGTERM, what the server did.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"perflab/engine/hostile"
)

var modes = map[string]func() (*hostile.Server, error){
	"drop":    hostile.DropEverySecond,
	"reset":   hostile.ResetAfterAnswer,
	"never":   hostile.NeverAnswer,
	"endless": hostile.EndlessBody,
	"idle":    func() (*hostile.Server, error) { return hostile.CloseIdle(100*time.Millisecond, false) },
}

func main() {
	names := []string{"noaccept"}
	for m := range modes {
		names = append(names, m)
	}
	sort.Strings(names)
	mode := flag.String("mode", "drop", "how to misbehave: "+strings.Join(names, ", "))
	flag.Parse()
	stopped := make(chan os.Signal, 1)
	signal.Notify(stopped, os.Interrupt, syscall.SIGTERM)
	if *mode == "noaccept" {
		url, stop, err := hostile.NoAccept()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "faultserver (noaccept) on %s\n", url)
		<-stopped
		stop()
		return
	}
	start, ok := modes[*mode]
	if !ok {
		fmt.Fprintf(os.Stderr, "faultserver: unknown mode %q; choose one of %s\n", *mode, strings.Join(names, ", "))
		os.Exit(2)
	}
	srv, err := start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "faultserver (%s) on %s\n", *mode, srv.URL)
	<-stopped
	srv.Close()
	fmt.Fprintf(os.Stderr, "faultserver: %s\n", srv)
}
