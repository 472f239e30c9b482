package layerdiff

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/mybuild/mybuild/internal/fstest"
	digest "github.com/opencontainers/go-digest"
)

// WithContentDigests reports each regular file written, once per inode,
// with the digest of its content (a sparse file's holes as zeros) and its
// stat; empty files and other entries are not read, and not reported.
func TestWithContentDigests(t *testing.T) {
	upper := tree(t,
		fstest.CreateFile("a", []byte("alpha"), 0o644),
		fstest.CreateDir("d", 0o755),
		fstest.CreateFile("d/b", []byte("beta"), 0o600),
		fstest.Link("d/b", "d/b2"),
		fstest.CreateFile("empty", nil, 0o644),
		fstest.Symlink("a", "link"),
		fstest.CreateSparseFile("sparse", 1<<20, 4096),
	)
	got := map[uint64]ContentDigest{}
	err := Write(t.Context(), io.Discard, upper, nil, WithContentDigests(func(d ContentDigest) {
		if _, dup := got[d.Ino]; dup {
			t.Errorf("inode %d reported twice", d.Ino)
		}
		got[d.Ino] = d
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "d/b", "sparse"} {
		data, err := os.ReadFile(filepath.Join(upper, name))
		if err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(upper, name), &st); err != nil {
			t.Fatal(err)
		}
		want := ContentDigest{Ino: st.Ino, Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(), Digest: digest.FromBytes(data)}
		if got[st.Ino] != want {
			t.Errorf("%s: got %+v, want %+v", name, got[st.Ino], want)
		}
	}
	if len(got) != 3 {
		t.Errorf("%d files reported, want 3: %+v", len(got), got)
	}
}

// ExtractingDigests reports each regular file Extract writes, with the
// digest of its content and its stat once its metadata is set.
func TestExtractingDigests(t *testing.T) {
	upper := tree(t,
		fstest.CreateFile("a", []byte("alpha"), 0o4755),
		fstest.Chown("a", 12, 34),
		fstest.CreateDir("d", 0o755),
		fstest.CreateFile("d/b", []byte("beta"), 0o600),
		fstest.Link("d/b", "d/b2"),
		fstest.CreateSparseFile("sparse", 1<<20, 8192),
	)
	data := layerTar(t, upper, nil)
	dir := t.TempDir()
	got := map[uint64]ContentDigest{}
	err := Extract(t.Context(), bytes.NewReader(data), dir, ExtractingDigests(func(d ContentDigest) { got[d.Ino] = d }))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "d/b", "sparse"} {
		content, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(dir, name), &st); err != nil {
			t.Fatal(err)
		}
		want := ContentDigest{Ino: st.Ino, Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(), Digest: digest.FromBytes(content)}
		d := got[st.Ino]
		// The hard link to d/b, made after it was written, moved its ctime.
		if name == "d/b" {
			d.Ctime = want.Ctime
		}
		if d != want {
			t.Errorf("%s: got %+v, want %+v", name, got[st.Ino], want)
		}
	}
	if len(got) != 3 {
		t.Errorf("%d files reported, want 3", len(got))
	}
}
