package layerdiff

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// mediaType is the OCI layer media type for a blob compressed with c.
func (c Compression) mediaType() (string, error) {
	switch c {
	case Gzip:
		return v1.MediaTypeImageLayerGzip, nil
	case Zstd:
		return v1.MediaTypeImageLayerZstd, nil
	case None:
		return v1.MediaTypeImageLayer, nil
	}
	return "", fmt.Errorf("unknown compression %q", string(c))
}

// gzipBlock is the size of the blocks gzip compresses in parallel. It is
// part of the output format: changing it changes every gzip digest.
const gzipBlock = 1 << 20

// compressor returns a writer compressing into w. Gzip is compressed on
// every CPU in independent 1 MiB blocks (each with the previous block as
// dictionary), so the output depends on the input and level only, not on
// the number of CPUs: no file name, mtime 0, one stream, the same layer
// always gives the same digest. Zstd compresses on every CPU too, in
// independent 4 MiB frames (see zstdWriter).
func compressor(w io.Writer, c Compression, level int) (io.WriteCloser, error) {
	switch c {
	case Gzip:
		if level == 0 {
			level = gzip.DefaultCompression
		}
		zw, err := pgzip.NewWriterLevel(w, level)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		if err := zw.SetConcurrency(gzipBlock, 2*runtime.GOMAXPROCS(0)); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		// Explicitly: the zero time.Time is written as a nonzero MTIME.
		zw.ModTime = time.Unix(0, 0)
		return zw, nil
	case Zstd:
		return newZstdWriter(w, level)
	case None:
		return nopCloser{w}, nil
	}
	return nil, fmt.Errorf("unknown compression %q", string(c))
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// compressionOf tells the compression from a layer media type, OCI or
// Docker; "" when the media type does not say.
func compressionOf(mediaType string) Compression {
	switch {
	case strings.HasSuffix(mediaType, "+gzip"), strings.HasSuffix(mediaType, ".gzip"):
		return Gzip
	case strings.HasSuffix(mediaType, "+zstd"), strings.HasSuffix(mediaType, ".zstd"):
		return Zstd
	case strings.HasSuffix(mediaType, ".tar"):
		return None // application/vnd.oci.image.layer.v1.tar, ...rootfs.diff.tar
	}
	return ""
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// decompressor returns the uncompressed stream of r and a function releasing
// the decoder. The compression comes from mediaType, or else from r's first
// bytes.
func decompressor(r io.Reader, mediaType string) (io.Reader, func(), error) {
	c := compressionOf(mediaType)
	if c == "" {
		br := bufio.NewReader(r)
		magic, _ := br.Peek(len(zstdMagic)) // short at EOF: then not compressed
		switch {
		case bytes.HasPrefix(magic, gzipMagic):
			c = Gzip
		case bytes.HasPrefix(magic, zstdMagic):
			c = Zstd
		default:
			c = None
		}
		r = br
	}
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case Zstd:
		zr, err := zstd.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		return zr, zr.Close, nil
	}
	return r, func() {}, nil
}
