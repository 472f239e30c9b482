package atomicfile

import (
	"io"
	"path/filepath"
	"testing"
)

// BenchmarkWriteSmall writes a file of a few hundred bytes, unsynced, as
// a step's seals are written.
func BenchmarkWriteSmall(b *testing.B) {
	path := filepath.Join(b.TempDir(), "seal")
	data := make([]byte, 300)
	b.ReportAllocs()
	for b.Loop() {
		err := Write(path, func(w io.Writer) error {
			_, err := w.Write(data)
			return err
		}, WithoutSync())
		if err != nil {
			b.Fatal(err)
		}
	}
}
