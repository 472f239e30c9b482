package fswrite

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/buildcontext"
	"github.com/mybuild/mybuild/internal/fstest"
	"github.com/mybuild/mybuild/overlay"
)

// lowerStack is one lower layer built from appliers.
func lowerStack(t *testing.T, appliers ...fstest.Applier) *overlay.Stack {
	t.Helper()
	return overlay.NewStack(tree(t, appliers...))
}

// tarOf is an archive of hdrs; a regular file's content is its Linkname.
func tarOf(t *testing.T, hdrs ...*tar.Header) *tar.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		h := *h
		body := ""
		if h.Typeflag == tar.TypeReg {
			body, h.Linkname, h.Size = h.Linkname, "", int64(len(h.Linkname))
		}
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return tar.NewReader(&buf)
}

func sameInode(t *testing.T, a, b string) bool {
	t.Helper()
	fa, err := os.Lstat(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.Lstat(b)
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(fa, fb)
}

// A directory of the layers below that gets new entries is copied up with
// its metadata; the directories made take the mode and owner given.
func TestMkdirAllCopiesUp(t *testing.T) {
	lower := lowerStack(t,
		fstest.CreateDir("a", 0o755),
		fstest.Chown("a", 5, 6),
		fstest.Chmod("a", 0o710),
		fstest.SetXattr("a", "user.x", "from below"),
		fstest.SetXattr("a", "trusted.x", "not carried"),
		fstest.Chtimes("a", t1),
		fstest.CreateFile("file", nil, 0o644),
	)
	upper := t.TempDir()
	l := NewLayer(upper, lower)
	if err := l.MkdirAll("/a/b/c", fs.ModeSetgid|0o750, Owner{UID: 7, GID: 8}); err != nil {
		t.Fatal(err)
	}
	if err := l.Finish(); err != nil {
		t.Fatal(err)
	}
	got := describeTree(t, upper)
	mustContain(t, got,
		`a drwx--x--- 5:6 mtime=2001-02-03T04:05:06.000007 user.x="from below"`,
	)
	for _, p := range []string{"a/b", "a/b/c"} {
		if !strings.Contains(got, p+" dgrwxr-x--- 7:8 ") {
			t.Errorf("%s is not 2750 7:8:\n%s", p, got)
		}
	}
	err := l.MkdirAll("/file/x", 0o755, Owner{})
	if err == nil || err.Error() != "cannot copy to non-directory: /file" {
		t.Errorf("err = %v", err)
	}
}

// Copy keeps a hard link between two copied files, and a file replaces a
// file; a directory cannot replace a file, nor a file a directory.
func TestCopy(t *testing.T) {
	src := tree(t,
		fstest.CreateFile("f", []byte("f"), 0o644),
		fstest.Link("f", "g"),
		fstest.CreateDir("d", 0o755),
		fstest.Symlink("f", "l"),
		fstest.CreateFile("h", []byte("h"), 0o644),
		fstest.Chtimes("f", t1),
		fstest.Chtimes("h", t2),
	)
	file := func(name string) *buildcontext.File {
		host := filepath.Join(src, name)
		fi, err := os.Lstat(host)
		if err != nil {
			t.Fatal(err)
		}
		link, _ := os.Readlink(host)
		return &buildcontext.File{Host: host, Info: fi, Link: link}
	}
	upper := t.TempDir()
	l := NewLayer(upper, lowerStack(t, fstest.CreateFile("old", []byte("old"), 0o600)))
	o := Owner{UID: 1, GID: 2}
	for _, c := range []struct {
		name, to string
		mode     fs.FileMode
	}{{"f", "/f", 0o640}, {"g", "/g", 0o640}, {"h", "/old", 0o600}, {"d", "/d", 0o700}, {"l", "/l", 0o777}} {
		if err := l.Copy(file(c.name), c.to, c.mode, o, true); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	if err := l.Finish(); err != nil {
		t.Fatal(err)
	}
	if !sameInode(t, filepath.Join(upper, "f"), filepath.Join(upper, "g")) {
		t.Error("f and g are not one inode")
	}
	mustContain(t, describeTree(t, upper),
		"f -rw-r----- 1:2 atime=2001-02-03T04:05:06.000007 mtime=2001-02-03T04:05:06.000007",
		"old -rw------- 1:2 atime=2002-03-04T05:06:07 mtime=2002-03-04T05:06:07",
	)
	if err := l.Copy(file("d"), "/f", 0o755, o, true); err == nil || err.Error() != "cannot copy to non-directory: /f" {
		t.Errorf("directory over a file: %v", err)
	}
	if err := l.Copy(file("f"), "/d", 0o755, o, true); err == nil || err.Error() != "cannot replace directory /d with a file" {
		t.Errorf("file over a directory: %v", err)
	}
}

func TestUntar(t *testing.T) {
	outside := tree(t,
		fstest.CreateFile("secret", []byte("host"), 0o600),
		fstest.CreateDir("e", 0o755),
		fstest.Chtimes("e", t1),
	)
	lower := lowerStack(t,
		fstest.CreateDir("dest", 0o750),
		fstest.Chown("dest", 3, 4),
		fstest.CreateFile("dest/old", []byte("old"), 0o640),
		fstest.Chtimes("dest", t1),
	)
	secret := filepath.Join(outside, "secret")
	tr := tarOf(t,
		&tar.Header{Typeflag: tar.TypeReg, Name: "../../clamped", Linkname: "in dest", Mode: 0o644, ModTime: t2},
		&tar.Header{Typeflag: tar.TypeDir, Name: "sub/", Mode: 0o700, ModTime: t2},
		&tar.Header{Typeflag: tar.TypeReg, Name: "sub/su", Linkname: "su", Mode: 0o4755, Uid: 1000, ModTime: t2},
		// A hard link to a symlink is one: its mode is not set, which
		// would go through it to the host.
		&tar.Header{Typeflag: tar.TypeSymlink, Name: "s", Linkname: secret},
		&tar.Header{Typeflag: tar.TypeLink, Name: "h", Linkname: "s", Mode: 0o777, Uid: 9},
		// A file of a layer below is copied in once for all its links.
		&tar.Header{Typeflag: tar.TypeLink, Name: "o1", Linkname: "old", Mode: 0o600, ModTime: t2},
		&tar.Header{Typeflag: tar.TypeLink, Name: "o2", Linkname: "/old", Mode: 0o600, ModTime: t2},
		// Directory times are set last, and never through a symlink that
		// replaced the directory.
		&tar.Header{Typeflag: tar.TypeDir, Name: "d/", Mode: 0o755, ModTime: t2},
		&tar.Header{Typeflag: tar.TypeDir, Name: "d/e/", Mode: 0o755, ModTime: t2},
		&tar.Header{Typeflag: tar.TypeSymlink, Name: "d", Linkname: outside},
	)
	upper := t.TempDir()
	l := NewLayer(upper, lower)
	if err := l.MkdirAll("/dest", 0o755, Owner{}); err != nil {
		t.Fatal(err)
	}
	if err := l.Untar(t.Context(), tr, "/dest", nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Finish(); err != nil {
		t.Fatal(err)
	}
	got := describeTree(t, upper)
	mustContain(t, got,
		"dest drwxr-x--- 3:4 mtime=2001-02-03T04:05:06.000007",
		"dest/clamped -rw-r--r-- 0:0 atime=2002-03-04T05:06:07 mtime=2002-03-04T05:06:07",
		"dest/sub drwx------ 0:0 mtime=2002-03-04T05:06:07",
		"dest/sub/su urwxr-xr-x 1000:0 atime=2002-03-04T05:06:07 mtime=2002-03-04T05:06:07",
		"dest/o1 -rw------- 0:0 atime=2002-03-04T05:06:07 mtime=2002-03-04T05:06:07",
	)
	if !strings.Contains(got, "dest/h Lrwxrwxrwx 9:0 -> "+secret) {
		t.Errorf("dest/h is not the symlink, owned by 9:\n%s", got)
	}
	if fi, err := os.Stat(secret); err != nil || fi.Mode() != 0o600 {
		t.Errorf("the host file a symlink points to: %v, %v", fi.Mode(), err)
	}
	if got := describe(t, filepath.Join(outside, "e")); !strings.Contains(got, "mtime=2001-02-03T04:05:06.000007") {
		t.Errorf("a directory outside got times: %s", got)
	}
	if !sameInode(t, filepath.Join(upper, "dest/o1"), filepath.Join(upper, "dest/o2")) {
		t.Error("o1 and o2 are not one inode")
	}
}

// With --chown, every entry gets the owner.
func TestUntarChown(t *testing.T) {
	tr := tarOf(t,
		&tar.Header{Typeflag: tar.TypeDir, Name: "app/", Mode: 0o750, Uid: 1000, Gid: 1000},
		&tar.Header{Typeflag: tar.TypeReg, Name: "app/f", Linkname: "f", Mode: 0o644, Uid: -1},
		&tar.Header{Typeflag: tar.TypeSymlink, Name: "app/l", Linkname: "f"},
	)
	upper := t.TempDir()
	l := NewLayer(upper, overlay.NewStack())
	if err := l.Untar(t.Context(), tr, "/", &Owner{UID: 7, GID: 8}); err != nil {
		t.Fatal(err)
	}
	got := describeTree(t, upper)
	for _, p := range []string{"app drwxr-x--- 7:8", "app/f -rw-r--r-- 7:8", "app/l Lrwxrwxrwx 7:8"} {
		if !strings.Contains(got, p) {
			t.Errorf("missing %q in\n%s", p, got)
		}
	}
}

// A symlink, a fifo or a device copied where a file already is replaces
// it, whether this layer made the file or a layer below has it.
func TestCopyReplacesNonDirectory(t *testing.T) {
	src := tree(t,
		fstest.CreateFile("f", []byte("f"), 0o644),
		fstest.Symlink("../a.txt", "l"),
		fstest.Mkfifo("p", 0o640),
	)
	file := func(name string) *buildcontext.File {
		host := filepath.Join(src, name)
		fi, err := os.Lstat(host)
		if err != nil {
			t.Fatal(err)
		}
		link, _ := os.Readlink(host)
		return &buildcontext.File{Host: host, Info: fi, Link: link}
	}
	upper := t.TempDir()
	l := NewLayer(upper, lowerStack(t,
		fstest.CreateFile("below", []byte("below"), 0o600),
		fstest.Symlink("elsewhere", "belowlink"),
	))
	o := Owner{UID: 1, GID: 2}
	for _, c := range []struct{ name, to string }{
		{"f", "/same"}, {"l", "/same"}, // this layer's file
		{"l", "/below"},     // a file below
		{"p", "/belowlink"}, // a symlink below
		{"f", "/fifo"}, {"p", "/fifo"},
	} {
		if err := l.Copy(file(c.name), c.to, 0o640, o, true); err != nil {
			t.Fatalf("%s to %s: %v", c.name, c.to, err)
		}
	}
	if err := l.Finish(); err != nil {
		t.Fatal(err)
	}
	got := describeTree(t, upper)
	for _, want := range []string{"same Lrwxrwxrwx 1:2 -> ../a.txt ", "below Lrwxrwxrwx 1:2 -> ../a.txt ", "belowlink prw-r----- 1:2 ", "fifo prw-r----- 1:2 "} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

// A PAX global header is skipped before its name makes any directory.
func TestUntarGlobalHeader(t *testing.T) {
	tr := tarOf(t,
		&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "/tmp/GlobalHead.1.1", PAXRecords: map[string]string{"comment": "c"}},
		&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "x/pax_global_header", PAXRecords: map[string]string{"comment": "c"}},
		&tar.Header{Typeflag: tar.TypeReg, Name: "f", Linkname: "f", Mode: 0o644, ModTime: t2},
	)
	upper := t.TempDir()
	l := NewLayer(upper, lowerStack(t))
	if err := l.MkdirAll("/dest", 0o755, Owner{}); err != nil {
		t.Fatal(err)
	}
	if err := l.Untar(t.Context(), tr, "/dest", nil); err != nil {
		t.Fatal(err)
	}
	if got := describeTree(t, upper); strings.Contains(got, "tmp") || strings.Contains(got, "dest/x") || !strings.Contains(got, "dest/f ") {
		t.Errorf("got\n%s", got)
	}
}

// With parallel copies, Copy returns before a new file is written; Flush
// waits for every copy and reports the first that failed.
func TestParallelCopies(t *testing.T) {
	var appliers []fstest.Applier
	for i := range 64 {
		appliers = append(appliers, fstest.CreateFile(fmt.Sprintf("f%02d", i), []byte(fmt.Sprint(i)), 0o644), fstest.Chtimes(fmt.Sprintf("f%02d", i), t1))
	}
	src := tree(t, appliers...)
	file := func(name string) *buildcontext.File {
		fi, err := os.Lstat(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		return &buildcontext.File{Host: filepath.Join(src, name), Info: fi}
	}
	upper := t.TempDir()
	l := NewLayer(upper, lowerStack(t), WithParallelCopies())
	for i := range 64 {
		name := fmt.Sprintf("f%02d", i)
		if err := l.Copy(file(name), "/"+name, 0o640, Owner{UID: 1, GID: 2}, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Finish(); err != nil {
		t.Fatal(err)
	}
	for i := range 64 {
		name := fmt.Sprintf("f%02d", i)
		if got := describe(t, filepath.Join(upper, name)); got != "-rw-r----- 1:2 atime=2001-02-03T04:05:06.000007 mtime=2001-02-03T04:05:06.000007" {
			t.Fatalf("%s: %s", name, got)
		}
		if data, err := os.ReadFile(filepath.Join(upper, name)); err != nil || string(data) != fmt.Sprint(i) {
			t.Fatalf("%s holds %q, %v", name, data, err)
		}
	}

	// A source gone before its copy ran.
	gone := file("f00")
	if err := os.Remove(gone.Host); err != nil {
		t.Fatal(err)
	}
	l = NewLayer(t.TempDir(), lowerStack(t), WithParallelCopies())
	if err := l.Copy(gone, "/x", 0o644, Owner{}, true); err != nil {
		t.Fatalf("Copy: %v, want the error at Flush", err)
	}
	if err := l.Flush(); err == nil || !strings.Contains(err.Error(), "f00") {
		t.Fatalf("Flush: %v, want the missing source named", err)
	}
}
