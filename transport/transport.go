package transport

import (
	"context"
	"errors"
	"fmt"

	digest "github.com/opencontainers/go-digest"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
)

// ErrUnknownTransport is returned for a Ref whose transport is none of
// OCIArchive, OCILayout, DockerArchive and Docker.
var ErrUnknownTransport = errors.New("unknown transport")

// transport loads, saves and inspects the images of one transport. Each
// is a sibling in a file of its own: ociArchive, ociLayout and
// dockerArchive (files, read and written by package image), and remote
// (a registry, by package registry).
type transport interface {
	// load finds the image and puts its layer blobs in store.
	load(ctx context.Context, ref Ref, store *cache.Store, o *options) (*image.Image, error)
	// save writes img, whose blobs are in store, and returns the digest
	// of the manifest written.
	save(ctx context.Context, ref Ref, img *image.Image, store *cache.Store, o *options) (digest.Digest, error)
	// saveIndex writes imgs, one per platform, and their index, and
	// returns the index's digest.
	saveIndex(ctx context.Context, ref Ref, imgs []*image.Image, store *cache.Store, o *options) (digest.Digest, error)
	// inspect describes the image without copying a layer blob.
	inspect(ctx context.Context, ref Ref, o *options) (*image.Inspection, error)
	// check checks what can be known of ref without reading or writing
	// anything; dest says ref is where save is to write.
	check(ref Ref, dest bool) error
}

// lookup is the transport of ref: the one place that tells transports
// apart.
func lookup(ref Ref) (transport, error) {
	switch ref.Transport {
	case OCIArchive:
		return local{ociArchive{}}, nil
	case OCILayout:
		return local{ociLayout{}}, nil
	case DockerArchive:
		return local{dockerArchive{}}, nil
	case Docker:
		return remote{}, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownTransport, ref.Transport)
}

// Load finds the image ref names, for the platform of WithPlatform (an
// index gives the platform's image), and puts its layer blobs in store:
// those the store lacks are copied, each checked against its digest on
// the way in. The returned image's layers are all in the store. A
// registry is asked as WithPull says, and the manifest and config it
// gave are kept in the store (see registry.Pull).
func Load(ctx context.Context, ref Ref, store *cache.Store, opts ...Option) (*image.Image, error) {
	t, err := lookup(ref)
	if err != nil {
		return nil, err
	}
	return t.load(ctx, ref, store, makeOptions(opts))
}

// Save writes img, whose blobs are in store, where ref says, and returns
// the digest of the manifest it wrote:
//
//   - oci-archive:PATH[:REF] replaces PATH with a tar of an OCI layout
//     holding img alone, named REF (default "latest");
//   - oci:DIR[:REF] adds img to the OCI layout in DIR, creating it if
//     need be, and names it REF (default "latest"), replacing any image
//     of that name;
//   - docker-archive:PATH[:NAME:TAG] replaces PATH with what `docker save`
//     writes and `docker load` reads; it holds the layers uncompressed, so
//     the manifest is that of img with uncompressed layers;
//   - docker://REF pushes img, uploading only the blobs the registry
//     lacks, and mounting those another repository of the registry holds
//     (see registry.Push): a base image pulled with Load from there is
//     not uploaded again.
//
// An archive is replaced atomically: a reader sees the old one or the
// whole new one. In a layout, index.json is replaced atomically once every
// blob it names is in place, so that it never names a missing one.
func Save(ctx context.Context, ref Ref, img *image.Image, store *cache.Store, opts ...Option) (digest.Digest, error) {
	t, err := lookup(ref)
	if err != nil {
		return "", err
	}
	return t.save(ctx, ref, img, store, makeOptions(opts))
}

// SaveIndex writes imgs, one per platform, whose blobs are in store,
// and an OCI image index naming them, each with its platform, where ref
// says, as Save writes one image; it returns the index's digest.
// oci-archive: and oci: name the index REF; docker:// pushes each
// manifest by digest, then the index under REF. docker-archive: holds
// one platform, and is refused.
func SaveIndex(ctx context.Context, ref Ref, imgs []*image.Image, store *cache.Store, opts ...Option) (digest.Digest, error) {
	t, err := lookup(ref)
	if err != nil {
		return "", err
	}
	return t.saveIndex(ctx, ref, imgs, store, makeOptions(opts))
}

// Inspect describes the image ref names, for the platform of
// WithPlatform, reading it where it is: no layer blob is copied, and
// nothing is stored. Of a registry image, only manifests and the config
// are downloaded.
func Inspect(ctx context.Context, ref Ref, opts ...Option) (*image.Inspection, error) {
	t, err := lookup(ref)
	if err != nil {
		return nil, err
	}
	return t.inspect(ctx, ref, makeOptions(opts))
}

// Check checks, without reading anything, what can be known of ref
// before Load or Inspect: its transport, and the syntax of a registry
// reference.
func Check(ref Ref) error {
	t, err := lookup(ref)
	if err != nil {
		return err
	}
	return t.check(ref, false)
}
