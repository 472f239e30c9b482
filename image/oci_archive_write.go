package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"io"

	"github.com/mybuild/mybuild/internal/atomicfile"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// WriteOCIArchive replaces the file at path with a tar of an OCI layout
// holding img alone, named name (default DefaultName), and returns the
// manifest it wrote. The file is replaced atomically: a reader sees the
// old one or the whole new one.
func WriteOCIArchive(ctx context.Context, path, name string, img *Image, store Store) (*Manifest, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	err = atomicfile.Write(path, func(w io.Writer) error {
		return writeOCIArchive(ctx, w, img, m, orDefaultName(name), store)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// WriteOCIArchiveIndex replaces the file at path with a tar of an OCI
// layout holding the index of imgs (see NewIndex), annotated as a says,
// named name (default DefaultName), and returns the index it wrote. A
// blob two images share is written once.
func WriteOCIArchiveIndex(ctx context.Context, path, name string, imgs []*Image, a IndexAnnotations, store Store) (*Index, error) {
	idx, err := NewIndex(imgs, a)
	if err != nil {
		return nil, err
	}
	top := jsonBlob{idx.Descriptor, idx.IndexJSON}
	err = atomicfile.Write(path, func(w io.Writer) error {
		return writeOCIArchiveBlobs(ctx, w, imgs, idx.Manifests, &top, namedDescriptor(idx.Descriptor, orDefaultName(name)), store)
	})
	if err != nil {
		return nil, err
	}
	return idx, nil
}

// jsonBlob is a small blob held in memory: a config, a manifest, an
// index.
type jsonBlob struct {
	desc ocispec.Descriptor
	data []byte
}

// writeOCIArchive streams an OCI image layout as a tar: oci-layout,
// index.json, then every blob, layers copied straight from the store.
func writeOCIArchive(ctx context.Context, w io.Writer, img *Image, m *Manifest, name string, store Store) error {
	return writeOCIArchiveBlobs(ctx, w, []*Image{img}, []*Manifest{m}, nil, namedDescriptor(m.Descriptor, name), store)
}

// writeOCIArchiveBlobs streams the layout of imgs, whose manifests are
// ms, with index.json naming entry: the last manifest, or top, an index
// of them, when there is one.
func writeOCIArchiveBlobs(ctx context.Context, w io.Writer, imgs []*Image, ms []*Manifest, top *jsonBlob, entry ocispec.Descriptor, store Store) error {
	indexJSON, err := json.Marshal(newIndex(entry))
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	if err := writeTarFile(tw, ocispec.ImageLayoutFile, layoutJSON()); err != nil {
		return err
	}
	if err := writeTarFile(tw, ocispec.ImageIndexFile, indexJSON); err != nil {
		return err
	}
	if err := writeBlobDirs(tw); err != nil {
		return err
	}
	seen := map[digest.Digest]bool{}
	progress := newWritten(ctx)
	for _, img := range imgs {
		for _, l := range img.Layers {
			if seen[l.Digest] {
				continue
			}
			seen[l.Digest] = true
			if err := copyBlob(ctx, w, tw, l.Digest, l.Size, store, progress); err != nil {
				return err
			}
		}
	}
	blobs := make([]jsonBlob, 0, 2*len(ms)+1)
	for _, m := range ms {
		blobs = append(blobs, jsonBlob{m.Config, m.ConfigJSON}, jsonBlob{m.Descriptor, m.ManifestJSON})
	}
	if top != nil {
		blobs = append(blobs, *top)
	}
	for _, b := range blobs {
		if seen[b.desc.Digest] {
			continue
		}
		seen[b.desc.Digest] = true
		if err := writeTarFile(tw, blobName(b.desc.Digest), b.data); err != nil {
			return err
		}
	}
	return tw.Close()
}
