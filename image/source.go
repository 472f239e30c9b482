package image

import (
	"context"

	digest "github.com/opencontainers/go-digest"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Source is an image found in an archive or a layout, with nothing copied
// yet: its manifest and config as stored, the image they make, and a way
// to copy its layer blobs. OpenOCIArchive, OpenOCILayout and
// OpenDockerArchive find one; Load imports its layers, Inspect only
// describes them.
type Source struct {
	// manifest and config describe the stored manifest and config. A
	// docker-archive stores no manifest: for one, both are those of img's
	// Manifest, what WriteOCIArchive would write.
	manifest ocispec.Descriptor
	config   ocispec.Descriptor
	img      *Image
	// layers are the layer descriptors as stored, media types unchanged.
	layers []ocispec.Descriptor
	// index is the index the image was picked from, if any.
	index *IndexInfo
	// importLayers copies the layer blobs the store lacks into it,
	// checking each against its digest.
	importLayers func(ctx context.Context, store Store) error
}

// Load copies the layer blobs the store lacks into it, each checked
// against its digest on the way in, and returns the image, whose layers
// are then all in the store.
func (s *Source) Load(ctx context.Context, store Store) (*Image, error) {
	if err := s.importLayers(ctx, store); err != nil {
		return nil, err
	}
	return s.img, nil
}

// Digest is the digest of the manifest the image was read from.
func (s *Source) Digest() digest.Digest { return s.manifest.Digest }

// Inspect describes the image where it is: no layer blob is copied.
// reference names it for people.
func (s *Source) Inspect(reference string) *Inspection {
	i := newInspection(reference, s.manifest, s.config, s.img, s.layers)
	i.Index = s.index
	return i
}
