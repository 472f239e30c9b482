package layerdiff

import (
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/internal/fstest"
	"github.com/mybuild/mybuild/layer"
)

// decompress undoes a compression with other code than the package's.
func decompress(t *testing.T, c layer.Algorithm, b []byte) []byte {
	t.Helper()
	var r io.Reader = bytes.NewReader(b)
	switch c {
	case layer.Gzip:
		zr, err := stdgzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case layer.Zstd:
		zr, err := zstd.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWriteBlob(t *testing.T) {
	upper := tree(t, append(writeCases[0].upper, writeCases[1].upper...)...)
	wantTar := layerTar(t, upper, nil, WithSourceDateEpoch(epoch))
	for _, tc := range []struct {
		c         layer.Algorithm
		mediaType string
	}{
		{layer.Gzip, v1.MediaTypeImageLayerGzip},
		{layer.Zstd, v1.MediaTypeImageLayerZstd},
		{layer.Uncompressed, v1.MediaTypeImageLayer},
	} {
		t.Run(string(tc.c), func(t *testing.T) {
			var first, second bytes.Buffer
			blob, err := WriteBlob(t.Context(), &first, upper, nil, withCompression(tc.c, 0), WithSourceDateEpoch(epoch))
			if err != nil {
				t.Fatal(err)
			}
			if blob.Digest != digest.FromBytes(first.Bytes()) || blob.Size != int64(first.Len()) {
				t.Errorf("digest %s size %d, the bytes are %s size %d",
					blob.Digest, blob.Size, digest.FromBytes(first.Bytes()), first.Len())
			}
			if blob.MediaType != tc.mediaType {
				t.Errorf("media type %q", blob.MediaType)
			}
			tarball := decompress(t, tc.c, first.Bytes())
			if !bytes.Equal(tarball, wantTar) {
				t.Error("the blob does not decompress to the layer tar")
			}
			if blob.DiffID != digest.FromBytes(tarball) {
				t.Errorf("diffID %s, the tar is %s", blob.DiffID, digest.FromBytes(tarball))
			}

			again, err := WriteBlob(t.Context(), &second, upper, nil, withCompression(tc.c, 0), WithSourceDateEpoch(epoch))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first.Bytes(), second.Bytes()) || again != blob {
				t.Error("two runs give different bytes")
			}

			for _, mt := range []string{tc.mediaType, ""} { // "": told by the magic bytes
				out := t.TempDir()
				if err := ExtractBlob(t.Context(), bytes.NewReader(first.Bytes()), mt, blob.DiffID, out); err != nil {
					t.Fatalf("media type %q: %v", mt, err)
				}
				if !bytes.Equal(layerTar(t, out, nil, WithSourceDateEpoch(epoch)), wantTar) {
					t.Errorf("media type %q: extracted tree differs", mt)
				}
			}
		})
	}
}

func TestWriteBlobGzipHeader(t *testing.T) {
	var buf bytes.Buffer
	blob, err := WriteBlob(t.Context(), &buf, tree(t, fstest.CreateFile("f", []byte("x"), 0o644)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if blob.MediaType != v1.MediaTypeImageLayerGzip {
		t.Errorf("default media type %q", blob.MediaType)
	}
	h := buf.Bytes()[:10]
	if h[3] != 0 || !bytes.Equal(h[4:8], []byte{0, 0, 0, 0}) {
		t.Errorf("gzip header has flags %#x (name, comment...) or an mtime %x", h[3], h[4:8])
	}
}

func TestWriteBlobLevels(t *testing.T) {
	upper := tree(t, fstest.CreateFile("f", bytes.Repeat([]byte("compressible text "), 1<<14), 0o644))
	sizes := map[int]int64{}
	for _, level := range []int{1, 9} {
		blob, err := WriteBlob(t.Context(), io.Discard, upper, nil, withCompression(layer.Gzip, level))
		if err != nil {
			t.Fatal(err)
		}
		sizes[level] = blob.Size
	}
	if sizes[1] == sizes[9] {
		t.Errorf("gzip levels 1 and 9 give the same size %d", sizes[1])
	}
	if _, err := WriteBlob(t.Context(), io.Discard, upper, nil, withCompression(layer.Zstd, 19)); err != nil {
		t.Error(err)
	}
	if _, err := WriteBlob(t.Context(), io.Discard, upper, nil, withCompression("lz4", 0)); err == nil {
		t.Error("unknown compression accepted")
	}
}

func TestWriteBlobEmpty(t *testing.T) {
	var buf bytes.Buffer
	blob, err := WriteBlob(t.Context(), &buf, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if blob.Digest != digest.FromBytes(buf.Bytes()) {
		t.Errorf("empty layer: %+v", blob)
	}
	if got, err := dumpTar(bytes.NewReader(decompress(t, layer.Gzip, buf.Bytes()))); err != nil || got != "" {
		t.Errorf("empty layer: %q, %v; want an empty tar", got, err)
	}
}

func TestExtractBlobDiffID(t *testing.T) {
	upper := tree(t, fstest.CreateFile("f", []byte("content"), 0o644))
	var buf bytes.Buffer
	blob, err := WriteBlob(t.Context(), &buf, upper, nil)
	if err != nil {
		t.Fatal(err)
	}

	wrong := digest.FromString("something else")
	err = ExtractBlob(t.Context(), bytes.NewReader(buf.Bytes()), blob.MediaType, wrong, t.TempDir())
	if !errors.Is(err, ErrDiffIDMismatch) {
		t.Errorf("wrong diffID: %v", err)
	}
	// The compressed digest is not the diffID either.
	err = ExtractBlob(t.Context(), bytes.NewReader(buf.Bytes()), blob.MediaType, blob.Digest, t.TempDir())
	if !errors.Is(err, ErrDiffIDMismatch) {
		t.Errorf("digest as diffID: %v", err)
	}
	if err := ExtractBlob(t.Context(), bytes.NewReader(buf.Bytes()), blob.MediaType, "sha256:nothex", t.TempDir()); err == nil {
		t.Error("malformed diffID accepted")
	}

	// Docker's media type names gzip too.
	const docker = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	if err := ExtractBlob(t.Context(), bytes.NewReader(buf.Bytes()), docker, blob.DiffID, t.TempDir()); err != nil {
		t.Errorf("docker media type: %v", err)
	}

	// A damaged gzip trailer (the CRC) is caught, though the tar ends before it.
	bad := bytes.Clone(buf.Bytes())
	bad[len(bad)-6] ^= 0xff
	if err := ExtractBlob(t.Context(), bytes.NewReader(bad), blob.MediaType, blob.DiffID, t.TempDir()); err == nil {
		t.Error("corrupt gzip trailer accepted")
	}
}

// The blob's bytes must not depend on how many CPUs compressed it: the
// same layer built on a 2-core CI runner and a 64-core workstation has one
// digest.
func TestWriteBlobDigestIndependentOfCPUs(t *testing.T) {
	big := make([]byte, 5<<20) // several gzip blocks
	for i := range big {
		big[i] = byte(i * 7 % 251)
	}
	upper := tree(t, fstest.CreateFile("big", big, 0o644), fstest.CreateFile("small", []byte("x"), 0o644))
	for _, c := range []layer.Algorithm{layer.Gzip, layer.Zstd} {
		var digests []digest.Digest
		for _, procs := range []int{1, 2, 8} {
			old := runtime.GOMAXPROCS(procs)
			var buf bytes.Buffer
			b, err := WriteBlob(context.Background(), &buf, upper, nil, withCompression(c, 0), WithSourceDateEpoch(epoch))
			runtime.GOMAXPROCS(old)
			if err != nil {
				t.Fatal(err)
			}
			digests = append(digests, b.Digest)
		}
		if digests[0] != digests[1] || digests[0] != digests[2] {
			t.Errorf("%s: digests vary with GOMAXPROCS: %v", c, digests)
		}
	}
}
