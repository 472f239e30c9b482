package transport

import (
	"bytes"
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/image"
)

// writeIndexLayout adds idx, and every blob it needs, to the OCI layout
// in dir, named name, through image.AddToOCILayout.
func writeIndexLayout(ctx context.Context, dir, name string, idx v1.ImageIndex) (digest.Digest, error) {
	blobs, err := indexBlobs(idx)
	if err != nil {
		return "", err
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return "", err
	}
	mt, err := idx.MediaType()
	if err != nil {
		return "", err
	}
	top := ocispec.Descriptor{MediaType: string(mt), Digest: digest.FromBytes(raw), Size: int64(len(raw))}
	blobs = append(blobs, memBlob(raw))
	if err := image.AddToOCILayout(ctx, dir, name, top, blobs); err != nil {
		return "", err
	}
	return top.Digest, nil
}

// indexBlobs lists the blobs of an index's manifests: each image's
// layers, config and manifest, and nested indexes with theirs.
func indexBlobs(idx v1.ImageIndex) ([]image.Blob, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var blobs []image.Blob
	for _, d := range im.Manifests {
		var more []image.Blob
		var raw []byte
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, err
			}
			if more, err = indexBlobs(child); err != nil {
				return nil, err
			}
			raw, err = child.RawManifest()
			if err != nil {
				return nil, err
			}
		case d.MediaType.IsImage():
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, err
			}
			if more, err = imageBlobs(img); err != nil {
				return nil, err
			}
			if raw, err = img.RawManifest(); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("manifest %s: unsupported media type %q", d.Digest, d.MediaType)
		}
		blobs = append(append(blobs, more...), memBlob(raw))
	}
	return blobs, nil
}

// imageBlobs are an image's layers, as they are stored, and its config.
func imageBlobs(img v1.Image) ([]image.Blob, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	var blobs []image.Blob
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		size, err := l.Size()
		if err != nil {
			return nil, err
		}
		blobs = append(blobs, image.Blob{Digest: digest.Digest(d.String()), Size: size, Open: l.Compressed})
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	return append(blobs, memBlob(cfg)), nil
}

// memBlob is a small blob held in memory.
func memBlob(data []byte) image.Blob {
	return image.Blob{Digest: digest.FromBytes(data), Size: int64(len(data)), Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
}
