package fswrite

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mybuild/mybuild/overlay"
)

// WithUntarFilter sees every header first: what it says false to is not
// made, and its error stops Untar, naming the entry.
func TestUntarFilter(t *testing.T) {
	hdrs := []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "d/", Mode: 0o755, ModTime: t2},
		{Typeflag: tar.TypeReg, Name: "d/f", Linkname: "f", Mode: 0o644, ModTime: t2},
		{Typeflag: tar.TypeFifo, Name: "d/p", Mode: 0o644, ModTime: t2},
		{Typeflag: tar.TypeReg, Name: "d/after", Linkname: "after", Mode: 0o644, ModTime: t2},
		{Typeflag: tar.TypeReg, Name: "e/bad", Linkname: "bad", Mode: 0o644},
		{Typeflag: tar.TypeReg, Name: "d/never", Linkname: "never", Mode: 0o644},
	}
	var seen []string
	keep := func(h *tar.Header) (bool, error) {
		seen = append(seen, h.Name)
		switch {
		case h.Typeflag == tar.TypeFifo:
			return false, nil
		case strings.HasPrefix(h.Name, "e/"):
			return false, errors.New("out of place")
		}
		return true, nil
	}
	upper := t.TempDir()
	l := NewLayer(upper, overlay.NewStack(), WithUntarFilter(keep))
	err := l.Untar(t.Context(), tarOf(t, hdrs...), "/", nil)
	if want := `archive entry "e/bad": out of place`; err == nil || err.Error() != want {
		t.Fatalf("Untar: %v, want %q", err, want)
	}
	if err := l.Finish(); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(seen, " "), "d/ d/f d/p d/after e/bad"; got != want {
		t.Errorf("the filter saw %s, want %s", got, want)
	}
	got := describeTree(t, upper)
	mustContain(t, got,
		"d drwxr-xr-x 0:0 mtime=2002-03-04T05:06:07",
		"d/after -rw-r--r-- 0:0 atime=2002-03-04T05:06:07 mtime=2002-03-04T05:06:07",
		"d/f -rw-r--r-- 0:0 atime=2002-03-04T05:06:07 mtime=2002-03-04T05:06:07",
	)
	for _, absent := range []string{"d/p", "e", "d/never"} {
		if strings.Contains(got+"\n", "\n"+absent+" ") || strings.HasPrefix(got, absent+" ") {
			t.Errorf("%s was made:\n%s", absent, got)
		}
	}
}

// ownersChildEnv names the dir a child of TestUntarOwnersIfPermitted
// unpacks into.
const ownersChildEnv = "FSWRITE_OWNERS_CHILD"

// With WithOwnersIfPermitted, an owner the kernel refuses leaves the
// file the process's own, and the rest of its metadata is set: a normal
// user's EPERM, and the EINVAL of an id outside the process's user
// namespace. Without it, the same archive fails on the chown.
func TestUntarOwnersIfPermitted(t *testing.T) {
	if dir := os.Getenv(ownersChildEnv); dir != "" {
		untarOwners(t, dir)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run a child as another user and in a user namespace")
	}
	rootOnly := []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}}
	for _, c := range []struct {
		name  string
		attr  *syscall.SysProcAttr
		owner string // as the host sees it
		errno syscall.Errno
	}{
		{"normal user", &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}, "65534:65534", syscall.EPERM},
		{"unmapped ids", &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER, UidMappings: rootOnly, GidMappings: rootOnly}, "0:0", syscall.EINVAL},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := sharedDir(t)
			// The test binary's own dir may be closed to the child.
			exe := filepath.Join(dir, "fswrite.test")
			copyExecutable(t, os.Args[0], exe)
			cmd := exec.Command(exe, "-test.run=^TestUntarOwnersIfPermitted$", "-test.v")
			cmd.Env = append(os.Environ(), ownersChildEnv+"="+dir)
			cmd.SysProcAttr = c.attr
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			if want := "strict: " + c.errno.Error(); !strings.Contains(string(out), want) {
				t.Errorf("without the option, want a chown failing with %q:\n%s", want, out)
			}
			mustContain(t, describeTree(t, filepath.Join(dir, "lenient")),
				"d drwxr-x--- "+c.owner+" mtime=2002-03-04T05:06:07",
				"d/f urwxr-xr-x "+c.owner+" atime=2002-03-04T05:06:07 mtime=2002-03-04T05:06:07",
				"d/l Lrwxrwxrwx "+c.owner+" -> f atime=2002-03-04T05:06:07 mtime=2002-03-04T05:06:07",
			)
		})
	}
}

// untarOwners is the child's part: an archive owned by ids the child may
// not give, unpacked into dir/lenient with WithOwnersIfPermitted, and
// into dir/strict without, whose failure it prints.
func untarOwners(t *testing.T, dir string) {
	archive := func() *tar.Reader {
		return tarOf(t,
			&tar.Header{Typeflag: tar.TypeDir, Name: "d/", Mode: 0o750, Uid: 1000, Gid: 1000, ModTime: t2},
			&tar.Header{Typeflag: tar.TypeReg, Name: "d/f", Linkname: "f", Mode: 0o4755, Uid: 1000, Gid: 1000, ModTime: t2},
			&tar.Header{Typeflag: tar.TypeSymlink, Name: "d/l", Linkname: "f", Uid: 1000, Gid: 1000, ModTime: t2},
		)
	}
	for _, name := range []string{"lenient", "strict"} {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l := NewLayer(filepath.Join(dir, "lenient"), overlay.NewStack(), WithOwnersIfPermitted())
	if err := l.Untar(t.Context(), archive(), "/", nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Finish(); err != nil {
		t.Fatal(err)
	}
	l = NewLayer(filepath.Join(dir, "strict"), overlay.NewStack())
	err := l.Untar(t.Context(), archive(), "/", nil)
	var e *Error
	if !errors.As(err, &e) || !strings.HasSuffix(e.Op, "chown") {
		t.Fatalf("without WithOwnersIfPermitted: %v, want a chown failing", err)
	}
	fmt.Printf("strict: %v\n", e.Err)
}

// sharedDir is a temporary directory anyone may write in.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fswrite-owners-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyExecutable(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}
