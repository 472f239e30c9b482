// Package writeback starts the disk writes of a file while it is being written, so that the fsync that ends it waits less.
package writeback

import (
	"io"
	"os"
)

// every is how many bytes are written between two starts of writeback.
const every = 8 << 20

// Writer writes to a file that is synced once whole, and has the kernel
// start writing each 8 MiB of it to disk as soon as it is written
// (sync_file_range with SYNC_FILE_RANGE_WRITE, which does not wait), so
// the disk works while the rest is produced. Where the kernel cannot, it
// writes as the file alone does.
type Writer struct {
	f          *os.File
	off, start int64
}

// New returns a Writer to f, from f's current offset.
func New(f *os.File) *Writer {
	off, err := f.Seek(0, 1)
	if err != nil {
		off = 0
	}
	return &Writer{f: f, off: off, start: off}
}

func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.wrote(int64(n))
	return n, err
}

// ReadFrom is the file's ReadFrom (copy_file_range from another file,
// where the kernel has it: the bytes never pass through the process).
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	n, err := w.f.ReadFrom(r)
	w.wrote(n)
	return n, err
}

// Start has the kernel start writing to disk all of the file written
// through w and not started yet, whatever its size: a writer that wrote
// most of a file early, and waits for the rest, leaves less to its sync.
func (w *Writer) Start() {
	if w.off > w.start {
		startWriteback(w.f, w.start, w.off-w.start)
		w.start = w.off
	}
}

func (w *Writer) wrote(n int64) {
	w.off += n
	if w.off-w.start >= every {
		w.Start()
	}
}
