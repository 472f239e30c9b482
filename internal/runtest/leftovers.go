package runtest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// UniqueSleep is a sleep duration, in seconds, that tells a test's
// processes apart: `sleep $(UniqueSleep())` is found by Procs.
func UniqueSleep() string {
	return fmt.Sprintf("1000.%09d", time.Now().Nanosecond())
}

// Procs lists the pids of the processes with marker among their
// arguments (not as argv[0]).
func Procs(marker string) []string {
	var pids []string
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		cmdline, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte("\x00"+marker)) {
			pids = append(pids, d.Name())
		}
	}
	return pids
}

// WaitFor fails the test unless cond holds within Timeout.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(Timeout); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// AssertNoMountsUnder fails the test if a mount of this process's mount
// namespace lies under dir.
func AssertNoMountsUnder(t testing.TB, dir string) {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, dir) {
			left = append(left, l)
		}
	}
	if len(left) > 0 {
		t.Errorf("mounts under %s remain:\n%s", dir, strings.Join(left, "\n"))
	}
}
