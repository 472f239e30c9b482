package rootfs

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/sandbox"
	"golang.org/x/sys/unix"
)

// stepMounts runs script with mounts in a root of d on lower, stores the
// layer it makes in s and returns it, with its entries and the step's
// output.
func stepMounts(t *testing.T, s *cache.Store, d Driver, lower []Layer, script string, mounts []sandbox.Mount) (Layer, []string, string) {
	t.Helper()
	ctx := context.Background()
	root, err := d.Root(ctx, lower)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var out bytes.Buffer
	p := sandbox.Process{Args: []string{"/bin/busybox", "sh", "-c", applets + script}, Stdout: &out, Stderr: &out,
		Mounts: slices.Clone(mounts)}
	if err := root.Run(ctx, p); err != nil {
		t.Fatalf("run %q: %v\n%s", script, err, out.String())
	}
	var blob bytes.Buffer
	l, err := root.Diff(ctx, &blob)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutBlob(l.Digest, l.Size, bytes.NewReader(blob.Bytes())); err != nil {
		t.Fatal(err)
	}
	kept, err := root.Commit(l)
	if err != nil {
		t.Fatal(err)
	}
	return kept, tarNames(t, blob.Bytes()), out.String()
}

// applets makes the shell run busybox's applets, which the base does not
// link.
const applets = "for a in cat ls cut rm; do eval \"$a() { /bin/busybox $a \\\"\\$@\\\"; }\"; done\n"

