package image

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/mybuild/mybuild/layer"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Store holds blobs by digest. The build cache is one.
type Store interface {
	HasBlob(d digest.Digest, size int64) bool
	// PutBlob stores r, which must have digest d and the size (< 0: unknown).
	PutBlob(d digest.Digest, size int64, r io.Reader) error
	// OpenBlob reads a blob back; the reader fails at EOF if the content
	// does not match d.
	OpenBlob(d digest.Digest) (io.ReadCloser, int64, error)
}

// Image is an image config and its layers, whose blobs are in a Store.
type Image struct {
	Config dockerspec.DockerOCIImage
	Layers []layer.Layer
	// Annotations are the manifest's own annotations (buildx's
	// --annotation manifest:K=V); they change the manifest digest.
	Annotations map[string]string
	// DescriptorAnnotations go on the manifest's descriptor in the index
	// of an OCI layout (--annotation manifest-descriptor:K=V), beside the
	// ref name; the manifest digest stays.
	DescriptorAnnotations map[string]string
	// LayerAnnotations, when not nil, holds the annotations of each
	// layer's descriptor in the manifest, as Layers orders them: an
	// attestation's in-toto layer names its predicate type so. Image
	// layers have none.
	LayerAnnotations []map[string]string
}

// NewImage pairs the layers of a manifest with the diffIDs of the image
// config configJSON, and checks what a manifest from elsewhere may get
// wrong: one diffID per layer, layer media types mybuild can unpack (each
// renamed to its OCI equivalent), valid digests and sizes. Checking
// configJSON against the manifest's config digest is the caller's job.
func NewImage(configJSON []byte, layers []ocispec.Descriptor) (*Image, error) {
	img := &Image{}
	if err := json.Unmarshal(configJSON, &img.Config); err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	diffIDs := img.Config.RootFS.DiffIDs
	if len(diffIDs) != len(layers) {
		return nil, fmt.Errorf("image config lists %d layers, the manifest %d", len(diffIDs), len(layers))
	}
	for i, desc := range layers {
		mt, err := OCILayerMediaType(desc.MediaType)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		if err := desc.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		if desc.Size < 0 {
			return nil, fmt.Errorf("layer %d: negative size %d", i, desc.Size)
		}
		if err := diffIDs[i].Validate(); err != nil {
			return nil, fmt.Errorf("layer %d diffID: %w", i, err)
		}
		img.Layers = append(img.Layers, layer.Layer{MediaType: mt, Digest: desc.Digest, Size: desc.Size, DiffID: diffIDs[i]})
	}
	return img, nil
}

// Manifest is an image rendered as the blobs that describe it.
type Manifest struct {
	ConfigJSON   []byte
	Config       ocispec.Descriptor
	ManifestJSON []byte
	Descriptor   ocispec.Descriptor // of the manifest
}

// Manifest renders the config and manifest JSON. encoding/json writes
// struct fields in a fixed order and map keys sorted, so the same image
// always gives the same bytes and digests.
func (img *Image) Manifest() (*Manifest, error) {
	cfg := img.Config
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = make([]digest.Digest, len(img.Layers))
	for i, l := range img.Layers {
		cfg.RootFS.DiffIDs[i] = l.DiffID
	}
	configJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode image config: %w", err)
	}
	m, err := newManifest(ocispec.MediaTypeImageConfig, configJSON, img.Layers, img.Annotations, img.LayerAnnotations)
	if err != nil {
		return nil, err
	}
	m.Descriptor.Annotations = maps.Clone(img.DescriptorAnnotations)
	return m, nil
}

// NewManifest renders the OCI manifest of a config blob, of media type
// configMediaType, and layers. An image's config is
// ocispec.MediaTypeImageConfig; an artifact, such as a registry cache
// entry, may have another.
func NewManifest(configMediaType string, configJSON []byte, layers []layer.Layer) (*Manifest, error) {
	return newManifest(configMediaType, configJSON, layers, nil, nil)
}

func newManifest(configMediaType string, configJSON []byte, layers []layer.Layer, annotations map[string]string, layerAnnotations []map[string]string) (*Manifest, error) {
	if layerAnnotations != nil && len(layerAnnotations) != len(layers) {
		return nil, fmt.Errorf("manifest: %d layers, annotations for %d", len(layers), len(layerAnnotations))
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config: ocispec.Descriptor{
			MediaType: configMediaType,
			Digest:    digest.FromBytes(configJSON),
			Size:      int64(len(configJSON)),
		},
		// Never nil: no layers is "layers":[], which the spec asks for.
		Layers:      make([]ocispec.Descriptor, len(layers)),
		Annotations: maps.Clone(annotations),
	}
	for i, l := range layers {
		m.Layers[i] = l.Descriptor()
		if layerAnnotations != nil {
			m.Layers[i].Annotations = maps.Clone(layerAnnotations[i])
		}
	}
	manifestJSON, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return &Manifest{
		ConfigJSON:   configJSON,
		Config:       m.Config,
		ManifestJSON: manifestJSON,
		Descriptor: ocispec.Descriptor{
			MediaType: ocispec.MediaTypeImageManifest,
			Digest:    digest.FromBytes(manifestJSON),
			Size:      int64(len(manifestJSON)),
		},
	}, nil
}

// Docker's media types, which OCI output renames to their OCI equivalents
// without touching the bytes.
const (
	dockerManifest      = "application/vnd.docker.distribution.manifest.v2+json"
	dockerManifestList  = "application/vnd.docker.distribution.manifest.list.v2+json"
	dockerLayerGzip     = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	dockerLayerZstd     = "application/vnd.docker.image.rootfs.diff.tar.zstd"
	dockerLayer         = "application/vnd.docker.image.rootfs.diff.tar"
	dockerForeignLayer  = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
	ociLayerNonDistGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" //nolint:staticcheck
)

// OCILayerMediaType maps a layer media type to the OCI one for the same
// bytes, and rejects what is not a layer mybuild can unpack.
func OCILayerMediaType(mt string) (string, error) {
	switch mt {
	case ocispec.MediaTypeImageLayerGzip, dockerLayerGzip, dockerForeignLayer, ociLayerNonDistGzip:
		return ocispec.MediaTypeImageLayerGzip, nil
	case ocispec.MediaTypeImageLayerZstd, dockerLayerZstd:
		return ocispec.MediaTypeImageLayerZstd, nil
	case ocispec.MediaTypeImageLayer, dockerLayer:
		return ocispec.MediaTypeImageLayer, nil
	}
	return "", fmt.Errorf("unsupported layer media type %q", mt)
}

func isIndex(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == dockerManifestList
}

func isManifest(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == dockerManifest
}
