package rootfs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/internal/imagetest"
	"github.com/mybuild/mybuild/internal/runtest"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/sandbox"
	"golang.org/x/sys/unix"
)

// busyboxBase stores a layer with busybox and a few files.
func busyboxBase(t *testing.T, s *cache.Store) layer.Layer {
	t.Helper()
	bb, err := os.ReadFile(imagetest.Busybox(t))
	if err != nil {
		t.Fatal(err)
	}
	sh := file("bin/busybox", string(bb))
	sh.Mode = 0o755
	return putLayer(t, s, dir("bin/", 0o755), sh, dir("etc/", 0o755), file("etc/gone", "x"), file("etc/kept", "k"))
}

// tarNames lists the entries of a layer blob, "name type".
func tarNames(t *testing.T, blob []byte) []string {
	t.Helper()
	tr, err := layer.Decompress(context.Background(), bytes.NewReader(blob), "")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	r := tar.NewReader(tr)
	var out []string
	for {
		h, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name+" "+string(h.Typeflag))
	}
}

// step runs script in a root of d on lower, stores the layer it makes in
// s and returns it, with its entries.
func step(t *testing.T, s *cache.Store, d Driver, lower []Layer, script string) (Layer, []string) {
	t.Helper()
	l, names, _ := stepMounts(t, s, d, lower, script, nil)
	return l, names
}

// A step in place changes the tree itself, and its layer holds what the
// same step gives on the overlay driver: the added, changed and deleted
// entries, and nothing else.
func TestInPlaceLayerIsTheOverlays(t *testing.T) {
	s := openStore(t)
	base := busyboxBase(t, s)
	script := "echo ran >/ran; rm /etc/gone; mkdir -p /d/e; echo x >/d/e/f; ln /ran /ran2; ln -s ran /sym"
	var got [][]string
	for _, d := range []Driver{NewOverlay(s), NewInPlace(s, t.TempDir(), nil)} {
		b, err := d.Unpack(context.Background(), base, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, names := step(t, s, d, []Layer{b}, script)
		got = append(got, names)
	}
	if !slices.Equal(got[0], got[1]) {
		t.Errorf("overlay:  %v\nin place: %v", got[0], got[1])
	}
	if want := []string{"d/ 5", "d/e/ 5", "d/e/f 0", "etc/ 5", "etc/.wh.gone 0", "ran 0", "ran2 1", "sym 2"}; !slices.Equal(got[1], want) {
		t.Errorf("in place: %v, want %v", got[1], want)
	}
}

// Steps of one stage build on each other without a reset; a step of
// another stage resets the tree (but what is kept) and applies its own
// layers.
func TestInPlaceStages(t *testing.T) {
	s := openStore(t)
	base := busyboxBase(t, s)
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "keep/me"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "keep/me/file"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := NewInPlace(s, root, []string{"/keep/me"})
	b, _ := d.Unpack(context.Background(), base, nil)
	first, names := step(t, s, d, []Layer{b}, "echo one >/one; echo touched >/keep/me/file")
	if !slices.Equal(names, []string{"one 0"}) {
		t.Errorf("first step: %v (a kept path must not be diffed)", names)
	}
	_, names = step(t, s, d, []Layer{b, first}, "/bin/busybox cat /one >/two")
	if !slices.Equal(names, []string{"two 0"}) {
		t.Errorf("second step: %v", names)
	}
	// Another stage on the base alone.
	_, names = step(t, s, d, []Layer{b}, "test ! -e /one && test ! -e /two && test -e /etc/gone && echo other >/other")
	if !slices.Equal(names, []string{"other 0"}) {
		t.Errorf("other stage: %v", names)
	}
	if data, err := os.ReadFile(filepath.Join(root, "keep/me/file")); err != nil || string(data) != "touched\n" {
		t.Errorf("kept file: %q, %v: a reset must leave it", data, err)
	}
}

// What a step leaves running is killed when it ends: no PID namespace
// ends with it.
func TestInPlaceKillsLeftovers(t *testing.T) {
	s := openStore(t)
	base := busyboxBase(t, s)
	d := NewInPlace(s, t.TempDir(), nil)
	b, _ := d.Unpack(context.Background(), base, nil)
	marker := runtest.UniqueSleep()
	step(t, s, d, []Layer{b}, "(/bin/busybox sleep "+marker+" &) ; /bin/busybox setsid /bin/busybox sleep "+marker+" & echo started")
	if left := runtest.Procs(marker); len(left) != 0 {
		t.Errorf("processes left running: %v", left)
	}
}

// A failed step leaves the tree dirty: the next root resets it.
func TestInPlaceFailedStepIsUndone(t *testing.T) {
	s := openStore(t)
	base := busyboxBase(t, s)
	root := t.TempDir()
	d := NewInPlace(s, root, nil)
	b, _ := d.Unpack(context.Background(), base, nil)
	r, err := d.Root(context.Background(), []Layer{b})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Run(context.Background(), sandbox.Process{Args: []string{"/bin/busybox", "sh", "-c", "echo half >/half; exit 3"}})
	var exit *sandbox.ExitError
	if !errors.As(err, &exit) || exit.Code != 3 {
		t.Fatalf("err = %v, want exit code 3", err)
	}
	r.Close()
	_, names := step(t, s, d, []Layer{b}, "test ! -e /half && echo clean >/clean")
	if !slices.Equal(names, []string{"clean 0"}) {
		t.Errorf("after a failed step: %v", names)
	}
}

// A stage's view for COPY --from is a plain tree of its layers.
func TestInPlaceView(t *testing.T) {
	s := openStore(t)
	base := busyboxBase(t, s)
	d := NewInPlace(s, t.TempDir(), nil)
	b, _ := d.Unpack(context.Background(), base, nil)
	top, _ := step(t, s, d, []Layer{b}, "rm /etc/gone; echo v >/etc/new")
	view, err := d.View(context.Background(), []Layer{b, top})
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, view, "/etc/new"); got != "v\n" {
		t.Errorf("/etc/new = %q", got)
	}
	if _, err := view.Lstat("/etc/gone"); err == nil {
		t.Error("the view shows a deleted file")
	}
	if !strings.HasPrefix(view.Dirs()[0], s.Root()) {
		t.Errorf("view dir %s is not in the store", view.Dirs()[0])
	}
}

