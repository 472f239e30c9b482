package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/mybuild/mybuild/internal/atomicfile"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultName is the ref name given to an image written without one.
const DefaultName = "latest"

// Save writes img where ref says, atomically, and returns its manifest.
func Save(ctx context.Context, ref Ref, img *Image, store Store) (*Manifest, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	switch ref.Transport {
	case OCIArchive:
		name := ref.Name
		if name == "" {
			name = DefaultName
		}
		err = atomicfile.Write(ref.Path, func(w io.Writer) error {
			return writeOCIArchive(ctx, w, img, m, name, store)
		})
	default:
		err = fmt.Errorf("writing to %s: is not supported", ref.Transport)
	}
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", ref, err)
	}
	return m, nil
}

// writeOCIArchive streams an OCI image layout as a tar: oci-layout,
// index.json, then every blob, layers copied straight from the store.
func writeOCIArchive(ctx context.Context, w io.Writer, img *Image, m *Manifest, name string, store Store) error {
	index := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{m.Descriptor},
	}
	index.Manifests[0].Annotations = map[string]string{ocispec.AnnotationRefName: name}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return err
	}
	layoutJSON, err := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	files := []struct {
		name string
		data []byte
	}{
		{ocispec.ImageLayoutFile, layoutJSON},
		{ocispec.ImageIndexFile, indexJSON},
	}
	for _, f := range files {
		if err := writeTarFile(tw, f.name, f.data); err != nil {
			return err
		}
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(archiveHeader(dir, tar.TypeDir, 0)); err != nil {
			return err
		}
	}
	seen := map[digest.Digest]bool{}
	for _, l := range img.Layers {
		if seen[l.Digest] {
			continue
		}
		seen[l.Digest] = true
		if err := copyBlob(ctx, tw, l.Digest, l.Size, store); err != nil {
			return err
		}
	}
	if err := writeTarFile(tw, blobName(m.Config.Digest), m.ConfigJSON); err != nil {
		return err
	}
	if err := writeTarFile(tw, blobName(m.Descriptor.Digest), m.ManifestJSON); err != nil {
		return err
	}
	return tw.Close()
}

// copyBlob copies one blob from the store, reading it to the end so that
// the store's reader checks its digest.
func copyBlob(ctx context.Context, tw *tar.Writer, d digest.Digest, size int64, store Store) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r, stored, err := store.OpenBlob(d)
	if err != nil {
		return err
	}
	defer r.Close()
	if stored != size {
		return fmt.Errorf("blob %s: stored size %d, want %d", d, stored, size)
	}
	if err := tw.WriteHeader(archiveHeader(blobName(d), tar.TypeReg, size)); err != nil {
		return err
	}
	if _, err := io.Copy(tw, r); err != nil {
		return fmt.Errorf("blob %s: %w", d, err)
	}
	return nil
}

func writeTarFile(tw *tar.Writer, name string, data []byte) error {
	if err := tw.WriteHeader(archiveHeader(name, tar.TypeReg, int64(len(data)))); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

// archiveHeader gives every entry of an output archive the same fixed
// fields, so that the archive bytes depend on the image only.
func archiveHeader(name string, typ byte, size int64) *tar.Header {
	mode := int64(0o644)
	if typ == tar.TypeDir {
		mode = 0o755
	}
	return &tar.Header{
		Typeflag: typ,
		Name:     name,
		Size:     size,
		Mode:     mode,
		ModTime:  time.Unix(0, 0),
		Format:   tar.FormatPAX,
	}
}
