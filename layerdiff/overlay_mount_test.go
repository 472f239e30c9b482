package layerdiff

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mybuild/mybuild/internal/fstest"
	"github.com/mybuild/mybuild/overlay"
)

// mountOverlay mounts lower with a fresh upper dir as mybuild does for a RUN
// step and returns the mount point, the upper dir and a function that
// unmounts (also run at cleanup).
//
//	mount -t overlay overlay -o lowerdir=L,upperdir=U,workdir=W,redirect_dir=off,metacopy=off,index=off M
func mountOverlay(t *testing.T, lower string) (merged, upper string, unmount func()) {
	t.Helper()
	base := t.TempDir()
	merged, upper, work := filepath.Join(base, "merged"), filepath.Join(base, "upper"), filepath.Join(base, "work")
	for _, d := range []string{merged, upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work +
		",redirect_dir=off,metacopy=off,index=off"
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatalf("mount overlay -o %s: %v", opts, err)
	}
	var once sync.Once
	unmount = func() {
		once.Do(func() {
			if err := unix.Unmount(merged, 0); err != nil {
				t.Errorf("umount %s: %v", merged, err)
				_ = unix.Unmount(merged, unix.MNT_DETACH)
			}
		})
	}
	t.Cleanup(unmount)
	return merged, upper, unmount
}

// TestRealOverlay changes files through a real overlay mount and checks what
// the kernel left in the upper dir turns into the right layer.
func TestRealOverlay(t *testing.T) {
	lower := tree(t,
		fstest.CreateDir("etc", 0o755),
		fstest.CreateFile("etc/passwd", []byte("root:x:0:0"), 0o644),
		fstest.CreateFile("etc/hostname", []byte("old"), 0o644),
		fstest.CreateDir("data/sub", 0o755),
		fstest.CreateFile("data/a", []byte("a"), 0o644),
		fstest.CreateFile("data/sub/b", []byte("b"), 0o644),
		fstest.CreateFile("gone", []byte("gone"), 0o644),
		fstest.CreateFile("move-me", []byte("moving"), 0o644),
		fstest.CreateDir("keep", 0o755),
		fstest.CreateFile("keep/file", []byte("keep"), 0o644),
	)
	merged, upper, unmount := mountOverlay(t, lower)
	m := func(p string) string { return filepath.Join(merged, p) }
	steps := []struct {
		what string
		do   func() error
	}{
		{"rm gone", func() error { return os.Remove(m("gone")) }},
		{"write etc/hostname", func() error { return os.WriteFile(m("etc/hostname"), []byte("new"), 0o644) }},
		{"rm -rf data", func() error { return os.RemoveAll(m("data")) }},
		{"mkdir data", func() error { return os.Mkdir(m("data"), 0o750) }},
		{"write data/fresh", func() error { return os.WriteFile(m("data/fresh"), []byte("fresh"), 0o644) }},
		{"mv move-me moved", func() error { return os.Rename(m("move-me"), m("moved")) }},
		{"mkdir -p newdir/sub", func() error { return os.MkdirAll(m("newdir/sub"), 0o755) }},
		{"write newdir/sub/f", func() error { return os.WriteFile(m("newdir/sub/f"), []byte("f"), 0o644) }},
		{"chmod keep/file", func() error { return os.Chmod(m("keep/file"), 0o600) }},
		{"mkdir keep/newsub", func() error { return os.Mkdir(m("keep/newsub"), 0o755) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
	}
	unmount()

	// What the kernel did, for the record: both are legal, and the layer
	// must come out the same either way.
	for _, d := range []string{"data", "newdir", "newdir/sub", "keep", "keep/newsub"} {
		opaque, err := overlay.IsOpaque(filepath.Join(upper, d))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("kernel marked upper/%s opaque: %v", d, opaque)
	}
	if opaque, _ := overlay.IsOpaque(filepath.Join(upper, "data")); !opaque {
		t.Error("a directory made where a whiteout was is not opaque")
	}

	lowerStack := overlay.NewStack(lower)
	got, err := dumpTar(bytes.NewReader(layerTar(t, upper, lowerStack, WithSourceDateEpoch(epoch))))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "real-overlay", got)
	if strings.Contains(got, "newdir/.wh..wh..opq") || strings.Contains(got, "newsub/.wh..wh..opq") {
		t.Error("a new directory got an opaque marker")
	}
	if !strings.Contains(got, `"data/.wh..wh..opq"`) {
		t.Error("a directory deleted and made again has no opaque marker")
	}
}
