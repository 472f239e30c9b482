package image

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// dockerManifestEntry is one image of a docker-archive's manifest.json.
type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// OpenDockerArchive finds the image of the archive at path, as `docker
// save` writes one (the docker-archive: transport), tagged name, or the
// only one when name is empty. Its layers are usually uncompressed tars,
// whose blob digest is then the diffID; a compressed one is hashed, which
// costs a pass over the archive. A docker-archive records no platform.
func OpenDockerArchive(ctx context.Context, path, name string) (*Source, error) {
	d, err := openDockerImage(ctx, path, name)
	if err != nil {
		return nil, err
	}
	m, err := d.img.Manifest()
	if err != nil {
		return nil, err
	}
	return &Source{
		manifest: m.Descriptor,
		config:   m.Config,
		img:      d.img,
		layers:   d.layers,
		importLayers: func(ctx context.Context, store Store) error {
			return importDockerLayers(ctx, d.t, d.entry.Layers, d.layers, store)
		},
	}, nil
}

// dockerImage is one image of a docker-archive: its entry in
// manifest.json, its layers as the archive holds them, and the image they
// make.
type dockerImage struct {
	t      *tarFile
	entry  dockerManifestEntry
	layers []ocispec.Descriptor
	img    *Image
}

// openDockerImage finds the image of the archive at path tagged name, or
// the only one, and describes its layers.
func openDockerImage(ctx context.Context, path, name string) (*dockerImage, error) {
	t, err := openTar(ctx, path)
	if err != nil {
		return nil, err
	}
	data, ok := t.small["manifest.json"]
	if !ok {
		return nil, fmt.Errorf("%s: not a docker archive (no manifest.json)", path)
	}
	var entries []dockerManifestEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("%s: manifest.json: %w", path, err)
	}
	entry, err := selectDockerImage(entries, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfgJSON, ok := t.small[t.resolve(cleanName(entry.Config))]
	if !ok {
		return nil, fmt.Errorf("%s: config %s missing", path, entry.Config)
	}
	var cfg struct {
		RootFS struct {
			DiffIDs []digest.Digest `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		return nil, fmt.Errorf("%s: image config: %w", path, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(entry.Layers) {
		return nil, fmt.Errorf("%s: image config lists %d layers, manifest.json %d", path, len(cfg.RootFS.DiffIDs), len(entry.Layers))
	}
	layers, err := dockerLayers(ctx, t, entry.Layers, cfg.RootFS.DiffIDs)
	if err != nil {
		return nil, err
	}
	img, err := NewImage(cfgJSON, layers)
	if err != nil {
		return nil, err
	}
	return &dockerImage{t: t, entry: entry, layers: layers, img: img}, nil
}

func selectDockerImage(entries []dockerManifestEntry, name string) (dockerManifestEntry, error) {
	if name == "" {
		if len(entries) != 1 {
			return dockerManifestEntry{}, fmt.Errorf("archive holds %d images: name one with :NAME:TAG", len(entries))
		}
		return entries[0], nil
	}
	want := familiarOrSelf(name)
	for _, e := range entries {
		for _, tag := range e.RepoTags {
			if familiarOrSelf(tag) == want {
				return e, nil
			}
		}
	}
	return dockerManifestEntry{}, fmt.Errorf("no image tagged %q", name)
}

// familiarOrSelf is s in Docker's short form, or s itself when it is no
// valid reference.
func familiarOrSelf(s string) string {
	if f, err := familiarTag(s); err == nil {
		return f
	}
	return s
}

// layerNames is where the layer files at paths are, links followed.
func layerNames(t *tarFile, paths []string) []string {
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = t.resolve(cleanName(p))
	}
	return names
}

// dockerLayers describes the layer files at paths. Their compression is
// known from the first pass; only compressed ones are read, to hash them.
func dockerLayers(ctx context.Context, t *tarFile, paths []string, diffIDs []digest.Digest) ([]ocispec.Descriptor, error) {
	descs := make([]ocispec.Descriptor, len(paths))
	hashed := map[string]bool{}
	names := layerNames(t, paths)
	for i, p := range paths {
		name := names[i]
		head, ok := t.heads[name]
		if !ok {
			return nil, fmt.Errorf("%s: layer %s is missing", t.path, p)
		}
		descs[i] = ocispec.Descriptor{MediaType: head.mediaType, Digest: diffIDs[i], Size: head.size}
		if head.mediaType != ocispec.MediaTypeImageLayer {
			hashed[name] = true
		}
	}
	if len(hashed) == 0 {
		return descs, nil
	}
	digests := map[string]digest.Digest{}
	err := t.scan(ctx, func(name string, hdr *tar.Header, r io.Reader) error {
		if !hashed[name] {
			return nil
		}
		if _, done := digests[name]; done {
			return nil
		}
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			return fmt.Errorf("%s: layer %s: %w", t.path, name, err)
		}
		digests[name] = digest.NewDigest(digest.SHA256, h)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, name := range names {
		if hashed[name] {
			descs[i].Digest = digests[name]
		}
	}
	return descs, nil
}

// importDockerLayers stores the layer files the store lacks, in one pass.
// The store checks each against its digest: for an uncompressed layer,
// its diffID.
func importDockerLayers(ctx context.Context, t *tarFile, paths []string, descs []ocispec.Descriptor, store Store) error {
	blobs := map[string]ocispec.Descriptor{}
	for i, name := range layerNames(t, paths) {
		blobs[name] = descs[i]
	}
	return t.importBlobs(ctx, blobs, store)
}
