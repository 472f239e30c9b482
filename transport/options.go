package transport

import (
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/registry"
)

// Option configures Load, Save and Inspect.
type Option func(*options)

type options struct {
	platform ocispec.Platform
	pull     registry.PullPolicy
	registry []registry.Option
	warn     func(string)
	anyLone  bool
	resolved func(Resolved)
	index    image.IndexAnnotations
	ahead    *Ahead
}

func makeOptions(opts []Option) *options {
	o := &options{platform: image.HostPlatform(), pull: registry.PullMissing}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// WithPlatform picks the image for p in an index or a layout (default:
// the host's), by the one rule of image.SelectPlatform.
func WithPlatform(p ocispec.Platform) Option {
	return func(o *options) { o.platform = p }
}

// WithPull says when Load asks a registry (default registry.PullMissing).
func WithPull(p registry.PullPolicy) Option {
	return func(o *options) {
		if p != "" {
			o.pull = p
		}
	}
}

// WithRegistry adds options of the registry package, for registry
// references: insecure hosts, credentials, progress.
func WithRegistry(opts ...registry.Option) Option {
	return func(o *options) { o.registry = append(o.registry, opts...) }
}

// WithIndexAnnotations annotates the index SaveIndex writes: a.Index on
// the index itself, a.Descriptor on its entry in an OCI layout's
// index.json (a registry has none).
func WithIndexAnnotations(a image.IndexAnnotations) Option {
	return func(o *options) { o.index = a }
}

// WithAnyLonePlatform takes a single-platform image whatever its
// platform, as BuildKit's FROM does: the caller compares the config's
// platform with the one it wanted. An index without the platform is
// still an error, naming the platforms it has. A local layout's lone
// image is taken whatever platform its index.json entry names.
func WithAnyLonePlatform() Option {
	return func(o *options) { o.anyLone = true }
}

// WithWarnings receives what Load warns about, such as a registry that
// could not be reached and the earlier resolution used instead.
func WithWarnings(fn func(string)) Option {
	return func(o *options) { o.warn = fn }
}

// Resolved is what Load found: the reference, normalised for a
// registry ("docker.io/library/alpine:3.20"), as written for a local
// transport ("oci-archive:base.tar"), and the digest of the manifest it
// read (for a docker-archive, which stores none, of the manifest an
// oci-archive of the image would hold).
type Resolved struct {
	Ref    string
	Digest digest.Digest
	// Registry is set for an image from a registry.
	Registry bool
}

// WithResolved receives what Load found, once the image is loaded: the
// provenance of a build lists it.
func WithResolved(fn func(Resolved)) Option {
	return func(o *options) { o.resolved = fn }
}

// WithAhead has Save finish the archive StartAhead began for its ref,
// rather than write it all now.
func WithAhead(a *Ahead) Option {
	return func(o *options) { o.ahead = a }
}
