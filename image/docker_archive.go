package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// dockerManifestEntry is one image of a docker-archive's manifest.json.
type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// loadDockerArchive reads a `docker save` archive. Its layers are usually
// uncompressed tars, whose blob digest is then the diffID.
func loadDockerArchive(ctx context.Context, ref Ref, store Store) (*Image, error) {
	t, err := openTar(ctx, ref.Path)
	if err != nil {
		return nil, err
	}
	data, ok := t.small["manifest.json"]
	if !ok {
		return nil, fmt.Errorf("%s: not a docker archive (no manifest.json)", ref.Path)
	}
	var entries []dockerManifestEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("%s: manifest.json: %w", ref.Path, err)
	}
	entry, err := selectDockerImage(entries, ref.Name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref.Path, err)
	}
	cfgJSON, ok := t.small[cleanName(entry.Config)]
	if !ok {
		return nil, fmt.Errorf("%s: config %s missing", ref.Path, entry.Config)
	}
	var cfg struct {
		RootFS struct {
			DiffIDs []digest.Digest `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		return nil, fmt.Errorf("%s: image config: %w", ref.Path, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(entry.Layers) {
		return nil, fmt.Errorf("%s: image config lists %d layers, manifest.json %d", ref.Path, len(cfg.RootFS.DiffIDs), len(entry.Layers))
	}
	layers, err := importDockerLayers(ctx, t, entry.Layers, cfg.RootFS.DiffIDs, store)
	if err != nil {
		return nil, err
	}
	return newImage(cfgJSON, layers)
}

func selectDockerImage(entries []dockerManifestEntry, name string) (dockerManifestEntry, error) {
	if name == "" {
		if len(entries) != 1 {
			return dockerManifestEntry{}, fmt.Errorf("archive holds %d images: name one with :NAME:TAG", len(entries))
		}
		return entries[0], nil
	}
	for _, e := range entries {
		for _, tag := range e.RepoTags {
			if tag == name || strings.TrimPrefix(tag, "docker.io/library/") == name || strings.TrimPrefix(tag, "docker.io/") == name {
				return e, nil
			}
		}
	}
	return dockerManifestEntry{}, fmt.Errorf("no image tagged %q", name)
}

// layerFile is what is learnt about a layer file while scanning.
type layerFile struct {
	desc   ocispec.Descriptor
	stored bool
}

// importDockerLayers stores each layer file as a blob. The digest of a file
// is only known once it has been read, so a compressed layer that the
// store lacks needs a second pass.
func importDockerLayers(ctx context.Context, t *tarFile, paths []string, diffIDs []digest.Digest, store Store) ([]ocispec.Descriptor, error) {
	found := map[string]*layerFile{}
	diffIDOf := map[string]digest.Digest{}
	for i, p := range paths {
		found[cleanName(p)] = nil
		diffIDOf[cleanName(p)] = diffIDs[i]
	}
	err := t.scan(ctx, func(name string, hdr *tar.Header, r io.Reader) error {
		if l, want := found[name]; !want || l != nil {
			return nil
		}
		l, err := readLayerFile(hdr.Size, r, diffIDOf[name], store)
		if err != nil {
			return fmt.Errorf("%s: layer %s: %w", t.path, name, err)
		}
		found[name] = l
		return nil
	})
	if err != nil {
		return nil, err
	}
	missing := map[string]ocispec.Descriptor{}
	for name, l := range found {
		if l == nil {
			return nil, fmt.Errorf("%s: layer %s is missing", t.path, name)
		}
		if !l.stored {
			missing[name] = l.desc
		}
	}
	if len(missing) > 0 {
		err := t.scan(ctx, func(name string, hdr *tar.Header, r io.Reader) error {
			d, ok := missing[name]
			if !ok {
				return nil
			}
			delete(missing, name)
			return store.PutBlob(d.Digest, d.Size, r)
		})
		if err != nil {
			return nil, err
		}
	}
	descs := make([]ocispec.Descriptor, len(paths))
	for i, p := range paths {
		descs[i] = found[cleanName(p)].desc
	}
	return descs, nil
}

// readLayerFile reads one layer file. An uncompressed one has the diffID
// as its digest, so it is stored (and checked) at once unless the store
// has it; a compressed one is only hashed.
func readLayerFile(size int64, r io.Reader, diffID digest.Digest, store Store) (*layerFile, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(4)
	mt := ocispec.MediaTypeImageLayer
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		mt = ocispec.MediaTypeImageLayerGzip
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		mt = ocispec.MediaTypeImageLayerZstd
	}
	if mt == ocispec.MediaTypeImageLayer {
		desc := ocispec.Descriptor{MediaType: mt, Digest: diffID, Size: size}
		if err := store.PutBlob(diffID, size, br); err != nil {
			return nil, err
		}
		return &layerFile{desc: desc, stored: true}, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, br); err != nil {
		return nil, err
	}
	d := digest.NewDigest(digest.SHA256, h)
	return &layerFile{
		desc:   ocispec.Descriptor{MediaType: mt, Digest: d, Size: size},
		stored: store.HasBlob(d, size),
	}, nil
}
