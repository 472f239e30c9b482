package buildcontext

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// readDir gives what os.ReadDir and Lstat give: the names in order, and
// the same mode, size, mtime and stat data for every kind of entry.
func TestReadDirIsOSReadDir(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, mode os.FileMode) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	mk("plain", 0o644)
	mk("setuid", 0o4755|os.ModeSetuid)
	mk("sticky", 0o644|os.ModeSticky|os.ModeSetgid)
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("plain", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o640); err != nil {
		t.Fatal(err)
	}
	for i := range 300 { // more than one getdents buffer
		mk(fmt.Sprintf("many-%03d", i), 0o644)
	}
	got, err := readDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	for i, w := range want {
		wi, err := w.Info()
		if err != nil {
			t.Fatal(err)
		}
		g := got[i]
		if g.name != w.Name() || g.info.Name() != wi.Name() || g.info.Mode() != wi.Mode() || g.info.Size() != wi.Size() ||
			!g.info.ModTime().Equal(wi.ModTime()) || g.info.IsDir() != wi.IsDir() ||
			*g.info.Sys().(*syscall.Stat_t) != *wi.Sys().(*syscall.Stat_t) {
			t.Errorf("entry %d: %s %v %d, want %s %v %d", i, g.name, g.info.Mode(), g.info.Size(), w.Name(), wi.Mode(), wi.Size())
		}
	}
	if _, err := readDir(filepath.Join(dir, "plain")); err == nil {
		t.Error("a file read as a directory")
	}
}
