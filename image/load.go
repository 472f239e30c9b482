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
	var (
		img *Image
		err error
	)
	switch ref.Transport {
	case OCILayout:
		img, err = loadLayout(ctx, dirLayout{dir: ref.Path}, ref.Name, platform, store)
	case OCIArchive:
		var t *tarFile
		if t, err = openTar(ctx, ref.Path); err == nil {
			img, err = loadLayout(ctx, archiveLayout{t: t}, ref.Name, platform, store)
		}
	case DockerArchive:
		img, err = loadDockerArchive(ctx, ref, store)
	default:
		err = fmt.Errorf("unsupported transport %q", ref.Transport)
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", ref, err)
	}
	return img, nil
}
