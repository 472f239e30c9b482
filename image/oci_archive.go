package image

import (
	"context"
	"fmt"
	"path"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// OpenOCIArchive finds the image named name (its
// org.opencontainers.image.ref.name), or the only one when name is
// empty, for platform, in the tar of an OCI layout at path (the
// oci-archive: transport), read without unpacking it.
func OpenOCIArchive(ctx context.Context, path, name string, platform ocispec.Platform) (*Source, error) {
	t, err := openTar(ctx, path)
	if err != nil {
		return nil, err
	}
	return resolveLayout(archiveLayout{t: t}, name, platform)
}

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
