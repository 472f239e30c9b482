package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mybuild/mybuild/internal/imagetest"
	"github.com/mybuild/mybuild/rootfs"
)

// rootlessName is the normal user the rootless builds run as, with a
// subordinate range of a million ids from 300000 in /etc/subuid and
// /etc/subgid: .ci/run makes it.
const rootlessName = "mybuild-rootless"

// rootlessUser is who builds in the rootless mode, and where: its home
// (and so its cache) and its contexts are in dir, which every user may
// enter, as are the binary and the base images.
type rootlessUser struct {
	uid, gid int
	home     string
}

// rootlessDifferences are the ways the rootless mode's image of a case
// differs from the normal mode's, by case: the start of a line of the
// normal mode's listing, and what the rootless mode's line starts with.
// docs/rootless.md documents each.
var rootlessDifferences = map[string]map[string]string{
	"busybox": {
		// Stage second appends to /data/a-link, a hard link of the setuid
		// /data/a: the kernel drops the setuid bit of a file that a
		// process without CAP_FSETID in the host's user namespace writes
		// to, and in a user namespace no process has it.
		"/copied/a-link file 4755 0:0 ": "/copied/a-link file 0755 0:0 ",
	},
}

// ping is how the debian case pings, which a step cannot do in a user
// namespace that shares the host's network namespace: raw sockets there
// belong to the host's root (docs/rootless.md).
const ping = " && ping -c1 -W5 127.0.0.1 >/dev/null"

// The cases built by a normal user with a subordinate id range, in the
// rootless mode, give the root filesystem and config the normal mode
// gives on this machine, but for what docs/rootless.md says a user
// namespace cannot do, which is asserted.
func TestRootless(t *testing.T) {
	f, u := setupRootless(t)
	t.Run("busybox", func(t *testing.T) { f.testRootlessCase(t, u, "busybox", nil, nil) })
	t.Run("debian", func(t *testing.T) {
		files := map[string]string{"hello.deb": helloDeb(t)}
		stderr, err := u.build(t, f, "--build-arg", "BASE="+f.bases["debian"], u.context(t, f, "debian", files, nil))
		if err == nil || !strings.Contains(stderr, "\n#8 ping: socket: Operation not permitted\n") ||
			!strings.Contains(stderr, "\nmybuild: Dockerfile:14: [8/8] RUN hello > greeting"+ping) {
			t.Errorf("rootless build: %v, want the last step's ping refused a raw socket:\n%s", err, stderr)
		}
		// Its other steps (apt-get, dpkg, useradd, a step as the new
		// user) give the normal mode's image.
		withoutPing := func(t *testing.T, dockerfile string) string {
			if strings.Count(dockerfile, ping) != 1 {
				t.Fatalf("testdata/debian/Dockerfile pings %d times, not once with %q", strings.Count(dockerfile, ping), ping)
			}
			return strings.Replace(dockerfile, ping, "", 1)
		}
		f.testRootlessCase(t, u, "debian", files, withoutPing)
	})
}

// setupRootless makes a fixture with no engine and no registry: the
// static binary and the base images (OCI archives, built in the normal
// mode) in a directory the rootless user can read.
func setupRootless(t *testing.T) (*fixture, *rootlessUser) {
	t.Helper()
	u := lookupRootless(t)
	f := &fixture{dir: sharedDir(t), bases: map[string]string{}, baseLayers: map[string]int{}, vmImages: map[string]string{}}
	f.cache = filepath.Join(t.TempDir(), "cache")
	u.home = u.ownDir(t, f, "home")
	start := time.Now()
	f.bin = buildBinary(t, filepath.Join(f.dir, "bin"))
	f.baseArchive(t, "busybox", map[string]string{"busybox": imagetest.Busybox(t)})
	rootfsTar := filepath.Join(t.TempDir(), "rootfs.tar")
	imagetest.DebianTar(t, rootfsTar)
	f.baseArchive(t, "debian", map[string]string{"rootfs.tar": rootfsTar})
	t.Logf("mybuild and the base images built in %v", time.Since(start).Round(time.Millisecond))
	return f, u
}

// lookupRootless finds rootlessName and checks its ranges: missing,
// they fail the test, never skip it.
func lookupRootless(t *testing.T) *rootlessUser {
	t.Helper()
	acct, err := user.Lookup(rootlessName)
	if err != nil {
		t.Fatalf("the rootless test user (.ci/run makes it): %v", err)
	}
	for _, file := range []string{"/etc/subuid", "/etc/subgid"} {
		data, err := os.ReadFile(file)
		if err != nil || !strings.Contains("\n"+string(data), "\n"+rootlessName+":300000:1000000\n") {
			t.Fatalf("%s gives %s no range of a million ids from 300000 (.ci/run adds it): %v", file, rootlessName, err)
		}
	}
	u := &rootlessUser{}
	u.uid, _ = strconv.Atoi(acct.Uid)
	u.gid, _ = strconv.Atoi(acct.Gid)
	return u
}

