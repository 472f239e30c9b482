package transport

import (
	"context"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/image"
)

// dockerArchive is docker-archive:PATH[:NAME:TAG], what `docker save`
// writes and `docker load` reads. It records no platform: the platform
// asked for is not checked.
type dockerArchive struct{}

var _ files = dockerArchive{}

func (dockerArchive) open(ctx context.Context, ref Ref, _ ocispec.Platform) (*image.Source, error) {
	return image.OpenDockerArchive(ctx, ref.Path, ref.Name)
}

func (dockerArchive) write(ctx context.Context, ref Ref, img *image.Image, store image.Store) (*image.Manifest, error) {
	return image.WriteDockerArchive(ctx, ref.Path, ref.Name, img, store)
}

// checkName refuses a NAME:TAG that `docker load` would refuse.
func (dockerArchive) checkName(name string) error { return image.CheckDockerName(name) }
