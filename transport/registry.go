package transport

import (
	"context"
	"slices"

	digest "github.com/opencontainers/go-digest"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/registry"
)

// remote is docker://REF, or a bare registry reference: an image in a
// registry, pulled into the store and pushed from it by package
// registry, whose errors already name the operation and the normalised
// reference ("pull docker.io/library/alpine:nope: tag not found").
type remote struct{}

var _ transport = remote{}

func (remote) load(ctx context.Context, ref Ref, store *cache.Store, o *options) (*image.Image, error) {
	res, err := registry.Pull(ctx, ref.Path, store, o.pull, withPlatform(o)...)
	if err != nil {
		return nil, err
	}
	if res.Warning != "" && o.warn != nil {
		o.warn(res.Warning)
	}
	if o.resolved != nil {
		o.resolved(Resolved{Ref: res.Ref, Digest: res.Digest, Registry: true})
	}
	return res.Image, nil
}

// save pushes img. store, a *cache.Store, knows which repositories of the
// registry hold which blobs (pulls and pushes note them), so that Push
// mounts a layer from another repository rather than upload it.
func (remote) save(ctx context.Context, ref Ref, img *image.Image, store *cache.Store, o *options) (digest.Digest, error) {
	return registry.Push(ctx, ref.Path, img, store, o.registry...)
}

// saveIndex pushes every image, by digest, then their index under ref.
func (remote) saveIndex(ctx context.Context, ref Ref, imgs []*image.Image, store *cache.Store, o *options) (digest.Digest, error) {
	return registry.PushIndex(ctx, ref.Path, imgs, o.index.Index, store, o.registry...)
}

func (remote) inspect(ctx context.Context, ref Ref, o *options) (*image.Inspection, error) {
	return registry.Inspect(ctx, ref.Path, withPlatform(o)...)
}

// check checks the reference's syntax; the registry is not asked.
func (remote) check(ref Ref, _ bool) error {
	_, err := registry.ParseReference(ref.Path)
	return err
}

// withPlatform is the registry options, with the platform to pick.
func withPlatform(o *options) []registry.Option {
	opts := append(slices.Clone(o.registry), registry.WithPlatform(o.platform))
	if o.anyLone {
		opts = append(opts, registry.WithAnyLonePlatform())
	}
	return opts
}

// Recorded is the image Load of a registry reference would give when the
// registry says that its tag still names what it named last, read from
// the store alone, with its resolution (see registry.Recorded). ok is
// false for any other transport, and where Load asks no registry anyway.
func Recorded(ref Ref, store *cache.Store, opts ...Option) (img *image.Image, r Resolved, ok bool) {
	t, err := lookup(ref)
	if err != nil {
		return nil, Resolved{}, false
	}
	if _, remote := t.(remote); !remote {
		return nil, Resolved{}, false
	}
	o := makeOptions(opts)
	res, ok := registry.Recorded(ref.Path, store, o.pull, withPlatform(o)...)
	if !ok {
		return nil, Resolved{}, false
	}
	return res.Image, Resolved{Ref: res.Ref, Digest: res.Digest, Registry: true}, true
}
