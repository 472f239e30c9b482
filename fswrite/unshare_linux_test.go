package fswrite

import (
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"

	"github.com/mybuild/mybuild/internal/fstest"
)

func TestUnshare(t *testing.T) {
	dir := tree(t,
		fstest.CreateDir("d", 0o755),
		fstest.CreateFile("d/f", []byte("data"), 0o4750),
		fstest.Chown("d/f", 1, 2),
		fstest.SetXattr("d/f", "security.capability", capNetBindService),
		fstest.SetXattr("d/f", "user.x", "y"),
		fstest.Chtimes("d/f", t1),
		fstest.Link("d/f", "g"),
		fstest.Symlink("target", "d/s"),
		fstest.Link("d/s", "s2"),
		fstest.Chtimes("d", t2),
	)
	for _, name := range []string{"d/f", "d/s"} {
		p := filepath.Join(dir, name)
		before := noAtime(describe(t, p))
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := Unshare(p, fi); err != nil {
			t.Fatal(err)
		}
		if after := noAtime(describe(t, p)); after != before {
			t.Errorf("%s: after Unshare\n%s\nwant\n%s", name, after, before)
		}
		if n := nlink(t, p); n != 1 {
			t.Errorf("%s: %d links after Unshare, want 1", name, n)
		}
	}
	if got, want := describe(t, filepath.Join(dir, "d")), "drwxr-xr-x 0:0 mtime="+t2.Format("2006-01-02T15:04:05.999999999"); got != want {
		t.Errorf("directory after Unshare: %s, want %s", got, want)
	}
	if err := os.WriteFile(filepath.Join(dir, "d/f"), []byte("new"), 0); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "g")); err != nil || string(b) != "data" {
		t.Errorf("the other link holds %q, %v; want the old data", b, err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "d"))
	if len(entries) != 2 {
		t.Errorf("d holds %d entries, want 2 (no temporary file left)", len(entries))
	}
}

// noAtime is a description without the atime, which reading a symlink
// moves.
func noAtime(s string) string {
	return regexp.MustCompile(` atime=\S+`).ReplaceAllString(s, "")
}

func nlink(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(fi.Sys().(*syscall.Stat_t).Nlink)
}
