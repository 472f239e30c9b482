package transport

import (
	"context"
	"errors"
	"fmt"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
)

// files is what a local transport does with its files, through package
// image: find an image where it is, write one, and check the name of an
// image to write.
type files interface {
	open(ctx context.Context, ref Ref, platform ocispec.Platform) (*image.Source, error)
	write(ctx context.Context, ref Ref, img *image.Image, store image.Store) (*image.Manifest, error)
	// writeIndex writes imgs and their index; ErrOnePlatform for a
	// format that holds one platform.
	writeIndex(ctx context.Context, ref Ref, imgs []*image.Image, a image.IndexAnnotations, store image.Store) (*image.Index, error)
	checkName(name string) error
}

// local is the transport of images in files: every error names the
// reference, as in "load oci:dir:v1: no image named "v1"".
type local struct{ files }

var _ transport = local{}

func (l local) load(ctx context.Context, ref Ref, store *cache.Store, o *options) (*image.Image, error) {
	src, err := l.open(ctx, ref, o.platform)
	if err != nil && o.anyLone && errors.Is(err, image.ErrNoPlatform) {
		if lone, lerr := l.open(ctx, ref, image.AnyLonePlatform); lerr == nil {
			src, err = lone, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", ref, err)
	}
	img, err := src.Load(ctx, store)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", ref, err)
	}
	if o.resolved != nil {
		o.resolved(Resolved{Ref: ref.String(), Digest: src.Digest()})
	}
	return img, nil
}

// save writes img where ref says; an archive already there as mybuild
// wrote it, that would be written the same, is left as it is (see
// saveArchive).
func (l local) save(ctx context.Context, ref Ref, img *image.Image, store *cache.Store, o *options) (digest.Digest, error) {
	m, err := img.Manifest()
	if err != nil {
		return "", fmt.Errorf("write %s: %w", ref, err)
	}
	key := archiveKey(ref, m.Descriptor, m.ManifestJSON, img.DescriptorAnnotations)
	if o.ahead.of(ref) {
		if d, ok, err := o.ahead.save(ctx, store, key, img); ok || err != nil {
			return d, err
		}
	}
	return saveArchive(store, ref, key, func(to Ref) (digest.Digest, error) {
		m, err := l.write(ctx, to, img, store)
		if err != nil {
			return "", err
		}
		return m.Descriptor.Digest, nil
	})
}

// saveIndex is save for an index of imgs.
func (l local) saveIndex(ctx context.Context, ref Ref, imgs []*image.Image, store *cache.Store, o *options) (digest.Digest, error) {
	want, err := image.NewIndex(imgs, o.index)
	if err != nil {
		return "", fmt.Errorf("write %s: %w", ref, err)
	}
	key := archiveKey(ref, want.Descriptor, want.IndexJSON, o.index)
	return saveArchive(store, ref, key, func(to Ref) (digest.Digest, error) {
		idx, err := l.writeIndex(ctx, to, imgs, o.index, store)
		if err != nil {
			return "", err
		}
		return idx.Descriptor.Digest, nil
	})
}

func (l local) inspect(ctx context.Context, ref Ref, o *options) (*image.Inspection, error) {
	src, err := l.open(ctx, ref, o.platform)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", ref, err)
	}
	return src.Inspect(ref.String()), nil
}

func (l local) check(ref Ref, dest bool) error {
	if !dest {
		return nil
	}
	return l.checkName(ref.Name)
}
