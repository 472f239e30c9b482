package layerdiff

import (
	"context"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// copySparse writes the first size bytes of the file open as fd to w. The
// holes of a sparse file are found with SEEK_DATA/SEEK_HOLE and written
// from a buffer of zeros instead of being read, so a 1 GiB file with a few
// bytes of data costs neither reads nor memory. A file whose blocks cover
// its size has no hole: sparse false skips the seeks. buf is scratch space.
func copySparse(ctx context.Context, w io.Writer, fd int, size int64, sparse bool, buf []byte) error {
	seek := sparse
	var off int64
	for off < size {
		// Find where the next data is: before it is a hole.
		data := off
		if seek {
			d, err := unix.Seek(fd, off, unix.SEEK_DATA)
			switch {
			case errors.Is(err, unix.ENXIO):
				d = size // only a hole up to the end
			case err != nil:
				seek, d = false, off // no hole support: read everything
			}
			data = min(d, size)
		}
		if data > off {
			if err := writeZeros(ctx, w, data-off); err != nil {
				return err
			}
			off = data
			continue
		}
		end := size
		if seek {
			if h, err := unix.Seek(fd, off, unix.SEEK_HOLE); err == nil {
				end = min(h, size)
			}
		}
		if err := copyRange(ctx, w, fd, off, end, buf); err != nil {
			return err
		}
		off = end
	}
	return nil
}

// copyRange writes the bytes [off, end) of the file open as fd to w.
func copyRange(ctx context.Context, w io.Writer, fd int, off, end int64, buf []byte) error {
	for off < end {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := pread(fd, buf[:min(int64(len(buf)), end-off)], off)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			off += int64(n)
		}
		if errors.Is(err, io.EOF) && off < end {
			return fmt.Errorf("file shrank while being read: %w", io.ErrUnexpectedEOF)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	return nil
}

// pread reads like io.ReaderAt: a short read only at the end of the file
// (io.EOF), and never an EINTR.
func pread(fd int, p []byte, off int64) (int, error) {
	total := 0
	for total < len(p) {
		n, err := unix.Pread(fd, p[total:], off+int64(total))
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return total, err
		case n == 0:
			return total, io.EOF
		}
		total += n
	}
	return total, nil
}

func writeZeros(ctx context.Context, w io.Writer, n int64) error {
	for n > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		m := min(n, int64(len(zeros)))
		if _, err := w.Write(zeros[:m]); err != nil {
			return err
		}
		n -= m
	}
	return nil
}
