package imagetest

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Declarative layer entries for fixtures.

type entry struct {
	hdr  tar.Header
	body string
}

func dirE(name string, mode int64) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode}}
}

func fileE(name string, mode int64, body string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body))}, body: body}
}

func linkE(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target}}
}

func symlinkE(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

func whiteoutE(dir, name string) entry {
	return fileE(path.Join(dir, ".wh."+name), 0, "")
}

func opaqueE(dir string) entry {
	return fileE(path.Join(dir, ".wh..wh..opq"), 0, "")
}

func owned(e entry, uid, gid int) entry {
	e.hdr.Uid, e.hdr.Gid = uid, gid
	return e
}

// layerTar returns the uncompressed tar of entries, in PAX format as
// BuildKit writes it.
func layerTar(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fixture describes an OCI image archive to write.
type fixture struct {
	layers    [][]entry
	mediaType string // of every layer; gzip OCI layers when empty
	// declaredMediaType, if set, is the media type the manifest gives the
	// layers instead of mediaType.
	declaredMediaType string
	config            *ocispec.Image
	asDir             bool // write a layout directory instead of a tar
	nested            bool // put the manifest behind a nested index
	// corruptDiffID makes the config's first diff_id wrong.
	corruptDiffID bool
}

// write builds the archive in a temporary directory and returns its path.
func (f fixture) write(t testing.TB) string {
	t.Helper()
	blobs := map[string][]byte{} // layout path -> content
	add := func(mediaType string, data []byte) ocispec.Descriptor {
		d := digest.FromBytes(data)
		blobs[blobPath(d)] = data
		return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
	}
	mediaType := f.mediaType
	if mediaType == "" {
		mediaType = ocispec.MediaTypeImageLayerGzip
	}
	cfg := ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}}
	if f.config != nil {
		cfg = *f.config
	}
	cfg.RootFS = ocispec.RootFS{Type: "layers"}
	var layers []ocispec.Descriptor
	for _, entries := range f.layers {
		raw := layerTar(t, entries)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, digest.FromBytes(raw))
		desc := add(mediaType, compress(t, mustCompression(t, mediaType), raw))
		if f.declaredMediaType != "" {
			desc.MediaType = f.declaredMediaType
		}
		layers = append(layers, desc)
	}
	if f.corruptDiffID {
		cfg.RootFS.DiffIDs[0] = digest.FromString("corrupt")
	}
	manifest := ocispec.Manifest{
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    add(ocispec.MediaTypeImageConfig, mustJSON(t, cfg)),
		Layers:    layers,
	}
	manifest.SchemaVersion = 2
	desc := add(ocispec.MediaTypeImageManifest, mustJSON(t, manifest))
	desc.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	// An attestation manifest next to the image, as BuildKit writes with
	// provenance enabled; Flatten must skip it.
	att := add(ocispec.MediaTypeImageManifest, mustJSON(t, ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest}))
	att.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest"}
	att.Platform = &ocispec.Platform{OS: "unknown", Architecture: "unknown"}
	index := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{desc, att}}
	index.SchemaVersion = 2
	if f.nested {
		inner := add(ocispec.MediaTypeImageIndex, mustJSON(t, index))
		index.Manifests = []ocispec.Descriptor{inner}
	}
	files := map[string][]byte{
		"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`),
		"index.json": mustJSON(t, index),
	}
	for name, data := range blobs {
		files[name] = data
	}
	out := filepath.Join(t.TempDir(), "image")
	if f.asDir {
		for name, data := range files {
			p := filepath.Join(out, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	var entries []entry
	for _, d := range []string{"blobs", "blobs/sha256"} {
		entries = append(entries, dirE(d, 0o755))
	}
	for name, data := range files {
		entries = append(entries, fileE(name, 0o644, string(data)))
	}
	out += ".tar"
	if err := os.WriteFile(out, layerTar(t, entries), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustCompression(t testing.TB, mediaType string) compression {
	t.Helper()
	c, err := layerCompression(mediaType)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func compress(t testing.TB, c compression, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch c {
	case uncompressed:
		return raw
	case gzipped:
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(raw); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	case zstded:
		zw, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := zw.Write(raw); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
