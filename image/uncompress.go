package image

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/mybuild/mybuild/internal/ctxio"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// layerReader streams the uncompressed tar of a layer from the store,
// counting and hashing it, so that the caller can check it against the
// layer's diffID once it has read it all.
type layerReader struct {
	blob   io.ReadCloser // the stored blob
	tar    io.Reader     // blob, uncompressed
	closeZ func()
	hash   hash.Hash
	n      int64
}

// openLayer opens l's blob in store and decompresses it as its media
// type says.
func openLayer(store Store, l Layer) (*layerReader, error) {
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
	lt := &layerReader{blob: blob, tar: blob, closeZ: func() {}, hash: l.DiffID.Algorithm().Hash()}
	switch mt {
	case ocispec.MediaTypeImageLayerGzip:
		zr, err := gzip.NewReader(blob)
		if err != nil {
			blob.Close()
			return nil, fmt.Errorf("layer %s: gzip: %w", l.Digest, err)
		}
		lt.tar, lt.closeZ = zr, func() { zr.Close() }
	case ocispec.MediaTypeImageLayerZstd:
		zr, err := zstd.NewReader(blob, zstd.WithDecoderConcurrency(1))
		if err != nil {
			blob.Close()
			return nil, fmt.Errorf("layer %s: zstd: %w", l.Digest, err)
		}
		lt.tar, lt.closeZ = zr, zr.Close
	}
	return lt, nil
}

func (lt *layerReader) Read(p []byte) (int, error) {
	n, err := lt.tar.Read(p)
	lt.hash.Write(p[:n])
	lt.n += int64(n)
	return n, err
}

// finish reads what is left of the blob, so that the store checks its
// digest, and checks the uncompressed stream, which the caller has read
// to its end, against diffID.
func (lt *layerReader) finish(diffID digest.Digest) error {
	if _, err := io.Copy(io.Discard, lt.blob); err != nil {
		return fmt.Errorf("layer %s: %w", diffID, err)
	}
	if got := digest.NewDigest(diffID.Algorithm(), lt.hash); got != diffID {
		return fmt.Errorf("layer uncompresses to %s, want diffID %s", got, diffID)
	}
	return nil
}

func (lt *layerReader) Close() error {
	lt.closeZ()
	return lt.blob.Close()
}

// uncompressedSize reads l's blob through, checks it against its digest
// and diffID, and returns the size of the tar it holds. A tar header needs
// the size first, and reading twice keeps memory and disk use constant.
func uncompressedSize(ctx context.Context, store Store, l Layer) (n int64, err error) {
	lt, err := openLayer(store, l)
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, lt.Close()) }()
	if _, err := io.Copy(io.Discard, ctxio.Reader(ctx, lt)); err != nil {
		// A decompressor fails on damaged bytes before the end of the
		// blob, where the store checks its digest: read on, so that a
		// damaged blob says so (and the store drops it).
		if _, derr := io.Copy(io.Discard, lt.blob); derr != nil && ctx.Err() == nil {
			err = derr
		}
		return 0, fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	if err := lt.finish(l.DiffID); err != nil {
		return 0, err
	}
	return lt.n, nil
}
