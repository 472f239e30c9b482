package cache

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
)

// debianSized commits a layer shaped like a Debian 12 minbase root
// (about 6,800 entries in 800 directories; the files here are smaller:
// 6,000 of 16 KiB, 94 MiB), and returns its diffID and size.
func debianSized(b *testing.B, s *Store) (digest.Digest, int64) {
	b.Helper()
	dir, err := s.TempDir("layer-")
	if err != nil {
		b.Fatal(err)
	}
	content := make([]byte, 16<<10)
	for i := range content {
		content[i] = byte(i * 7)
	}
	var size int64
	for d := range 800 {
		sub := filepath.Join(dir, fmt.Sprintf("usr/share/d%03d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 7 + d%2 {
			if d*8+f >= 6000 {
				break
			}
			content[0] = byte(f)
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%d", f)), content, 0o644); err != nil {
				b.Fatal(err)
			}
			size += int64(len(content))
		}
	}
	diffID := digest.FromString("debian-sized")
	if _, err := s.CommitLayer(dir, diffID); err != nil {
		b.Fatal(err)
	}
	return diffID, size
}

// BenchmarkCheckSealedLayer is the check a build makes of a Debian-sized
// layer before it first uses it, nothing changed: the seal read, a stat
// walk, no file read.
func BenchmarkCheckSealedLayer(b *testing.B) {
	s, err := Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	diffID, _ := debianSized(b, s)
	// Past the racy window of the seal.
	if err := s.CheckLayer(context.Background(), diffID); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := s.CheckLayer(context.Background(), diffID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealLayer seals a Debian-sized layer, as CommitLayer does: a
// walk that hashes every file (from the page cache here).
func BenchmarkSealLayer(b *testing.B) {
	s, err := Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	diffID, size := debianSized(b, s)
	b.SetBytes(size)
	for b.Loop() {
		if err := s.sealLayer(diffID, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealTree seals the tree BENCH_TREE names (a layer dir of a
// cache, say), or the Debian-sized one without it: the walk and the
// hashing, the seal not written.
func BenchmarkSealTree(b *testing.B) {
	tree := os.Getenv("BENCH_TREE")
	if tree == "" {
		s, err := Open(context.Background(), b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		diffID, _ := debianSized(b, s)
		tree = s.LayerPath(diffID)
	}
	for b.Loop() {
		if _, err := makeSeal(tree, 0, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckSmallLayer is the check of a layer of one file, as a RUN
// step makes: what a build that reruns its last step pays for each of the
// cached layers below it.
func BenchmarkCheckSmallLayer(b *testing.B) {
	s, err := Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	dir, err := s.TempDir("layer-")
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "step-1"), []byte("1\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	diffID := digest.FromString("small")
	if _, err := s.CommitLayer(dir, diffID); err != nil {
		b.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // past the racy window of the seal
	for b.Loop() {
		if err := s.CheckLayer(context.Background(), diffID); err != nil {
			b.Fatal(err)
		}
	}
}
