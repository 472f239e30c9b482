package transport

import (
	"bytes"
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"

	"github.com/mybuild/mybuild/image"
)

// archiveIndex is an index in an image.ArchiveLayout, as ggcr reads one:
// the layout's index.json, or an index it names. Its images and indexes
// are read from the archive when written, as they are stored there.
type archiveIndex struct {
	ctx context.Context
	l   *image.ArchiveLayout
	raw []byte
	mt  types.MediaType
}

var (
	_ v1.ImageIndex               = (*archiveIndex)(nil)
	_ partial.CompressedImageCore = (*archiveImage)(nil)
	_ partial.CompressedLayer     = (*archiveBlob)(nil)
)

// newArchiveIndex is the index.json of l.
func newArchiveIndex(ctx context.Context, l *image.ArchiveLayout) *archiveIndex {
	return &archiveIndex{ctx: ctx, l: l, raw: l.IndexJSON(), mt: types.OCIImageIndex}
}

func (x *archiveIndex) MediaType() (types.MediaType, error) { return x.mt, nil }
func (x *archiveIndex) Digest() (v1.Hash, error)            { return partial.Digest(x) }
func (x *archiveIndex) Size() (int64, error)                { return int64(len(x.raw)), nil }
func (x *archiveIndex) RawManifest() ([]byte, error)        { return x.raw, nil }

func (x *archiveIndex) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(x.raw))
}

// child finds h among the manifests the index lists, and reads it.
func (x *archiveIndex) child(h v1.Hash) (v1.Descriptor, []byte, error) {
	im, err := x.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, nil, err
	}
	for _, d := range im.Manifests {
		if d.Digest == h {
			raw, err := readArchiveBlob(x.ctx, x.l, h)
			return d, raw, err
		}
	}
	return v1.Descriptor{}, nil, fmt.Errorf("the index lists no manifest %s", h)
}

func (x *archiveIndex) Image(h v1.Hash) (v1.Image, error) {
	d, raw, err := x.child(h)
	if err != nil {
		return nil, err
	}
	if !d.MediaType.IsImage() {
		return nil, fmt.Errorf("manifest %s: %s is no image", h, d.MediaType)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", h, err)
	}
	return partial.CompressedToImage(&archiveImage{ctx: x.ctx, l: x.l, raw: raw, mt: d.MediaType, m: m})
}

func (x *archiveIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, raw, err := x.child(h)
	if err != nil {
		return nil, err
	}
	if !d.MediaType.IsIndex() {
		return nil, fmt.Errorf("manifest %s: %s is no index", h, d.MediaType)
	}
	return &archiveIndex{ctx: x.ctx, l: x.l, raw: raw, mt: d.MediaType}, nil
}

// archiveImage is an image manifest in an archive and the blobs it names.
type archiveImage struct {
	ctx context.Context
	l   *image.ArchiveLayout
	raw []byte
	mt  types.MediaType
	m   *v1.Manifest
}

func (i *archiveImage) MediaType() (types.MediaType, error) { return i.mt, nil }
func (i *archiveImage) RawManifest() ([]byte, error)        { return i.raw, nil }

func (i *archiveImage) RawConfigFile() ([]byte, error) {
	return readArchiveBlob(i.ctx, i.l, i.m.Config.Digest)
}

func (i *archiveImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.m.Config.Digest {
		return &archiveBlob{ctx: i.ctx, l: i.l, desc: i.m.Config}, nil
	}
	for _, d := range i.m.Layers {
		if d.Digest == h {
			return &archiveBlob{ctx: i.ctx, l: i.l, desc: d}, nil
		}
	}
	return nil, fmt.Errorf("manifest lists no layer %s", h)
}

// archiveBlob is a layer (or the config) of an archiveImage, as the
// manifest describes it.
type archiveBlob struct {
	ctx  context.Context
	l    *image.ArchiveLayout
	desc v1.Descriptor
}

func (b *archiveBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *archiveBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *archiveBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }

func (b *archiveBlob) Compressed() (io.ReadCloser, error) {
	rc, size, err := b.l.OpenBlob(b.ctx, digest.Digest(b.desc.Digest.String()))
	if err != nil {
		return nil, err
	}
	if size != b.desc.Size {
		rc.Close()
		return nil, fmt.Errorf("blob %s is %d bytes, the manifest says %d", b.desc.Digest, size, b.desc.Size)
	}
	return rc, nil
}

// readArchiveBlob reads a manifest or a config, and checks its digest:
// its bytes are parsed here.
func readArchiveBlob(ctx context.Context, l *image.ArchiveLayout, h v1.Hash) ([]byte, error) {
	d := digest.Digest(h.String())
	if err := d.Validate(); err != nil {
		return nil, err
	}
	rc, size, err := l.OpenBlob(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > maxManifest {
		return nil, fmt.Errorf("blob %s: %d bytes, more than %d", d, size, maxManifest)
	}
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	if got := d.Algorithm().FromBytes(data); got != d {
		return nil, fmt.Errorf("blob %s has digest %s", d, got)
	}
	return data, nil
}

// maxManifest bounds the manifests and configs read into memory.
const maxManifest = 8 << 20
