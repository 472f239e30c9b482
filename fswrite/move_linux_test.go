package fswrite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/internal/fstest"
)

// An upper dir moved onto a tree: files replace files, a directory over
// a directory merges into it and gives it its metadata, a file replaces a
// directory, a directory replaces a file and a symlink, and what the tree
// held besides stays.
func TestMoveUpper(t *testing.T) {
	root := tree(t,
		fstest.CreateDir("etc", 0o755),
		fstest.CreateFile("etc/a", []byte("old a"), 0o644),
		fstest.CreateFile("etc/b", []byte("b"), 0o644),
		fstest.CreateDir("dir", 0o755),
		fstest.CreateFile("dir/x", []byte("x"), 0o644),
		fstest.CreateFile("file", []byte("a file"), 0o644),
		fstest.Symlink("etc", "link"),
	)
	upper := tree(t,
		fstest.CreateDir("etc", 0o700),
		fstest.CreateFile("etc/a", []byte("new a"), 0o600),
		fstest.CreateFile("etc/c", []byte("c"), 0o644),
		fstest.Chtimes("etc", t1),
		fstest.CreateFile("dir", []byte("now a file"), 0o644),
		fstest.CreateDir("file", 0o755),
		fstest.CreateFile("file/in", []byte("in"), 0o644),
		fstest.CreateDir("link", 0o755),
		fstest.CreateFile("new", []byte("new"), 0o644),
	)
	if err := MoveUpper(context.Background(), upper, root, func(string) bool { return false }); err != nil {
		t.Fatal(err)
	}
	want := "dir=now a file etc etc/a=new a etc/b=b etc/c=c file file/in=in link new=new"
	if got := names(t, root); got != want {
		t.Errorf("tree:\n%s\nwant:\n%s", got, want)
	}
	mustContain(t, describeTree(t, root), "etc drwx------ 0:0 mtime="+t1.Format("2006-01-02T15:04:05.999999999"))
	if fi, err := os.Lstat(filepath.Join(root, "link")); err != nil || !fi.IsDir() {
		t.Errorf("link: %v, %v; want the upper's directory", fi.Mode(), err)
	}
	if fi, err := os.Lstat(filepath.Join(root, "etc/a")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("etc/a: %v, %v; want the upper's mode 0600", fi.Mode(), err)
	}
}

// An upper dir holding overlay markers is refused before anything moves:
// the layer's blob says what they mean.
func TestMoveUpperRefusesMarkers(t *testing.T) {
	for name, marker := range map[string]fstest.Applier{
		"whiteout": fstest.Whiteout("etc/gone"),
		"opaque":   fstest.Opaque("etc"),
	} {
		t.Run(name, func(t *testing.T) {
			root := tree(t, fstest.CreateDir("etc", 0o755), fstest.CreateFile("etc/gone", []byte("x"), 0o644))
			upper := tree(t, fstest.CreateDir("etc", 0o755), fstest.CreateFile("etc/new", []byte("n"), 0o644), marker)
			err := MoveUpper(context.Background(), upper, root, func(string) bool { return false })
			if !errors.Is(err, ErrNotMovable) {
				t.Fatalf("err = %v, want ErrNotMovable", err)
			}
			if got := names(t, root); got != "etc etc/gone=x" {
				t.Errorf("the tree changed: %s", got)
			}
		})
	}
}

// A file cannot replace a directory holding a kept path.
func TestMoveUpperAroundKept(t *testing.T) {
	root := tree(t, fstest.CreateDir("run", 0o755), fstest.CreateDir("run/secrets", 0o755))
	upper := tree(t, fstest.Symlink("/tmp", "run"))
	keep := func(p string) bool { return p == "/run/secrets" || strings.HasPrefix(p, "/run/secrets/") }
	err := MoveUpper(context.Background(), upper, root, keep)
	if !errors.Is(err, ErrKeptBelow) {
		t.Fatalf("err = %v, want ErrKeptBelow", err)
	}
	if got := names(t, root); got != "run run/secrets" {
		t.Errorf("the tree changed: %s", got)
	}
}
