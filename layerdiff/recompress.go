package layerdiff

import (
	"context"
	"fmt"
	"io"

	"github.com/mybuild/mybuild/internal/ctxio"
	"github.com/mybuild/mybuild/layer"
	"github.com/opencontainers/go-digest"
)

// Recompress reads a layer blob of mediaType from r and writes it to w
// compressed as the options say. The uncompressed stream must hash to
// diffID. The result is byte for byte what WriteBlob gives for the same
// layer tar and options, so a layer reads the same whether it was written
// in one compression or converted to it. The source date epoch option
// has no effect: the tar is not rewritten.
func Recompress(ctx context.Context, w io.Writer, r io.Reader, mediaType string, diffID digest.Digest, opts ...Option) (layer.Layer, error) {
	o := newOptions(opts)
	ur, err := layer.Decompress(ctx, r, mediaType)
	if err != nil {
		return layer.Layer{}, fmt.Errorf("recompress %s: %w", diffID, err)
	}
	defer ur.Close()
	bw, err := newBlobWriter(w, o)
	if err != nil {
		return layer.Layer{}, fmt.Errorf("recompress: %w", err)
	}
	verifier := diffID.Algorithm().Digester()
	buf := getBuf()
	defer putBuf(buf)
	_, err = io.CopyBuffer(io.MultiWriter(bw, verifier.Hash()), ctxio.Reader(ctx, ur), *buf)
	if cerr := bw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return layer.Layer{}, fmt.Errorf("recompress %s: %w", diffID, err)
	}
	if got := verifier.Digest(); got != diffID {
		return layer.Layer{}, fmt.Errorf("recompress: got %s, want %s: %w", got, diffID, ErrDiffIDMismatch)
	}
	return bw.layer(diffID), nil
}
