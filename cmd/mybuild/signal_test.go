package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startCLI runs this test binary as mybuild and waits until the step that
// sleeps has started.
func startCLI(t *testing.T, dir, cacheDir, marker string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "--cache-dir", cacheDir, dir)
	cmd.Env = append(os.Environ(), "MYBUILD_TEST_CLI=1")
	var stderr bytes.Buffer
	pr, pw, _ := os.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	started := make(chan bool)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			stderr.WriteString(sc.Text() + "\n")
			// The step's own output, not its header line.
			if sc.Text() == "#4 running "+marker {
				close(started)
			}
		}
	}()
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the step did not start:\n%s", stderr.String())
	}
	for deadline := time.Now().Add(10 * time.Second); sleepers(marker) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the step's sleep did not start")
		}
	}
	return cmd, &stderr
}

func sleepers(marker string) int {
	n := 0
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		cmdline, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte("\x00"+marker)) {
			n++
		}
	}
	return n
}

func waitGone(t *testing.T, marker string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); sleepers(marker) > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the step's processes outlived the builder")
		}
	}
}

func assertNoMountsUnder(t *testing.T, dir string) {
	t.Helper()
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), dir) {
		t.Errorf("a mount under %s remains", dir)
	}
}

func scratchDirs(t *testing.T, cacheDir string) []string {
	entries, _ := os.ReadDir(filepath.Join(cacheDir, "tmp"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// Ctrl-C and SIGTERM stop the build: exit 1, the step and its children
// killed, no mount and no scratch dir left.
func TestInterruptedBuildLeavesNothing(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			marker := fmt.Sprintf("1000.%09d", time.Now().Nanosecond())
			dir := project(t, prelude+fmt.Sprintf("RUN echo running %s; sleep %s & sleep %s\n", marker, marker, marker))
			cacheDir := t.TempDir()
			cmd, stderr := startCLI(t, dir, cacheDir, marker)
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Errorf("exit: %v, want 1\n%s", err, stderr)
			}
			waitGone(t, marker)
			assertNoMountsUnder(t, cacheDir)
			if left := scratchDirs(t, cacheDir); len(left) != 0 {
				t.Errorf("scratch left: %v", left)
			}
		})
	}
}

// A builder killed outright cannot clean up: its step dies with it, and
// the next build reclaims what it left.
func TestKilledBuildIsCleanedUpByTheNext(t *testing.T) {
	marker := fmt.Sprintf("1000.%09d", time.Now().Nanosecond())
	dir := project(t, prelude+fmt.Sprintf("RUN echo running %s; sleep %s\n", marker, marker))
	cacheDir := t.TempDir()
	cmd, _ := startCLI(t, dir, cacheDir, marker)
	cmd.Process.Kill()
	cmd.Wait()
	waitGone(t, marker)
	assertNoMountsUnder(t, cacheDir)
	if len(scratchDirs(t, cacheDir)) == 0 {
		t.Fatal("expected the killed build's scratch dir")
	}
	other := project(t, prelude)
	if code, _, stderr := runCLI(t, "--cache-dir", cacheDir, other); code != 0 {
		t.Fatal(stderr)
	}
	if left := scratchDirs(t, cacheDir); len(left) != 0 {
		t.Errorf("the next build left %v", left)
	}
}
