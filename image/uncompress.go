package image

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/mybuild/mybuild/internal/ctxio"
	"github.com/mybuild/mybuild/layer"
	digest "github.com/opencontainers/go-digest"
)

// layerReader streams the uncompressed tar of a layer from the store,
// counting and hashing it, so that the caller can check it against the
// layer's diffID once it has read it all.
type layerReader struct {
	blob io.ReadCloser // the stored blob
	tar  io.ReadCloser // blob, uncompressed
	hash hash.Hash
	n    int64
}

// openLayer opens l's blob in store and decompresses it as its media
// type says. Reading the rest of a damaged blob, to tell it is damaged
// (see layer.Decompress), stops once ctx is done.
func openLayer(ctx context.Context, store Store, l layer.Layer) (*layerReader, error) {
	mt, err := OCILayerMediaType(l.MediaType)
	if err != nil {
		return nil, err
	}
	if err := l.DiffID.Validate(); err != nil {
		return nil, fmt.Errorf("layer %s diffID: %w", l.Digest, err)
	}
	blob, size, err := store.OpenBlob(l.Digest)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	if size != l.Size {
		blob.Close()
		return nil, fmt.Errorf("layer %s: stored size %d, want %d", l.Digest, size, l.Size)
	}
	tar, err := layer.Decompress(ctx, blob, mt)
	if err != nil {
		blob.Close()
		return nil, fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	return &layerReader{blob: blob, tar: tar, hash: l.DiffID.Algorithm().Hash()}, nil
}

func (lt *layerReader) Read(p []byte) (int, error) {
	n, err := lt.tar.Read(p)
	lt.hash.Write(p[:n])
	lt.n += int64(n)
	return n, err
}

// finish checks the uncompressed stream, which the caller has read to its
// end (and with it the blob, which the store then checked against its
// digest), against diffID.
func (lt *layerReader) finish(diffID digest.Digest) error {
	if got := digest.NewDigest(diffID.Algorithm(), lt.hash); got != diffID {
		return fmt.Errorf("layer uncompresses to %s, want diffID %s", got, diffID)
	}
	return nil
}

func (lt *layerReader) Close() error {
	return errors.Join(lt.tar.Close(), lt.blob.Close())
}

// uncompressedSize reads l's blob through, checks it against its digest
// and diffID, and returns the size of the tar it holds. A tar header needs
// the size first, and reading twice keeps memory and disk use constant.
func uncompressedSize(ctx context.Context, store Store, l layer.Layer) (n int64, err error) {
	lt, err := openLayer(ctx, store, l)
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, lt.Close()) }()
	if _, err := io.Copy(io.Discard, ctxio.Reader(ctx, lt)); err != nil {
		return 0, fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	if err := lt.finish(l.DiffID); err != nil {
		return 0, err
	}
	return lt.n, nil
}
