package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Without the marker beside the binary (here a copy of it on a volume),
// the same container refuses to build in place, whether asked for or
// chosen, in one line, and changes nothing.
func (f *fixture) testWithoutMarker(t *testing.T) {
	const dir = "/opt/copy"
	ctx := f.context(t, "busybox", nil)
	out := t.TempDir()
	volumes := []string{filepath.Dir(f.bin) + ":" + dir + ":ro", ctx + ":" + ctxMount, out + ":" + outMount}
	copied := func(name string) container {
		return container{name: name, volumes: volumes, entrypoint: dir + "/mybuild"}
	}
	mountPoints := []string{dir, ctxMount, outMount}
	flags := []string{"--build-arg", "BASE=" + f.bases["busybox"], "-t", outMount + "/x.tar", ctxMount}

	r := f.run(t, copied("no-marker-info"), "info")
	first, _, _ := strings.Cut(r.stdout, "\n")
	if r.code != 0 || !strings.HasPrefix(first, "isolation: none: no isolation mode works here: namespaces are refused (") ||
		!strings.HasSuffix(first, "), and building in place needs the marker "+dir+"/in-place, which mybuild's image has (see docs/in-place.md)") {
		t.Errorf("mybuild info: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = f.run(t, copied("no-marker-in-place"), append([]string{"build", "--isolation=in-place"}, flags...)...)
	want := "mybuild: --isolation=in-place: in-place marker missing: without " + dir + "/in-place this machine may not be a throwaway container, and building in place rewrites its root filesystem (add --force if it is throwaway)\n"
	if r.code != 1 || r.stderr != want {
		t.Errorf("build --isolation=in-place: exit %d, stderr %q\nwant exit 1, %q", r.code, r.stderr, want)
	}

	r = f.run(t, copied("no-marker-auto"), append([]string{"build"}, flags...)...)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "mybuild: no isolation mode works here: ") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("build: exit %d, stderr %q\nwant exit 1 and one line: no isolation mode works here", r.code, r.stderr)
	}

	for _, name := range []string{"no-marker-info", "no-marker-in-place", "no-marker-auto"} {
		for _, c := range f.diff(t, name) {
			if !isMountPoint(c.path, mountPoints) {
				t.Errorf("%s changed its container: docker diff says %s %s", name, c.kind, c.path)
			}
		}
	}
	if entries, err := os.ReadDir(out); err != nil || len(entries) != 0 {
		t.Errorf("the refused builds wrote %v (%v)", entries, err)
	}
}

// isMountPoint tells whether p is one of mountPoints or a directory on
// the way to one: what the engine makes for the volumes.
func isMountPoint(p string, mountPoints []string) bool {
	for _, m := range mountPoints {
		if p == m || strings.HasPrefix(m, p+"/") {
			return true
		}
	}
	return false
}
