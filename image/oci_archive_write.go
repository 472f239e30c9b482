package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"io"

	"github.com/mybuild/mybuild/internal/atomicfile"
	"github.com/mybuild/mybuild/layer"
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

// writeOCIArchive streams an OCI image layout as a tar (see
// archiveWriter).
func writeOCIArchive(ctx context.Context, w io.Writer, img *Image, m *Manifest, name string, store Store) error {
	return writeOCIArchiveBlobs(ctx, w, []*Image{img}, []*Manifest{m}, nil, namedDescriptor(m.Descriptor, name), store)
}

// writeOCIArchiveBlobs streams the layout of imgs, whose manifests are
// ms, with index.json naming entry: the last manifest, or top, an index
// of them, when there is one.
func writeOCIArchiveBlobs(ctx context.Context, w io.Writer, imgs []*Image, ms []*Manifest, top *jsonBlob, entry ocispec.Descriptor, store Store) error {
	aw, err := newArchiveWriter(w, store, newWritten(ctx))
	if err != nil {
		return err
	}
	for _, img := range imgs {
		if err := aw.layers(ctx, img.Layers); err != nil {
			return err
		}
	}
	blobs := make([]jsonBlob, 0, 2*len(ms)+1)
	for _, m := range ms {
		blobs = append(blobs, jsonBlob{m.Config, m.ConfigJSON}, jsonBlob{m.Descriptor, m.ManifestJSON})
	}
	if top != nil {
		blobs = append(blobs, *top)
	}
	return aw.finish(blobs, entry)
}

// archiveWriter writes an OCI layout as a tar, in an order that depends
// on the image alone: oci-layout, the blob dirs, the layers (each blob
// once, copied straight from the store), the configs, manifests and
// index, and index.json last, which names the last of them. Its start
// needs no image: an archive can be begun before its image is known
// (StartOCIArchive).
type archiveWriter struct {
	w        io.Writer
	tw       *tar.Writer
	store    Store
	seen     map[digest.Digest]bool
	progress *written
}

func newArchiveWriter(w io.Writer, store Store, progress *written) (*archiveWriter, error) {
	aw := &archiveWriter{w: w, tw: tar.NewWriter(w), store: store, seen: map[digest.Digest]bool{}, progress: progress}
	if err := writeTarFile(aw.tw, ocispec.ImageLayoutFile, layoutJSON()); err != nil {
		return nil, err
	}
	if err := writeBlobDirs(aw.tw); err != nil {
		return nil, err
	}
	return aw, nil
}

// layers copies the blobs of ls not written yet.
func (aw *archiveWriter) layers(ctx context.Context, ls []layer.Layer) error {
	for _, l := range ls {
		if aw.seen[l.Digest] {
			continue
		}
		aw.seen[l.Digest] = true
		if err := copyBlob(ctx, aw.w, aw.tw, l.Digest, l.Size, aw.store, aw.progress); err != nil {
			return err
		}
	}
	return nil
}

// finish writes the blobs not written yet, then index.json naming entry,
// and ends the tar.
func (aw *archiveWriter) finish(blobs []jsonBlob, entry ocispec.Descriptor) error {
	for _, b := range blobs {
		if aw.seen[b.desc.Digest] {
			continue
		}
		aw.seen[b.desc.Digest] = true
		if err := writeTarFile(aw.tw, blobName(b.desc.Digest), b.data); err != nil {
			return err
		}
	}
	indexJSON, err := json.Marshal(newIndex(entry))
	if err != nil {
		return err
	}
	if err := writeTarFile(aw.tw, ocispec.ImageIndexFile, indexJSON); err != nil {
		return err
	}
	return aw.tw.Close()
}
