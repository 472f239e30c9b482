package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Where the runs of mybuild's image mount their volumes: below
// directories the busybox base image deletes (/workspace) and makes
// opaque (/srv).
const (
	ctxMount = "/workspace/ctx"
	outMount = "/srv/out"
)

// forbidden are the paths no layer built in place may hold: the
// container's own (/proc, /sys, /dev, /etc/hosts, /etc/resolv.conf,
// /etc/hostname, /.dockerenv), mybuild's directory with its cache, and the
// volumes.
var forbidden = []string{"/proc", "/sys", "/dev", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/.dockerenv", "/mybuild", ctxMount, outMount, "/cache"}

// expected is what each case's image must hold, beyond being the same
// image in both modes: files (path: content), paths it must not hold,
// and files with a file capability.
var expected = map[string]struct {
	files map[string]string
	gone  []string
	caps  []string
}{
	"busybox": {
		files: map[string]string{
			"/tmp/work/whoami":   "65534 in /tmp/work\n",
			"/results/from-bind": "hello from the context\n",
			"/results/cache-log": "run\n",
			"/copied/a":          "a\n",
			"/copied/a-link":     "a\nchanged\n",
			"/data/a-link":       "a\n",
			"/srv/new":           "new\n",
			"/copied/redo/again": "again\n",
			"/files/sub/x":       "x\n",
			"/etc/group":         "root:x:0:\nnogroup:x:65534:\n",
		},
		gone: []string{"/data/a", "/copied/dir", "/copied/a-sym", "/copied/fifo", "/copied/redo/r", "/workspace", "/srv/old", "/etc/gone", "/mnt"},
	},
	"debian": {
		files: map[string]string{"/home/builder/app/greeting": "Hello, world!\npinged\n"},
		gone:  []string{"/tmp/hello.deb", "/var/log/dpkg.log"},
		caps:  []string{"/usr/bin/ping"},
	},
}

// mybuild's image builds in place in a container with Docker's default
// security, and gives the images the normal mode gives on this machine.
func TestInPlace(t *testing.T) {
	f := setup(t)
	t.Run("info", f.testInfo)
	t.Run("busybox", func(t *testing.T) { f.testCase(t, "busybox", nil) })
	t.Run("debian", func(t *testing.T) { f.testCase(t, "debian", map[string]string{"hello.deb": helloDeb(t)}) })
	t.Run("cache-between-jobs", f.testCacheBetweenJobs)
	t.Run("shell-job", f.testShellJob)
	t.Run("mount-below-symlink", f.testMountBelowSymlink)
	t.Run("without-marker", f.testWithoutMarker)
}

// mybuild info, in its image, picks the in-place mode: namespaces are
// refused there, and the marker is beside the binary.
func (f *fixture) testInfo(t *testing.T) {
	r := f.run(t, container{name: "info"}, "info")
	first, _, _ := strings.Cut(r.stdout, "\n")
	if r.code != 0 || !strings.HasPrefix(first, "isolation: in-place (namespaces are refused (") ||
		!strings.HasSuffix(first, "), and /mybuild/in-place says this is mybuild's own container)") {
		t.Errorf("mybuild info: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = f.run(t, container{name: "info-json"}, "info", "--json")
	var report struct {
		Isolation  string `json:"isolation"`
		UID        int    `json:"uid"`
		Namespaces string `json:"namespaces"`
		Marker     string `json:"inPlaceMarker"`
		HasMarker  bool   `json:"inPlaceMarkerPresent"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
		t.Fatalf("mybuild info --json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if report.Isolation != "in-place" || report.UID != 0 || !strings.HasPrefix(report.Namespaces, "refused: ") ||
		report.Marker != "/mybuild/in-place" || !report.HasMarker {
		t.Errorf("mybuild info --json: %+v", report)
	}
}

// A case of testdata built in place gives the image the normal mode
// gives, with nothing of the container, mybuild or the volumes in its
// layers; and the container's own files, mybuild's and the volumes are
// as they were.
func (f *fixture) testCase(t *testing.T, name string, files map[string]string) {
	vm := f.vmImage(t, name, files)
	ctx := f.context(t, name, files)
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "keep.txt"), []byte("not the build's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctxBefore, outBefore := tree(t, ctx), tree(t, out)
	start := time.Now()
	r := f.run(t, container{name: name, volumes: []string{ctx + ":" + ctxMount, out + ":" + outMount}},
		"build", "--build-arg", "BASE="+f.bases[baseOf(name)], "-t", outMount+"/image.tar", ctxMount)
	t.Logf("built in place in %v", time.Since(start).Round(time.Millisecond))
	if r.code != 0 {
		t.Fatalf("build in place: exit %d\n%s", r.code, r.stderr)
	}
	if first, _, _ := strings.Cut(r.stderr, "\n"); !strings.HasPrefix(first, "#0 isolation: in-place (") {
		t.Errorf("first line %q, want the in-place mode named", first)
	}
	got := filepath.Join(out, "image.tar")
	sameImage(t, "in place", vm, got)
	want := expected[name]
	fsys := hasFiles(t, got, want.files, want.gone)
	for _, p := range want.caps {
		if e, _ := fsys.Lookup(p); e.Xattrs["security.capability"] == "" {
			t.Errorf("%s has no file capability: %+v", p, e)
		}
	}
	noLeaks(t, got, f.baseLayers[baseOf(name)], forbidden)
	f.checkUntouched(t, name)
	if d := treeDiff(ctxBefore, tree(t, ctx)); len(d) > 0 {
		t.Errorf("the build changed the context volume:\n%s", strings.Join(d, "\n"))
	}
	outAfter := tree(t, out)
	delete(outAfter, "image.tar")
	delete(outAfter, ".")
	delete(outBefore, ".")
	if d := treeDiff(outBefore, outAfter); len(d) > 0 {
		t.Errorf("the build changed the output volume beside its output:\n%s", strings.Join(d, "\n"))
	}
}

// checkUntouched fails the test when the build in container name changed
// its /etc/hosts, /etc/resolv.conf or /etc/hostname, or anything of
// mybuild's directory but its cache.
func (f *fixture) checkUntouched(t *testing.T, name string) {
	t.Helper()
	got := f.containerHostFiles(t, name)
	for i, file := range []string{"/etc/hosts", "/etc/resolv.conf", "/etc/hostname"} {
		if got[i] != f.hostFiles[i] {
			t.Errorf("%s of the container is now %q, was %q", file, got[i], f.hostFiles[i])
		}
	}
	for _, c := range f.diff(t, name) {
		switch {
		case !under(c.path, []string{"/mybuild"}), under(c.path, []string{"/mybuild/cache"}):
		case c.kind == "C" && (c.path == "/mybuild" || c.path == "/mybuild/tmp"):
		default:
			t.Errorf("the build changed mybuild's own files: docker diff says %s %s", c.kind, c.path)
		}
	}
}

// helloDeb is Debian's hello package, downloaded once per machine by
// apt-get download into /var/tmp/mybuild-test/debs.
func helloDeb(t *testing.T) string {
	t.Helper()
	dir := "/var/tmp/mybuild-test/debs"
	if found, _ := filepath.Glob(filepath.Join(dir, "hello_*.deb")); len(found) == 1 {
		return found[0]
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(dir, "download-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command(tool(t, "apt-get"), "download", "hello")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("apt-get download hello (after apt-get update): %v\n%s", err, out)
	}
	found, _ := filepath.Glob(filepath.Join(tmp, "hello_*.deb"))
	if len(found) != 1 {
		t.Fatalf("apt-get download hello gave %q", found)
	}
	deb := filepath.Join(dir, filepath.Base(found[0]))
	if err := os.Rename(found[0], deb); err != nil {
		t.Fatal(err)
	}
	return deb
}
