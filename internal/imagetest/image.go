package imagetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types of the Docker v2 schema 2 format, which OCI layouts may hold
// next to the OCI ones.
const (
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// maxJSONBlob bounds the size of index, manifest and config blobs read into
// memory.
const maxJSONBlob = 16 << 20

// maxIndexDepth bounds how many nested indexes are followed.
const maxIndexDepth = 4

// image is the manifest and raw config of the one image in a layout.
type image struct {
	manifest ocispec.Manifest
	config   []byte
}

// loadImage resolves index.json to a single image manifest and reads it and
// its config, verifying every blob against its descriptor.
func loadImage(l layout, opts ...ImageOption) (*image, error) {
	var o imageOptions
	for _, opt := range opts {
		opt(&o)
	}
	r, err := l.open("index.json")
	if err != nil {
		return nil, err
	}
	var idx ocispec.Index
	err = decodeJSON(r, &idx)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("read index.json: %w", err)
	}
	desc, err := pickManifest(l, idx.Manifests, o.arch, 0)
	if err != nil {
		return nil, err
	}
	data, err := readBlob(l, desc)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	img := &image{}
	if err := json.Unmarshal(data, &img.manifest); err != nil {
		return nil, fmt.Errorf("decode manifest %s: %w", desc.Digest, err)
	}
	if img.config, err = readBlob(l, img.manifest.Config); err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return img, nil
}

// diffIDs returns the config's rootfs.diff_ids, checked against the layer
// count of the manifest.
func (img *image) diffIDs() ([]digest.Digest, error) {
	var cfg ocispec.Image
	if err := json.Unmarshal(img.config, &cfg); err != nil {
		return nil, fmt.Errorf("decode config %s: %w", img.manifest.Config.Digest, err)
	}
	ids := cfg.RootFS.DiffIDs
	if len(ids) != len(img.manifest.Layers) {
		return nil, fmt.Errorf("config has %d diff_ids for %d layers", len(ids), len(img.manifest.Layers))
	}
	for i, id := range ids {
		if err := id.Validate(); err != nil {
			return nil, fmt.Errorf("diff_ids[%d]: %w", i, err)
		}
	}
	return ids, nil
}

// pickManifest chooses the image manifest among descs, following nested
// indexes. Attestation manifests are skipped; when several images remain,
// the one for the running platform is taken.
func pickManifest(l layout, descs []ocispec.Descriptor, arch string, depth int) (ocispec.Descriptor, error) {
	if arch == "" {
		arch = runtime.GOARCH
	}
	var cands []ocispec.Descriptor
	for _, d := range descs {
		if d.Annotations["vnd.docker.reference.type"] != "attestation-manifest" {
			cands = append(cands, d)
		}
	}
	if len(cands) > 1 {
		var native []ocispec.Descriptor
		for _, d := range cands {
			if d.Platform != nil && d.Platform.OS == runtime.GOOS && d.Platform.Architecture == arch {
				native = append(native, d)
			}
		}
		cands = native
	}
	if len(cands) != 1 {
		return ocispec.Descriptor{}, fmt.Errorf("index lists %d candidate manifests, want exactly one", len(cands))
	}
	desc := cands[0]
	switch desc.MediaType {
	case ocispec.MediaTypeImageManifest, mediaTypeDockerManifest:
		return desc, nil
	case ocispec.MediaTypeImageIndex, mediaTypeDockerManifestList:
		if depth >= maxIndexDepth {
			return ocispec.Descriptor{}, fmt.Errorf("indexes nested more than %d deep", maxIndexDepth)
		}
		data, err := readBlob(l, desc)
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("read index: %w", err)
		}
		var idx ocispec.Index
		if err := json.Unmarshal(data, &idx); err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("decode index %s: %w", desc.Digest, err)
		}
		return pickManifest(l, idx.Manifests, arch, depth+1)
	default:
		return ocispec.Descriptor{}, fmt.Errorf("manifest %s: unsupported media type %q", desc.Digest, desc.MediaType)
	}
}

// readBlob reads a small blob and checks its size and digest.
func readBlob(l layout, desc ocispec.Descriptor) ([]byte, error) {
	if err := desc.Digest.Validate(); err != nil {
		return nil, err
	}
	if desc.Size < 0 || desc.Size > maxJSONBlob {
		return nil, fmt.Errorf("blob %s: size %d out of range", desc.Digest, desc.Size)
	}
	r, err := l.open(blobPath(desc.Digest))
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, desc.Size+1))
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	if int64(len(data)) != desc.Size {
		return nil, fmt.Errorf("blob %s: size mismatch: descriptor says %d", desc.Digest, desc.Size)
	}
	if got := desc.Digest.Algorithm().FromBytes(data); got != desc.Digest {
		return nil, fmt.Errorf("blob %s: content has digest %s", desc.Digest, got)
	}
	return data, nil
}

func blobPath(d digest.Digest) string {
	return "blobs/" + d.Algorithm().String() + "/" + d.Encoded()
}

// decodeJSON decodes one JSON value of bounded size and rejects trailing data.
func decodeJSON(r io.Reader, v any) error {
	data, err := io.ReadAll(io.LimitReader(r, maxJSONBlob+1))
	if err != nil {
		return err
	}
	if len(data) > maxJSONBlob {
		return errors.New("JSON document too large")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON document")
	}
	return nil
}

// ImageOption chooses the image of an archive that holds several.
type ImageOption func(*imageOptions)

type imageOptions struct{ arch string }

// ForArch picks the linux image of architecture arch from an index (the
// host's by default).
func ForArch(arch string) ImageOption {
	return func(o *imageOptions) { o.arch = arch }
}
