package image

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// importBlobs stores the files of blobs, keyed by clean name (links
// resolved), whose blob the store lacks, in one pass over the archive; it
// makes none when the store lacks nothing. The store checks each blob
// against its digest.
func (t *tarFile) importBlobs(ctx context.Context, blobs map[string]ocispec.Descriptor, store Store) error {
	want := map[string]ocispec.Descriptor{}
	for name, d := range blobs {
		if !store.HasBlob(d.Digest, d.Size) {
			want[name] = d
		}
	}
	if len(want) == 0 {
		return nil
	}
	err := t.scan(ctx, func(name string, hdr *tar.Header, r io.Reader) error {
		d, ok := want[name]
		if !ok {
			return nil
		}
		delete(want, name)
		if err := store.PutBlob(d.Digest, d.Size, r); err != nil {
			return fmt.Errorf("%s: layer %s: %w", t.path, name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(want) > 0 {
		return fmt.Errorf("%s: layer %s is missing", t.path, slices.Min(slices.Collect(maps.Keys(want))))
	}
	return nil
}
