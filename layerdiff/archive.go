package layerdiff

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"io"
	"os"

	"github.com/mybuild/mybuild/layer"
	"github.com/ulikunitz/xz"
)

// OpenArchive opens path as a tar archive, plain or compressed with gzip,
// bzip2, xz or zstd, as BuildKit's ADD recognises them: the stream must
// decompress and hold a tar header. ok is false for any other file. closer
// releases the decompressor and closes the file.
func OpenArchive(ctx context.Context, path string) (tr *tar.Reader, closer io.Closer, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, false, err
	}
	r, err := decompressArchive(ctx, bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		f.Close()
		return nil, nil, false, nil
	}
	c := archiveCloser{r, f}
	// Peek at the first header through a second reader over the same
	// bytes: the real one must start from the beginning.
	br := bufio.NewReaderSize(r, 8<<10)
	head, _ := br.Peek(1024)
	if _, err := tar.NewReader(bytes.NewReader(head)).Next(); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		c.Close()
		return nil, nil, false, nil
	}
	if len(head) < 512 {
		c.Close()
		return nil, nil, false, nil
	}
	return tar.NewReader(br), c, true, nil
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
