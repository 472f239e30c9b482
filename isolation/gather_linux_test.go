package isolation

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/moby/sys/mountinfo"

	"github.com/mybuild/mybuild/rootfs"
	"github.com/mybuild/mybuild/sandbox"
)

func TestMain(m *testing.M) {
	// The probes re-execute the test binary.
	sandbox.Main()
	rootfs.SetRefuseRealRoot()
	os.Exit(m.Run())
}

// The tests run as root on a VM that allows namespaces, with a container
// marker: auto picks namespaces there, never in place.
func TestGatherOnThisMachine(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("the tests run as root")
	}
	f := Gather(context.Background())
	if f.Namespaces != nil {
		t.Errorf("namespaces refused: %v", f.Namespaces)
	}
	if f.UserNamespace != nil {
		t.Errorf("user namespace with overlayfs refused: %v", f.UserNamespace)
	}
	if f.User != "root" || f.Kernel == "" || f.Kernel == "unknown" {
		t.Errorf("user %q, kernel %q", f.User, f.Kernel)
	}
	if _, err := os.Stat("/.dockerenv"); err == nil && !slices.Contains(f.Markers, "/.dockerenv") {
		t.Errorf("markers %v lack /.dockerenv", f.Markers)
	}
	exe, _ := os.Executable()
	if f.InPlaceMarker != filepath.Join(filepath.Dir(exe), MarkerName) || f.HasInPlaceMarker {
		t.Errorf("marker %s (there: %v)", f.InPlaceMarker, f.HasInPlaceMarker)
	}
	d, err := Choose(f)
	if err != nil || d.Mode != Namespaces {
		t.Errorf("auto chose %v, %v", d, err)
	}
}

// The marker beside the binary is found, and only a regular file counts.
func TestGatherFindsTheMarker(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(filepath.Dir(exe), MarkerName)
	if err := os.Mkdir(marker, 0o755); err != nil {
		t.Fatal(err)
	}
	f := Gather(context.Background())
	os.Remove(marker)
	if f.HasInPlaceMarker {
		t.Error("a directory named in-place counts as the marker")
	}
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(marker)
	if f = Gather(context.Background()); !f.HasInPlaceMarker || f.InPlaceMarker != marker {
		t.Errorf("marker %s not found: %+v", marker, f)
	}
	// Namespaces are allowed here: the marker alone does not choose in
	// place.
	if d, err := Choose(f); err != nil || d.Mode != Namespaces {
		t.Errorf("auto chose %v, %v", d, err)
	}
}

// What a build in place leaves alone: the kernel's trees, the binary, the
// marker's directory, the paths given (absolute), every mount point.
func TestKeepInPlace(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	keep, err := KeepInPlace(Facts{HasInPlaceMarker: true, InPlaceMarker: "/mybuild/in-place"}, "ctx", "")
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	for _, want := range []string{"/proc", "/sys", "/dev", exe, "/mybuild", filepath.Join(dir, "ctx")} {
		if !slices.Contains(keep, want) {
			t.Errorf("keep lacks %s: %v", want, keep)
		}
	}
	mounts, err := mountinfo.GetMounts(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if m.Mountpoint != "/" && !slices.Contains(keep, m.Mountpoint) {
			t.Errorf("keep lacks the mount point %s", m.Mountpoint)
		}
	}
	if slices.Contains(keep, "/") || slices.Contains(keep, "") {
		t.Errorf("keep holds the root: %v", keep)
	}
}
