package transport

import (
	"context"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/image"
)

// ociLayout is oci:DIR[:REF], an OCI layout in a directory, which may
// hold several images; REF is an image's ref name.
type ociLayout struct{}

var _ files = ociLayout{}

func (ociLayout) open(_ context.Context, ref Ref, platform ocispec.Platform) (*image.Source, error) {
	return image.OpenOCILayout(ref.Path, ref.Name, platform)
}

func (ociLayout) write(ctx context.Context, ref Ref, img *image.Image, store image.Store) (*image.Manifest, error) {
	return image.WriteOCILayout(ctx, ref.Path, ref.Name, img, store)
}

func (ociLayout) writeIndex(ctx context.Context, ref Ref, imgs []*image.Image, a image.IndexAnnotations, store image.Store) (*image.Index, error) {
	return image.WriteOCILayoutIndex(ctx, ref.Path, ref.Name, imgs, a, store)
}

func (ociLayout) checkName(string) error { return nil }
