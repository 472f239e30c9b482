package layerdiff

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/mybuild/mybuild/internal/readahead"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/overlay"
)

// WriteBlob writes the compressed layer for upper to w in one streaming pass:
// upper -> tar -> compressor -> w, hashing the tar (the diffID) and the
// compressed bytes (the digest) on the way. Memory use does not depend on the
// size of the layer. An upper dir without changes gives the blob of an
// empty tar. On error w may hold part of a blob: write to a temp file and
// rename it into place only on success.
func WriteBlob(ctx context.Context, w io.Writer, upper string, lower *overlay.Stack, opts ...Option) (layer.Layer, error) {
	return WriteChangesBlob(ctx, w, func(fn func(Change) error) error {
		return Changes(ctx, upper, lower, fn)
	}, opts...)
}

// WriteChangesBlob is WriteBlob for changes found some other way than in
// an overlay upper dir: changes calls fn for each, in the order Changes
// reports them (depth first, names sorted, a directory before what it
// holds), and HostPath is where each added or modified file is read.
func WriteChangesBlob(ctx context.Context, w io.Writer, changes func(fn func(Change) error) error, opts ...Option) (layer.Layer, error) {
	o := newOptions(opts)
	bw, err := newBlobWriter(w, o)
	if err != nil {
		return layer.Layer{}, fmt.Errorf("write blob: %w", err)
	}
	diffID := digest.Canonical.Digester()
	err = writeChanges(ctx, io.MultiWriter(bw, diffID.Hash()), changes, o)
	if cerr := bw.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write blob: %w", cerr)
	}
	if err != nil {
		return layer.Layer{}, err
	}
	return bw.layer(diffID.Digest()), nil
}

// aheadChunk and aheadChunks bound how far decompressing runs ahead of
// extracting: 4 MiB.
const (
	aheadChunk  = 256 << 10
	aheadChunks = 16
)

// ErrDiffIDMismatch is returned when an extracted layer's uncompressed bytes
// do not hash to the diffID the image config gives.
var ErrDiffIDMismatch = errors.New("layer diffID mismatch")

// ExtractBlob extracts a possibly compressed layer blob into dir. The
// compression comes from mediaType (OCI or Docker), or from the first bytes
// when the media type does not say. The uncompressed stream is hashed while
// it is extracted and read to its end; unless it hashes to diffID the result
// is ErrDiffIDMismatch. dir then holds untrusted content: extract into a
// fresh directory and only keep it on success.
func ExtractBlob(ctx context.Context, r io.Reader, mediaType string, diffID digest.Digest, dir string, opts ...ExtractOption) error {
	if err := diffID.Validate(); err != nil {
		return fmt.Errorf("extract blob: diffID %q: %w", diffID, err)
	}
	ur, err := layer.Decompress(ctx, r, mediaType)
	if err != nil {
		return fmt.Errorf("extract blob %s: %w", diffID, err)
	}
	defer ur.Close()
	verifier := diffID.Algorithm().Digester()
	// Decompressing and hashing take a core of their own, ahead of the
	// writing of files.
	ahead := readahead.New(io.TeeReader(ur, verifier.Hash()), aheadChunk, aheadChunks)
	defer ahead.Close()
	if err := Extract(ctx, ahead, dir, opts...); err != nil {
		// Bytes the tar reader fails on may come from a damaged r; ur
		// may be read again once nothing reads it ahead.
		ahead.Close()
		return fmt.Errorf("extract blob %s: %w", diffID, ur.Blame(err))
	}
	// The tar ends before the stream does (padding, and the gzip trailer
	// that holds the checksum): read it all.
	if _, err := io.Copy(io.Discard, ahead); err != nil {
		return fmt.Errorf("extract blob %s: %w", diffID, err)
	}
	if got := verifier.Digest(); got != diffID {
		return fmt.Errorf("extract blob: got %s, want %s: %w", got, diffID, ErrDiffIDMismatch)
	}
	return nil
}
