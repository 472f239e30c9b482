package image

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// OpenOCILayout finds the image named name (its
// org.opencontainers.image.ref.name), or the only one when name is
// empty, for platform, in the OCI layout in dir (the oci: transport).
func OpenOCILayout(dir, name string, platform ocispec.Platform) (*Source, error) {
	return resolveLayout(dirLayout{dir: dir}, name, platform)
}

// dirLayout is an OCI image layout in a directory (the oci: transport).
type dirLayout struct {
	dir string
}

func (l dirLayout) indexJSON() ([]byte, error) {
	if _, err := os.Stat(filepath.Join(l.dir, ocispec.ImageLayoutFile)); err != nil {
		return nil, fmt.Errorf("not an OCI layout: %w", err)
	}
	return readLimited(filepath.Join(l.dir, ocispec.ImageIndexFile))
}

func (l dirLayout) blobPath(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", err
	}
	return filepath.Join(l.dir, ocispec.ImageBlobsDir, d.Algorithm().String(), d.Encoded()), nil
}

func (l dirLayout) jsonBlob(d digest.Digest) ([]byte, error) {
	p, err := l.blobPath(d)
	if err != nil {
		return nil, err
	}
	data, err := readLimited(p)
	if err != nil {
		return nil, err
	}
	if got := d.Algorithm().FromBytes(data); got != d {
		return nil, fmt.Errorf("blob %s has digest %s", d, got)
	}
	return data, nil
}

func (l dirLayout) importBlobs(ctx context.Context, descs []ocispec.Descriptor, store Store) error {
	for _, desc := range descs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if store.HasBlob(desc.Digest, desc.Size) {
			continue
		}
		p, err := l.blobPath(desc.Digest)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("layer %s: %w", desc.Digest, err)
		}
		err = store.PutBlob(desc.Digest, desc.Size, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("layer %s: %w", desc.Digest, err)
		}
	}
	return nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJSONBlob+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxJSONBlob {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxJSONBlob)
	}
	return data, nil
}
