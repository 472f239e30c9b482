package rootfs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mybuild/mybuild/internal/imagetest"
	"github.com/mybuild/mybuild/internal/runtest"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/sandbox"
	digest "github.com/opencontainers/go-digest"
)

func TestMain(m *testing.M) {
	sandbox.Main()
	SetRefuseRealRoot()
	os.Exit(m.Run())
}

// A step's life on the overlay driver: files written straight into the
// root, a process run in it, the changes as a layer, and that layer kept
// for the next root, which sees all of it.
func TestOverlayDriver(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	bb, err := os.ReadFile(imagetest.Busybox(t))
	if err != nil {
		t.Fatal(err)
	}
	sh := file("bin/busybox", string(bb))
	sh.Mode = 0o755
	base := putLayer(t, s, dir("bin/", 0o755), sh, file("etc/gone", "x"))
	var d Driver = NewOverlay(s)
	if f := d.Features(); f.Name != "namespaces" || f.Exclusive || f.CheckRun([]string{"cache", "secret", "ssh", "bind", "tmpfs"}, sandbox.NetworkNone) != nil {
		t.Fatalf("features %+v", f)
	}
	unpacked, err := d.Unpack(ctx, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	root, err := d.Root(ctx, []Layer{unpacked})
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	dirPath, below := root.Files()
	if err := os.WriteFile(filepath.Join(dirPath, "copied"), []byte("by COPY\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := below.Lstat("/bin/busybox"); err != nil {
		t.Fatalf("below lacks the base: %v", err)
	}
	var out bytes.Buffer
	err = root.Run(ctx, sandbox.Process{Args: []string{"/bin/busybox", "sh", "-c", "cat /copied; echo ran >/ran; rm /etc/gone"}, Stdout: &out, Stderr: &out})
	if err != nil || out.String() != "by COPY\n" {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	var blob bytes.Buffer
	l, err := root.Diff(ctx, &blob)
	if err != nil {
		t.Fatal(err)
	}
	if l.Digest != digest.FromBytes(blob.Bytes()) || l.Compression().Algorithm != layer.Gzip {
		t.Errorf("diff: %+v", l)
	}
	kept, err := root.Commit(l)
	if err != nil {
		t.Fatal(err)
	}
	if err := root.Close(); err != nil {
		t.Fatal(err)
	}
	next, err := d.Root(ctx, []Layer{unpacked, kept})
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	out.Reset()
	err = next.Run(ctx, sandbox.Process{Args: []string{"/bin/busybox", "sh", "-c", "cat /copied /ran; ls /etc"}, Stdout: &out, Stderr: &out})
	// /etc/gone is gone; hosts and resolv.conf are the sandbox's mounts.
	if err != nil || out.String() != "by COPY\nran\nhosts\nresolv.conf\n" {
		t.Errorf("next root: %v\n%q", err, out.String())
	}
	if err := next.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Settle(); err != nil {
		t.Fatal(err)
	}
	assertNoTemp(t, s)
	runtest.AssertNoMountsUnder(t, s.Root())
}

// A root closed without a commit leaves nothing.
func TestOverlayRootClose(t *testing.T) {
	s := openStore(t)
	d := NewOverlay(s)
	root, err := d.Root(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	upper, _ := root.Files()
	if err := os.WriteFile(filepath.Join(upper, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := root.Close(); err != nil {
		t.Fatal(err)
	}
	if err := root.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	assertNoTemp(t, s)
}

func TestFeaturesCheckRun(t *testing.T) {
	f := Features{Name: "in-place", Mounts: []string{"bind", "secret"}, Networks: []sandbox.Network{sandbox.NetworkHost}}
	if err := f.CheckRun([]string{"secret"}, sandbox.NetworkHost); err != nil {
		t.Error(err)
	}
	if err := f.CheckRun([]string{"cache"}, sandbox.NetworkHost); err == nil || err.Error() != "RUN --mount=type=cache is not supported in the in-place mode" {
		t.Errorf("cache mount: %v", err)
	}
	if err := f.CheckRun(nil, sandbox.NetworkNone); err == nil || err.Error() != "RUN --network=none is not supported in the in-place mode" {
		t.Errorf("network none: %v", err)
	}
}
