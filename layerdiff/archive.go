package layerdiff

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/mybuild/mybuild/layer"
	"github.com/ulikunitz/xz"
)

// OpenArchive opens path as a tar archive, plain or compressed with gzip,
// bzip2, xz or zstd, as BuildKit's ADD recognises them: the stream must
// decompress, and archive/tar must read a first header from it, whatever
// comes before that header (PAX records for long names, xattrs or big
// ids; a global header). ok is false for any other file. closer releases
// the decompressor and closes the file.
func OpenArchive(ctx context.Context, path string) (tr *tar.Reader, closer io.Closer, ok bool, err error) {
	if ok, err := IsArchive(ctx, path); err != nil || !ok {
		return nil, nil, false, err
	}
	r, c, err := openDecompressed(ctx, path)
	if err != nil {
		return nil, nil, false, err
	}
	return tar.NewReader(r), c, true, nil
}

// IsArchive reports whether OpenArchive takes path: it reads the first
// header of path, decompressed, as BuildKit's isArchivePath does. The
// header may be far from the start: the PAX records before it can be
// long.
func IsArchive(ctx context.Context, path string) (bool, error) {
	r, c, err := openDecompressed(ctx, path)
	if errors.Is(err, errNotCompressed) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer c.Close()
	_, err = tar.NewReader(r).Next()
	return err == nil, nil
}

// errNotCompressed is a stream that no decompressor takes.
var errNotCompressed = errors.New("not a compressed stream")

// openDecompressed opens path and the decompressor its first bytes call
// for.
func openDecompressed(ctx context.Context, path string) (io.Reader, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	r, err := decompressArchive(ctx, bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%w: %w", errNotCompressed, err)
	}
	return r, archiveCloser{r, f}, nil
}

// archiveCloser closes an archive's decompressor, then its file.
type archiveCloser struct {
	r io.Closer
	f *os.File
}

func (c archiveCloser) Close() error { return errors.Join(c.r.Close(), c.f.Close()) }

var (
	magicBzip2 = []byte("BZh")
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
)

// decompressArchive picks a decompressor by the stream's magic bytes: bzip2 and
// xz here, which no layer uses; gzip and zstd as for layers.
func decompressArchive(ctx context.Context, r *bufio.Reader) (io.ReadCloser, error) {
	head, _ := r.Peek(len(magicXz))
	switch {
	case len(head) == 0:
		return nil, errors.New("empty file")
	case bytes.HasPrefix(head, magicBzip2):
		return io.NopCloser(bzip2.NewReader(r)), nil
	case bytes.HasPrefix(head, magicXz):
		xr, err := xz.NewReader(r)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(xr), nil
	}
	return layer.Decompress(ctx, r, "")
}
