package image

import (
	"context"
	"fmt"
	"io"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Blob is a blob to put in an OCI layout: its digest and size, and how to
// read it.
type Blob struct {
	Digest digest.Digest
	Size   int64
	Open   func() (io.ReadCloser, error)
}

// AddToOCILayout puts blobs in the OCI layout in dir, creating it if need
// be, then names top (a manifest or an index among them) name (default
// DefaultName) in its index.json, replacing any entry of that name, with
// WriteOCILayout's guarantees: each blob checked against its digest and
// written whole, synced before index.json, which is replaced atomically,
// by one writer at a time.
func AddToOCILayout(ctx context.Context, dir, name string, top ocispec.Descriptor, blobs []Blob) error {
	l := dirLayout{dir: dir}
	if err := l.create(); err != nil {
		return err
	}
	dirs := map[string]bool{}
	seen := map[digest.Digest]bool{}
	for _, b := range blobs {
		if seen[b.Digest] {
			continue
		}
		seen[b.Digest] = true
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := l.putBlob(b.Digest, b.Size, dirs, b.Open); err != nil {
			return fmt.Errorf("blob %s: %w", b.Digest, err)
		}
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return l.addToIndex(ctx, namedDescriptor(top, orDefaultName(name)))
}
