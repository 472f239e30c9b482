package buildcontext

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Hashing a file copies through the pooled buffer: no buffer of its own
// per file.
func TestHashContentUsesThePool(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, bytes.Repeat([]byte("x"), 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	hashContent(p, &st) // fills the pool
	const n = 50
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		if _, _, err := hashContent(p, &st); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if perFile := (after.TotalAlloc - before.TotalAlloc) / n; perFile > 16<<10 {
		t.Errorf("%d bytes allocated per file hashed", perFile)
	}
}

// A file that two COPYs, or two platforms' COPY, name is read once in
// the Context's life, even when both hash it at the same moment; after
// it changes, it is read again.
func TestHashReadsEachFileOnce(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("x"), 8<<20)
	if err := os.WriteFile(filepath.Join(dir, "f"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // a file just written is hashed each time (memoMargin)
	c, err := Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	hashTwice := func() [2]File {
		var files [2][]File
		for i := range files {
			if files[i], err = c.Walk("f"); err != nil {
				t.Fatal(err)
			}
		}
		errs := make(chan error, 2)
		for i := range files {
			go func() { errs <- c.Hash(context.Background(), files[i]) }()
		}
		for range files {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		return [2]File{files[0][0], files[1][0]}
	}
	read := readBytes(t)
	got := hashTwice()
	if n := readBytes(t) - read; n >= 2*int64(len(big)) {
		t.Errorf("two hashes of an 8 MiB file read %d bytes", n)
	}
	if got[0].Digest == "" || got[0].Digest != got[1].Digest {
		t.Errorf("digests %q and %q", got[0].Digest, got[1].Digest)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if again := hashTwice(); again[0].Digest == got[0].Digest || again[1].Digest != again[0].Digest {
		t.Errorf("after a change: digests %q and %q, before %q", again[0].Digest, again[1].Digest, got[0].Digest)
	}
}

// readBytes is how many bytes the process has read (rchar).
func readBytes(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no rchar in /proc/self/io")
	return 0
}
