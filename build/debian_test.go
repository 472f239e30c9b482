package build

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/internal/imagetest"
)

// debianRootfs is a Debian 12 minbase root made by debootstrap, once per
// machine: it is kept in /var/tmp/mybuild-test (or $MYBUILD_TEST_DEBIAN),
// made aside and renamed into place whole.
func debianRootfs(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MYBUILD_TEST_DEBIAN")
	if dir == "" {
		dir = "/var/tmp/mybuild-test/bookworm-minbase"
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

// What a Debian build does every day works under the confinement: apt-get
// (which drops to its _apt user) installs packages from Debian's mirror,
// useradd creates a user, and that user runs ping, which needs
// CAP_NET_RAW from its file capability or setuid bit.
func TestDebianBuildUnderConfinement(t *testing.T) {
	rootfs := debianRootfs(t)
	dir := contextDir(t, map[string]string{"Dockerfile": `FROM scratch
ADD rootfs.tar /
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends hello iputils-ping >/dev/null
RUN useradd -m -s /bin/sh builder && su builder -c 'hello && ping -c1 -W5 127.0.0.1 >/dev/null && echo pinged' >/result
`})
	// With ICMP datagram sockets open to every group, ping needs no
	// capability, and the test would prove nothing.
	if r, err := os.ReadFile("/proc/sys/net/ipv4/ping_group_range"); err != nil || strings.Join(strings.Fields(string(r)), " ") != "1 0" {
		t.Fatalf("net.ipv4.ping_group_range is %q (%v), want the kernel's default 1 0: ping must need CAP_NET_RAW", r, err)
	}
	tar := exec.Command("tar", "-C", rootfs, "--exclude=./dev/*", "-cf", filepath.Join(dir, "rootfs.tar"), ".")
	if out, err := tar.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	out, _ := testBuild(t, dir, t.TempDir())
	fsys, err := imagetest.Flatten(out)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("Hello, world!\npinged\n"))
	if e, ok := fsys.Lookup("/result"); !ok || e.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("/result is %+v, want hello's greeting and pinged", e)
	}
	if _, ok := fsys.Lookup("/home/builder"); !ok {
		t.Error("useradd -m made no /home/builder")
	}
}
