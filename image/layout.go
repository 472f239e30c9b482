package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxJSONBlob bounds the size of the index, manifest and config blobs that
// are read into memory.
const maxJSONBlob = 8 << 20

// layoutReader reads an OCI image layout, in a directory or in a tar.
type layoutReader interface {
	indexJSON() ([]byte, error)
	// jsonBlob reads a small blob and checks its digest.
	jsonBlob(d digest.Digest) ([]byte, error)
	// importBlobs copies every blob the store lacks into it.
	importBlobs(ctx context.Context, descs []ocispec.Descriptor, store Store) error
}

// resolveLayout finds name (or the only image) for platform, following
// nested indexes, and reads its manifest and config.
func resolveLayout(l layoutReader, name string, platform ocispec.Platform) (*Source, error) {
	data, err := l.indexJSON()
	if err != nil {
		return nil, err
	}
	var index ocispec.Index
	if err := json.Unmarshal(data, &index); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	desc, err := selectManifest(index.Manifests, name, platform)
	if err != nil {
		return nil, err
	}
	// index.json is the first index; desc may name more, the first of
	// which is the image's own index, which inspect lists.
	var imageIndex *IndexInfo
	for depth := 2; isIndex(desc.MediaType); depth++ {
		if depth > MaxIndexDepth {
			return nil, errors.New("image indexes nested too deeply")
		}
		var nested ocispec.Index
		if _, err := readJSON(l, desc, &nested); err != nil {
			return nil, err
		}
		if imageIndex == nil {
			imageIndex = NewIndexInfo(desc, &nested)
		}
		if desc, err = SelectIndex(nested.Manifests, platform); err != nil {
			return nil, err
		}
	}
	if !isManifest(desc.MediaType) {
		return nil, fmt.Errorf("unsupported manifest media type %q", desc.MediaType)
	}
	var m ocispec.Manifest
	if desc.Size, err = readJSON(l, desc, &m); err != nil {
		return nil, err
	}
	cfgJSON, err := l.jsonBlob(m.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	img, err := NewImage(cfgJSON, m.Layers)
	if err != nil {
		return nil, err
	}
	config := m.Config
	config.Size = int64(len(cfgJSON))
	return &Source{
		manifest: desc,
		config:   config,
		img:      img,
		layers:   m.Layers,
		index:    imageIndex,
		importLayers: func(ctx context.Context, store Store) error {
			return l.importBlobs(ctx, m.Layers, store)
		},
	}, nil
}

// readJSON decodes a small blob into v and returns its size.
func readJSON(l layoutReader, desc ocispec.Descriptor, v any) (int64, error) {
	data, err := l.jsonBlob(desc.Digest)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return 0, fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	return int64(len(data)), nil
}

// selectManifest picks, among the manifests of index.json, the one named
// name, or, without a name, any; among those, the one for platform (see
// SelectPlatform). Attestation manifests are neither picked nor counted.
// The zero platform (AnyLonePlatform) takes a lone manifest whatever its
// platform: not an image of a nested index, which is a multi-platform
// image.
func selectManifest(descs []ocispec.Descriptor, name string, platform ocispec.Platform) (ocispec.Descriptor, error) {
	cands := descs
	if name != "" {
		cands = nil
		for _, d := range descs {
			if d.Annotations[ocispec.AnnotationRefName] == name {
				cands = append(cands, d)
			}
		}
		if len(cands) == 0 {
			return ocispec.Descriptor{}, fmt.Errorf("no image named %q", name)
		}
	}
	images := Images(cands)
	if len(images) == 0 {
		return ocispec.Descriptor{}, errors.New("no image in the layout")
	}
	if d, ok := SelectPlatform(images, platform); ok {
		return d, nil
	}
	if platform.OS == "" && platform.Architecture == "" && len(images) == 1 && !isIndex(images[0].MediaType) {
		return images[0], nil
	}
	want := FormatPlatform(platform)
	switch {
	case len(images) == 1:
		// SelectPlatform takes a lone one without a platform.
		return ocispec.Descriptor{}, &platformError{fmt.Sprintf("no image for platform %s (the only one is %s)", want, FormatPlatform(*images[0].Platform))}
	case name == "":
		return ocispec.Descriptor{}, &platformError{fmt.Sprintf("the layout holds %d images and none for platform %s: name one with :REF", len(images), want)}
	}
	return ocispec.Descriptor{}, &platformError{fmt.Sprintf("no image named %q for platform %s", name, want)}
}
