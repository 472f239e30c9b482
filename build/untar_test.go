package build

import (
	"archive/tar"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// ADD unpacks what GNU tar -S writes: old GNU sparse entries, with their
// holes filled in.
func TestAddGNUSparse(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude + "ADD sparse.tar /x/\n"}))
	src := t.TempDir()
	f, err := os.Create(filepath.Join(src, "holes"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("end"), 1<<20)
	f.Close()
	cmd := exec.Command("tar", "--format=gnu", "-S", "-C", src, "-cf", filepath.Join(dir, "sparse.tar"), "holes")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	want := append(make([]byte, 1<<20), "end"...)
	out, _ := testBuild(t, dir, t.TempDir())
	if l := lineOf(t, out, "/x/holes"); !strings.Contains(l, "sha256="+digest.FromBytes(want).Encoded()) {
		t.Errorf("/x/holes: %q", l)
	}
}

// A PAX global header makes no file; a type ADD cannot make fails the
// step, as in Docker, rather than being dropped.
func TestAddTarEntryTypes(t *testing.T) {
	archive := func(hdrs ...*tar.Header) string {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range hdrs {
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
		}
		tw.Close()
		return buf.String()
	}
	good := archive(
		&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "x"}},
		&tar.Header{Typeflag: tar.TypeReg, Name: "f", Size: 1, Mode: 0o4755},
	)
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude + "ADD good.tar /x/\n", "good.tar": good}))
	out, _ := testBuild(t, dir, t.TempDir())
	if l := lineOf(t, out, "/x/f"); !strings.HasPrefix(l, "/x/f file 4755 ") {
		t.Errorf("/x/f: %q", l)
	}
	if l := lineOf(t, out, "/x/pax_global_header"); l != "" {
		t.Errorf("the global header became a file: %q", l)
	}

	bad := archive(&tar.Header{Typeflag: 'V', Name: "volume-label"})
	dir = withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude + "ADD bad.tar /x/\n", "bad.tar": bad}))
	_, _, err := tryBuild(t, dir, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), `archive entry "volume-label": unhandled tar header type 'V'`) {
		t.Errorf("err = %v", err)
	}
}
