package fswrite

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
)

// blockSize is the unit of sparseness when extracting: a 4 KiB block of
// zeros is not written, leaving a hole.
const blockSize = 4096

// bufSize is the size of the buffers file data is copied through, a
// multiple of blockSize. Memory use does not depend on the size of a file.
const bufSize = 128 << 10

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, bufSize)
	return &b
}}

// zeros is never written to: what blocks of holes are compared with.
var zeros [blockSize]byte

// writeSparse copies size bytes from r into the new, empty file f, leaving
// holes for blocks that are all zero, and then sets the file's size. buf is
// scratch space, a multiple of blockSize.
//
// archive/tar expands the holes of GNU sparse entries into zeros and offers
// no way to skip them, so such an entry costs time in proportion to its
// apparent size (at memory speed, and ctx stops it), but its holes take no
// disk.
func writeSparse(ctx context.Context, f *rawFile, r io.Reader, size int64, buf []byte) error {
	var off, end int64 // end: where the data written ends
	for off < size {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := io.ReadFull(r, buf[:min(int64(len(buf)), size-off)])
		if err != nil {
			return fmt.Errorf("read file data: %w", err)
		}
		last, err := writeNonZero(f, buf[:n], off)
		if err != nil {
			return err
		}
		if last > 0 {
			end = last
		}
		off += int64(n)
	}
	if end == size {
		return nil
	}
	// Trailing holes were skipped: the size has to be set.
	//
	//	truncate -s size file
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("truncate: %w", err)
	}
	return nil
}

// writeNonZero writes the runs of non-zero blocks of b at off, and
// returns where the last one ends, 0 for none.
func writeNonZero(f *rawFile, b []byte, off int64) (end int64, err error) {
	for i := 0; i < len(b); {
		j := i
		for j < len(b) && !isZero(b[j:min(j+blockSize, len(b))]) {
			j = min(j+blockSize, len(b))
		}
		if j > i {
			if _, err := f.WriteAt(b[i:j], off+int64(i)); err != nil {
				return 0, err
			}
			end = off + int64(j)
			i = j
			continue
		}
		i = min(i+blockSize, len(b))
	}
	return end, nil
}

func isZero(b []byte) bool { return bytes.Equal(b, zeros[:len(b)]) }
