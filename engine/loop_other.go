//go:build !linux

package engine

import (
	"runtime"
	"sync/atomic"
)

// evloop is the event loop, which runs on Linux only; loopFits keeps
// every other platform on the goroutine path.
type evloop struct {
	done          chan struct{}
	spun          atomic.Int64
	idle          atomic.Int32
	prio, ringErr loopSetting
}

func affinityCPUs() int                  { return runtime.NumCPU() }
func newLoops(*Generator, int) []*evloop { panic("the event loop runs on Linux only") }
func (l *evloop) start() error           { panic("the event loop runs on Linux only") }
func (l *evloop) add(*worker)            { panic("the event loop runs on Linux only") }
func (l *evloop) poke()                  {}
