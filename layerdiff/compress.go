package layerdiff

import (
	"bufio"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/pgzip"
	"github.com/mybuild/mybuild/layer"
	"github.com/opencontainers/go-digest"
)

// gzipBlock is the size of the blocks gzip compresses in parallel. It is
// part of the output format: changing it changes every gzip digest.
const gzipBlock = 1 << 20

// compressor returns a writer compressing into w. Gzip is compressed on
// every CPU in independent 1 MiB blocks (each with the previous block as
// dictionary), so the output depends on the input and level only, not on
// the number of CPUs: no file name, mtime 0, one stream, the same layer
// always gives the same digest. Zstd compresses on every CPU too, in
// independent 4 MiB frames (see zstdWriter).
func compressor(w io.Writer, c layer.Compression) (io.WriteCloser, error) {
	level := c.Level
	switch c.Algorithm {
	case layer.Gzip:
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
	case layer.Zstd:
		return newZstdWriter(w, level)
	case layer.Uncompressed:
		return nopCloser{w}, nil
	}
	return nil, fmt.Errorf("unknown compression %q", string(c.Algorithm))
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// blobWriter compresses into w as the options say, counting and hashing
// the compressed bytes: what WriteBlob and Recompress write through.
type blobWriter struct {
	zw        io.WriteCloser
	out       *bufio.Writer
	digester  digest.Digester
	size      counter
	c         layer.Compression
	mediaType string
}

func newBlobWriter(w io.Writer, o *options) (*blobWriter, error) {
	c := o.compression.OrDefault()
	mediaType, err := c.MediaType()
	if err != nil {
		return nil, err
	}
	b := &blobWriter{digester: digest.Canonical.Digester(), c: c, mediaType: mediaType}
	b.out = bufio.NewWriterSize(io.MultiWriter(w, b.digester.Hash(), &b.size), 64<<10)
	if b.zw, err = compressor(b.out, c); err != nil {
		return nil, err
	}
	return b, nil
}

// Write compresses p.
func (b *blobWriter) Write(p []byte) (int, error) { return b.zw.Write(p) }

// Close ends the compressed stream and writes out what is buffered.
func (b *blobWriter) Close() error {
	if err := b.zw.Close(); err != nil {
		return fmt.Errorf("close %s: %w", b.c, err)
	}
	return b.out.Flush()
}

// layer describes what was written, once Close succeeded.
func (b *blobWriter) layer(diffID digest.Digest) layer.Layer {
	return layer.Layer{MediaType: b.mediaType, Digest: b.digester.Digest(), DiffID: diffID, Size: int64(b.size), Level: b.c.Level}
}

type counter int64

func (c *counter) Write(p []byte) (int, error) {
	*c += counter(len(p))
	return len(p), nil
}
