package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/mybuild/mybuild/internal/atomicfile"
	"github.com/mybuild/mybuild/internal/ctxio"
	"github.com/mybuild/mybuild/layer"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// containerd's annotation for the full image name, which Docker puts in
// the index.json of the archives it saves.
const annotationImageName = "io.containerd.image.name"

// WriteDockerArchive replaces the file at p, atomically, with img as
// `docker save` writes it since Docker 25, for `docker load`:
// manifest.json and repositories, and the same blobs as an OCI layout,
// layers uncompressed under their diffIDs. name is NAME[:TAG] or empty
// for an untagged image. It returns the manifest of the image as written,
// with uncompressed layers: the one OpenDockerArchive of the file gives.
func WriteDockerArchive(ctx context.Context, p, name string, img *Image, store Store) (*Manifest, error) {
	var tag *dockerTag
	if name != "" {
		t, err := parseDockerTag(name)
		if err != nil {
			return nil, err
		}
		tag = &t
	}
	out, err := uncompressedImage(ctx, img, store)
	if err != nil {
		return nil, err
	}
	m, err := out.Manifest()
	if err != nil {
		return nil, err
	}
	err = atomicfile.Write(p, func(w io.Writer) error {
		return writeDockerTar(ctx, w, img, out, m, tag, store)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// CheckDockerName checks, without writing anything, that
// WriteDockerArchive can tag an image name (NAME[:TAG], normalised as
// Docker does), so that a CLI can refuse a bad destination before
// building.
func CheckDockerName(name string) error {
	if name == "" {
		return nil
	}
	_, err := parseDockerTag(name)
	return err
}

// uncompressedImage is img with its layers uncompressed: each a tar whose
// digest is its diffID. Compressed layers are read through once to learn
// their size (and checked against their diffID on the way).
func uncompressedImage(ctx context.Context, img *Image, store Store) (*Image, error) {
	out := &Image{Config: img.Config, Layers: make([]layer.Layer, len(img.Layers)),
		Annotations: img.Annotations, DescriptorAnnotations: img.DescriptorAnnotations}
	sizes := map[digest.Digest]int64{}
	for i, l := range img.Layers {
		size, ok := sizes[l.DiffID]
		if !ok {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			mt, err := OCILayerMediaType(l.MediaType)
			if err != nil {
				return nil, fmt.Errorf("layer %s: %w", l.Digest, err)
			}
			switch {
			case mt != ocispec.MediaTypeImageLayer:
				if size, err = uncompressedSize(ctx, store, l); err != nil {
					return nil, err
				}
			case l.Digest != l.DiffID:
				return nil, fmt.Errorf("uncompressed layer %s has diffID %s", l.Digest, l.DiffID)
			default:
				size = l.Size
			}
			sizes[l.DiffID] = size
		}
		out.Layers[i] = layer.Layer{MediaType: ocispec.MediaTypeImageLayer, Digest: l.DiffID, Size: size, DiffID: l.DiffID}
	}
	return out, nil
}

// writeDockerTar streams the archive: the small files first, so that a
// reader reading it as a stream knows what it holds before the layers,
// then the config, the manifest, and each layer once, uncompressed from
// img's blobs. out is img uncompressed, and m its manifest.
func writeDockerTar(ctx context.Context, w io.Writer, img, out *Image, m *Manifest, tag *dockerTag, store Store) error {
	files, err := dockerArchiveFiles(out, m, tag)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for _, f := range files {
		if err := writeTarFile(tw, f.name, f.data); err != nil {
			return err
		}
	}
	if err := writeBlobDirs(tw); err != nil {
		return err
	}
	if err := writeTarFile(tw, blobName(m.Config.Digest), m.ConfigJSON); err != nil {
		return err
	}
	if err := writeTarFile(tw, blobName(m.Descriptor.Digest), m.ManifestJSON); err != nil {
		return err
	}
	seen := map[digest.Digest]bool{}
	for i, l := range img.Layers {
		if seen[l.DiffID] {
			continue
		}
		seen[l.DiffID] = true
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := writeLayerTar(ctx, tw, store, l, out.Layers[i].Size); err != nil {
			return err
		}
	}
	return tw.Close()
}

type archiveFile struct {
	name string
	data []byte
}

// dockerArchiveFiles renders manifest.json, repositories (for a tagged
// image: Docker writes none for an untagged one), oci-layout and
// index.json, for out, the uncompressed image, whose manifest is m. In
// repositories, Docker names the top layer by its diffID. Docker encodes the first two with a json.Encoder, hence the
// final newline.
func dockerArchiveFiles(out *Image, m *Manifest, tag *dockerTag) ([]archiveFile, error) {
	entry := dockerManifestEntry{Config: blobName(m.Config.Digest)}
	for _, l := range out.Layers {
		entry.Layers = append(entry.Layers, blobName(l.Digest))
	}
	desc := m.Descriptor
	if tag != nil {
		entry.RepoTags = []string{tag.familiar()}
		desc = namedDescriptor(desc, tag.tag)
		desc.Annotations[annotationImageName] = tag.String()
	}
	var files []archiveFile
	add := func(name string, v any, newline bool) error {
		data, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode %s: %w", name, err)
		}
		if newline {
			data = append(data, '\n')
		}
		files = append(files, archiveFile{name, data})
		return nil
	}
	if err := add("manifest.json", []dockerManifestEntry{entry}, true); err != nil {
		return nil, err
	}
	if tag != nil && len(out.Layers) > 0 {
		top := out.Layers[len(out.Layers)-1].DiffID.Encoded()
		repos := map[string]map[string]string{tag.familiarName(): {tag.tag: top}}
		if err := add("repositories", repos, true); err != nil {
			return nil, err
		}
	}
	files = append(files, archiveFile{ocispec.ImageLayoutFile, layoutJSON()})
	if err := add(ocispec.ImageIndexFile, newIndex(desc), false); err != nil {
		return nil, err
	}
	return files, nil
}

// writeLayerTar writes layer l uncompressed, size bytes, under its diffID,
// and checks what it wrote against the diffID.
func writeLayerTar(ctx context.Context, tw *tar.Writer, store Store, l layer.Layer, size int64) (err error) {
	lt, err := openLayer(ctx, store, l)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, lt.Close()) }()
	if err := tw.WriteHeader(archiveHeader(blobName(l.DiffID), tar.TypeReg, size)); err != nil {
		return err
	}
	if _, err := io.Copy(tw, ctxio.Reader(ctx, lt)); err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	if lt.n != size {
		return fmt.Errorf("layer %s: uncompressed %d bytes, then %d", l.Digest, size, lt.n)
	}
	return lt.finish(l.DiffID)
}
