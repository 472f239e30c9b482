package container

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/internal/imagetest"
	"github.com/mybuild/mybuild/internal/runtest"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/layerdiff"
	"github.com/mybuild/mybuild/overlay"
	"github.com/mybuild/mybuild/rootfs"
	"github.com/mybuild/mybuild/sandbox"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestMain(m *testing.M) {
	sandbox.Main()
	rootfs.SetRefuseRealRoot()
	os.Exit(m.Run())
}

func openStore(t *testing.T) *cache.Store {
	t.Helper()
	s, err := cache.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// busyboxImage stores a one-layer image with busybox, its applets in
// /bin, a user app (1000) and the config given.
func busyboxImage(t *testing.T, s *cache.Store, cfg ocispec.ImageConfig) *image.Image {
	t.Helper()
	bb := imagetest.Busybox(t)
	applets, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []string{"bin", "etc"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"bin/busybox": string(data),
		"etc/passwd":  "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
		"etc/group":   "root:x:0:\napp:x:1000:\n",
	}
	for name, content := range files {
		mode := os.FileMode(0o644)
		if name == "bin/busybox" {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range strings.Fields(string(applets)) {
		if a != "busybox" {
			os.Symlink("busybox", filepath.Join(dir, "bin", a))
		}
	}
	w, err := s.NewBlobWriter()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	blob, err := layerdiff.WriteBlob(context.Background(), w, dir, overlay.NewStack())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(blob.Digest); err != nil {
		t.Fatal(err)
	}
	img := &image.Image{Layers: []layer.Layer{{MediaType: blob.MediaType, Digest: blob.Digest, Size: blob.Size, DiffID: blob.DiffID}}}
	img.Config.OS, img.Config.Architecture = "linux", image.HostPlatform().Architecture
	img.Config.Config.ImageConfig = cfg
	return img
}

type result struct {
	stdout, stderr string
	err            error
}

func runImage(t *testing.T, s *cache.Store, img *image.Image, cfg Config) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cfg.Stdout, cfg.Stderr = &stdout, &stderr
	err := RunImage(context.Background(), s, img, cfg)
	assertNothingLeft(t, s)
	return result{stdout.String(), stderr.String(), err}
}

// assertNothingLeft checks that a run left no file in the store's scratch
// space and no mount under the store.
func assertNothingLeft(t *testing.T, s *cache.Store) {
	t.Helper()
	if left, _ := filepath.Glob(filepath.Join(s.Root(), "tmp", "*", "*")); len(left) != 0 {
		t.Errorf("left in the store's scratch: %v", left)
	}
	runtest.AssertNoMountsUnder(t, s.Root())
}

// startImage runs img in the background and returns its output lines.
func startImage(t *testing.T, s *cache.Store, img *image.Image, cfg Config) (<-chan string, <-chan error) {
	t.Helper()
	return runtest.Start(func(out io.Writer) error {
		cfg.Stdout = out
		return RunImage(context.Background(), s, img, cfg)
	})
}

func sh(script string) []string { return []string{"sh", "-c", script} }
