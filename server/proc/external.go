package proc

import "os/exec"

// External prepares another program (a redis-server, say) as a child that
// dies with the calling process, like Command does for perflab's own
// roles. Start it with Start.
func External(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	setDeathSignal(cmd)
	return cmd
}
