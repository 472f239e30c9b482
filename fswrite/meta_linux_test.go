package fswrite

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mybuild/mybuild/internal/fstest"
	"github.com/mybuild/mybuild/internal/xattr"
)

func TestApply(t *testing.T) {
	dir := tree(t,
		fstest.CreateFile("su", []byte("su"), 0o644),
		fstest.CreateDir("tmp", 0o755),
		fstest.Symlink("su", "link"),
		fstest.Mkfifo("fifo", 0o600),
		fstest.CreateFile("untouched", nil, 0o644),
		fstest.Chtimes("untouched", t2),
	)
	for name, m := range map[string]Meta{
		// Owner before mode: chown clears setuid and file capabilities.
		"su": {
			Owner:  Owner{UID: 1000, GID: 1000},
			Mode:   fs.ModeSetuid | 0o755,
			Xattrs: []xattr.Attr{{Name: "security.capability", Value: []byte(capNetBindService)}, {Name: "user.k", Value: []byte("v")}},
			Atime:  t1, Mtime: t2,
		},
		"tmp": {Mode: fs.ModeDir | fs.ModeSticky | 0o777, Mtime: t1},
		// A symlink's own owner and times; its mode stays, and so does
		// its target's.
		"link": {Owner: Owner{UID: 5, GID: 6}, Mode: fs.ModeSymlink | 0o600, Mtime: t1},
		"fifo": {Owner: Owner{UID: 7, GID: 8}, Mode: fs.ModeNamedPipe | fs.ModeSetgid | 0o640, Mtime: t1},
		// Without a time, times are left alone.
		"untouched": {Owner: Owner{UID: 1, GID: 2}, Mode: 0o600},
	} {
		if err := Apply(filepath.Join(dir, name), m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	mustContain(t, describeTree(t, dir),
		`su urwxr-xr-x 1000:1000 atime=2001-02-03T04:05:06.000007 mtime=2002-03-04T05:06:07 security.capability="\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" user.k="v"`,
		"tmp dtrwxrwxrwx 0:0 mtime=2001-02-03T04:05:06.000007",
		"link Lrwxrwxrwx 5:6 -> su atime=2001-02-03T04:05:06.000007 mtime=2001-02-03T04:05:06.000007",
		"fifo pgrw-r----- 7:8 atime=2001-02-03T04:05:06.000007 mtime=2001-02-03T04:05:06.000007",
	)
	if got := describe(t, filepath.Join(dir, "untouched")); !strings.HasPrefix(got, "-rw------- 1:2 ") || !strings.Contains(got, "mtime=2002-03-04T05:06:07") {
		t.Errorf("untouched: %s", got)
	}
}

// Each failure names the system call, the path and what was set, and
// unwraps to the errno.
func TestApplyErrors(t *testing.T) {
	dir := tree(t, fstest.CreateFile("f", nil, 0o644), fstest.Symlink("f", "link"))
	missing := filepath.Join(dir, "missing")
	err := Apply(missing, Meta{Owner: Owner{UID: 1, GID: 2}, Mode: 0o644})
	var e *Error
	if !errors.As(err, &e) || e.Op != "lchown" || e.Path != missing || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %#v", err)
	}
	if want := "lchown " + missing + " 1:2: no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}

	// user.* cannot be set on a symlink: Apply fails, extraction skips it.
	link := filepath.Join(dir, "link")
	m := Meta{Mode: fs.ModeSymlink | 0o777, Xattrs: []xattr.Attr{{Name: "user.x", Value: []byte("y")}}}
	err = Apply(link, m)
	if want := "lsetxattr " + link + " user.x: operation not permitted"; err == nil || err.Error() != want || !errors.Is(err, unix.EPERM) {
		t.Errorf("err = %v, want %q", err, want)
	}
	if err := apply(pathTarget(link), m, lenience{xattrs: true}); err != nil {
		t.Errorf("best effort: %v", err)
	}

	// -1 would mean "leave as it is" to chown.
	err = Apply(filepath.Join(dir, "f"), Meta{Owner: Owner{UID: math.MaxUint32}})
	if err == nil || err.Error() != "invalid owner 4294967295:0" {
		t.Errorf("err = %v", err)
	}
}

// MetaOf and Apply copy a file's metadata, as a copy-up does.
func TestMetaOfRoundTrip(t *testing.T) {
	src := tree(t,
		fstest.CreateFile("f", []byte("x"), 0o644),
		fstest.Chown("f", 3, 4),
		fstest.Chmod("f", fs.ModeSetgid|0o710), // after chown, which clears it
		fstest.SetXattr("f", "user.keep", "1"),
		fstest.SetXattr("f", "trusted.drop", "2"),
		fstest.Chtimes("f", t1),
	)
	fi, err := os.Lstat(filepath.Join(src, "f"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := MetaOf(filepath.Join(src, "f"), fi, xattr.Carried)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "g")
	if err := WriteFile(dst, strings.NewReader("y"), m); err != nil {
		t.Fatal(err)
	}
	want := `grwx--x--- 3:4 atime=2001-02-03T04:05:06.000007 mtime=2001-02-03T04:05:06.000007 user.keep="1"`
	if got := describe(t, dst); got != want {
		t.Errorf("copy: %s\nwant: %s", got, want)
	}
	if err := WriteFile(dst, strings.NewReader("z"), m); !errors.Is(err, fs.ErrExist) {
		t.Errorf("WriteFile over a file: %v", err)
	}
}

func TestMknode(t *testing.T) {
	dir := t.TempDir()
	for name, m := range map[string]Meta{
		"null": {Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, Rdev: unix.Mkdev(1, 3)},
		"sda":  {Mode: fs.ModeDevice | 0o660, Rdev: unix.Mkdev(8, 0)},
		"fifo": {Mode: fs.ModeNamedPipe | 0o644},
		"sock": {Mode: fs.ModeSocket | 0o755},
		"dir":  {Mode: fs.ModeDir | 0o750},
	} {
		p := filepath.Join(dir, name)
		if err := mknode(p, m, ""); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := Apply(p, m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if err := mknode(filepath.Join(dir, "l"), Meta{Mode: fs.ModeSymlink}, "null"); err != nil {
		t.Fatal(err)
	}
	got := describeTree(t, dir)
	for _, want := range []string{
		"null Dcrw-rw-rw- 0:0 1:3 ", "sda Drw-rw---- 0:0 8:0 ", "fifo prw-r--r-- 0:0 ",
		"sock Srwxr-xr-x 0:0 ", "dir drwxr-x--- 0:0 ", "l Lrwxrwxrwx 0:0 -> null ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	err := mknode(filepath.Join(dir, "null"), Meta{Mode: fs.ModeDevice, Rdev: unix.Mkdev(1, 5)}, "")
	if want := "mknod " + filepath.Join(dir, "null") + " b 1:5: file exists"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

func TestWhiteouts(t *testing.T) {
	dir := t.TempDir()
	if err := Whiteouts(dir, []string{"a/b/c", "d"}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("dir: %v, %v", fi.Mode(), err)
	}
	got := describeTree(t, dir)
	for _, want := range []string{"a/b/c Dc--------- 0:0 0:0 ", "d Dc--------- 0:0 0:0 ", "a/b drwxr-xr-x 0:0 "} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}
