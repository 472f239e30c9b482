package transport

import (
	"context"
	"errors"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/image"
)

// dockerArchive is docker-archive:PATH[:NAME:TAG], what `docker save`
// writes and `docker load` reads. It records no platform: the platform
// asked for is not checked.
type dockerArchive struct{}

// ErrOnePlatform is the error of writing several platforms where only
// one fits: a docker-archive.
var ErrOnePlatform = errors.New("a docker-archive holds one platform")

var _ files = dockerArchive{}

func (dockerArchive) open(ctx context.Context, ref Ref, _ ocispec.Platform) (*image.Source, error) {
	return image.OpenDockerArchive(ctx, ref.Path, ref.Name)
}

func (dockerArchive) write(ctx context.Context, ref Ref, img *image.Image, store image.Store) (*image.Manifest, error) {
	return image.WriteDockerArchive(ctx, ref.Path, ref.Name, img, store)
}

// writeIndex refuses: a docker-archive has no index, and `docker load`
// takes one platform.
func (dockerArchive) writeIndex(_ context.Context, _ Ref, imgs []*image.Image, _ image.IndexAnnotations, _ image.Store) (*image.Index, error) {
	names := make([]string, len(imgs))
	for i, img := range imgs {
		names[i] = image.FormatPlatform(img.Platform())
	}
	return nil, onePlatform(names)
}

// checkName refuses a NAME:TAG that `docker load` would refuse.
func (dockerArchive) checkName(name string) error { return image.CheckDockerName(name) }

// CheckIndex checks, before a multi-platform build runs, that ref can hold
// the index of the platforms named: a docker-archive cannot.
func CheckIndex(ref Ref, platforms []string) error {
	if ref.Transport != DockerArchive {
		return nil
	}
	return fmt.Errorf("%s: %w", ref, onePlatform(platforms))
}

func onePlatform(platforms []string) error {
	return fmt.Errorf("%w (this build has %d: %s): build one --platform for it, or write oci-archive:", ErrOnePlatform, len(platforms), strings.Join(platforms, ", "))
}
