package image

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ArchiveLayout is the OCI image layout an archive holds, read where it
// is, with nothing unpacked: an OCI archive's own, or, for a
// docker-archive, the layout of its one image as mybuild would write it
// (the manifest Inspect shows, its layers as the archive holds them). Its
// small JSON blobs are held from the first pass over the archive; a
// larger blob is read by a pass that seeks past the entries before it.
type ArchiveLayout struct {
	t     *tarFile
	index []byte
	// mem holds blobs that are in no entry: a docker-archive's manifest
	// and re-encoded config.
	mem map[digest.Digest][]byte
	// names maps a docker-archive's layer digests to their entries (an
	// OCI archive's entries are named by blobName).
	names map[digest.Digest]string
}

// OpenOCIArchiveLayout reads the index.json of the OCI archive at path:
// its images, or indexes, are read from the archive as they are.
func OpenOCIArchiveLayout(ctx context.Context, path string) (*ArchiveLayout, error) {
	t, err := openTar(ctx, path)
	if err != nil {
		return nil, err
	}
	index, err := archiveLayout{t: t}.indexJSON()
	if err != nil {
		return nil, err
	}
	return &ArchiveLayout{t: t, index: index}, nil
}

// OpenDockerArchiveLayout finds the image of the docker-archive at path
// tagged name, or the only one when name is empty (as OpenDockerArchive),
// and presents it as an OCI layout holding that one image: index.json
// lists its manifest, with the platform of its config.
func OpenDockerArchiveLayout(ctx context.Context, path, name string) (*ArchiveLayout, error) {
	d, err := openDockerImage(ctx, path, name)
	if err != nil {
		return nil, err
	}
	m, err := d.img.Manifest()
	if err != nil {
		return nil, err
	}
	desc := m.Descriptor
	if c := d.img.Config; c.OS != "" && c.Architecture != "" {
		desc.Platform = &ocispec.Platform{OS: c.OS, Architecture: c.Architecture, Variant: c.Variant, OSVersion: c.OSVersion}
	}
	index, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{desc},
	})
	if err != nil {
		return nil, fmt.Errorf("encode index: %w", err)
	}
	l := &ArchiveLayout{
		t:     d.t,
		index: index,
		mem:   map[digest.Digest][]byte{m.Descriptor.Digest: m.ManifestJSON, m.Config.Digest: m.ConfigJSON},
		names: map[digest.Digest]string{},
	}
	for i, name := range layerNames(d.t, d.entry.Layers) {
		l.names[d.layers[i].Digest] = name
	}
	return l, nil
}

// IndexJSON is the layout's index.json.
func (l *ArchiveLayout) IndexJSON() []byte { return l.index }

// OpenBlob reads blob d and tells its size. Whoever writes it elsewhere
// checks it against d (AddToOCILayout, a registry): the archive's own
// bytes are not trusted.
func (l *ArchiveLayout) OpenBlob(ctx context.Context, d digest.Digest) (io.ReadCloser, int64, error) {
	if data, ok := l.mem[d]; ok {
		return io.NopCloser(bytes.NewReader(data)), int64(len(data)), nil
	}
	name, ok := l.names[d]
	if !ok {
		if l.names != nil {
			return nil, 0, fmt.Errorf("%s: no blob %s", l.t.path, d)
		}
		if err := d.Validate(); err != nil {
			return nil, 0, err
		}
		name = l.t.resolve(blobName(d))
	}
	if data, ok := l.t.small[name]; ok {
		return io.NopCloser(bytes.NewReader(data)), int64(len(data)), nil
	}
	head, ok := l.t.heads[name]
	if !ok {
		return nil, 0, fmt.Errorf("%s: blob %s missing", l.t.path, d)
	}
	rc, err := l.t.open(ctx, name)
	if err != nil {
		return nil, 0, fmt.Errorf("blob %s: %w", d, err)
	}
	return rc, head.size, nil
}
