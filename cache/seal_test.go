package cache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mybuild/mybuild/internal/fstest"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// sealedLayer commits, and so seals, a layer with one entry of every
// kind, and returns its diffID.
func sealedLayer(t *testing.T, s *Store) digest.Digest {
	t.Helper()
	dir, err := s.TempDir("layer-")
	if err != nil {
		t.Fatal(err)
	}
	err = fstest.Apply(dir,
		fstest.CreateDir("bin", 0o755),
		fstest.CreateFile("bin/busybox", []byte("\x7fELF busybox code"), 0o755),
		fstest.Link("bin/busybox", "bin/sh"),
		fstest.Symlink("busybox", "bin/ls"),
		fstest.CreateFile("bin/ping", []byte("ping"), 0o755),
		fstest.SetXattr("bin/ping", "security.capability", "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
		fstest.CreateDir("etc", 0o755),
		fstest.CreateFile("etc/passwd", []byte("root:x:0:0::/root:/bin/sh\n"), 0o644),
		fstest.SetXattr("etc/passwd", "user.note", "kept"),
		fstest.CreateDir("var/cache", 0o755),
		fstest.Opaque("var/cache"),
		fstest.Whiteout("var/old"),
		fstest.Mkfifo("var/fifo", 0o600),
		fstest.Chown("etc/passwd", 0, 42),
	)
	if err != nil {
		t.Fatal(err)
	}
	diffID := digest.FromString("layer " + t.Name())
	if _, err := s.CommitLayer(dir, diffID); err != nil {
		t.Fatal(err)
	}
	return diffID
}

// A layer sealed as it is committed, right after its files were written,
// needs nothing read again by its first check: the seal's walk began
// after the tick of the clock in which the rename into place (and every
// change before it) was stamped.
func TestFreshSealNeedsNoReread(t *testing.T) {
	s := open(t, t.TempDir())
	for i := range 5 {
		diffID := sealedLayer(t, s)
		sl, err := s.readSeal(diffID)
		if err != nil {
			t.Fatal(err)
		}
		problems, now, err := checkSeal(s.LayerPath(diffID), sl, false, 0)
		if err != nil || len(problems) > 0 {
			t.Fatalf("check: %v, %v", problems, err)
		}
		if now != nil {
			t.Fatalf("commit %d: the check had to read entries again (seal start %d)", i, sl.Start)
		}
		if err := s.DeleteLayer(diffID); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCheckIntactLayer(t *testing.T) {
	s := open(t, t.TempDir())
	diffID := sealedLayer(t, s)
	for range 2 {
		if err := s.CheckLayer(context.Background(), diffID); err != nil {
			t.Fatal(err)
		}
	}
	problems, err := s.VerifyLayer(context.Background(), diffID, false)
	if err != nil || len(problems) > 0 {
		t.Fatalf("verify: %v, %v", problems, err)
	}
	if !s.HasLayer(diffID) {
		t.Fatal("an intact layer was removed")
	}
}

// Each change a layer may suffer is found, named, and the layer removed.
func TestCheckFindsDamage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage fstest.Applier
		want   string
	}{
		{"byte overwritten", overwriteByte("bin/busybox", 5), "/bin/busybox: content changed"},
		{"byte overwritten, mtime kept", keepMtime("bin/busybox", overwriteByte("bin/busybox", 5)), "/bin/busybox: content changed"},
		{"mode", fstest.Chmod("etc/passwd", 0o666), "/etc/passwd: mode changed from 0644 to 0666"},
		{"owner", fstest.Chown("etc/passwd", 1000, 42), "/etc/passwd: owner changed from 0:42 to 1000:42"},
		{"size", fstest.CreateFile("etc/passwd", []byte("x"), 0o644), "/etc/passwd: size changed"},
		{"xattr changed", fstest.SetXattr("etc/passwd", "user.note", "else"), "/etc/passwd: xattr user.note changed"},
		{"capability removed", removeXattr("bin/ping", "security.capability"), "/bin/ping: xattr security.capability removed"},
		{"opaque marker removed", removeXattr("var/cache", "trusted.overlay.opaque"), "/var/cache: xattr trusted.overlay.opaque removed"},
		{"file added", keepMtime("etc", fstest.CreateFile("etc/shadow", nil, 0o600)), "/etc/shadow: added"},
		{"file removed", keepMtime("etc", fstest.Remove("etc/passwd")), "/etc/passwd: removed"},
		{"symlink retargeted", keepMtime("bin", replaceSymlink("bin/ls", "/evil")), `/bin/ls: link target changed from "busybox" to "/evil"`},
		{"hard link broken", keepMtime("bin", copyOver("bin/sh")), "/bin/sh: hard links changed"},
		{"whiteout gone", keepMtime("var", fstest.Remove("var/old")), "/var/old: removed"},
		{"type changed", keepMtime("var", replaceByDir("var/fifo")), "/var/fifo: was a fifo, is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, t.TempDir())
			diffID := sealedLayer(t, s)
			if err := tc.damage.Apply(s.LayerPath(diffID)); err != nil {
				t.Fatal(err)
			}
			problems, err := s.VerifyLayer(context.Background(), diffID, false)
			if err != nil || !hasProblem(problems, tc.want) {
				t.Fatalf("verify: got %v, %v; want %q", problems, err, tc.want)
			}
			err = s.CheckLayer(context.Background(), diffID)
			var damage *DamageError
			if !errors.As(err, &damage) || !errors.Is(err, ErrCorrupt) || !hasProblem(damage.Problems, tc.want) {
				t.Fatalf("check: got %v, want %q", err, tc.want)
			}
			if s.HasLayer(diffID) {
				t.Fatal("the damaged layer is still there")
			}
			if _, err := os.Lstat(s.sealPath(diffID)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the damaged layer's seal is still there: %v", err)
			}
		})
	}
}