// sharedDir is a scratch directory every user may enter, removed when
// the test ends.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mybuild-e2e-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// ownDir makes the directory name in the fixture's shared directory,
// owned by the rootless user.
func (u *rootlessUser) ownDir(t *testing.T, f *fixture, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp(f.dir, name+"-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, u.uid, u.gid); err != nil {
		t.Fatal(err)
	}
	return dir
}

// baseArchive builds testdata/base-NAME with files added to its
// context, in the normal mode, into an OCI archive everyone may read,
// which the cases take as their BASE.
func (f *fixture) baseArchive(t *testing.T, name string, files map[string]string) {
	t.Helper()
	archive := filepath.Join(f.dir, "base-"+name+".tar")
	f.vmBuild(t, f.context(t, "base-"+name, files), "-t", archive)
	if err := os.Chmod(archive, 0o644); err != nil {
		t.Fatal(err)
	}
	f.bases[name], f.baseLayers[name] = "oci-archive:"+archive, layerCount(t, archive)
}

// testRootlessCase builds a case of testdata as the rootless user, its
// Dockerfile changed by edit unless nil, and compares its image with the
// normal mode's of the same Dockerfile.
func (f *fixture) testRootlessCase(t *testing.T, u *rootlessUser, name string, files map[string]string, edit func(*testing.T, string) string) {
	var vm string
	if edit == nil {
		vm = f.vmImage(t, name, files)
	} else {
		vm = filepath.Join(t.TempDir(), "vm-"+name+".tar")
		ctx := f.context(t, name, files)
		editDockerfile(t, ctx, edit)
		f.vmBuild(t, ctx, "-t", vm, "--build-arg", "BASE="+f.bases[baseOf(name)])
	}
	ctx := u.context(t, f, name, files, edit)
	got := filepath.Join(u.ownDir(t, f, "out"), "image.tar")
	start := time.Now()
	stderr, err := u.build(t, f, "--build-arg", "BASE="+f.bases[baseOf(name)], "-t", got, ctx)
	t.Logf("built rootless in %v", time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("rootless build: %v\n%s", err, stderr)
	}
	if first, _, _ := strings.Cut(stderr, "\n"); !strings.HasPrefix(first, "#0 isolation: rootless (user "+rootlessName+", in a user namespace") {
		t.Errorf("first line %q, want the rootless mode named", first)
	}
	sameImageBut(t, "rootless", vm, got, rootlessDifferences[name])
	want := expected[name]
	fsys := hasFiles(t, got, want.files, want.gone)
	for _, p := range want.caps {
		if e, _ := fsys.Lookup(p); e.Xattrs["security.capability"] == "" {
			t.Errorf("%s has no file capability: %+v", p, e)
		}
	}
	noLeaks(t, got, f.baseLayers[baseOf(name)], []string{"/proc", "/sys", "/dev"})
}

// editDockerfile rewrites the Dockerfile of the context ctx with edit.
func editDockerfile(t *testing.T, ctx string, edit func(*testing.T, string) string) {
	t.Helper()
	p := filepath.Join(ctx, "Dockerfile")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(edit(t, string(data))), 0o644); err != nil {
		t.Fatal(err)
	}
}

// context copies testdata/name, with files added and its Dockerfile
// changed by edit unless nil, into a directory of the rootless user.
func (u *rootlessUser) context(t *testing.T, f *fixture, name string, files map[string]string, edit func(*testing.T, string) string) string {
	t.Helper()
	dir := filepath.Join(u.ownDir(t, f, "context"), name)
	makeContext(t, dir, name, files)
	if edit != nil {
		editDockerfile(t, dir, edit)
	}
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", u.uid, u.gid), dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
	return dir
}

// build runs mybuild build, in the rootless mode, as the rootless user,
// with progress in plain lines, and returns what it printed.
func (u *rootlessUser) build(t *testing.T, f *fixture, args ...string) (string, error) {
	t.Helper()
	args = append([]string{"build", "--isolation=rootless", "--progress=plain"}, args...)
	refuseInPlaceRootless(t, args)
	cmd := exec.Command(f.bin, args...)
	cmd.Env = []string{"HOME=" + u.home, "PATH=/usr/bin:/bin", "USER=" + rootlessName, rootfs.RefuseRealRootEnv + "=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid)}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	_, err := cmd.Output()
	return stderr.String(), err
}

// refuseInPlaceRootless fails the test before a rootless build that
// could build in place: it names the rootless mode, and no other or
// --force.
func refuseInPlaceRootless(t *testing.T, args []string) {
	t.Helper()
	named := false
	for _, a := range args {
		switch {
		case a == "--isolation=rootless":
			named = true
		case strings.Contains(a, "isolation"), strings.Contains(a, "force"):
			t.Fatalf("refusing to build on this machine with %s: only --isolation=rootless may run as %s", a, rootlessName)
		}
	}
	if !named {
		t.Fatalf("refusing to build on this machine without --isolation=rootless: %q", args)
	}
}