// An image whose /var/run is a symlink cannot be put where a mount point
// lies below /var/run (a pod's service account token): the error says
// what to do, and the mount point is untouched.
func TestInPlaceSymlinkOverKeptPath(t *testing.T) {
	s := openStore(t)
	root := t.TempDir()
	token := filepath.Join(root, "var/run/secrets/kubernetes.io/serviceaccount/token")
	if err := os.MkdirAll(filepath.Dir(token), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(token, []byte("t"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := putLayer(t, s, dir("run/", 0o755), dir("var/", 0o755),
		&tar.Header{Typeflag: tar.TypeSymlink, Name: "var/run", Linkname: "/run", Mode: 0o777})
	d := NewInPlace(s, root, []string{"/var/run/secrets/kubernetes.io/serviceaccount"})
	b, err := d.Unpack(context.Background(), base, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Root(context.Background(), []Layer{b})
	want := `layer entry "var/run": /var/run is a directory holding /var/run/secrets/kubernetes.io/serviceaccount: ` +
		"a path below it must be left alone, as a mount point is by a build in place: mount nothing where the image has a file or a symlink (in Kubernetes, automountServiceAccountToken: false frees /var/run)"
	if err == nil || !strings.HasSuffix(err.Error(), want) || !errors.Is(err, fswrite.ErrKeptBelow) {
		t.Fatalf("err = %v\nwant it to end with %s", err, want)
	}
	if data, err := os.ReadFile(token); err != nil || string(data) != "t" {
		t.Errorf("the token: %q, %v", data, err)
	}
}

// A read-only root cannot be built in: the error says so, and why.
func TestInPlaceReadOnlyRoot(t *testing.T) {
	s := openStore(t)
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "old"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	//	mount --bind -o ro ROOT ROOT
	if err := unix.Mount(root, root, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(root, unix.MNT_DETACH)
	if err := unix.Mount("", root, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	d := NewInPlace(s, root, nil)
	b, err := d.Unpack(context.Background(), busyboxBase(t, s), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Root(context.Background(), []Layer{b})
	want := "read-only file system: a build in place rewrites the container's root filesystem, which is read-only here (docker run --read-only, readOnlyRootFilesystem in Kubernetes)"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("err = %v\nwant it to end with %s", err, want)
	}
}

// Files staged in a kept directory of the tree's filesystem are moved
// into the tree when committed (the same inode); staged in the store,
// they are written again from the layer.
func TestInPlaceStageIn(t *testing.T) {
	for _, staging := range []bool{false, true} {
		s := openStore(t)
		root := t.TempDir()
		stage := filepath.Join(root, "mybuild/tmp")
		if err := os.MkdirAll(stage, 0o755); err != nil {
			t.Fatal(err)
		}
		var opts []InPlaceOption
		if staging {
			opts = append(opts, StageIn(stage))
		}
		d := NewInPlace(s, root, []string{"/mybuild"}, opts...)
		b, _ := d.Unpack(context.Background(), busyboxBase(t, s), nil)
		r, err := d.Root(context.Background(), []Layer{b})
		if err != nil {
			t.Fatal(err)
		}
		upper, _ := r.Files()
		if filepath.Dir(upper) == stage != staging {
			t.Errorf("staging %v: files staged in %s", staging, upper)
		}
		if err := os.WriteFile(filepath.Join(upper, "copied"), []byte("c"), 0o644); err != nil {
			t.Fatal(err)
		}
		var staged unix.Stat_t
		unix.Lstat(filepath.Join(upper, "copied"), &staged)
		var blob bytes.Buffer
		l, err := r.Diff(context.Background(), &blob)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.PutBlob(l.Digest, l.Size, bytes.NewReader(blob.Bytes())); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Commit(l); err != nil {
			t.Fatal(err)
		}
		r.Close()
		var got unix.Stat_t
		if err := unix.Lstat(filepath.Join(root, "copied"), &got); err != nil {
			t.Fatal(err)
		}
		if moved := got.Ino == staged.Ino; moved != staging {
			t.Errorf("staging %v: the file was moved: %v", staging, moved)
		}
		if entries, _ := os.ReadDir(stage); len(entries) != 0 {
			t.Errorf("staging %v: left in the stage: %v", staging, entries)
		}
	}
}

// With a stage, a reset moves the old tree into a trash directory of it,
// removed in the background with what earlier builds left there; the
// next step sees none of it.
func TestInPlaceResetTrash(t *testing.T) {
	s := openStore(t)
	root := t.TempDir()
	stage := filepath.Join(root, "mybuild/tmp")
	if err := os.MkdirAll(filepath.Join(stage, trashPrefix+"earlier/x"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := NewInPlace(s, root, []string{"/mybuild"}, StageIn(stage))
	b, _ := d.Unpack(context.Background(), busyboxBase(t, s), nil)
	step(t, s, d, []Layer{b}, "mkdir -p /many && for i in $(seq 100); do echo $i > /many/$i; done")
	// Another stage on the base alone: the tree is reset.
	_, names := step(t, s, d, []Layer{b}, "test ! -e /many && echo ok > /ok")
	if !slices.Equal(names, []string{"ok 0"}) {
		t.Errorf("second stage: %v", names)
	}
	d.emptying.Wait()
	entries, err := os.ReadDir(stage)
	if err != nil || len(entries) != 0 {
		t.Errorf("left in the stage: %v, %v", entries, err)
	}
}

// Two in-place builds of one tree (two mybuild processes in a container)
// take turns: the second waits, saying so, until the first settles.
func TestInPlaceBuildsTakeTurns(t *testing.T) {
	s := openStore(t)
	root := t.TempDir()
	var warnings []string
	first := NewInPlace(s, root, nil)
	second := NewInPlace(s, root, nil, InPlaceWarnings(func(w string) { warnings = append(warnings, w) }))
	r1, err := first.Root(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		r2, err := second.Root(context.Background(), nil)
		if err == nil {
			err = r2.Close()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("the second build had the tree while the first held it (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := r1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := first.Settle(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second build did not get the tree once the first settled")
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "another build is changing "+root+" in place: waiting") {
		t.Errorf("warnings %q", warnings)
	}
	if err := second.Settle(); err != nil {
		t.Fatal(err)
	}
	// A build that gives up waiting (its context ends) gets an error.
	if _, err := first.Root(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	defer first.Settle()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := second.Root(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's", err)
	}
}
