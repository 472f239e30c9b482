package fswrite

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/internal/fstest"
)

// tarBytes is an archive of hdrs, as tarOf makes it, as a stream.
func tarBytes(t *testing.T, hdrs ...*tar.Header) io.Reader {
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
	return &buf
}

func names(t *testing.T, root string) string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if fi.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			rel += "=" + string(data)
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}

// A layer applied to a merged tree: files replace files, whiteouts
// delete, an opaque marker empties its directory but for this layer's own
// entries, hard links link inside the tree, and kept paths are never
// touched, whatever the layer says about them.
func TestApplyLayer(t *testing.T) {
	root := tree(t,
		fstest.CreateDir("etc", 0o755),
		fstest.CreateFile("etc/a", []byte("old a"), 0o644),
		fstest.CreateFile("etc/gone", []byte("x"), 0o644),
		fstest.CreateDir("opq", 0o755),
		fstest.CreateFile("opq/old", []byte("old"), 0o644),
		fstest.CreateDir("keep", 0o755),
		fstest.CreateFile("keep/mine", []byte("mine"), 0o644),
		fstest.CreateFile("replaced", []byte("a file"), 0o644),
	)
	layer := tarBytes(t,
		&tar.Header{Typeflag: tar.TypeReg, Name: "etc/a", Mode: 0o600, Linkname: "new a"},
		&tar.Header{Typeflag: tar.TypeReg, Name: "etc/.wh.gone", Mode: 0o644},
		&tar.Header{Typeflag: tar.TypeReg, Name: "opq/.wh..wh..opq", Mode: 0o644},
		&tar.Header{Typeflag: tar.TypeReg, Name: "opq/new", Mode: 0o644, Linkname: "new"},
		&tar.Header{Typeflag: tar.TypeLink, Name: "opq/link", Linkname: "opq/new"},
		&tar.Header{Typeflag: tar.TypeReg, Name: "keep/mine", Mode: 0o644, Linkname: "theirs"},
		&tar.Header{Typeflag: tar.TypeReg, Name: "keep/.wh.mine", Mode: 0o644},
		&tar.Header{Typeflag: tar.TypeReg, Name: ".wh.keep", Mode: 0o644},
		&tar.Header{Typeflag: tar.TypeDir, Name: "replaced", Mode: 0o755},
		&tar.Header{Typeflag: tar.TypeReg, Name: "replaced/in", Mode: 0o644, Linkname: "in"},
		&tar.Header{Typeflag: tar.TypeReg, Name: "nothere/.wh.x", Mode: 0o644},
	)
	keep := func(p string) bool { return p == "/keep" || strings.HasPrefix(p, "/keep/") }
	if err := ApplyLayer(context.Background(), layer, root, keep); err != nil {
		t.Fatal(err)
	}
	want := "etc etc/a=new a keep keep/mine=mine opq opq/link=new opq/new=new replaced replaced/in=in"
	if got := names(t, root); got != want {
		t.Errorf("tree:\n%s\nwant:\n%s", got, want)
	}
	if !sameInode(t, filepath.Join(root, "opq/new"), filepath.Join(root, "opq/link")) {
		t.Error("opq/link is not a hard link to opq/new")
	}
	if fi, err := os.Lstat(filepath.Join(root, "etc/a")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("etc/a: %v, %v; want the layer's mode 0600", fi.Mode(), err)
	}
}

