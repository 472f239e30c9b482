package image

import (
	"encoding/json"
	"fmt"
	"maps"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Index is the images of several platforms rendered as an OCI image
// index: each image's manifest, and the index naming them, each
// descriptor with its image's platform and DescriptorAnnotations.
type Index struct {
	Manifests []*Manifest
	IndexJSON []byte
	// Descriptor is the index's.
	Descriptor ocispec.Descriptor
}

// IndexAnnotations are an index's own annotations (buildx's index:),
// and those of its descriptor where an OCI layout's index.json names it
// (index-descriptor:).
type IndexAnnotations struct {
	Index, Descriptor map[string]string
}

// NewIndex renders imgs, one per platform, as an index, annotated as a
// says. The platform of each is that of its config; two images for one
// platform are refused.
func NewIndex(imgs []*Image, a IndexAnnotations) (*Index, error) {
	out := &Index{}
	descs := make([]ocispec.Descriptor, 0, len(imgs))
	seen := map[string]bool{}
	for _, img := range imgs {
		m, err := img.Manifest()
		if err != nil {
			return nil, err
		}
		p := img.Platform()
		// The descriptor annotations (buildx's manifest-descriptor:) go
		// on the manifest's entry in the index, as buildx puts them.
		d := m.Descriptor
		d.Annotations = maps.Clone(img.DescriptorAnnotations)
		d.Platform = &p
		// Attestation manifests are all unknown/unknown: one per image.
		name := FormatPlatform(p)
		if seen[name] && !IsAttestation(d) {
			return nil, fmt.Errorf("index: two images for platform %s", name)
		}
		seen[name] = true
		descs = append(descs, d)
		out.Manifests = append(out.Manifests, m)
	}
	idx := ocispec.Index{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   ocispec.MediaTypeImageIndex,
		Manifests:   descs,
		Annotations: maps.Clone(a.Index),
	}
	data, err := json.Marshal(idx)
	if err != nil {
		return nil, fmt.Errorf("encode index: %w", err)
	}
	out.IndexJSON = data
	out.Descriptor = ocispec.Descriptor{
		MediaType:   ocispec.MediaTypeImageIndex,
		Digest:      digest.FromBytes(data),
		Size:        int64(len(data)),
		Annotations: maps.Clone(a.Descriptor),
	}
	return out, nil
}

// Platform is the platform of img, as its config says.
func (img *Image) Platform() ocispec.Platform {
	c := img.Config
	return ocispec.Platform{OS: c.OS, Architecture: c.Architecture, Variant: c.Variant, OSVersion: c.OSVersion}
}
