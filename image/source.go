package image

import (
	"context"
	"errors"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrUnsupportedTransport is returned for a Ref whose transport package
// image cannot read or write; registry references (docker://) are among
// them.
var ErrUnsupportedTransport = errors.New("unsupported transport")

// source is an image found in a local transport, with nothing copied yet:
// its manifest and config as stored, the image they make, and a way to
// copy its layer blobs. Load imports the layers; Inspect only describes
// them.
type source struct {
	// manifest and config describe the stored manifest and config. A
	// docker-archive stores no manifest: for one, both are those of img's
	// Manifest, what Save would write.
	manifest ocispec.Descriptor
	config   ocispec.Descriptor
	img      *Image
	// layers are the layer descriptors as stored, media types unchanged.
	layers []ocispec.Descriptor
	// importLayers copies the layer blobs the store lacks into it,
	// checking each against its digest.
	importLayers func(ctx context.Context, store Store) error
}

// resolve finds the image ref names, for platform.
func resolve(ctx context.Context, ref Ref, platform ocispec.Platform) (*source, error) {
	switch ref.Transport {
	case OCILayout:
		return resolveLayout(dirLayout{dir: ref.Path}, ref.Name, platform)
	case OCIArchive:
		t, err := openTar(ctx, ref.Path)
		if err != nil {
			return nil, err
		}
		return resolveLayout(archiveLayout{t: t}, ref.Name, platform)
	case DockerArchive:
		return resolveDockerArchive(ctx, ref)
	}
	return nil, fmt.Errorf("%w %q", ErrUnsupportedTransport, ref.Transport)
}
