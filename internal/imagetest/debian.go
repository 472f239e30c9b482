package imagetest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// DebianDirEnv names a directory to keep the Debian root in, instead of
// DebianDir.
const DebianDirEnv = "MYBUILD_TEST_DEBIAN"

// DebianDir is where Debian returns the Debian root by default.
const DebianDir = "/var/tmp/mybuild-test/bookworm-minbase"

// Debian returns a Debian 12 minbase root made by debootstrap, once per
// machine: it is kept in DebianDir (or $MYBUILD_TEST_DEBIAN), made aside
// and renamed into place whole. It fails the test (never skips it) when
// debootstrap is missing.
func Debian(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(DebianDirEnv)
	if dir == "" {
		dir = DebianDir
	}
	if _, err := os.Stat(filepath.Join(dir, "etc/debian_version")); err == nil {
		return dir
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		t.Fatal("debootstrap is needed (apt-get install debootstrap)")
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Log("debootstrap --variant=minbase bookworm (once per machine)")
	cmd := exec.Command("debootstrap", "--variant=minbase", "bookworm", tmp, "http://deb.debian.org/debian")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("debootstrap: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) {
		t.Fatal(err)
	}
	return dir
}

// DebianTar writes the Debian root (Debian) as a tar at dest, without
// what its /dev holds: a build context's "ADD rootfs.tar /".
func DebianTar(t testing.TB, dest string) {
	t.Helper()
	root := Debian(t)
	tar := exec.Command("tar", "-C", root, "--exclude=./dev/*", "-cf", dest, ".")
	if out, err := tar.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
}