// Every mount type, emulated in place, shows the step what the overlay
// driver's real mounts show it, and leaves the same layer: the mounts'
// targets and the directories made for them are not in it, unless the
// step wrote beside them.
func TestInPlaceMountsAreTheOverlays(t *testing.T) {
	s := openStore(t)
	base := busyboxBase(t, s)
	host := t.TempDir()
	ctxDir := filepath.Join(host, "context")
	must(t, os.MkdirAll(filepath.Join(ctxDir, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(ctxDir, "sub/f"), []byte("from the context\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(host, "one"), []byte("a file\n"), 0o600))
	stage := filepath.Join(host, "stage")
	must(t, os.MkdirAll(filepath.Join(stage, "src"), 0o755))
	must(t, os.WriteFile(filepath.Join(stage, "src/main.c"), []byte("int main;\n"), 0o644))
	script := `set -e
cat /etc/sub/f; ls /etc
cat /one
ls -ld /tmp/t | cut -c1-10; ls /tmp/t
cat /run/secrets/s; ls -l /run/secrets/s | cut -c1-10
if [ -e /cache/c/old ]; then cat /cache/c/old; else echo no old; fi; echo new >>/cache/c/old
cat /src/main.c; echo thrown >/src/away
echo beside >/a/beside
echo out >/out`
	var names [][]string
	var outs []string
	for i, d := range []Driver{NewOverlay(s), NewInPlace(s, t.TempDir(), nil)} {
		cacheDir := filepath.Join(host, "cache", string(rune('0'+i)))
		must(t, os.MkdirAll(cacheDir, 0o755))
		mounts := []sandbox.Mount{
			{Kind: sandbox.MountBind, Source: ctxDir, Target: "/etc", ReadOnly: true},
			{Kind: sandbox.MountBind, Source: filepath.Join(host, "one"), Target: "/one", ReadOnly: true, File: true},
			{Kind: sandbox.MountTmpfs, Target: "/tmp/t"},
			{Kind: sandbox.MountFile, Target: "/run/secrets/s", Data: []byte("secret\n"), Mode: 0o400},
			{Kind: sandbox.MountBind, Source: cacheDir, Target: "/cache/c"},
			{Kind: sandbox.MountOverlay, Lower: []string{stage}, Source: "src", Target: "/src"},
			{Kind: sandbox.MountTmpfs, Target: "/a/b"},
		}
		b, err := d.Unpack(context.Background(), base, nil)
		must(t, err)
		_, n, out := stepMounts(t, s, d, []Layer{b}, script, mounts)
		names, outs = append(names, n), append(outs, out)
		_, n, out = stepMounts(t, s, d, []Layer{b}, script, mounts)
		if want := "new\n"; !bytes.Contains([]byte(out), []byte(want)) {
			t.Errorf("driver %d: the cache mount lost what the first step wrote:\n%s", i, out)
		}
		if got, err := os.ReadFile(filepath.Join(cacheDir, "old")); err != nil || string(got) != "new\nnew\n" {
			t.Errorf("driver %d: cache dir holds %q, %v", i, got, err)
		}
	}
	if !slices.Equal(names[0], names[1]) {
		t.Errorf("layer\noverlay:  %v\nin place: %v", names[0], names[1])
	}
	if want := []string{"a/ 5", "a/beside 0", "out 0"}; !slices.Equal(names[1], want) {
		t.Errorf("in-place layer %v, want %v", names[1], want)
	}
	if outs[0] != outs[1] {
		t.Errorf("output\noverlay:\n%s\nin place:\n%s", outs[0], outs[1])
	}
}

// After a step with mounts, the tree holds what it held before: what the
// targets shadowed is back, and the directories made for them are gone.
func TestInPlaceMountsPutTheTreeBack(t *testing.T) {
	s := openStore(t)
	base := busyboxBase(t, s)
	root := t.TempDir()
	d := NewInPlace(s, root, nil)
	b, _ := d.Unpack(context.Background(), base, nil)
	first, _, _ := stepMounts(t, s, d, []Layer{b}, "true", nil)
	before := treeLines(t, root)
	_, _, _ = stepMounts(t, s, d, []Layer{b, first}, "rm -f /etc/kept; echo x >/etc/new; echo y >/x/y/z", []sandbox.Mount{
		{Kind: sandbox.MountTmpfs, Target: "/etc"},
		{Kind: sandbox.MountTmpfs, Target: "/x/y"},
	})
	if after := treeLines(t, root); !slices.Equal(before, after) {
		t.Errorf("tree after the step:\n%v\nbefore:\n%v", after, before)
	}
}

// The ssh agent's socket is forwarded by a socket in place.
func TestSocketProxy(t *testing.T) {
	dir := t.TempDir()
	agent, err := net.Listen("unix", filepath.Join(dir, "agent"))
	must(t, err)
	defer agent.Close()
	go func() {
		for {
			c, err := agent.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	p, err := proxySocket(filepath.Join(dir, "proxy"), filepath.Join(dir, "agent"))
	must(t, err)
	c, err := net.Dial("unix", filepath.Join(dir, "proxy"))
	must(t, err)
	_, err = c.Write([]byte("ping"))
	must(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(c, buf)
	must(t, err)
	if string(buf) != "ping" {
		t.Errorf("echoed %q", buf)
	}
	must(t, p.Close())
	if _, err := c.Read(buf); err == nil {
		t.Error("a connection outlives the proxy")
	}
	if _, err := os.Lstat(filepath.Join(dir, "proxy")); !os.IsNotExist(err) {
		t.Errorf("the socket outlives the proxy: %v", err)
	}
}

// treeLines lists every entry under root with its mode, size and mtime.
func treeLines(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, rel+" "+fi.Mode().String()+" "+fi.ModTime().String())
		return nil
	})
	must(t, err)
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A step in place makes its files with the sandbox's umask, 022, whatever
// the builder's: here 077, as a CI job may set it. So does placing its
// mounts, which leaves a directory when the step wrote beside one.
func TestInPlaceStepUmask(t *testing.T) {
	s := openStore(t)
	base := busyboxBase(t, s)
	d := NewInPlace(s, t.TempDir(), nil)
	b, err := d.Unpack(context.Background(), base, nil)
	if err != nil {
		t.Fatal(err)
	}
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	mounts := []sandbox.Mount{{Kind: sandbox.MountTmpfs, Target: "/m/deep/tmp"}}
	_, names, _ := stepMounts(t, s, d, []Layer{b}, "echo x > /f && /bin/busybox mkdir /d && echo y > /m/beside", mounts)
	for _, want := range []string{"f 0", "d/ 5", "m/ 5", "m/beside 0"} {
		if !slices.Contains(names, want) {
			t.Fatalf("the layer holds %q, want %s", names, want)
		}
	}
	for p, want := range map[string]os.FileMode{"/f": 0o644, "/d": 0o755 | os.ModeDir, "/m": 0o755 | os.ModeDir, "/m/beside": 0o644} {
		fi, err := os.Lstat(filepath.Join(d.root, p))
		if err != nil || fi.Mode() != want {
			t.Errorf("%s: %v, %v; want %v", p, fi.Mode(), err, want)
		}
	}
}
