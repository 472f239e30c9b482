package cache

import (
	"fmt"
	"os"
	"testing"

	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// A sealed layer offers its plain regular files for linking, with the
// metadata and content they were sealed with; not one with another link
// inside the layer (busybox and sh), nor one with xattrs (ping, passwd),
// nor a symlink.
func TestReusableOffersPlainFiles(t *testing.T) {
	s := open(t, t.TempDir())
	diffID := sealedLayer(t, s)
	r, err := s.Reusable(diffID)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := s.readSeal(diffID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]FileMeta{}
	for _, e := range sl.Entries {
		want[e.Path] = FileMeta{Mode: e.Mode, UID: e.UID, GID: e.GID, Mtime: e.Mtime, Digest: e.Digest}
	}
	if len(r.files) != 0 {
		t.Errorf("offered %d files, want none of sealedLayer's", len(r.files))
	}
	for _, p := range []string{"/bin/busybox", "/bin/sh", "/bin/ping", "/etc/passwd", "/bin/ls"} {
		if _, ok := r.File(p, want[p]); ok {
			t.Errorf("%s offered", p)
		}
	}

	dir, err := s.TempDir("layer-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/plain", []byte("plain content"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir+"/plain", 0o640); err != nil {
		t.Fatal(err)
	}
	plainID := digest.FromString("plain " + t.Name())
	if _, err := s.CommitLayer(dir, plainID); err != nil {
		t.Fatal(err)
	}
	if r, err = s.Reusable(plainID); err != nil {
		t.Fatal(err)
	}
	sl, err = s.readSeal(plainID)
	if err != nil {
		t.Fatal(err)
	}
	e := sl.Entries[1]
	meta := FileMeta{Mode: e.Mode, UID: e.UID, GID: e.GID, Mtime: e.Mtime, Digest: e.Digest}
	if host, ok := r.File("/plain", meta); !ok || host != s.LayerPath(plainID)+"/plain" {
		t.Fatalf("/plain: %q, %v", host, ok)
	}
	for name, other := range map[string]FileMeta{
		"mode":    {Mode: unix.S_IFREG | 0o644, UID: e.UID, GID: e.GID, Mtime: e.Mtime, Digest: e.Digest},
		"owner":   {Mode: e.Mode, UID: e.UID + 1, GID: e.GID, Mtime: e.Mtime, Digest: e.Digest},
		"mtime":   {Mode: e.Mode, UID: e.UID, GID: e.GID, Mtime: e.Mtime + 1, Digest: e.Digest},
		"content": {Mode: e.Mode, UID: e.UID, GID: e.GID, Mtime: e.Mtime, Digest: sl.Entries[0].Digest},
	} {
		if _, ok := r.File("/plain", other); ok {
			t.Errorf("/plain offered for another %s", name)
		}
	}
	// A chmod and back changes the ctime: the seal no longer vouches.
	if err := unix.Chmod(s.LayerPath(plainID)+"/plain", 0o640); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.File("/plain", meta); ok {
		t.Error("/plain offered after its ctime changed")
	}
}

// Files that layers share count once in the cache's usage, each layer
// taking its share.
func TestUsageCountsSharedFilesOnce(t *testing.T) {
	s := open(t, t.TempDir())
	data := make([]byte, 1<<20)
	var dirs []string
	for i := range 2 {
		dir, err := s.TempDir("layer-")
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := os.WriteFile(dir+"/big", data, 0o644); err != nil {
				t.Fatal(err)
			}
		} else if err := os.Link(dirs[0]+"/big", dir+"/big"); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	for i, dir := range dirs {
		if _, err := s.CommitLayer(dir, digest.FromString(fmt.Sprint("shared ", i))); err != nil {
			t.Fatal(err)
		}
	}
	u, err := s.Usage()
	if err != nil {
		t.Fatal(err)
	}
	if u.LayerBytes < 1<<20 || u.LayerBytes > 1<<20+256<<10 {
		t.Errorf("two layers sharing a 1 MiB file use %d bytes, want about 1 MiB", u.LayerBytes)
	}
}
