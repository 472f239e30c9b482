package layerdiff

import (
	"bufio"
	"fmt"
	"io"

	"github.com/mybuild/mybuild/layer"
	"github.com/opencontainers/go-digest"
)

// compressor returns a writer compressing into w. Gzip is compressed on
// every CPU, in gzip members the tar's entries cut (see memberWriter):
// no file name, mtime 0, and the output depends on the input, the level
// and the deflate code only (TestGzipBytesArePinned), not on the number
// of CPUs. prev, when not nil, is an earlier blob whose members are
// copied where they come again; table asks for the member table (the
// digests of every member, which are taken only then). Zstd compresses
// on every CPU too, in independent 4 MiB frames (see zstdWriter).
func compressor(w io.Writer, c layer.Compression, prev *Previous, table bool) (io.WriteCloser, error) {
	level := c.Level
	switch c.Algorithm {
	case layer.Gzip:
		level = gzipLevel(c)
		if err := checkGzipLevel(level); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return newMemberWriter(w, level, prev, table), nil
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
	members   func([]Member)
}

func newBlobWriter(w io.Writer, o *options) (*blobWriter, error) {
	c := o.compression.OrDefault()
	mediaType, err := c.MediaType()
	if err != nil {
		return nil, err
	}
	b := &blobWriter{digester: digest.Canonical.Digester(), c: c, mediaType: mediaType, members: o.members}
	b.out = bufio.NewWriterSize(io.MultiWriter(w, b.digester.Hash(), &b.size), 64<<10)
	if b.zw, err = compressor(b.out, c, o.previous, o.members != nil); err != nil {
		return nil, err
	}
	return b, nil
}

// Write compresses p.
func (b *blobWriter) Write(p []byte) (int, error) { return b.zw.Write(p) }

// Close ends the compressed stream and writes out what is buffered, and
// hands the member table of a gzip blob to the WithMembers function.
func (b *blobWriter) Close() error {
	if err := b.zw.Close(); err != nil {
		return fmt.Errorf("close %s: %w", b.c, err)
	}
	if err := b.out.Flush(); err != nil {
		return err
	}
	if mw, ok := b.zw.(*memberWriter); ok && b.members != nil {
		b.members(mw.Members())
	}
	return nil
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
