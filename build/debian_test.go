package build

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/internal/imagetest"
)

// What a Debian build does every day works under the confinement: apt-get
// (which drops to its _apt user) installs packages from Debian's mirror,
// useradd creates a user, and that user runs ping, which needs
// CAP_NET_RAW from its file capability or setuid bit.
func TestDebianBuildUnderConfinement(t *testing.T) {
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
	imagetest.DebianTar(t, filepath.Join(dir, "rootfs.tar"))
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
