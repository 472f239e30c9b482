package image

import (
	"context"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Load reads the image ref names, for platform, and copies the layer blobs
// the store lacks into it. Blobs are checked against their digests on the
// way in. The returned image's layers are all in the store.
func Load(ctx context.Context, ref Ref, platform ocispec.Platform, store Store) (*Image, error) {
	img, err := load(ctx, ref, platform, store)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", ref, err)
	}
	return img, nil
}

func load(ctx context.Context, ref Ref, platform ocispec.Platform, store Store) (*Image, error) {
	src, err := resolve(ctx, ref, platform)
	if err != nil {
		return nil, err
	}
	if err := src.importLayers(ctx, store); err != nil {
		return nil, err
	}
	return src.img, nil
}
