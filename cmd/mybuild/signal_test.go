package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mybuild/mybuild/internal/runtest"
)

// startCLI runs this test binary as mybuild and waits until the step that
// sleeps has started. The buffer gets mybuild's stderr as it comes.
func startCLI(t *testing.T, dir, cacheDir, marker string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "--cache-dir", cacheDir, dir)
	cmd.Env = append(os.Environ(), "MYBUILD_TEST_CLI=1")
	stderr := &lockedBuffer{}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A test that gives up leaves no builder behind (after Wait, Kill
	// does nothing).
	t.Cleanup(func() { cmd.Process.Kill() })
	pw.Close()
	started := make(chan struct{})
	var once sync.Once
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			stderr.WriteString(sc.Text() + "\n")
			// The step's own output, not its header line.
			if sc.Text() == "#4 running "+marker {
				once.Do(func() { close(started) })
			}
		}
	}()
	select {
	case <-started:
	case <-time.After(runtest.Timeout):
		cmd.Process.Kill()
		t.Fatalf("the step did not start:\n%s", stderr)
	}
	runtest.WaitFor(t, "the step's sleep", func() bool { return len(runtest.Procs(marker)) > 0 })
	return cmd, stderr
}

// lockedBuffer is a bytes.Buffer that a goroutine writes while the test
// reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) WriteString(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(s)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitGone waits until no process of the step is left.
func waitGone(t *testing.T, marker string) {
	t.Helper()
	runtest.WaitFor(t, "the end of the step's processes", func() bool { return len(runtest.Procs(marker)) == 0 })
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
			marker := runtest.UniqueSleep()
			dir := project(t, prelude+fmt.Sprintf("RUN echo running %s; sleep %s & sleep %s\n", marker, marker, marker))
			cacheDir := t.TempDir()
			cmd, stderr := startCLI(t, dir, cacheDir, marker)
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Errorf("exit: %v, want 1\n%s", err, stderr)
			}
			waitGone(t, marker)
			runtest.AssertNoMountsUnder(t, cacheDir)
			if left := scratchDirs(t, cacheDir); len(left) != 0 {
				t.Errorf("scratch left: %v", left)
			}
		})
	}
}

// A builder killed outright cannot clean up: its step dies with it, and
// the next build reclaims what it left.
func TestKilledBuildIsCleanedUpByTheNext(t *testing.T) {
	marker := runtest.UniqueSleep()
	dir := project(t, prelude+fmt.Sprintf("RUN echo running %s; sleep %s\n", marker, marker))
	cacheDir := t.TempDir()
	cmd, _ := startCLI(t, dir, cacheDir, marker)
	cmd.Process.Kill()
	cmd.Wait()
	waitGone(t, marker)
	runtest.AssertNoMountsUnder(t, cacheDir)
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
