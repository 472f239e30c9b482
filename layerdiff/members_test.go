package layerdiff

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/mybuild/mybuild/layer"
	digest "github.com/opencontainers/go-digest"
)

// sourceTree writes n files of a few KiB, and one of 10 MiB, under a
// fresh dir: a COPY of a source tree with one big asset.
func sourceTree(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("pkg%02d", i%20), fmt.Sprintf("file%04d.go", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := make([]byte, 1024+rng.IntN(8192))
		for j := range data {
			data[j] = "abcdefgh \n"[rng.IntN(10)]
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	big := make([]byte, 10<<20)
	for j := range big {
		big[j] = byte(rng.IntN(4))
	}
	if err := os.WriteFile(filepath.Join(dir, "asset.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// gzipBlob writes upper as a gzip blob, with its member table.
func gzipBlob(t *testing.T, upper string, opts ...Option) ([]byte, []Member) {
	t.Helper()
	var buf bytes.Buffer
	var ms []Member
	if _, err := WriteBlob(t.Context(), &buf, upper, nil, append(opts, WithMembers(func(m []Member) { ms = m }))...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), ms
}

// A gzip blob is gzip members, each a piece of the tar that starts at an
// entry (or where the member before it grew to maxMember), which any
// gzip reader reads back to back; the member table says what each holds.
func TestGzipMembers(t *testing.T) {
	upper := sourceTree(t, 600)
	blob, ms := gzipBlob(t, upper)
	want := layerTar(t, upper, nil)
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the members do not read back as the layer's tar (%v)", err)
	}
	if len(ms) < 10 {
		t.Fatalf("%d members for 600 files and 10 MiB", len(ms))
	}
	var off, coff int64
	for i, m := range ms {
		if m.Size > maxMember {
			t.Errorf("member %d holds %d bytes, more than %d", i, m.Size, maxMember)
		}
		piece := want[off : off+m.Size]
		if sha256.Sum256(piece) != m.Digest {
			t.Errorf("member %d: digest of its piece of tar differs", i)
		}
		if cz := blob[coff : coff+m.CompressedSize]; sha256.Sum256(cz) != m.CompressedDigest {
			t.Errorf("member %d: digest of its compressed bytes differs", i)
		}
		if i > 0 && ms[i-1].Size != maxMember && !entryCut(want[off:]) {
			t.Errorf("member %d starts at %d, not at an entry whose name cuts, after a member of %d bytes", i, off, ms[i-1].Size)
		}
		off += m.Size
		coff += m.CompressedSize
	}
	if off != int64(len(want)) || coff != int64(len(blob)) {
		t.Errorf("the members hold %d of %d tar bytes, %d of %d blob bytes", off, len(want), coff, len(blob))
	}
	gz := layer.Compression{Algorithm: layer.Gzip}
	text, err := MarshalMembers(gz, ms)
	if err != nil {
		t.Fatal(err)
	}
	table, err := UnmarshalMembers(gz, text)
	if err != nil || fmt.Sprint(table) != fmt.Sprint(ms) {
		t.Errorf("member table does not read back: %v", err)
	}
	// A table of another encoder, or with a size no member has, is refused.
	other := bytes.Replace(text, []byte(encoder(gzipLevel(gz))), []byte(encoder(1)), 1)
	if _, err := UnmarshalMembers(gz, other); err == nil {
		t.Error("a table of another encoder (another level) was taken")
	}
	head, body, _ := bytes.Cut(text, []byte("\n"))
	line := fmt.Sprintf("%d %x %d %x\n", 10, ms[0].Digest, 1<<40, ms[0].CompressedDigest)
	if _, err := UnmarshalMembers(gz, append(append(head, '\n'), append([]byte(line), body...)...)); err == nil {
		t.Error("a member of 1 TiB compressed from 10 bytes was taken")
	}
}

// entryCut tells whether data starts with a tar entry whose name cuts a
// member before it.
func entryCut(data []byte) bool {
	if _, err := tar.NewReader(bytes.NewReader(data)).Next(); err != nil {
		return false
	}
	return cutBefore(headerName(data[:blockSize]))
}

// An edited tree's blob, made with the earlier blob as Previous, is the
// blob made without it, byte for byte; and all its members but those
// around the edit are copied, not compressed.
func TestGzipMembersFromPrevious(t *testing.T) {
	upper := sourceTree(t, 600)
	old, oldMembers := gzipBlob(t, upper)
	edited := filepath.Join(upper, "pkg07", "file0307.go")
	if err := os.WriteFile(edited, []byte("package edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fresh, freshMembers := gzipBlob(t, upper)
	prev := &countingReaderAt{r: bytes.NewReader(old)}
	reused, reusedMembers := gzipBlob(t, upper, WithPrevious(&Previous{Members: oldMembers, Blob: prev}))
	if !bytes.Equal(reused, fresh) {
		t.Fatal("the blob made from the earlier one differs from the one made afresh")
	}
	if fmt.Sprint(reusedMembers) != fmt.Sprint(freshMembers) {
		t.Error("the member tables differ")
	}
	if n := int(prev.reads.Load()); len(freshMembers) < 10 || n < len(freshMembers)-3 {
		t.Errorf("%d of %d members were copied from the earlier blob", n, len(freshMembers))
	}
	// A damaged earlier blob gives the same blob too: the damaged member
	// is compressed again.
	damaged := bytes.Clone(old)
	damaged[len(damaged)/2] ^= 0xff
	again, _ := gzipBlob(t, upper, WithPrevious(&Previous{Members: oldMembers, Blob: bytes.NewReader(damaged)}))
	if !bytes.Equal(again, fresh) {
		t.Error("a damaged earlier blob changed the new one")
	}
}

// countingReaderAt counts its reads, which come from the members'
// goroutines.
type countingReaderAt struct {
	r     io.ReaderAt
	reads atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.reads.Add(1)
	return c.r.ReadAt(p, off)
}

// The bytes of a gzip layer are pinned: the same tar gives this digest.
// A change of the cut rule or of klauspost/compress's deflate changes it;
// then every cached record's blob differs from what a cold build makes,
// and cache.keyVersion must change with this digest.
func TestGzipBytesArePinned(t *testing.T) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 300 {
		data := make([]byte, 2000+rng.IntN(30000))
		for j := range data {
			data[j] = "abcdefghij \n"[rng.IntN(12)]
		}
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("d%d/f%03d", i%7, i), Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg, Format: tar.FormatPAX})
		tw.Write(data)
	}
	tw.Close()
	var blob bytes.Buffer
	l, err := Recompress(t.Context(), &blob, bytes.NewReader(raw.Bytes()), "application/vnd.oci.image.layer.v1.tar", digest.FromBytes(raw.Bytes()), WithCompression(layer.Compression{Algorithm: layer.Gzip}))
	if err != nil {
		t.Fatal(err)
	}
	if want := "sha256:0f6a9f7374ea06c8e9b45007423322104851e666a8a998ed331c96ea8d7cb96d"; l.Digest.String() != want {
		t.Errorf("gzip layer %s, want %s", l.Digest, want)
	}
}
