package experiments

import (
	"runtime"
	"strconv"

	"perflab/server/proc"
)

// The twin's knobs, shared by the experiments that have them. Values are
// the flag values; keys are the dashboard's.
var (
	KnobWorkers = &Knob{Name: "workers", Key: "w", Values: countValues(16), Default: "1",
		Help: "worker processes sharing the listening socket (pre-fork, as gunicorn)"}
	KnobMode = &Knob{Name: "mode", Key: "m", Values: []string{"sync", "async"}, Default: "sync",
		Help: "sync: one request at a time per worker; async: concurrent, DB and cache calls through one executor"}
	KnobCache = &Knob{Name: "cache", Key: "c", Values: []string{"off", "on"}, Default: "off",
		Help: "Redis cache of the likes list, 60 s, invalidated by the like/unlike tasks"}
	KnobQuery = &Knob{Name: "query", Key: "n", Values: []string{"naive", "prefetch"}, Default: "naive",
		Help: "naive: the N+1 pattern, query by query; prefetch: a fixed number of queries"}
	KnobOffload = &Knob{Name: "offload", Key: "o", Values: []string{"off", "on"}, Default: "off",
		Help: "off: the instance serves the SPA; on: a separate edge does, the instance serves the API only"}
	KnobProfile = &Knob{Name: "profile", Key: "p", Values: []string{"django", "go"}, Default: "django",
		Help: "django: the declared costs of the seed's Python stack, one thread per worker; go: none"}
	KnobInstanceCPUs = &Knob{Name: "instance-cpus", Key: "i", Values: countValues(runtime.NumCPU()),
		Default: strconv.Itoa(proc.InstanceCPUs()),
		Help:    "cores the twin's processes are pinned to; the generator and dashboard use the rest"}
)

func countValues(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i + 1)
	}
	return out
}