// hasProblem reports whether problems has one for the path of want,
// "path: what", that says what.
func hasProblem(problems []Problem, want string) bool {
	path, what, _ := strings.Cut(want, ": ")
	for _, p := range problems {
		if p.Path == path && strings.Contains(p.What, what) {
			return true
		}
	}
	return false
}

// A layer whose stat data changed but not its content (a cache dir
// copied elsewhere) passes, and is sealed anew: the next check finds
// nothing to read again.
func TestCheckReseals(t *testing.T) {
	s := open(t, t.TempDir())
	diffID := sealedLayer(t, s)
	before, err := s.readSeal(diffID)
	if err != nil {
		t.Fatal(err)
	}
	// chmod to the same mode changes only the ctime. The sleeps take the
	// check past one tick of the coarse clock, so that no entry is taken
	// for a racily sealed one.
	time.Sleep(20 * time.Millisecond)
	if err := fstest.Chmod("bin/busybox", 0o755).Apply(s.LayerPath(diffID)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if err := s.CheckLayer(context.Background(), diffID); err != nil {
		t.Fatal(err)
	}
	after, err := s.readSeal(diffID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Start <= before.Start {
		t.Fatal("the layer was not sealed anew")
	}
	problems, now, err := checkSeal(s.LayerPath(diffID), after, false, after.Start)
	if err != nil || len(problems) > 0 || now != nil {
		t.Fatalf("after resealing, a quick check read entries again: %v, %v", problems, err)
	}
}

// A layer without a seal is never trusted: the check removes it.
func TestCheckUnsealed(t *testing.T) {
	s := open(t, t.TempDir())
	diffID := sealedLayer(t, s)
	if err := os.WriteFile(s.sealPath(diffID), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckLayer(context.Background(), diffID); !errors.Is(err, ErrUnsealed) {
		t.Fatalf("got %v, want ErrUnsealed", err)
	}
	if s.HasLayer(diffID) {
		t.Fatal("the unsealed layer is still there")
	}
}

// A seal that outlived its layer does not vouch for another one
// committed at the same path: that one is sealed anew.
func TestCommitAfterLeftoverSeal(t *testing.T) {
	s := open(t, t.TempDir())
	diffID := sealedLayer(t, s)
	if err := os.Rename(s.LayerPath(diffID), filepath.Join(s.tmp, "gone")); err != nil {
		t.Fatal(err)
	}
	dir, _ := s.TempDir("layer-")
	if err := fstest.Apply(dir, fstest.CreateFile("other", []byte("x"), 0o644)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitLayer(dir, diffID); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckLayer(context.Background(), diffID); err != nil {
		t.Fatal(err)
	}
}

func overwriteByte(name string, off int64) fstest.Applier {
	return applier(func(root string) error {
		f, err := os.OpenFile(filepath.Join(root, name), os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		if _, err := f.WriteAt([]byte{0xcc}, off); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
}

// keepMtime applies a, then puts the mtime of name back.
func keepMtime(name string, a fstest.Applier) fstest.Applier {
	return applier(func(root string) error {
		fi, err := os.Lstat(filepath.Join(root, name))
		if err != nil {
			return err
		}
		if err := a.Apply(root); err != nil {
			return err
		}
		return fstest.Chtimes(name, fi.ModTime()).Apply(root)
	})
}

func removeXattr(name, key string) fstest.Applier {
	return applier(func(root string) error { return unix.Lremovexattr(filepath.Join(root, name), key) })
}

func replaceSymlink(name, target string) fstest.Applier {
	return applier(func(root string) error {
		if err := os.Remove(filepath.Join(root, name)); err != nil {
			return err
		}
		return os.Symlink(target, filepath.Join(root, name))
	})
}

// copyOver replaces a hard link by a copy with the same metadata.
func copyOver(name string) fstest.Applier {
	return applier(func(root string) error {
		p := filepath.Join(root, name)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if err := os.Remove(p); err != nil {
			return err
		}
		if err := fstest.CreateFile(name, data, fi.Mode().Perm()).Apply(root); err != nil {
			return err
		}
		return fstest.Chtimes(name, fi.ModTime()).Apply(root)
	})
}

func replaceByDir(name string) fstest.Applier {
	return applier(func(root string) error {
		if err := os.Remove(filepath.Join(root, name)); err != nil {
			return err
		}
		return os.Mkdir(filepath.Join(root, name), 0o600)
	})
}

type applier func(root string) error

func (a applier) Apply(root string) error { return a(root) }

// A seal takes a file's digest from what a pass read (WithKnownContent)
// when the file's stat is still the one the pass saw and its ctime is
// older than the pass, and reads the file otherwise.
func TestSealTakesKnownContent(t *testing.T) {
	s := open(t, t.TempDir())
	dir, _ := s.TempDir("layer-")
	if err := fstest.Apply(dir, fstest.CreateFile("a", []byte("alpha"), 0o644), fstest.CreateFile("b", []byte("beta"), 0o644)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // past the tick of the files' ctimes
	readAfter, err := s.Clock()
	if err != nil {
		t.Fatal(err)
	}
	known := map[uint64]KnownContent{}
	claimed := digest.FromString("what the pass read")
	for _, name := range []string{"a", "b"} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dir, name), &st); err != nil {
			t.Fatal(err)
		}
		known[st.Ino] = KnownContent{Ino: st.Ino, Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(), Digest: claimed}
	}
	// b changed since the pass read it.
	if err := fstest.Chmod("b", 0o600).Apply(dir); err != nil {
		t.Fatal(err)
	}
	diffID := digest.FromString("known")
	if _, err := s.CommitLayer(dir, diffID, WithKnownContent(known, readAfter)); err != nil {
		t.Fatal(err)
	}
	sl, err := s.readSeal(diffID)
	if err != nil {
		t.Fatal(err)
	}
	digests := map[string]digest.Digest{}
	for _, e := range sl.Entries {
		digests[e.Path] = e.Digest
	}
	if digests["/a"] != claimed {
		t.Errorf("/a: %s, want the digest the pass read", digests["/a"])
	}
	if digests["/b"] != digest.FromString("beta") {
		t.Errorf("/b: %s, want its content's, read again", digests["/b"])
	}
	// Known content read in the same tick as the file changed is not taken.
	sl2, err := makeSeal(s.LayerPath(diffID), 0, &knownContent{files: known, readAfter: 0})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range sl2.Entries {
		if e.Path == "/a" && e.Digest != digest.FromString("alpha") {
			t.Errorf("/a was taken from a pass that began before its last change: %s", e.Digest)
		}
	}
}

// A layer committed with CommitLayerLater is in place at once, and
// sealed once sealed returns; a check meanwhile waits for the seal
// rather than taking the layer for one without.
func TestCommitLayerLater(t *testing.T) {
	s := open(t, t.TempDir())
	dir, err := s.TempDir("layer-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("content"), 0o644); err != nil {
		t.Fatal(err)
	}
	diffID := digest.FromString("later " + t.Name())
	path, sealed, err := s.CommitLayerLater(dir, diffID)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(path, "f")); err != nil || string(data) != "content" {
		t.Fatalf("layer not in place: %q, %v", data, err)
	}
	if err := s.CheckLayer(context.Background(), diffID); err != nil {
		t.Fatalf("check while sealing: %v", err)
	}
	if err := sealed(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.readSeal(diffID); err != nil {
		t.Fatal(err)
	}
	if err := sealed(); err != nil { // once more: the same answer
		t.Fatal(err)
	}
}

// A layer dir replaced by a symlink to a copy of itself is damage too,
// found at its root, not an error of the check: the layer is removed
// and unpacked again.
func TestCheckFindsTheRootReplaced(t *testing.T) {
	s := open(t, t.TempDir())
	diffID := sealedLayer(t, s)
	dir := s.LayerPath(diffID)
	moved := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(moved, dir); err != nil {
		t.Fatal(err)
	}
	err := s.CheckLayer(context.Background(), diffID)
	var damage *DamageError
	if !errors.As(err, &damage) || !hasProblem(damage.Problems, "/: was a directory, is a symlink") {
		t.Fatalf("check: got %v, want the root's type changed", err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the replaced layer dir is still there: %v", err)
	}
}
