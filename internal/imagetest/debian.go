package imagetest

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// DebianDirEnv names a directory to keep the Debian root in, instead of
// DebianDir.
const DebianDirEnv = "MYBUILD_TEST_DEBIAN"

// DebianDir is where Debian returns the Debian root by default.
const DebianDir = "/var/tmp/mybuild-test/bookworm-minbase"

// Debian returns a Debian 12 minbase root made by debootstrap, once per
// machine: it is kept in DebianDir (or $MYBUILD_TEST_DEBIAN), made aside
// and renamed into place whole. The test processes that go test runs side
// by side take turns on a lock file beside it, so that only the first
// runs debootstrap. It fails the test (never skips it) when debootstrap
// is missing.
func Debian(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(DebianDirEnv)
	if dir == "" {
		dir = DebianDir
	}
	if debianMade(dir) {
		return dir
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		t.Fatal("debootstrap is needed (apt-get install debootstrap)")
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	unlock, err := lockFile(dir + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if debianMade(dir) { // made while this process waited
		return dir
	}
	tmp := dir + ".tmp"
	// A debootstrap that failed may have left /proc and /sys mounted in
	// its target.
	if err := unmountBelow(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	t.Log("debootstrap --variant=minbase bookworm (once per machine)")
	cmd := exec.Command("debootstrap", "--variant=minbase", "bookworm", tmp, "http://deb.debian.org/debian")
	out, err := cmd.CombinedOutput()
	if uerr := unmountBelow(tmp); err == nil && uerr != nil {
		err = uerr
	}
	if err != nil {
		t.Fatalf("debootstrap: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) {
		t.Fatal(err)
	}
	return dir
}

func debianMade(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "etc/debian_version"))
	return err == nil
}

// lockFile takes an exclusive flock on path, made if need be, waiting
// for another process that holds it.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "flock", Path: path, Err: err}
	}
	return func() { f.Close() }, nil
}

// unmountBelow detaches every mount at or below dir, deepest first.
func unmountBelow(dir string) error {
	f, err := os.Open("/proc/self/mountinfo")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			points = append(points, fields[4])
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	for i := len(points) - 1; i >= 0; i-- {
		if out, err := exec.Command("umount", "--lazy", points[i]).CombinedOutput(); err != nil {
			return errors.New("umount " + points[i] + ": " + strings.TrimSpace(string(out)))
		}
	}
	return nil
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
