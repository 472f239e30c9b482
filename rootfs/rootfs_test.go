package rootfs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/layerdiff"
	"github.com/mybuild/mybuild/overlay"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func openStore(t *testing.T) *cache.Store {
	t.Helper()
	s, err := cache.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// file, dir and link are tar entries of a test layer.
func file(name, body string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), Linkname: body}
}

func dir(name string, mode int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode}
}

func hardlink(name, target string) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target}
}

// putLayer stores an uncompressed layer of hdrs (a regular file's body is
// in Linkname) and returns it.
func putLayer(t *testing.T, s *cache.Store, hdrs ...*tar.Header) layer.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		h := *h
		h.Format = tar.FormatPAX
		body := ""
		if h.Typeflag == tar.TypeReg {
			body, h.Linkname = h.Linkname, ""
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	d := digest.FromBytes(buf.Bytes())
	if err := s.PutBlob(d, int64(buf.Len()), bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	return layer.Layer{MediaType: ocispec.MediaTypeImageLayer, Digest: d, Size: int64(buf.Len()), DiffID: d}
}

func read(t *testing.T, stack *overlay.Stack, p string) string {
	t.Helper()
	e, err := stack.Lstat(p)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	data, err := os.ReadFile(e.HostPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// assertNoTemp checks that no unpack or upper dir is left in the store's
// scratch space, once the unpackers us have settled: until then, the
// seal of a layer they unpacked may be being written there.
func assertNoTemp(t *testing.T, s *cache.Store, us ...*Unpacker) {
	t.Helper()
	for _, u := range us {
		if err := u.Settle(); err != nil {
			t.Errorf("settle: %v", err)
		}
	}
	left, _ := filepath.Glob(filepath.Join(s.Root(), "tmp", "*", "*"))
	if len(left) != 0 {
		t.Errorf("left in the store's scratch: %v", left)
	}
}

func TestLowerIsNewestFirst(t *testing.T) {
	s := openStore(t)
	layers := []layer.Layer{
		putLayer(t, s, dir("etc/", 0o755), file("etc/a", "1"), file("b", "b")),
		putLayer(t, s, file("etc/a", "2")),
		putLayer(t, s, file(".wh.b", "")),
	}
	u := NewUnpacker(s)
	dirs, err := u.Lower(context.Background(), layers)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != 3 {
		t.Fatalf("got %d dirs", len(dirs))
	}
	for i, l := range layers {
		if want := s.LayerPath(l.DiffID); dirs[len(dirs)-1-i] != want {
			t.Errorf("dir of layer %d = %s, want %s", i, dirs[len(dirs)-1-i], want)
		}
	}
	stack := overlay.NewStack(dirs...)
	if got := read(t, stack, "/etc/a"); got != "2" {
		t.Errorf("/etc/a = %q, want the newer layer's", got)
	}
	if _, err := stack.Lstat("/b"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("/b, deleted by the top layer: %v", err)
	}
	assertNoTemp(t, s, u)
}

// A hard link to a file of a lower layer gets the content of the newest
// layer below it that has the file.
func TestUnpackLinksIntoTheLayersBelow(t *testing.T) {
	s := openStore(t)
	layers := []layer.Layer{
		putLayer(t, s, file("f", "old")),
		putLayer(t, s, file("f", "new")),
		putLayer(t, s, hardlink("g", "f")),
	}
	u := NewUnpacker(s)
	t.Cleanup(func() { u.Settle() })
	dirs, err := u.Lower(context.Background(), layers)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dirs[0], "g")); err != nil || string(data) != "new" {
		t.Errorf("g = %q (%v), want the content of f in the layer just below", data, err)
	}
}

func TestUnpackOnce(t *testing.T) {
	s := openStore(t)
	l := putLayer(t, s, file("x", "x"))
	u := NewUnpacker(s)
	var wg sync.WaitGroup
	paths := make([]string, 8)
	errs := make([]error, 8)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = u.Unpack(context.Background(), l, nil)
		}()
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil || paths[i] != s.LayerPath(l.DiffID) {
			t.Errorf("caller %d: %s, %v", i, paths[i], errs[i])
		}
	}
	// Once unpacked, the blob is not read again.
	if err := s.DeleteBlob(l.Digest); err != nil {
		t.Fatal(err)
	}
	u2 := NewUnpacker(s)
	if p, err := u2.Unpack(context.Background(), l, nil); err != nil || p != s.LayerPath(l.DiffID) {
		t.Errorf("second unpack: %s, %v", p, err)
	}
	assertNoTemp(t, s, u, u2)
}