// A layer applied to a tree whose root is "/", as when building in place,
// does what TestApplyLayer checks: names resolve, a whiteout deletes, a
// hard link links, and what is kept stays, below an opaque directory too
// (a container's /etc/hosts, under an /etc a layer made opaque).
func TestApplyLayerAtSlash(t *testing.T) {
	root := tree(t,
		fstest.CreateDir("etc", 0o755),
		fstest.CreateFile("etc/a", []byte("old a"), 0o644),
		fstest.CreateFile("etc/gone", []byte("x"), 0o644),
		fstest.CreateDir("opq", 0o755),
		fstest.CreateFile("opq/old", []byte("old"), 0o644),
		fstest.CreateFile("opq/hosts", []byte("kept"), 0o644),
		fstest.CreateDir("keep", 0o755),
		fstest.CreateFile("keep/mine", []byte("mine"), 0o644),
	)
	var layer bytes.Buffer
	if _, err := io.Copy(&layer, tarBytes(t,
		&tar.Header{Typeflag: tar.TypeDir, Name: "etc/", Mode: 0o755},
		&tar.Header{Typeflag: tar.TypeReg, Name: "etc/a", Mode: 0o600, Linkname: "new a"},
		&tar.Header{Typeflag: tar.TypeReg, Name: "etc/.wh.gone", Mode: 0o644},
		&tar.Header{Typeflag: tar.TypeDir, Name: "opq/", Mode: 0o755},
		&tar.Header{Typeflag: tar.TypeReg, Name: "opq/.wh..wh..opq", Mode: 0o644},
		&tar.Header{Typeflag: tar.TypeReg, Name: "opq/new", Mode: 0o644, Linkname: "new"},
		&tar.Header{Typeflag: tar.TypeLink, Name: "opq/link", Linkname: "opq/new"},
		&tar.Header{Typeflag: tar.TypeReg, Name: "keep/.wh.mine", Mode: 0o644},
		&tar.Header{Typeflag: tar.TypeReg, Name: ".wh.keep", Mode: 0o644},
	)); err != nil {
		t.Fatal(err)
	}
	applyAtSlash(t, root, layer.Bytes(), "/keep", "/opq/hosts")
	want := "etc etc/a=new a keep keep/mine=mine opq opq/hosts=kept opq/link=new opq/new=new"
	if got := names(t, root); got != want {
		t.Errorf("tree:\n%s\nwant:\n%s", got, want)
	}
	if !sameInode(t, filepath.Join(root, "opq/new"), filepath.Join(root, "opq/link")) {
		t.Error("opq/link is not a hard link to opq/new")
	}
}

// Names stay inside the tree: a symlink of the tree pointing out of it is
// followed as if the tree were "/".
func TestApplyLayerStaysInside(t *testing.T) {
	outside := t.TempDir()
	root := tree(t, fstest.Symlink(outside, "escape"))
	layer := tarBytes(t, &tar.Header{Typeflag: tar.TypeReg, Name: "escape/f", Mode: 0o644, Linkname: "x"})
	if err := ApplyLayer(context.Background(), layer, root, func(string) bool { return false }); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("the layer wrote outside the tree: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(root, outside, "f")); err != nil {
		t.Errorf("the entry is not inside the tree: %v", err)
	}
}

// A whiteout or an opaque marker removes a directory around what is kept
// below it; a symlink cannot replace a directory holding a kept path, and
// the directory is left as it was.
func TestApplyLayerAroundKept(t *testing.T) {
	root := tree(t,
		fstest.CreateDir("var", 0o755),
		fstest.CreateDir("var/run/secrets", 0o755),
		fstest.CreateFile("var/run/secrets/token", []byte("t"), 0o600),
		fstest.CreateFile("var/run/other", []byte("o"), 0o644),
		fstest.CreateDir("var/gone/deep/kept", 0o755),
		fstest.CreateFile("var/gone/deep/kept/k", []byte("k"), 0o644),
		fstest.CreateFile("var/gone/deep/x", []byte("x"), 0o644),
		fstest.CreateDir("var/opq/kept", 0o755),
		fstest.CreateFile("var/opq/old", []byte("old"), 0o644),
	)
	keep := func(p string) bool {
		for _, k := range []string{"/var/run/secrets", "/var/gone/deep/kept", "/var/opq/kept"} {
			if p == k || strings.HasPrefix(p, k+"/") {
				return true
			}
		}
		return false
	}
	layer := tarBytes(t,
		&tar.Header{Typeflag: tar.TypeReg, Name: "var/.wh.gone", Mode: 0o644},
		&tar.Header{Typeflag: tar.TypeDir, Name: "var/opq/", Mode: 0o755},
		&tar.Header{Typeflag: tar.TypeReg, Name: "var/opq/.wh..wh..opq", Mode: 0o644},
	)
	if err := ApplyLayer(context.Background(), layer, root, keep); err != nil {
		t.Fatal(err)
	}
	want := "var var/gone var/gone/deep var/gone/deep/kept var/gone/deep/kept/k=k var/opq var/opq/kept " +
		"var/run var/run/other=o var/run/secrets var/run/secrets/token=t"
	if got := names(t, root); got != want {
		t.Errorf("tree:\n%s\nwant:\n%s", got, want)
	}
	symlink := tarBytes(t, &tar.Header{Typeflag: tar.TypeSymlink, Name: "var/run", Linkname: "/run"})
	err := ApplyLayer(context.Background(), symlink, root, keep)
	if !errors.Is(err, ErrKeptBelow) || !strings.Contains(err.Error(), "/var/run is a directory holding /var/run/secrets") {
		t.Errorf("a symlink over a directory holding a kept path: %v", err)
	}
	if got := names(t, root); got != want {
		t.Errorf("the refused layer changed the tree:\n%s\nwant:\n%s", got, want)
	}
}
