package overlay

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mkfile(t *testing.T, p, content string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLstatMerges(t *testing.T) {
	upper, mid, lower := t.TempDir(), t.TempDir(), t.TempDir()
	mkfile(t, filepath.Join(lower, "a/old"), "lower")
	mkfile(t, filepath.Join(lower, "a/gone"), "lower")
	mkfile(t, filepath.Join(lower, "b/hidden"), "lower")
	mkfile(t, filepath.Join(lower, "c/under-file"), "lower")
	mkfile(t, filepath.Join(lower, "shadowed"), "lower")
	mkfile(t, filepath.Join(mid, "a/new"), "mid")
	mkfile(t, filepath.Join(mid, "shadowed"), "mid")
	if err := MakeWhiteout(filepath.Join(mid, "a/gone")); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(mid, "b"), 0o755)
	if err := SetOpaque(filepath.Join(mid, "b")); err != nil {
		t.Fatal(err)
	}
	mkfile(t, filepath.Join(upper, "c"), "a file over a dir")
	s := NewStack(upper, mid, lower)
	for p, want := range map[string]string{
		"/a/old":          lower,
		"/a/new":          mid,
		"/shadowed":       mid,
		"/c":              upper,
		"/a/gone":         "",
		"/b/hidden":       "",
		"/c/under-file":   "",
		"/does/not/exist": "",
	} {
		e, err := s.Lstat(p)
		if want == "" {
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Lstat(%s) = %v, %v; want not found", p, e.HostPath, err)
			}
			continue
		}
		if err != nil || e.HostPath != filepath.Join(want, p) {
			t.Errorf("Lstat(%s) = %q, %v; want it in %s", p, e.HostPath, err, want)
		}
	}
}

// A symlink in a lower layer must never be followed on the host.
func TestLstatNeverFollowsHostSymlinks(t *testing.T) {
	host := t.TempDir()
	mkfile(t, filepath.Join(host, "passwd"), "host secret")
	upper, lower := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(upper, "a"), 0o755)
	if err := os.Symlink(host, filepath.Join(lower, "a")); err != nil {
		t.Fatal(err)
	}
	os.Symlink(host, filepath.Join(upper, "b"))
	s := NewStack(upper, lower)
	for _, p := range []string{"/a/passwd", "/b/passwd"} {
		if e, err := s.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Lstat(%s) = %q, %v: reached a host file", p, e.HostPath, err)
		}
		if _, err := s.ReadFile(p); err == nil && p == "/a/passwd" {
			t.Errorf("ReadFile(%s) read the host file", p)
		}
	}
	// Through Resolve, the symlink of the top layer is followed inside the
	// root: /b -> host path, which does not exist in the image.
	if _, err := s.ReadFile("/b/passwd"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(/b/passwd): %v", err)
	}
}

func TestResolveStaysInRoot(t *testing.T) {
	layer := t.TempDir()
	os.MkdirAll(filepath.Join(layer, "usr/bin"), 0o755)
	os.Symlink("usr/bin", filepath.Join(layer, "bin"))
	os.Symlink("../../../../..", filepath.Join(layer, "up"))
	os.Symlink("/etc/x", filepath.Join(layer, "abs"))
	os.Symlink("loop2", filepath.Join(layer, "loop1"))
	os.Symlink("loop1", filepath.Join(layer, "loop2"))
	s := NewStack(layer)
	for in, want := range map[string]string{
		"/bin/sh":     "/usr/bin/sh",
		"/up/etc":     "/etc",
		"/abs":        "/etc/x",
		"/a/../../..": "/",
	} {
		if got, err := s.Resolve(in); err != nil || got != want {
			t.Errorf("Resolve(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := s.Resolve("/loop1"); !errors.Is(err, ErrTooManyLinks) {
		t.Errorf("loop: %v", err)
	}
}

func TestReadDirMerges(t *testing.T) {
	upper, mid, lower := t.TempDir(), t.TempDir(), t.TempDir()
	mkfile(t, filepath.Join(lower, "d/a"), "lower")
	mkfile(t, filepath.Join(lower, "d/b"), "lower")
	mkfile(t, filepath.Join(lower, "d/c"), "lower")
	mkfile(t, filepath.Join(lower, "o/hidden"), "lower")
	mkfile(t, filepath.Join(mid, "d/b"), "mid")
	MakeWhiteout(filepath.Join(mid, "d/c"))
	mkfile(t, filepath.Join(mid, "o/kept"), "mid")
	SetOpaque(filepath.Join(mid, "o"))
	mkfile(t, filepath.Join(upper, "d/e"), "upper")
	s := NewStack(upper, mid, lower)
	for dir, want := range map[string]string{
		"/d": "a:" + lower + " b:" + mid + " e:" + upper,
		"/o": "kept:" + mid,
	} {
		entries, err := s.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			layer := filepath.Dir(filepath.Dir(e.HostPath))
			got = append(got, e.Name()+":"+layer)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("ReadDir(%s) = %v, want %s", dir, got, want)
		}
	}
	if _, err := s.ReadDir("/d/a"); err == nil {
		t.Error("ReadDir of a file did not fail")
	}
}

func TestResolveUnder(t *testing.T) {
	layer := t.TempDir()
	os.MkdirAll(filepath.Join(layer, "dest/real"), 0o755)
	os.Symlink("/etc", filepath.Join(layer, "dest/abs"))
	os.Symlink("../../..", filepath.Join(layer, "dest/up"))
	os.Symlink("real", filepath.Join(layer, "dest/rel"))
	s := NewStack(layer)
	for in, want := range map[string]string{
		"abs/passwd": "/dest/etc/passwd",
		"up/x":       "/dest/x",
		"rel/f":      "/dest/real/f",
		"../../y":    "/dest/y",
		"rel":        "/dest/rel", // the last component is not followed
	} {
		if got, err := s.ResolveUnder("/dest", in); err != nil || got != want {
			t.Errorf("ResolveUnder(/dest, %s) = %s, %v; want %s", in, got, err, want)
		}
	}
}
