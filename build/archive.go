package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// openArchive opens path as a tar archive, plain or compressed with gzip,
// bzip2, xz or zstd, as BuildKit's ADD recognises them: the stream must
// decompress and hold a tar header. ok is false for any other file.
func openArchive(path string) (tr *tar.Reader, closer io.Closer, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, false, err
	}
	r, err := decompress(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		f.Close()
		return nil, nil, false, nil
	}
	// Peek at the first header through a second reader over the same
	// bytes: the real one must start from the beginning.
	br := bufio.NewReaderSize(r, 8<<10)
	head, _ := br.Peek(1024)
	if _, err := tar.NewReader(bytes.NewReader(head)).Next(); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		f.Close()
		return nil, nil, false, nil
	}
	if len(head) < 512 {
		f.Close()
		return nil, nil, false, nil
	}
	return tar.NewReader(br), f, true, nil
}

var (
	magicGzip  = []byte{0x1f, 0x8b}
	magicBzip2 = []byte("BZh")
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// decompress picks a decompressor by the stream's magic bytes.
func decompress(r *bufio.Reader) (io.Reader, error) {
	head, _ := r.Peek(6)
	switch {
	case bytes.HasPrefix(head, magicGzip):
		return gzip.NewReader(r)
	case bytes.HasPrefix(head, magicBzip2):
		return bzip2.NewReader(r), nil
	case bytes.HasPrefix(head, magicXz):
		return xz.NewReader(r)
	case bytes.HasPrefix(head, magicZstd):
		d, err := zstd.NewReader(r)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	if len(head) == 0 {
		return nil, fmt.Errorf("empty file")
	}
	return r, nil
}
