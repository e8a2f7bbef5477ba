package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestServeOnFullDisk: a twin whose data directory has no room left says
// "no space left on DIR" and exits 1. It used to map its shared stats
// page unallocated and die of SIGBUS on the first write (a Go fault,
// exit 2). Two ways to fill a disk: a small tmpfs (needs root) holding a
// kept data directory, filled after a first start as a real disk fills
// up; and a file-size limit (ulimit -f, SIGXFSZ ignored), which anyone
// can set.
func TestServeOnFullDisk(t *testing.T) {
	ran := 0
	t.Run("tmpfs filled up", func(t *testing.T) {
		mnt := filepath.Join(t.TempDir(), "disk")
		if err := os.Mkdir(mnt, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=4m"); err != nil {
			t.Skipf("SKIPPED: cannot mount a small tmpfs here (%v): it needs root", err)
		}
		t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
		ran++
		data := filepath.Join(mnt, "data")
		args := []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", data, "--keep-data", "--profile", "go", "--stats-every", "0"}
		s := startServe(t, binary, args[3:]...)
		s.cmd.Process.Signal(syscall.SIGTERM)
		for range s.lines {
		}
		if err := s.cmd.Wait(); err != nil {
			t.Fatalf("first start, on a disk with room: %v", err)
		}
		fillDisk(t, filepath.Join(mnt, "filler"))
		checkNoSpace(t, exec.Command(binary, args...), data)
	})
	t.Run("file-size limit", func(t *testing.T) {
		sh, err := exec.LookPath("sh")
		if err != nil {
			t.Skipf("SKIPPED: no sh to set ulimit -f with: %v", err)
		}
		ran++
		data := filepath.Join(t.TempDir(), "data")
		// One block (512 or 1024 bytes, by shell) is smaller than any
		// file the twin writes.
		cmd := exec.Command(sh, "-c", `trap '' XFSZ; ulimit -f 1 && exec "$@"`, "sh",
			binary, "serve", "--addr", "127.0.0.1:0", "--data-dir", data, "--profile", "go", "--stats-every", "0")
		checkNoSpace(t, cmd, data)
	})
	if ran == 0 {
		msg := "neither a tmpfs nor a file-size limit could fill a disk here, so a full disk goes untested"
		if os.Getenv("PERFLAB_REQUIRE_EXTERNAL") == "1" {
			t.Fatal(msg + " (PERFLAB_REQUIRE_EXTERNAL=1)")
		}
		t.Skip("SKIPPED: " + msg)
	}
}

// fillDisk writes path until the disk holding it is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 4096)
	for {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill the disk: %v", err)
			}
			return
		}
	}
}

// checkNoSpace runs perflab serve on a full disk: it must exit 1 within
// a minute, saying there is no space left on dir.
func checkNoSpace(t *testing.T, cmd *exec.Cmd, dir string) {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
	defer stop()
	cmd.Wait()
	if ctx.Err() != nil {
		t.Fatal("perflab serve ran on a full disk for a minute instead of stopping")
	}
	code, out := cmd.ProcessState.ExitCode(), strings.TrimSpace(stderr.String())
	if code != exitFailed || !strings.Contains(out, "no space left on "+dir) {
		t.Fatalf("exit %d (%v), stderr:\n%s\nwant exit 1 and %q", code, cmd.ProcessState, lastLines(out, 6), "no space left on "+dir)
	}
	if strings.Count(out, "\n") > 2 {
		t.Errorf("a full disk should be a short message, got:\n%s", lastLines(out, 20))
	}
	t.Logf("stderr: %s", out)
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