func TestUnpackChecksTheDiffID(t *testing.T) {
	s := openStore(t)
	l := putLayer(t, s, file("x", "x"))
	l.DiffID = digest.FromString("something else")
	_, err := NewUnpacker(s).Unpack(context.Background(), l, nil)
	if !errors.Is(err, layerdiff.ErrDiffIDMismatch) {
		t.Errorf("err = %v, want a diffID mismatch", err)
	}
	if s.HasLayer(l.DiffID) {
		t.Error("the bad layer was kept")
	}
	assertNoTemp(t, s)
}

func TestUnpackMissingBlob(t *testing.T) {
	s := openStore(t)
	l := layer.Layer{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromString("a"), DiffID: digest.FromString("b")}
	if _, err := NewUnpacker(s).Lower(context.Background(), []layer.Layer{l}); err == nil {
		t.Error("unpacked a layer whose blob is missing")
	}
}

func TestNewUpperTakesTheImageRoot(t *testing.T) {
	s := openStore(t)
	top, bottom := t.TempDir(), t.TempDir()
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chmod(top, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(top, 12, 34); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(top, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	upper, err := NewUpper(s, overlay.NewStack(top, bottom))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(upper)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o750 || st.Uid != 12 || st.Gid != 34 || !fi.ModTime().Equal(mtime) {
		t.Errorf("upper root: %v %d:%d %v, want 0750 12:34 %v", fi.Mode(), st.Uid, st.Gid, fi.ModTime(), mtime)
	}
	if entries, _ := os.ReadDir(upper); len(entries) != 0 {
		t.Errorf("upper is not empty: %v", entries)
	}
	if filepath.Dir(filepath.Dir(upper)) != filepath.Join(s.Root(), "tmp") {
		t.Errorf("upper %s is not in the store's scratch space", upper)
	}

	empty, err := NewUpper(s, overlay.NewStack())
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(empty); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("upper of an empty image: %v %v, want 0755", fi.Mode(), err)
	}
}

// A blob damaged where the extraction fails before its end (a tar header
// here, compressed bytes usually) is reported as corrupt and dropped, so
// that the next build fetches or rebuilds it.
func TestUnpackDamagedBlob(t *testing.T) {
	s := openStore(t)
	l := putLayer(t, s, file("x", "x"))
	data, err := os.ReadFile(s.BlobPath(l.Digest))
	if err != nil {
		t.Fatal(err)
	}
	data[148] ^= 0xff // the header checksum
	if err := os.WriteFile(s.BlobPath(l.Digest), data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = NewUnpacker(s).Unpack(context.Background(), l, nil)
	if !errors.Is(err, cache.ErrCorrupt) {
		t.Errorf("err = %v, want cache.ErrCorrupt", err)
	}
	if s.HasBlob(l.Digest, l.Size) {
		t.Error("the damaged blob was kept")
	}
	assertNoTemp(t, s)
}

// CheckAhead checks an unpacked layer in the background: a damaged one
// is removed by Settle's end (and unpacked again by the next Unpack), an
// intact one is not checked again by this Unpacker.
func TestCheckAhead(t *testing.T) {
	s := openStore(t)
	l := putLayer(t, s, file("x", "x"))
	u := NewUnpacker(s)
	if _, err := u.Unpack(context.Background(), l, nil); err != nil {
		t.Fatal(err)
	}
	assertNoTemp(t, s, u)
	x := filepath.Join(s.LayerPath(l.DiffID), "x")

	intact := NewUnpacker(s)
	intact.CheckAhead(context.Background(), l.DiffID)
	if err := intact.Settle(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(x, []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := intact.Unpack(context.Background(), l, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(x); string(got) != "damaged" {
		t.Errorf("x = %q: the layer checked ahead was checked again", got)
	}

	var warned []string
	damaged := NewUnpacker(s)
	damaged.warn = func(msg string) { warned = append(warned, msg) }
	damaged.CheckAhead(context.Background(), l.DiffID)
	if err := damaged.Settle(); err != nil {
		t.Fatal(err)
	}
	if s.HasLayer(l.DiffID) || len(warned) != 1 {
		t.Errorf("after a check ahead of the damaged layer: still there %v, warnings %q", s.HasLayer(l.DiffID), warned)
	}
	if _, err := damaged.Unpack(context.Background(), l, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(x); string(got) != "x" {
		t.Errorf("x = %q after the layer was unpacked again", got)
	}
	assertNoTemp(t, s, damaged)
}
