package container

import (
	"context"
	"slices"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Option configures Load.
type Option func(*options)

type options struct {
	platform ocispec.Platform
	pull     registry.PullPolicy
	registry []registry.Option
	warn     func(string)
	noPaths  bool
}

// WithPlatform picks the image for p in an index (default: the host's).
func WithPlatform(p ocispec.Platform) Option {
	return func(o *options) { o.platform = p }
}

// WithPull says when a registry is asked (default registry.PullMissing).
func WithPull(p registry.PullPolicy) Option {
	return func(o *options) { o.pull = p }
}

// WithRegistry adds options of registry.Pull: insecure hosts, progress.
func WithRegistry(opts ...registry.Option) Option {
	return func(o *options) { o.registry = append(o.registry, opts...) }
}

// WithWarnings receives what a pull warns about, such as a registry that
// could not be reached and the earlier resolution used instead.
func WithWarnings(fn func(string)) Option {
	return func(o *options) { o.warn = fn }
}

// WithoutPaths keeps Load to FROM's own rules: a name that is no
// transport reference is a registry reference, even when it looks like a
// path (see image.ParseRef).
func WithoutPaths() Option {
	return func(o *options) { o.noPaths = true }
}

// Load finds the image ref names and puts its layer blobs in store, by the
// rules of FROM: a local image in skopeo's transport syntax
// (oci-archive:PATH[:REF], oci:DIR[:REF], docker-archive:PATH[:NAME:TAG]),
// else a registry reference ("alpine", "docker://..."). Unless
// WithoutPaths is given, as a convenience for what mybuild -t PATH.tar
// writes, a path is read as an OCI archive, or a layout for a directory
// (see image.ParseRefOrPath).
func Load(ctx context.Context, store *cache.Store, ref string, opts ...Option) (*image.Image, error) {
	o := options{platform: image.HostPlatform()}
	for _, opt := range opts {
		opt(&o)
	}
	parse := image.ParseRefOrPath
	if o.noPaths {
		parse = image.ParseRef
	}
	r, ok, err := parse(ref)
	if err != nil {
		return nil, err
	}
	if ok && r.Transport != image.Docker {
		return image.Load(ctx, r, o.platform, store)
	}
	ropts := append(slices.Clone(o.registry), registry.WithPlatform(o.platform))
	res, err := registry.Pull(ctx, ref, store, o.pull, ropts...)
	if err != nil {
		return nil, err
	}
	if res.Warning != "" && o.warn != nil {
		o.warn(res.Warning)
	}
	return res.Image, nil
}
