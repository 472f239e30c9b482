package registry

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"

	"github.com/mybuild/mybuild/image"
)

// PushIndex uploads imgs, whose blobs are in store, each as Push would
// (blobs the registry has are not uploaded, others are mounted when they
// can be), each manifest by its digest; then it puts their index (see
// image.NewIndex), with the annotations given, under ref, and returns the
// index's digest.
func PushIndex(ctx context.Context, ref string, imgs []*image.Image, annotations map[string]string, store image.Store, opts ...Option) (digest.Digest, error) {
	o := makeOptions(opts)
	r, err := parseReference(ref, o)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	idx, err := image.NewIndex(imgs, image.IndexAnnotations{Index: annotations})
	if err != nil {
		return "", fmt.Errorf("push %s: %w", Canonical(r), err)
	}
	if d, ok := r.(name.Digest); ok && d.DigestStr() != idx.Descriptor.Digest.String() {
		return "", fmt.Errorf("push %s: the index has digest %s", Canonical(r), idx.Descriptor.Digest)
	}
	u, err := newUploader(o, r.Context(), Canonical(r))
	if err != nil {
		return "", opError("push", r, o, err)
	}
	for i, img := range imgs {
		m := idx.Manifests[i]
		byDigest := r.Context().Digest(m.Descriptor.Digest.String())
		config := static.NewLayer(m.ConfigJSON, types.OCIConfigJSON)
		if err := u.push(ctx, byDigest, store, img.Layers, config, m.ManifestJSON, types.OCIManifestSchema1); err != nil {
			return "", opError("push", r, o, err)
		}
	}
	if err := u.pusher.Put(ctx, r, rawManifest{data: idx.IndexJSON, mt: types.OCIImageIndex}); err != nil {
		return "", opError("push", r, o, err)
	}
	return idx.Descriptor.Digest, nil
}
