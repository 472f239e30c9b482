package buildcontext

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchTree makes n files of size bytes in a few directories.
func benchTree(b *testing.B, n, size int) string {
	b.Helper()
	root := b.TempDir()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i)
	}
	for i := 0; i < n; i++ {
		p := filepath.Join(root, fmt.Sprintf("d%02d/f%05d", i%50, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return root
}

func hashTree(b *testing.B, c *Context) {
	files, err := c.Walk(".")
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Hash(context.Background(), files); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkHashCold reads and hashes every file of a 2,000-file context.
func BenchmarkHashCold(b *testing.B) {
	root := benchTree(b, 2000, 16<<10)
	b.SetBytes(2000 * 16 << 10)
	for b.Loop() {
		c, err := Open(root, "")
		if err != nil {
			b.Fatal(err)
		}
		hashTree(b, c)
	}
}

// BenchmarkHashWarm is the same context when the stat cache vouches for
// every file: only a walk and a stat per file.
func BenchmarkHashWarm(b *testing.B) {
	root := benchTree(b, 2000, 16<<10)
	// The stat cache only trusts files last changed (ctime) more than
	// racyWindow ago.
	time.Sleep(racyWindow + 100*time.Millisecond)
	sc := NewStatCache(nil)
	c, _ := Open(root, "", WithStatCache(sc))
	hashTree(b, c)
	data, _ := sc.Marshal()
	b.ResetTimer()
	for b.Loop() {
		c, err := Open(root, "", WithStatCache(NewStatCache(data)))
		if err != nil {
			b.Fatal(err)
		}
		hashTree(b, c)
	}
}

// BenchmarkWalk lists a context: an lstat of every entry. BENCH_CONTEXT
// names a real tree to walk (say, Go's src); else 2,000 generated files.
func BenchmarkWalk(b *testing.B) {
	root := os.Getenv("BENCH_CONTEXT")
	if root == "" {
		root = benchTree(b, 2000, 0)
	}
	c, err := Open(root, "")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.Walk("."); err != nil {
			b.Fatal(err)
		}
	}
}
