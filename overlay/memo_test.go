package overlay

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// A memoized stack answers as the plain one, and looks each path up
// once: what changes in the layers afterwards does not show.
func TestMemoizedLooksUpOnce(t *testing.T) {
	upper, lower := t.TempDir(), t.TempDir()
	mkfile(t, filepath.Join(lower, "etc/hosts"), "lower")
	if err := os.Symlink("/etc", filepath.Join(upper, "conf")); err != nil {
		t.Fatal(err)
	}
	plain, memo := NewStack(upper, lower), NewStack(upper, lower).Memoized()
	for _, p := range []string{"/conf/hosts", "/etc/hosts", "/etc/none", "/none/deeper"} {
		want, werr := plain.Resolve(p)
		got, gerr := memo.Resolve(p)
		if got != want || (gerr == nil) != (werr == nil) {
			t.Errorf("Resolve(%s) = %q, %v; want %q, %v", p, got, gerr, want, werr)
		}
	}
	e, err := memo.Lstat("/etc/hosts")
	if err != nil || e.HostPath != filepath.Join(lower, "etc/hosts") {
		t.Fatalf("Lstat(/etc/hosts) = %v, %v", e.HostPath, err)
	}
	if _, err := memo.Lstat("/etc/none"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Lstat(/etc/none) = %v, want not found", err)
	}
	os.Remove(filepath.Join(lower, "etc/hosts"))
	mkfile(t, filepath.Join(lower, "etc/none"), "made since")
	if e, err := memo.Lstat("/etc/hosts"); err != nil || e.HostPath != filepath.Join(lower, "etc/hosts") {
		t.Errorf("memoized Lstat(/etc/hosts) after its removal = %v, %v: looked up again", e.HostPath, err)
	}
	if _, err := memo.Lstat("/etc/none"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("memoized Lstat(/etc/none) after it was made = %v: looked up again", err)
	}
	if _, err := plain.Lstat("/etc/hosts"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("plain Lstat(/etc/hosts) after its removal = %v", err)
	}
}
