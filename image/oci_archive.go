package image

import (
	"context"
	"fmt"
	"path"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// archiveLayout is an OCI image layout in a tar (the oci-archive:
// transport), read without unpacking it.
type archiveLayout struct {
	t *tarFile
}

func (l archiveLayout) indexJSON() ([]byte, error) {
	if _, ok := l.t.small[ocispec.ImageLayoutFile]; !ok {
		return nil, fmt.Errorf("%s: not an OCI archive (no %s)", l.t.path, ocispec.ImageLayoutFile)
	}
	data, ok := l.t.small[ocispec.ImageIndexFile]
	if !ok {
		return nil, fmt.Errorf("%s: no %s", l.t.path, ocispec.ImageIndexFile)
	}
	return data, nil
}

func blobName(d digest.Digest) string {
	return path.Join(ocispec.ImageBlobsDir, d.Algorithm().String(), d.Encoded())
}

func (l archiveLayout) jsonBlob(d digest.Digest) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	data, ok := l.t.small[blobName(d)]
	if !ok {
		return nil, fmt.Errorf("%s: blob %s missing or too large", l.t.path, d)
	}
	if got := d.Algorithm().FromBytes(data); got != d {
		return nil, fmt.Errorf("blob %s has digest %s", d, got)
	}
	return data, nil
}

// importBlobs makes a second pass only when the store lacks a layer.
func (l archiveLayout) importBlobs(ctx context.Context, descs []ocispec.Descriptor, store Store) error {
	blobs := map[string]ocispec.Descriptor{}
	for _, d := range descs {
		blobs[blobName(d.Digest)] = d
	}
	return l.t.importBlobs(ctx, blobs, store)
}
