package layerdiff

import (
	"bytes"
	stdgzip "compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	digest "github.com/opencontainers/go-digest"

	"github.com/mybuild/mybuild/internal/fstest"
	"github.com/mybuild/mybuild/layer"
)

// benchTree is 64 MiB in 256 files of text-like data, which compresses
// about as well as binaries and libraries do.
func benchTree(b *testing.B) (dir string, size int64) {
	b.Helper()
	words := []string{"layer", "overlay", "tar", "digest", "build", "image", "\n", "0x7f", "ELF", "\x00\x00"}
	rng := rand.New(rand.NewPCG(1, 2))
	var appliers []fstest.Applier
	for i := range 256 {
		var buf bytes.Buffer
		for buf.Len() < 256<<10 {
			buf.WriteString(words[rng.IntN(len(words))])
			buf.WriteByte(byte(rng.IntN(256)))
		}
		content := buf.Bytes()[:256<<10]
		size += int64(len(content))
		name := fmt.Sprintf("d%02d/f%03d", i%16, i)
		appliers = append(appliers, fstest.CreateDir(filepath.Dir(name), 0o755), fstest.CreateFile(name, content, 0o644))
	}
	return tree(b, appliers...), size
}

func BenchmarkWriteBlob(b *testing.B) {
	upper, size := benchTree(b)
	for _, c := range []layer.Algorithm{layer.Gzip, layer.Zstd, layer.Uncompressed} {
		b.Run(string(c), func(b *testing.B) {
			b.SetBytes(size)
			var blob layer.Layer
			for b.Loop() {
				var err error
				if blob, err = WriteBlob(b.Context(), io.Discard, upper, nil, withCompression(c, 0)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(blob.Size)/float64(size), "ratio")
		})
	}
}

// BenchmarkWriteBlobTree exports real files: Go's own source tree (about
// 11,000 files of text and test data, what the monorepo workload copies),
// or the tree $BENCH_TREE names. MB/s are of the uncompressed layer tar,
// the bytes the diffID covers (a hard-linked file counts once).
func BenchmarkWriteBlobTree(b *testing.B) {
	upper := filepath.Join(runtime.GOROOT(), "src")
	if d := os.Getenv("BENCH_TREE"); d != "" {
		upper = d
	}
	var size counter
	if err := Write(b.Context(), &size, upper, nil); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		c     layer.Algorithm
		level int
	}{{"gzip", layer.Gzip, 0}, {"zstd", layer.Zstd, 0}, {"zstd-level1", layer.Zstd, 1}, {"none", layer.Uncompressed, 0}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(size))
			var blob layer.Layer
			for b.Loop() {
				var err error
				if blob, err = WriteBlob(b.Context(), io.Discard, upper, nil, withCompression(c.c, c.level)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(blob.Size)/float64(size), "ratio")
		})
	}
	b.Run("stdlib-gzip", func(b *testing.B) {
		b.SetBytes(int64(size))
		for b.Loop() {
			zw := stdgzip.NewWriter(io.MultiWriter(io.Discard, sha256.New()))
			if err := Write(b.Context(), zw, upper, nil); err != nil {
				b.Fatal(err)
			}
			if err := zw.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWriteStdlibGzip is the baseline the gzip export is measured
// against: the same tar, hashed and compressed with the standard library's
// single-threaded compress/gzip at its default level.
func BenchmarkWriteStdlibGzip(b *testing.B) {
	upper, size := benchTree(b)
	b.SetBytes(size)
	for b.Loop() {
		h := sha256.New()
		zw := stdgzip.NewWriter(io.MultiWriter(io.Discard, h))
		if err := Write(b.Context(), zw, upper, nil); err != nil {
			b.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExtract(b *testing.B) {
	upper, size := benchTree(b)
	layerBytes := layerTar(b, upper, nil)
	b.SetBytes(size)
	extractLoop(b, func(dir string) error { return Extract(b.Context(), bytes.NewReader(layerBytes), dir) })
}

// extractLoop runs extract into a new dir each time. The trees made stay
// until the end: deleting thousands of files just before creating as
// many again costs more than the creating on some filesystems (ext4
// without a journal scans the inodes freed in the last 30 s for each new
// one).
func extractLoop(b *testing.B, extract func(dir string) error) {
	out := b.TempDir()
	for b.Loop() {
		dir, err := os.MkdirTemp(out, "x")
		if err != nil {
			b.Fatal(err)
		}
		if err := extract(dir); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExtractBlob unpacks a compressed layer blob, as a cold build
// unpacks its base: the blob named by $BENCH_BLOB (a base image's layer,
// for example), or else the gzip of benchTree. MB/s are of the
// uncompressed tar.
func BenchmarkExtractBlob(b *testing.B) {
	blob := benchBlob(b)
	ur, err := layer.Decompress(b.Context(), bytes.NewReader(blob), "")
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.New()
	size, err := io.Copy(h, ur)
	if err != nil {
		b.Fatal(err)
	}
	diffID := digest.NewDigest(digest.SHA256, h)
	b.SetBytes(size)
	extractLoop(b, func(dir string) error {
		return ExtractBlob(b.Context(), bytes.NewReader(blob), "", diffID, dir)
	})
}

// benchBlob is the blob $BENCH_BLOB names, or the gzip of benchTree.
func benchBlob(b *testing.B) []byte {
	if p := os.Getenv("BENCH_BLOB"); p != "" {
		blob, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		return blob
	}
	upper, _ := benchTree(b)
	var buf bytes.Buffer
	zw := stdgzip.NewWriter(&buf)
	if err := Write(b.Context(), zw, upper, nil); err != nil {
		b.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkWriteSmallBlob writes the layer of one small file, as a RUN
// step such as `echo 1 > /step-1` makes: the cost of a layer that is not
// in its bytes.
func BenchmarkWriteSmallBlob(b *testing.B) {
	upper := b.TempDir()
	if err := os.WriteFile(filepath.Join(upper, "step-1"), []byte("1\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := WriteBlob(b.Context(), io.Discard, upper, nil, withCompression(layer.Gzip, 0)); err != nil {
			b.Fatal(err)
		}
	}
}
