package transport

import (
	"context"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/image"
)

// ociArchive is oci-archive:PATH[:REF], an OCI layout in a tar, read
// without unpacking it; REF is an image's ref name.
type ociArchive struct{}

var _ files = ociArchive{}

func (ociArchive) open(ctx context.Context, ref Ref, platform ocispec.Platform) (*image.Source, error) {
	return image.OpenOCIArchive(ctx, ref.Path, ref.Name, platform)
}

func (ociArchive) write(ctx context.Context, ref Ref, img *image.Image, store image.Store) (*image.Manifest, error) {
	return image.WriteOCIArchive(ctx, ref.Path, ref.Name, img, store)
}

func (ociArchive) writeIndex(ctx context.Context, ref Ref, imgs []*image.Image, a image.IndexAnnotations, store image.Store) (*image.Index, error) {
	return image.WriteOCIArchiveIndex(ctx, ref.Path, ref.Name, imgs, a, store)
}

func (ociArchive) checkName(string) error { return nil }
