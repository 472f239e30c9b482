package build

import (
	"archive/tar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/internal/imagetest"
	"github.com/mybuild/mybuild/internal/xattr"
	digest "github.com/opencontainers/go-digest"
)

// rootlessProject is a context the rootless user can read, with busybox
// and a Dockerfile, and where it may write image.tar.
func rootlessProject(t *testing.T, uid, gid int, dockerfile string) string {
	t.Helper()
	dir := sharedDir(t, uid, gid)
	withBusybox(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("chown", "-R", fmtOwner(uid, gid), dir).Run(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func fmtOwner(uid, gid int) string { return itoa(uid) + ":" + itoa(gid) }

// readable makes the file p, made by root, readable by everyone, in a
// directory everyone may enter.
func readable(t *testing.T, p string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mybuild-shared-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	dst := filepath.Join(dir, filepath.Base(p))
	if err := os.Rename(p, dst); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dst, 0o644)
	return dst
}

// Later steps see the whiteouts and opaque directories of the layers
// below them: in a user namespace overlayfs reads user.overlay.opaque,
// which the unpacked layers hold instead of trusted.overlay.opaque.
func TestRootlessLowerLayers(t *testing.T) {
	uid, gid := rootless(t)
	df := busyboxPrelude + `RUN mkdir -p /o/old && echo old > /o/old/f && echo old > /o/g && echo gone > /gone
RUN rm -rf /o /gone && mkdir -p /o/new && echo new > /o/new/f
RUN (ls -R /o; ls / | grep gone) > /seen || true
`
	dir := rootlessProject(t, uid, gid, df)
	home := sharedDir(t, uid, gid)
	runRootless(t, home, uid, gid, "build", "-t", filepath.Join(dir, "image.tar"), dir)
	want := "/o:\nnew\n\n/o/new:\nf\n"
	if e, ok := mustFlatten(t, filepath.Join(dir, "image.tar")).Lookup("/seen"); !ok || e.SHA256 != sha256Hex(want) {
		t.Errorf("the last step saw deleted files: /seen is %+v, want the digest of %q", e, want)
	}
	// The layer of the second step, unpacked, marks /o opaque the
	// rootless way.
	var opaque, trusted int
	filepath.Walk(filepath.Join(home, ".cache/mybuild/layers-userxattr"), func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.IsDir() || fi.Name() != "o" {
			return err
		}
		names, _ := xattr.List(p)
		for _, n := range names {
			switch n {
			case "user.overlay.opaque":
				opaque++
			case "trusted.overlay.opaque":
				trusted++
			}
		}
		return nil
	})
	if opaque != 1 || trusted != 0 {
		t.Errorf("unpacked /o dirs: %d marked user.overlay.opaque, %d trusted.overlay.opaque; want 1 and 0", opaque, trusted)
	}
	if _, err := os.Stat(filepath.Join(home, ".cache/mybuild/layers")); !os.IsNotExist(err) {
		t.Errorf("a rootless build unpacked layers in root's form: %v", err)
	}
}

// File capabilities of a base layer come out of a rootless step as the
// image expects them: version 2, not version 3 with the user's host id
// as the namespace root.
func TestRootlessFileCapabilities(t *testing.T) {
	uid, gid := rootless(t)
	base := readable(t, archiveWithLayer(t, []*tar.Header{
		{Name: "ping", Typeflag: tar.TypeReg, Size: 4, Mode: 0o755,
			PAXRecords: map[string]string{"SCHILY.xattr.security.capability": capNetRaw}},
	}))
	df := "FROM oci-archive:" + base + "\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"chmod\", \"4711\", \"/ping\"]\n"
	dir := rootlessProject(t, uid, gid, df)
	runRootless(t, sharedDir(t, uid, gid), uid, gid, "build", "-t", filepath.Join(dir, "image.tar"), dir)
	line := lineOf(t, filepath.Join(dir, "image.tar"), "/ping")
	if want := "/ping file 4711 0:0 size=4 sha256=" + sha256Hex("xxxx") + " xattr.security.capability=" + quoteValue(capNetRaw); line != want {
		t.Errorf("got  %s\nwant %s", line, want)
	}
}

// capNetRaw is a version 2 security.capability granting CAP_NET_RAW.
var capNetRaw = string([]byte{0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})

// Device nodes of a base layer cannot be made in a user namespace: the
// steps do without them, every build says so, and the image keeps them.
func TestRootlessDeviceNodes(t *testing.T) {
	uid, gid := rootless(t)
	base := readable(t, archiveWithLayer(t, []*tar.Header{
		{Name: "dev/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "dev/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666},
		{Name: "dev/loop0", Typeflag: tar.TypeBlock, Devmajor: 7, Devminor: 0, Mode: 0o660},
	}))
	df := "FROM oci-archive:" + base + "\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"touch\", \"/ran\"]\n"
	dir := rootlessProject(t, uid, gid, df)
	home := sharedDir(t, uid, gid)
	warning := "WARNING: the base image holds 2 device nodes (/dev/loop0, /dev/null), which a user namespace cannot make: RUN steps do not see them, as with rootless containerd; the image keeps them\n"
	for i := range 2 {
		out := runRootless(t, home, uid, gid, "build", "--no-cache", "-t", filepath.Join(dir, "image.tar"), dir)
		if strings.Count(out, warning) != 1 {
			t.Errorf("build %d: want the warning once, got:\n%s", i+1, out)
		}
	}
	l := listing(t, filepath.Join(dir, "image.tar"))
	for _, want := range []string{"/dev/null char 0666 0:0 dev=1,3", "/dev/loop0 block 0660 0:0 dev=7,0", "/ran file"} {
		if !strings.Contains(l, want) {
			t.Errorf("image lacks %q:\n%s", want, l)
		}
	}
}

// Owners beyond the user's ranges cannot be represented: the step fails,
// as chown does in any user namespace (docs/rootless.md).
func TestRootlessOwnerBeyondTheRanges(t *testing.T) {
	uid, gid := rootless(t)
	dir := rootlessProject(t, uid, gid, busyboxPrelude+"RUN touch /x && chown 5000000 /x\n")
	out, err := tryRootless(t, sharedDir(t, uid, gid), uid, gid, "build", dir)
	if err == nil || !strings.Contains(out, "chown: /x: Invalid argument\n") || !strings.Contains(out, "mybuild: Dockerfile:4: [4/4] RUN touch /x && chown 5000000 /x: ") {
		t.Errorf("err %v:\n%s", err, out)
	}
}

func mustFlatten(t *testing.T, archive string) *imagetest.FS {
	t.Helper()
	fsys, err := imagetest.Flatten(archive)
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

func sha256Hex(s string) string { return digest.FromString(s).Encoded() }

func itoa(i int) string { return strconv.Itoa(i) }

// quoteValue is an xattr value as Listing writes it.
func quoteValue(v string) string { return strconv.Quote(v) }

// A Debian base in the rootless mode: apt-get installs packages (as its
// _apt user), useradd makes a user, and the layer keeps ping's file
// capability in version 2. ping itself cannot open a raw socket on the
// host's network from a user namespace (docs/rootless.md).
func TestRootlessDebian(t *testing.T) {
	uid, gid := rootless(t)
	rootfs := imagetest.Debian(t)
	dir := rootlessProject(t, uid, gid, `FROM scratch
ADD rootfs.tar /
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends hello iputils-ping >/dev/null
RUN useradd -m -s /bin/sh builder && su builder -c hello >/result && (su builder -c 'ping -c1 -W5 127.0.0.1' >/dev/null 2>&1 && echo pinged || echo no raw socket) >>/result
`)
	tar := exec.Command("tar", "-C", rootfs, "--exclude=./dev/*", "-cf", filepath.Join(dir, "rootfs.tar"), ".")
	if out, err := tar.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	os.Chmod(filepath.Join(dir, "rootfs.tar"), 0o644)
	archive := filepath.Join(dir, "image.tar")
	runRootless(t, sharedDir(t, uid, gid), uid, gid, "build", "-t", archive, dir)
	fsys := mustFlatten(t, archive)
	if e, ok := fsys.Lookup("/result"); !ok || e.SHA256 != sha256Hex("Hello, world!\nno raw socket\n") {
		t.Errorf("/result is %+v, want hello's greeting and no ping", e)
	}
	if _, ok := fsys.Lookup("/home/builder"); !ok {
		t.Error("useradd -m made no /home/builder")
	}
	if e, ok := fsys.Lookup("/usr/bin/ping"); !ok || e.Xattrs["security.capability"] != capNetRaw {
		t.Errorf("/usr/bin/ping: %+v, want cap_net_raw=ep in version 2", e)
	}
}
