package proc

import (
	"syscall"
	"testing"
)

func TestExternalDiesWithParent(t *testing.T) {
	cmd := External("true")
	if cmd.SysProcAttr == nil || cmd.SysProcAttr.Pdeathsig != syscall.SIGKILL {
		t.Fatal("an external child must get SIGKILL when its parent dies")
	}
}
