package layerdiff

import (
	"context"
	"fmt"
	"io"

	"github.com/mybuild/mybuild/internal/ctxio"
	"github.com/opencontainers/go-digest"
)

// ParseCompression parses a --compression value and checks level against
// it: gzip takes 1 to 9, zstd 1 to 22, none no level; 0 is always the
// default.
func ParseCompression(name string, level int) (Compression, error) {
	c := Compression(name)
	max := 0
	switch c {
	case Gzip:
		max = 9
	case Zstd:
		max = 22
	case None:
	default:
		return "", fmt.Errorf("unknown compression %q (want gzip, zstd or none)", name)
	}
	if level < 0 || level > max {
		if max == 0 {
			return "", fmt.Errorf("compression %s takes no level", c)
		}
		return "", fmt.Errorf("compression level %d is out of range for %s (1 to %d)", level, c, max)
	}
	return c, nil
}

// CompressionOf tells the compression of a layer media type, OCI or
// Docker; "" when the media type does not say.
func CompressionOf(mediaType string) Compression { return compressionOf(mediaType) }

// Recompress reads a layer blob of mediaType from r and writes it to w
// compressed as the options say. The uncompressed stream must hash to
// diffID. The result is byte for byte what WriteBlob gives for the same
// layer tar and options, so a layer reads the same whether it was written
// in one compression or converted to it. The source date epoch option
// has no effect: the tar is not rewritten.
func Recompress(ctx context.Context, w io.Writer, r io.Reader, mediaType string, diffID digest.Digest, opts ...Option) (Blob, error) {
	o := newOptions(opts)
	ur, err := newDecompressor(ctx, r, mediaType)
	if err != nil {
		return Blob{}, fmt.Errorf("recompress %s: %w", diffID, err)
	}
	defer ur.Close()
	bw, err := newBlobWriter(w, o)
	if err != nil {
		return Blob{}, fmt.Errorf("recompress: %w", err)
	}
	verifier := diffID.Algorithm().Digester()
	buf := getBuf()
	defer putBuf(buf)
	_, err = io.CopyBuffer(io.MultiWriter(bw, verifier.Hash()), ctxio.Reader(ctx, ur), *buf)
	if cerr := bw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Blob{}, fmt.Errorf("recompress %s: %w", diffID, err)
	}
	if got := verifier.Digest(); got != diffID {
		return Blob{}, fmt.Errorf("recompress: got %s, want %s: %w", got, diffID, ErrDiffIDMismatch)
	}
	return bw.blob(diffID), nil
}
