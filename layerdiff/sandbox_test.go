package layerdiff

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// sandbox is an extraction dir in a parent that holds nothing else but an
// empty dir and a sentinel file, so that a write outside the extraction dir
// shows.
type sandbox struct {
	parent, root, outside, sentinel string
}

var sentinelTime = time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)

func newSandbox(t testing.TB) *sandbox {
	t.Helper()
	parent := t.TempDir()
	s := &sandbox{
		parent:   parent,
		root:     filepath.Join(parent, "root"),
		outside:  filepath.Join(parent, "outside"),
		sentinel: filepath.Join(parent, "sentinel"),
	}
	for _, d := range []string{s.root, s.outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(s.sentinel, []byte("sentinel"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(s.sentinel, sentinelTime, sentinelTime); err != nil {
		t.Fatal(err)
	}
	return s
}

// check fails the test if anything outside the extraction dir changed.
func (s *sandbox) check(t testing.TB) {
	t.Helper()
	names := func(dir string) []string {
		des, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var ns []string
		for _, de := range des {
			ns = append(ns, de.Name())
		}
		return ns
	}
	if got := names(s.parent); !slices.Equal(got, []string{"outside", "root", "sentinel"}) {
		t.Errorf("extraction wrote beside its dir: %v", got)
	}
	if got := names(s.outside); len(got) != 0 {
		t.Errorf("extraction wrote outside its dir: %v", got)
	}
	fi, err := os.Lstat(s.sentinel)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(s.sentinel)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "sentinel" || !fi.ModTime().Equal(sentinelTime) || fi.Mode() != 0o644 || statOf(fi).Uid != 0 {
		t.Errorf("sentinel outside the extraction dir changed: %q %v %v", data, fi.ModTime(), fi.Mode())
	}
}

// ent is one tar entry; Body is the content of a regular file.
type ent struct {
	tar.Header
	Body string
}

func reg(name, body string) ent {
	return ent{Header: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644}, Body: body}
}

func dir(name string) ent {
	return ent{Header: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}}
}

func symlink(name, target string) ent {
	return ent{Header: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

func hardlink(name, target string) ent {
	return ent{Header: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target}}
}

func mkTar(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := e.Header
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		if h.ModTime.IsZero() {
			h.ModTime = sentinelTime
		}
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.Body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
