package image

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
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
	want := map[string]ocispec.Descriptor{}
	for _, d := range descs {
		if !store.HasBlob(d.Digest, d.Size) {
			want[blobName(d.Digest)] = d
		}
	}
	if len(want) == 0 {
		return nil
	}
	err := l.t.scan(ctx, func(name string, hdr *tar.Header, r io.Reader) error {
		d, ok := want[name]
		if !ok {
			return nil
		}
		delete(want, name)
		if err := store.PutBlob(d.Digest, d.Size, r); err != nil {
			return fmt.Errorf("layer %s: %w", d.Digest, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range want {
		return fmt.Errorf("%s: layer blob %s is missing", l.t.path, d.Digest)
	}
	return nil
}
