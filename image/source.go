package image

import (
	"context"
	"errors"
	"fmt"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrUnsupportedTransport is returned for a Ref whose transport package
// image cannot read or write; registry references (docker://) are among
// them.
var ErrUnsupportedTransport = errors.New("unsupported transport")

// source is an image found in a local transport, with nothing copied yet:
// its manifest and config as stored, and a way to copy its layer blobs.
// Load imports the layers; Inspect only describes them.
type source struct {
	// manifest is the stored manifest; zero for a docker-archive, which
	// stores none.
	manifest   ocispec.Descriptor
	config     ocispec.Descriptor
	configJSON []byte
	layers     []ocispec.Descriptor
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

// image pairs the source's layers with the diffIDs of its config.
func (s *source) image() (*Image, error) {
	return NewImage(s.configJSON, s.layers)
}

func configDescriptor(configJSON []byte) ocispec.Descriptor {
	return ocispec.Descriptor{
		MediaType: ocispec.MediaTypeImageConfig,
		Digest:    digest.FromBytes(configJSON),
		Size:      int64(len(configJSON)),
	}
}
