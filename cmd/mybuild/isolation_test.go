package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A build names its isolation mode in its first progress line: on this
// machine (root, namespaces allowed), namespaces.
func TestBuildNamesItsMode(t *testing.T) {
	dir := project(t, "FROM scratch\nCOPY busybox /bin/busybox\n")
	code, _, stderr := runCLI(t, "--cache-dir", t.TempDir(), "-t", filepath.Join(t.TempDir(), "a.tar"), dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	first, _, _ := strings.Cut(stderr, "\n")
	if want := "#0 isolation: namespaces (root, and namespaces and mounts are allowed)"; first != want {
		t.Errorf("first line %q, want %q", first, want)
	}
}

// The in-place mode is refused on this machine, which lacks the marker:
// one line, exit 1, nothing written.
func TestInPlaceRefusedOnTheHost(t *testing.T) {
	dir := project(t, "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"touch\", \"/x\"]\n")
	out := filepath.Join(t.TempDir(), "a.tar")
	code, _, stderr := runCLI(t, "--cache-dir", t.TempDir(), "--isolation=in-place", "-t", out, dir)
	exe, _ := os.Executable()
	want := "mybuild: --isolation=in-place: in-place marker missing: without " + filepath.Join(filepath.Dir(exe), "in-place") +
		" this machine may not be a throwaway container, and building in place rewrites its root filesystem (add --force if it is throwaway)\n"
	if code != 1 || stderr != want {
		t.Errorf("exit %d, stderr %q\nwant exit 1, %q", code, stderr, want)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output written: %v", err)
	}
}

func TestIsolationUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--isolation=chroot", "."}, `mybuild: --isolation: unknown isolation mode "chroot": use one of auto, namespaces, rootless, in-place`},
		{[]string{"--force", "."}, "mybuild: --force only applies to --isolation=in-place"},
		{[]string{"--isolation=namespaces", "--force", "."}, "mybuild: --force only applies to --isolation=in-place"},
	} {
		code, _, stderr := runCLI(t, c.args...)
		if first, _, _ := strings.Cut(stderr, "\n"); code != 2 || first != c.want {
			t.Errorf("%v: exit %d, %q; want exit 2, %q", c.args, code, stderr, c.want)
		}
	}
}

// mybuild info prints the choice and the facts, as text and as JSON.
func TestInfo(t *testing.T) {
	code, stdout, stderr := runCLI(t, "info")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{
		"isolation: namespaces (root, and namespaces and mounts are allowed)\n",
		"  user:                          root (uid 0)\n",
		"  namespaces and mounts:         allowed\n",
		"  overlayfs in a user namespace: allowed\n",
		"  in-place marker:               ",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("info lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, stderr = runCLI(t, "info", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var r infoReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("%v:\n%s", err, stdout)
	}
	if r.Isolation != "namespaces" || r.UID != 0 || r.Namespaces != "allowed" || r.HasMarker {
		t.Errorf("info --json: %+v", r)
	}
}
