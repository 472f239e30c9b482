package imagetest

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BusyboxArm64Dir is where BusyboxArm64 keeps the arm64 busybox it
// extracts, once per machine.
const BusyboxArm64Dir = "/var/tmp/mybuild-test/busybox-static-arm64"

// errNoArm64 says how to make Debian's arm64 packages available.
const errNoArm64 = "busybox-static:arm64 is needed: dpkg --add-architecture arm64 && apt-get update"

// BusyboxArm64 returns the path of Debian's static busybox for arm64
// (busybox-static:arm64), the base of arm64 test images: fetched with
// apt-get download and extracted with dpkg-deb the first time, into
// BusyboxArm64Dir, made aside and renamed into place whole. It fails the
// test (never skips it) when the package cannot be had.
func BusyboxArm64(t testing.TB) string {
	t.Helper()
	p := filepath.Join(BusyboxArm64Dir, "bin/busybox")
	if err := checkArm64Static(p); err == nil {
		return p
	}
	tmp, err := os.MkdirTemp(filepath.Dir(BusyboxArm64Dir), "busybox-arm64-")
	if errors.Is(err, os.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(BusyboxArm64Dir), 0o755); err == nil {
			tmp, err = os.MkdirTemp(filepath.Dir(BusyboxArm64Dir), "busybox-arm64-")
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	get := exec.Command("apt-get", "download", "busybox-static:arm64")
	get.Dir = tmp
	if out, err := get.CombinedOutput(); err != nil {
		t.Fatalf("apt-get download busybox-static:arm64: %v\n%s\n%s", err, out, errNoArm64)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "busybox-static_*_arm64.deb"))
	if len(debs) != 1 {
		t.Fatalf("apt-get download left %d arm64 packages in %s", len(debs), tmp)
	}
	root := filepath.Join(tmp, "root")
	if out, err := exec.Command("dpkg-deb", "-x", debs[0], root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	if err := checkArm64Static(filepath.Join(root, "bin/busybox")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(root, BusyboxArm64Dir); err != nil && !errors.Is(err, os.ErrExist) {
		if err := checkArm64Static(p); err != nil { // another test's rename won
			t.Fatal(err)
		}
	}
	return p
}

// checkArm64Static checks that p is a statically linked aarch64 program.
func checkArm64Static(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		return fmt.Errorf("%s is for %s, not aarch64", p, f.Machine)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked", p)
		}
	}
	return nil
}
