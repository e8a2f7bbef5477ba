//go:build linux

// Command wakeup measures how late this machine wakes a thread from a
// timed sleep: the floor under the open model's pacer, which sleeps in
// epoll_pwait2 as this does (raw call, 1 µs timer slack) and must wake
// early by about that much to start requests on time. It sleeps -sleep
// again and again for -for and prints percentiles of the lateness.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	sleep := flag.Duration("sleep", 450*time.Microsecond, "each sleep's `length` (450µs: a start every 500µs, 2,000/s, less a margin)")
	span := flag.Duration("for", 10*time.Second, "how long to measure")
	flag.Parse()
	if *sleep <= 0 || *span <= 0 {
		fmt.Fprintln(os.Stderr, "wakeup: -sleep and -for must be above 0")
		os.Exit(2)
	}
	runtime.LockOSThread()
	unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wakeup: epoll:", err)
		os.Exit(1)
	}
	var events [1]unix.EpollEvent
	var late []time.Duration
	for end := time.Now().Add(*span); time.Now().Before(end); {
		asked := time.Now().Add(*sleep)
		ts := unix.NsecToTimespec(int64(*sleep))
		_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT2, uintptr(ep), uintptr(unsafe.Pointer(&events[0])), 1,
			uintptr(unsafe.Pointer(&ts)), 0, 0)
		if e == unix.ENOSYS {
			fmt.Fprintln(os.Stderr, "wakeup: this kernel has no epoll_pwait2 (5.11)")
			os.Exit(1)
		}
		if e == 0 {
			late = append(late, time.Since(asked))
		}
	}
	slices.Sort(late)
	at := func(q float64) time.Duration { return late[int(q*float64(len(late)-1))].Round(time.Microsecond) }
	fmt.Printf("%d sleeps of %s: late by p50 %s  p80 %s  p90 %s  p99 %s  p99.9 %s  max %s\n",
		len(late), *sleep, at(0.5), at(0.8), at(0.9), at(0.99), at(0.999), late[len(late)-1].Round(time.Microsecond))
}
