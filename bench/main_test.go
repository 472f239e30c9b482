package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"testing"
)

// TestMain runs main itself when asked to, so that a test can run the
// command as a child process.
func TestMain(m *testing.M) {
	if os.Getenv("BENCH_TEST_MAIN") == "1" {
		os.Args = append([]string{"bench"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// -runs 0 is a usage error told in one line, before any work; it used to
// reach a panic once a phase had no sample to summarise.
func TestRunsMustBePositive(t *testing.T) {
	for _, runs := range []string{"0", "-1"} {
		cmd := exec.Command(os.Args[0], "-runs", runs, "-only", "none", "-work", t.TempDir())
		cmd.Env = append(os.Environ(), "BENCH_TEST_MAIN=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("-runs %s: %v, want exit code 2", runs, err)
		}
		if got, want := stderr.String(), "bench: -runs must be at least 1\n"; got != want {
			t.Errorf("-runs %s: stderr %q, want %q", runs, got, want)
		}
	}
}
