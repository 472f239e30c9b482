package main

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ociImage is what an OCI layout (in a tar or a directory) holds for its
// one image: index.json, and the manifest and config it names.
type ociImage struct {
	index          ocispec.Index
	manifest       ocispec.Manifest
	manifestDigest digest.Digest
	config         dockerspec.DockerOCIImage
}

// tarFiles reads every regular file of a tar.
func tarFiles(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = data
		}
	}
}

// readOCIArchive reads the image of an OCI archive or docker-archive
// (whose index.json names the same manifest).
func readOCIArchive(t *testing.T, path string) ociImage {
	t.Helper()
	files := tarFiles(t, path)
	return readOCI(t, func(name string) []byte {
		data, ok := files[name]
		if !ok {
			t.Fatalf("%s has no %s", path, name)
		}
		return data
	})
}

// readOCILayout reads the image of an OCI layout directory.
func readOCILayout(t *testing.T, dir string) ociImage {
	t.Helper()
	return readOCI(t, func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	})
}

func readOCI(t *testing.T, read func(name string) []byte) ociImage {
	t.Helper()
	var img ociImage
	decode := func(name string, v any) {
		if err := json.Unmarshal(read(name), v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	decode("index.json", &img.index)
	if len(img.index.Manifests) != 1 {
		t.Fatalf("index.json lists %d manifests, want 1", len(img.index.Manifests))
	}
	img.manifestDigest = img.index.Manifests[0].Digest
	decode(blobPath(img.manifestDigest), &img.manifest)
	decode(blobPath(img.manifest.Config.Digest), &img.config)
	return img
}

func blobPath(d digest.Digest) string {
	return "blobs/" + d.Algorithm().String() + "/" + d.Encoded()
}

// digestOf is the digest a build printed.
func digestOf(stdout string) digest.Digest {
	return digest.Digest(strings.TrimSpace(stdout))
}
