package mountsync

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/registry/registrytest"
)

// machine is one cache dir and its copy of a cache mount.
type machine struct {
	sharer *Sharer
	dir    string
}

func newMachine(t *testing.T, repo string, readOnly bool) machine {
	t.Helper()
	store, err := cache.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r, err := registry.NewCacheRepo(repo, 0, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	return machine{sharer: New(r, store), dir: t.TempDir()}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

const id = "/root/go/pkg/mod"

func TestNewestCopyWinsAndOnlyChangedChunksMove(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.Start(t)
	a, b := newMachine(t, reg.Ref("cache"), false), newMachine(t, reg.Ref("cache"), false)
	writeFiles(t, a.dir, map[string]string{"big/x": "x1", "big/sub/z": "z", "small/y": "y1", "top": "t"})
	os.Symlink("big/x", filepath.Join(a.dir, "link"))
	if ok, err := a.sharer.Export(ctx, id, a.dir); !ok || err != nil {
		t.Fatalf("first export: %v %v", ok, err)
	}
	gen1, err := a.sharer.repo.Mount(ctx, id)
	if err != nil || gen1.Generation != 1 || len(gen1.Chunks) != 4 {
		t.Fatalf("after the first export: %+v, %v", gen1, err)
	}
	if ok, err := a.sharer.Export(ctx, id, a.dir); ok || err != nil {
		t.Errorf("export of an unchanged copy: %v %v, want nothing done", ok, err)
	}

	// b has no copy: it takes a's.
	if ok, err := b.sharer.Import(ctx, id, b.dir); !ok || err != nil {
		t.Fatalf("import: %v %v", ok, err)
	}
	if got := readFile(t, filepath.Join(b.dir, "big/sub/z")); got != "z" {
		t.Errorf("imported big/sub/z = %q", got)
	}
	if l, err := os.Readlink(filepath.Join(b.dir, "link")); err != nil || l != "big/x" {
		t.Errorf("imported link: %q %v", l, err)
	}
	// b changes one entry: the new copy has its chunk only anew.
	writeFiles(t, b.dir, map[string]string{"small/y": "y2"})
	if ok, err := b.sharer.Export(ctx, id, b.dir); !ok || err != nil {
		t.Fatalf("export of b: %v %v", ok, err)
	}
	gen2, _ := b.sharer.repo.Mount(ctx, id)
	if gen2.Generation != 2 {
		t.Fatalf("generation %d, want 2", gen2.Generation)
	}
	for i, ch := range gen2.Chunks {
		if same := ch.Digest == gen1.Chunks[i].Digest; same != (ch.Name != "small") {
			t.Errorf("chunk %s: same digest %v after small/ changed", ch.Name, same)
		}
	}

	// a, still at generation 1, changed its copy too: it may not
	// overwrite b's newer one, and takes it at its next import.
	writeFiles(t, a.dir, map[string]string{"big/x": "x-of-a"})
	if ok, err := a.sharer.Export(ctx, id, a.dir); ok || err != nil {
		t.Errorf("export over a newer copy: %v %v, want nothing done", ok, err)
	}
	if now, _ := a.sharer.repo.Mount(ctx, id); now.Generation != 2 || now.Chunks[0].Digest != gen2.Chunks[0].Digest {
		t.Errorf("the shared copy changed: %+v", now)
	}
	if ok, err := a.sharer.Import(ctx, id, a.dir); !ok || err != nil {
		t.Fatalf("import of the newer copy: %v %v", ok, err)
	}
	if got := readFile(t, filepath.Join(a.dir, "small/y")) + readFile(t, filepath.Join(a.dir, "big/x")); got != "y2x1" {
		t.Errorf("a after the import: %q, want b's copy", got)
	}
	if ok, err := a.sharer.Import(ctx, id, a.dir); ok || err != nil {
		t.Errorf("second import: %v %v, want nothing done", ok, err)
	}
}

func TestReadOnlyExportsNothing(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.Start(t)
	m := newMachine(t, reg.Ref("cache"), true)
	writeFiles(t, m.dir, map[string]string{"a": "a"})
	if ok, err := m.sharer.Export(ctx, id, m.dir); ok || err != nil {
		t.Errorf("read-only export: %v %v", ok, err)
	}
	w := newMachine(t, reg.Ref("cache"), false)
	if _, err := w.sharer.repo.Mount(ctx, id); err != cache.ErrNotFound {
		t.Errorf("the registry has a copy: %v", err)
	}
}

// chunkBytes makes the chunks of dir/name, and returns them concatenated
// and their digests.
func chunkBytes(t *testing.T, store *cache.Store, dir, name string, pc pieces) ([]byte, []string) {
	t.Helper()
	chunks, err := makeChunks(store, dir, name, pc)
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	var digests []string
	for _, ch := range chunks {
		data, err := os.ReadFile(store.BlobPath(ch.Digest))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, data...)
		digests = append(digests, ch.Digest.Encoded()[:12])
	}
	return all, digests
}

func openStore(t *testing.T) *cache.Store {
	t.Helper()
	store, err := cache.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

func TestChunksAreTheSameBytesForTheSameFiles(t *testing.T) {
	store := openStore(t)
	dir := t.TempDir()
	// A whiteout's name is a plain file's in a cache mount.
	writeFiles(t, dir, map[string]string{"d/a": "a", "d/b/c": "c", "d/.wh.gone": "w"})
	old := time.Unix(1700000000, 0)
	os.Chtimes(filepath.Join(dir, "d/a"), old, old)
	// A symlink keeps its mtime too.
	os.Symlink("a", filepath.Join(dir, "d/l"))
	ts := []unix.Timespec{unix.NsecToTimespec(old.UnixNano()), unix.NsecToTimespec(old.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(dir, "d/l"), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatal(err)
	}
	one, _ := chunkBytes(t, store, dir, "d", defaultPieces)
	// A copy elsewhere, made at another time, with the same mtimes.
	other := t.TempDir()
	if err := extractChunk(t.Context(), bytes.NewReader(one), other, "d"); err != nil {
		t.Fatal(err)
	}
	if two, _ := chunkBytes(t, store, other, "d", defaultPieces); !bytes.Equal(one, two) {
		t.Error("the chunk of an extracted copy differs")
	}
	if fi, err := os.Stat(filepath.Join(other, "d/a")); err != nil || !fi.ModTime().Equal(old) {
		t.Errorf("d/a: %v %v, want mtime %v", fi.ModTime(), err, old)
	}
	if got := readFile(t, filepath.Join(other, "d/.wh.gone")); got != "w" {
		t.Errorf("d/.wh.gone holds %q, want the file", got)
	}
}

// A big entry is cut into chunks where its files say: a file changed or
// added changes one chunk or two, not the ones after it.
func TestBigEntriesAreCutWhereTheirFilesSay(t *testing.T) {
	store := openStore(t)
	dir := t.TempDir()
	files := map[string]string{}
	for i := range 400 {
		files[fmt.Sprintf("mod/m%03d/f", i)] = strings.Repeat(fmt.Sprint(i), 1000)
	}
	writeFiles(t, dir, files)
	pc := pieces{min: 32 << 10, max: 1 << 20, every: 8}
	data, before := chunkBytes(t, store, dir, "mod", pc)
	if len(before) < 5 {
		t.Fatalf("%d chunks, want several", len(before))
	}
	other := t.TempDir()
	if err := extractChunk(t.Context(), bytes.NewReader(data), other, "mod"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(other, "mod/m123/f")); got != files["mod/m123/f"] {
		t.Errorf("mod/m123/f from the chunks: %q", got)
	}
	writeFiles(t, dir, map[string]string{"mod/m200/f": "changed", "mod/m300/new": "new"})
	_, after := chunkBytes(t, store, dir, "mod", pc)
	kept := 0
	for _, d := range after {
		if slices.Contains(before, d) {
			kept++
		}
	}
	t.Logf("%d of %d chunks kept", kept, len(after))
	if kept < len(after)-4 {
		t.Errorf("%d of %d chunks kept after two files changed (before %v, after %v)", kept, len(after), before, after)
	}
}

func TestExtractRefusesEntriesOutOfPlace(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"d/a": "a"})
	os.Symlink("/etc", filepath.Join(dir, "d/esc"))
	chunk, _ := chunkBytes(t, openStore(t), dir, "d", defaultPieces)
	// Named as another entry, the chunk is refused.
	if err := extractChunk(t.Context(), bytes.NewReader(chunk), t.TempDir(), "e"); err == nil {
		t.Error("a chunk with entries of another name was extracted")
	}
	// An entry through a symlink of the chunk is refused, and nothing is
	// written where the link points.
	outside := t.TempDir()
	var crafted bytes.Buffer
	zw := gzip.NewWriter(&crafted)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "d/esc", Typeflag: tar.TypeSymlink, Linkname: outside})
	tw.WriteHeader(&tar.Header{Name: "d/esc/evil", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4})
	tw.Write([]byte("evil"))
	tw.Close()
	zw.Close()
	if err := extractChunk(t.Context(), bytes.NewReader(crafted.Bytes()), t.TempDir(), "d"); err == nil {
		t.Error("an entry below a symlink was extracted")
	}
	if _, err := os.Stat(filepath.Join(outside, "evil")); err == nil {
		t.Error("the chunk wrote through its symlink")
	}
}

// A chunk whose entry carries xattrs (a file capability, from whoever
// pushed it) is refused: chunks carry none, and a capability must not
// land on the host's cache dir.
func TestExtractRefusesXattrs(t *testing.T) {
	var crafted bytes.Buffer
	zw := gzip.NewWriter(&crafted)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "d/tool", Typeflag: tar.TypeReg, Mode: 0o755, Size: 2,
		PAXRecords: map[string]string{"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"}})
	tw.Write([]byte("#!"))
	tw.Close()
	zw.Close()
	dest := t.TempDir()
	if err := extractChunk(t.Context(), bytes.NewReader(crafted.Bytes()), dest, "d"); err == nil {
		t.Error("a chunk with an xattr was extracted")
	}
}
