package server

import (
	"fmt"
	"sync"

	"perflab/server/proc"
)

// The process that starts a twin (perflab itself, with its load
// generator and dashboard, or a test) is kept off the instance's cores
// while the twin runs, as the twin's processes are kept on them: the
// study's load came from another machine. With every core the
// instance's (one core, or --instance-cpus as many as there are), they
// share them.
//
// Affinity belongs to the process, not to one twin, so the twins that
// run in it share one setting: the latest start or change of instance
// CPUs decides it, and the last twin to stop puts back the affinity the
// process had before the first.
var isolation struct {
	sync.Mutex
	twins    int
	original []int
}

// isolate keeps this process off the first n cores, from the first call
// of a twin's life (Start) to releaseIsolation (Close).
func (t *Twin) isolate(n int) error {
	isolation.Lock()
	defer isolation.Unlock()
	if !t.isolated {
		if isolation.twins == 0 {
			cpus, err := proc.SelfCPUs()
			if err != nil {
				return err
			}
			isolation.original = cpus
		}
		isolation.twins++
		t.isolated = true
	}
	cpus := proc.OtherCPUs(n)
	if cpus == nil {
		cpus = isolation.original
	}
	if err := proc.PinSelf(cpus); err != nil {
		return fmt.Errorf("--instance-cpus %d: keep perflab off the instance's cores: %w", n, err)
	}
	return nil
}

// Apart says whether this process runs on cores the twin's instance does
// not: false where they share every core (one core, or --instance-cpus
// as many as there are) or where pinning takes no effect.
func (t *Twin) Apart() bool {
	n := t.Config().instanceCPUs()
	isolation.Lock()
	defer isolation.Unlock()
	return proc.PinningSupported && t.isolated && proc.OtherCPUs(n) != nil
}

// releaseIsolation ends a twin's share of the setting.
func releaseIsolation() {
	isolation.Lock()
	defer isolation.Unlock()
	isolation.twins--
	if isolation.twins == 0 {
		proc.PinSelf(isolation.original)
	}
}
