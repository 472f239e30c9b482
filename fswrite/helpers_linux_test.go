package fswrite

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mybuild/mybuild/internal/fstest"
	"github.com/mybuild/mybuild/internal/xattr"
	"github.com/mybuild/mybuild/overlay"
)

// capNetBindService is a version 2 security.capability value granting
// CAP_NET_BIND_SERVICE, effective.
var capNetBindService = string([]byte{
	0x01, 0x00, 0x00, 0x02, // magic: revision 2, effective
	0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, // permitted, inheritable (low word)
	0, 0, 0, 0, 0, 0, 0, 0, // high word
})

var (
	t1 = time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
	t2 = time.Date(2002, 3, 4, 5, 6, 7, 0, time.UTC)
)

// tree builds a fixture directory.
func tree(t *testing.T, appliers ...fstest.Applier) string {
	t.Helper()
	dir := t.TempDir()
	if err := fstest.Apply(dir, appliers...); err != nil {
		t.Fatal(err)
	}
	return dir
}

// describe is one line about the file at p, not following a symlink: its
// mode, owner, device number, link target, times (not a directory's
// atime, which listing it changes) and xattrs (but overlayfs' opacity,
// which is shown as "opaque").
func describe(t *testing.T, p string) string {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	s := fmt.Sprintf("%v %d:%d", fi.Mode(), st.Uid, st.Gid)
	if fi.Mode()&os.ModeDevice != 0 {
		s += fmt.Sprintf(" %d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		link, _ := os.Readlink(p)
		s += " -> " + link
	}
	if !fi.IsDir() {
		s += " atime=" + stamp(st.Atim)
	}
	s += " mtime=" + stamp(st.Mtim)
	names, err := xattr.List(p)
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := xattr.Read(p, names, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range attrs {
		if a.Name == overlay.OpaqueXattr {
			s += " opaque"
			continue
		}
		s += fmt.Sprintf(" %s=%q", a.Name, a.Value)
	}
	return s
}

func stamp(ts syscall.Timespec) string {
	return time.Unix(ts.Sec, ts.Nsec).UTC().Format("2006-01-02T15:04:05.999999999")
}

// describeTree describes every file under root, one line each, sorted.
func describeTree(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		lines = append(lines, rel+" "+describe(t, p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// mustContain fails t for each line of want missing from got.
func mustContain(t *testing.T, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got+"\n", w+"\n") {
			t.Errorf("missing %q in\n%s", w, got)
		}
	}
}
