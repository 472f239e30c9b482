package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tmuxScreen runs mybuild (this test binary) with args in a terminal of
// 100 columns and 30 rows of a tmux server of its own, and returns a
// function that reads the screen and its scrollback, as capture-pane
// prints them.
func tmuxScreen(t *testing.T, args ...string) func() string {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux not found: apt-get install tmux")
	}
	socket := filepath.Join(t.TempDir(), "tmux.sock")
	tmux := func(args ...string) (string, error) {
		out, err := exec.Command("tmux", append([]string{"-S", socket}, args...)...).CombinedOutput()
		return string(out), err
	}
	quoted := []string{"env", "MYBUILD_TEST_CLI=1", "TERM=xterm", os.Args[0]}
	for _, a := range args {
		quoted = append(quoted, "'"+a+"'")
	}
	script := strings.Join(quoted, " ") + "; echo EXIT=$?; sleep 600"
	if out, err := tmux("new-session", "-d", "-x", "100", "-y", "30", script); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { tmux("kill-server") })
	return func() string {
		out, err := tmux("capture-pane", "-p", "-J", "-S", "-", "-E", "-")
		if err != nil {
			t.Fatalf("capture-pane: %v\n%s", err, out)
		}
		return out
	}
}

// waitScreen reads the screen until it matches, and returns it.
func waitScreen(t *testing.T, screen func() string, what string, match func(string) bool) string {
	t.Helper()
	var s string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if s = screen(); match(s) {
			return s
		}
	}
	t.Fatalf("the screen never showed %s:\n%s", what, s)
	return ""
}

// The live view on a terminal: a running step shows its timer and the
// last six lines of its output, redrawn in place; once done, every step
// takes one line, and nothing was printed twice.
func TestProgressTTY(t *testing.T) {
	dir := project(t, prelude+`RUN for i in 1 2 3 4 5 6 7 8; do echo "line $i"; done; sleep 4
RUN echo quick
`)
	screen := tmuxScreen(t, "build", "--cache-dir", t.TempDir(), "-t", filepath.Join(t.TempDir(), "app.tar"), dir)
	running := waitScreen(t, screen, "the step's last line", func(s string) bool { return strings.Contains(s, "# line 8") })
	mustMatch(t, running,
		`(?m)^\[\+\] Building \d+\.\ds \(3/4\)$`,
		`(?m)^ => \[4/5\] RUN for i in 1 2 3 4 5 6 7 8; do echo "line \$i"; done; sleep 4 +\d+\.\ds$`,
		`(?m)^ => => # line 3\n => => # line 4\n => => # line 5\n => => # line 6\n => => # line 7\n => => # line 8$`)
	if strings.Contains(running, "# line 2") {
		t.Errorf("more than six lines of output:\n%s", running)
	}
	done := waitScreen(t, screen, "the end", func(s string) bool { return strings.Contains(s, "EXIT=") })
	mustMatch(t, done,
		`(?m)^\[\+\] Finished \d+\.\ds \(5/5\)$`,
		`(?m)^ => CACHED \[1/5\] FROM scratch +0\.0s$`,
		`(?m)^ => \[4/5\] RUN for i in .* +[4-9]\.\ds$`,
		`(?m)^ => \[5/5\] RUN echo quick +\d+\.\ds$`,
		// capture-pane -J keeps the erased cells of a longer line drawn
		// there before (the archive being written) as spaces.
		`(?m)^ => wrote oci-archive:.*app\.tar *$`,
		`(?m)^sha256:[0-9a-f]{64}$`,
		`(?m)^EXIT=0$`)
	for _, once := range []string{"[+] ", "[4/5] RUN", "[5/5] RUN"} {
		if n := strings.Count(done, once); n != 1 {
			t.Errorf("%q is on the screen %d times, want once: the view was not redrawn in place\n%s", once, n, done)
		}
	}
	if strings.Contains(done, "# line") {
		t.Errorf("a finished step's output is still shown:\n%s", done)
	}
}

// A failed step keeps its last lines in the last view, and the error
// follows it.
func TestProgressTTYError(t *testing.T) {
	dir := project(t, prelude+"RUN echo first; echo 'it broke'; exit 3\n")
	screen := tmuxScreen(t, "build", "--cache-dir", t.TempDir(), dir)
	done := waitScreen(t, screen, "the end", func(s string) bool { return strings.Contains(s, "EXIT=") })
	mustMatch(t, done,
		`(?m)^ => ERROR \[4/4\] RUN echo first; echo 'it broke'; exit 3 +\d+\.\ds\n => => # first\n => => # it broke$`,
		`(?m)^mybuild: Dockerfile:4: \[4/4\] RUN .* did not complete successfully: exit code 3$`,
		`(?m)^EXIT=1$`)
}

func mustMatch(t *testing.T, s string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(s) {
			t.Errorf("no match for %s in:\n%s", p, s)
		}
	}
}

// Why a step missed stays under it.
func TestProgressTTYMiss(t *testing.T) {
	dir := project(t, prelude+"COPY f /f\n")
	os.WriteFile(filepath.Join(dir, "f"), []byte("one"), 0o644)
	cacheDir := t.TempDir()
	if code, _, stderr := runCLI(t, "build", "--cache-dir", cacheDir, dir); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	os.WriteFile(filepath.Join(dir, "f"), []byte("two"), 0o644)
	screen := tmuxScreen(t, "build", "--cache-dir", cacheDir, dir)
	done := waitScreen(t, screen, "the end", func(s string) bool { return strings.Contains(s, "EXIT=") })
	mustMatch(t, done, `(?m)^ => \[4/4\] COPY f /f +\d+\.\ds\n => => MISS 1 file changed: f$`, `(?m)^EXIT=0$`)
}

// In a multi-platform build, a COPY that took the layer another
// platform's same step made says so under it (the line may end in the
// blanks tmux keeps where a longer one was drawn).
func TestProgressTTYLayerFrom(t *testing.T) {
	dir := project(t, copyOnly)
	out := filepath.Join(t.TempDir(), "multi.tar")
	screen := tmuxScreen(t, "build", "--cache-dir", t.TempDir(), "--platform", "linux/amd64,linux/arm64", "-t", out, dir)
	done := waitScreen(t, screen, "the end", func(s string) bool { return strings.Contains(s, "EXIT=") })
	mustMatch(t, done, `(?m)^ => \[linux/(amd64|arm64) 2/3\] COPY busybox /bin/busybox +\d+\.\ds\n => => layer taken from linux/(amd64|arm64) *$`, `(?m)^EXIT=0$`)
}
