package build

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Hostile base layers cannot write outside the build in the rootless mode
// either, even into a directory the user owns.
func TestRootlessHostileBaseLayer(t *testing.T) {
	uid, gid := rootless(t)
	victim := sharedDir(t, uid, gid)
	home := sharedDir(t, uid, gid)
	for name, entries := range map[string][]*tar.Header{
		"dotdot": {{Name: "../../../../../../../.." + victim + "/escaped", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}},
		"symlink": {
			{Name: "evil", Typeflag: tar.TypeSymlink, Linkname: victim, Mode: 0o777},
			{Name: "evil/escaped", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644},
		},
		"hardlink": {{Name: "link", Typeflag: tar.TypeLink, Linkname: "../../../../../../.." + victim + "/escaped"}},
	} {
		t.Run(name, func(t *testing.T) {
			base := readable(t, archiveWithLayer(t, entries))
			dir := rootlessProject(t, uid, gid, "FROM oci-archive:"+base+"\nRUN [\"/x\"]\n")
			tryRootless(t, home, uid, gid, "build", dir)
			if entries, _ := os.ReadDir(victim); len(entries) != 0 {
				t.Fatalf("the layer wrote outside the build: %v", entries)
			}
		})
	}
}

// Context symlinks that point out of the context stay symlinks, and as a
// COPY source fail: nothing of the host leaks in.
func TestRootlessHostileContext(t *testing.T) {
	uid, gid := rootless(t)
	secretDir := sharedDir(t, uid, gid)
	secret := filepath.Join(secretDir, "secret")
	os.WriteFile(secret, []byte("host secret"), 0o644)
	dir := rootlessProject(t, uid, gid, busyboxPrelude+"COPY tree /tree/\n")
	os.MkdirAll(filepath.Join(dir, "tree"), 0o755)
	os.WriteFile(filepath.Join(dir, "tree/a"), []byte("a"), 0o644)
	os.Symlink(secret, filepath.Join(dir, "tree/abs"))
	home := sharedDir(t, uid, gid)
	archive := filepath.Join(dir, "image.tar")
	runRootless(t, home, uid, gid, "build", "-t", archive, dir)
	l := listing(t, archive)
	if !strings.Contains(l, "/tree/abs symlink 0777 0:0 -> "+secret) || strings.Contains(l, "size=11") {
		t.Errorf("the context's symlink was followed:\n%s", l)
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(busyboxPrelude+"COPY tree/abs /x\n"), 0o644)
	out, err := tryRootless(t, home, uid, gid, "build", dir)
	if err == nil || !strings.Contains(out, "mybuild: Dockerfile:4: [4/4] COPY tree/abs /x: ") {
		t.Errorf("COPY of a symlink out of the context: %v\n%s", err, out)
	}
}

// A hostile step is held in the rootless mode as in the namespaces mode:
// it cannot make a device node, mount, or write /proc/sys, and the
// host's loopback stays as it is.
func TestRootlessHostileRunStep(t *testing.T) {
	uid, gid := rootless(t)
	df := busyboxPrelude + `RUN mkdir -p /tmp /mnt && \
	( mknod /tmp/kmsg c 1 11 2>/dev/null && echo made; \
	  mount -t tmpfs tmpfs /mnt 2>/dev/null && echo mounted; \
	  echo 1 2>/dev/null >/proc/sys/vm/drop_caches && echo wrote; \
	  ip addr add 127.0.0.97/32 dev lo 2>/dev/null && echo reconfigured; \
	  echo done ) >/result
`
	dir := rootlessProject(t, uid, gid, df)
	archive := filepath.Join(dir, "image.tar")
	runRootless(t, sharedDir(t, uid, gid), uid, gid, "build", "-t", archive, dir)
	if e, ok := mustFlatten(t, archive).Lookup("/result"); !ok || e.SHA256 != sha256Hex("done\n") {
		t.Errorf("the step did more than it may: /result is %+v", e)
	}
	if out, _ := os.ReadFile("/proc/net/fib_trie"); strings.Contains(string(out), "127.0.0.97") {
		t.Error("the step added 127.0.0.97 to the host's lo")
	}
}

// A normal user's cache holds files of its subordinate ids, with modes
// that keep the user out (a 0700 directory of uid 100000): mybuild cache
// works on them from the user namespace, and prune removes them all.
func TestRootlessCachePrune(t *testing.T) {
	uid, gid := rootless(t)
	dir := rootlessProject(t, uid, gid, busyboxPrelude+"RUN mkdir -m 0700 /private && touch /private/f && chown -R 1234:1234 /private\n")
	home := sharedDir(t, uid, gid)
	runRootless(t, home, uid, gid, "build", dir)
	if out := runRootless(t, home, uid, gid, "cache", "du"); !strings.Contains(out, "unpacked layers:") {
		t.Errorf("cache du:\n%s", out)
	}
	runRootless(t, home, uid, gid, "cache", "prune", "--all")
	var left []string
	filepath.Walk(filepath.Join(home, ".cache/mybuild"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && !strings.Contains(p, "/state/") && !strings.HasSuffix(p, "lock") {
			left = append(left, p)
		}
		return nil
	})
	if len(left) != 0 {
		t.Errorf("prune --all left %d files, the first %s", len(left), left[0])
	}
}

// A normal user's build whose every layer is cached needs no user
// namespace, and takes none: it is as fast as root's. A config change
// needs none either; a layer to make does.
func TestRootlessWarmBuildStaysOutside(t *testing.T) {
	uid, gid := rootless(t)
	dir := rootlessProject(t, uid, gid, busyboxPrelude+"RUN echo hi > /hi\nENV A=1\n")
	home := sharedDir(t, uid, gid)
	archive := filepath.Join(dir, "image.tar")
	inside := "#0 isolation: rootless (user " + rootlessUser + ", in a user namespace mapped from /etc/subuid and /etc/subgid)\n"
	outside := "#0 isolation: rootless (user " + rootlessUser + "; every layer was in the cache, so no user namespace was needed)\n"
	first := runRootless(t, home, uid, gid, "build", "-t", archive, dir)
	firstDigest := lastLine(first)
	if !strings.HasPrefix(first, inside) {
		t.Errorf("cold build:\n%s", first)
	}
	warm := runRootless(t, home, uid, gid, "build", "-t", archive, dir)
	if !strings.HasPrefix(warm, outside) || lastLine(warm) != firstDigest {
		t.Errorf("warm build (want the same digest %s):\n%s", firstDigest, warm)
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(busyboxPrelude+"RUN echo hi > /hi\nENV A=2\n"), 0o644)
	if out := runRootless(t, home, uid, gid, "build", dir); !strings.HasPrefix(out, outside) {
		t.Errorf("a changed ENV:\n%s", out)
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(busyboxPrelude+"RUN echo hello > /hi\nENV A=2\n"), 0o644)
	if out := runRootless(t, home, uid, gid, "build", dir); !strings.HasPrefix(out, inside) || strings.Contains(out, outside) {
		t.Errorf("a changed RUN:\n%s", out)
	}
}

// lastLine is the last non-empty line of out.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}
