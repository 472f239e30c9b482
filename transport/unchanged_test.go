package transport

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/mybuild/mybuild/image"
	digest "github.com/opencontainers/go-digest"
)

// inode is the inode number of the file at p, and its ctime.
func inode(t *testing.T, p string) (uint64, int64) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Ino, st.Ctim.Nano()
}

// An archive saved again, the same image to the same file, is left as it
// is: no new file (the same inode and ctime), the same digest. One that
// changed since, was replaced by a copy, is gone, or would be another
// image or name, is written again.
func TestSaveLeavesAnArchiveInPlace(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	img := testImage(t, store, "run", "a")
	other := testImage(t, store, "other", "a")
	for _, kind := range []string{"oci-archive:", "docker-archive:"} {
		p := filepath.Join(t.TempDir(), "app.tar")
		ref, err := Parse(kind + p)
		if err != nil {
			t.Fatal(err)
		}
		digests := map[*image.Image]digest.Digest{}
		save := func(img *image.Image) (written bool) {
			t.Helper()
			ino, ctime := inode(t, p)
			d, err := Save(ctx, ref, img, store)
			if err != nil {
				t.Fatal(err)
			}
			if want, ok := digests[img]; ok && d != want {
				t.Errorf("%s: saved %s, then %s", kind, want, d)
			}
			digests[img] = d
			ino2, ctime2 := inode(t, p)
			return ino2 != ino || ctime2 != ctime
		}
		d, err := Save(ctx, ref, img, store)
		if err != nil {
			t.Fatal(err)
		}
		digests[img] = d
		want, _ := os.ReadFile(p)
		if save(img) {
			t.Errorf("%s: the same image was written again", kind)
		}
		// Changed in place: a byte of it, its mode.
		f, _ := os.OpenFile(p, os.O_WRONLY, 0)
		f.WriteAt([]byte{0}, 10)
		f.Close()
		if !save(img) {
			t.Errorf("%s: a damaged archive was left", kind)
		}
		if got, _ := os.ReadFile(p); !bytes.Equal(got, want) {
			t.Errorf("%s: the archive written again differs", kind)
		}
		os.Chmod(p, 0o600)
		if !save(img) {
			t.Errorf("%s: a chmodded archive was left", kind)
		}
		// Replaced by a copy of itself: a file mybuild did not write.
		data, _ := os.ReadFile(p)
		os.Remove(p)
		os.WriteFile(p, data, 0o644)
		if !save(img) {
			t.Errorf("%s: a copy was left", kind)
		}
		if !save(other) {
			t.Errorf("%s: another image was not written", kind)
		}
		named, _ := Parse(kind + p + ":example/app:2")
		if _, err := Save(ctx, named, other, store); err != nil {
			t.Fatal(err)
		}
		if !save(other) {
			t.Errorf("%s: the archive of another name was left", kind)
		}
		os.Remove(p)
		if _, err := Save(ctx, ref, img, store); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); !bytes.Equal(got, want) {
			t.Errorf("%s: the archive written after a removal differs", kind)
		}
	}
}

// A seal is recorded only for the file the write made: when another
// writer's file took its place first (another inode), the next save of
// the same image writes its archive again.
func TestSealArchiveOnlyItsOwnFile(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	img := testImage(t, store, "run", "a")
	p := filepath.Join(t.TempDir(), "app.tar")
	ref, _ := Parse("oci-archive:" + p)
	d, err := Save(ctx, ref, img, store)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	key := archiveKey(ref, m.Descriptor, m.ManifestJSON, img.DescriptorAnnotations)
	if _, ok := archiveInPlace(store, p, key); !ok {
		t.Fatal("the archive just saved is not in place")
	}
	ino, _ := inode(t, p)
	sealArchive(store, p, key, d, ino+1)
	if _, ok := archiveInPlace(store, p, key); ok {
		t.Error("a seal was recorded for another writer's file")
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("the archive's mode: %v, %v", fi.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".*")); len(left) != 0 {
		t.Errorf("temp files left: %q", left)
	}
}
