package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// A layout left by an interrupted umoci run (init writes index.json
// first) is built again, not reused; the finished one is reused.
func TestDebianBaseRebuildsUnfinishedLayout(t *testing.T) {
	if _, err := exec.LookPath("umoci"); err != nil {
		t.Fatal("umoci is needed: apt-get install umoci")
	}
	b := &bench{work: t.TempDir()}
	// A stand-in for the debootstrap root, which needs the network.
	rootfs := filepath.Join(b.work, "rootfs")
	if err := os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "etc/debian_version"), []byte("12.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(b.work, "debian")
	if err := run("umoci", "init", "--layout", layout); err != nil {
		t.Fatal(err)
	}
	if layoutHasRef(layout, debianTag) {
		t.Fatal("a layout umoci init just made names the image")
	}
	ref, err := b.debianBase()
	if err != nil {
		t.Fatal(err)
	}
	if want := "oci:" + layout + ":" + debianTag; ref != want {
		t.Errorf("ref %q, want %q", ref, want)
	}
	if !layoutHasRef(layout, debianTag) {
		t.Fatal("the unfinished layout was reused")
	}
	for _, left := range []string{"debian.tmp", "debian-bundle"} {
		if _, err := os.Stat(filepath.Join(b.work, left)); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", left, err)
		}
	}
	// Done once: a second call builds nothing (no rootfs needed).
	if err := os.RemoveAll(rootfs); err != nil {
		t.Fatal(err)
	}
	if _, err := b.debianBase(); err != nil {
		t.Errorf("second call: %v", err)
	}
}
