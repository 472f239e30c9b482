package writeback

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// What goes through a Writer is the file's content, from where the file
// stood, across the points where writeback starts.
func TestWriterWritesTheFile(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("head"); err != nil {
		t.Fatal(err)
	}
	w := New(f)
	data := bytes.Repeat([]byte("0123456789abcdef"), (3*every+12345)/16)
	// In the 1 MiB pieces of a bufio.Writer.
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1<<20)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if w.off != int64(4+len(data)) || w.start != 4+3*every {
		t.Errorf("offset %d, last writeback from %d", w.off, w.start)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, append([]byte("head"), data...)) {
		t.Error("the file does not hold what was written")
	}
}
