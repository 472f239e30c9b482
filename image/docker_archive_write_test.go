package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func saveDockerArchive(t *testing.T, p, name string, img *Image, store Store) *Manifest {
	t.Helper()
	m, err := WriteDockerArchive(context.Background(), p, name, img, store)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSaveDockerArchiveStructure(t *testing.T) {
	store := newMemStore()
	img := mixedImage(t, store)
	p := filepath.Join(t.TempDir(), "app.tar")
	m := saveDockerArchive(t, p, "docker.io/library/app:1.0", img, store)

	names, files := tarFiles(t, p)
	cfg := "blobs/sha256/" + m.Config.Digest.Encoded()
	var layerPaths []string
	for _, l := range img.Layers {
		layerPaths = append(layerPaths, "blobs/sha256/"+l.DiffID.Encoded())
	}
	wantNames := append([]string{"manifest.json", "repositories", "oci-layout", "index.json", "blobs/", "blobs/sha256/",
		cfg, "blobs/sha256/" + m.Descriptor.Digest.Encoded()}, layerPaths...)
	if !slicesEqual(names, wantNames) {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(wantNames, "\n"))
	}

	var entries []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(files["manifest.json"], &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Config != cfg || !slicesEqual(entries[0].RepoTags, []string{"app:1.0"}) || !slicesEqual(entries[0].Layers, layerPaths) {
		t.Errorf("manifest.json = %s", files["manifest.json"])
	}
	top := img.Layers[len(img.Layers)-1].DiffID.Encoded()
	if got, want := string(files["repositories"]), `{"app":{"1.0":"`+top+`"}}`+"\n"; got != want {
		t.Errorf("repositories = %q, want %q", got, want)
	}
	// Layers are uncompressed: each file is the tar its diffID names.
	for i, lp := range layerPaths {
		if got := digest.FromBytes(files[lp]); got != img.Layers[i].DiffID {
			t.Errorf("layer %d: file digest %s, diffID %s", i, got, img.Layers[i].DiffID)
		}
	}
	// The config is the image's; the manifest is that of the image with
	// uncompressed layers.
	orig, _ := img.Manifest()
	if !bytes.Equal(files[cfg], orig.ConfigJSON) || m.Config.Digest != orig.Config.Digest {
		t.Errorf("config differs from the image's")
	}
	var manifest ocispec.Manifest
	json.Unmarshal(files["blobs/sha256/"+m.Descriptor.Digest.Encoded()], &manifest)
	for i, l := range manifest.Layers {
		if l.MediaType != ocispec.MediaTypeImageLayer || l.Digest != img.Layers[i].DiffID || l.Size != int64(len(files[layerPaths[i]])) {
			t.Errorf("manifest layer %d = %+v", i, l)
		}
	}
	var index ocispec.Index
	json.Unmarshal(files["index.json"], &index)
	if len(index.Manifests) != 1 || index.Manifests[0].Digest != m.Descriptor.Digest ||
		index.Manifests[0].Annotations[ocispec.AnnotationRefName] != "1.0" ||
		index.Manifests[0].Annotations[annotationImageName] != "docker.io/library/app:1.0" {
		t.Errorf("index.json = %s", files["index.json"])
	}
}

// Load reads the archive back: same config, same diffIDs, and the manifest
// Save returned.
func TestSaveDockerArchiveLoad(t *testing.T) {
	store := newMemStore()
	img := mixedImage(t, store)
	p := filepath.Join(t.TempDir(), "app.tar")
	m := saveDockerArchive(t, p, "example/app:1.0", img, store)
	for _, name := range []string{"", "example/app:1.0", "docker.io/example/app:1.0"} {
		dst := newMemStore()
		got, err := loadDockerArchive(p, name, dst)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Layers) != len(img.Layers) {
			t.Fatalf("%d layers", len(got.Layers))
		}
		for i, l := range got.Layers {
			if l.DiffID != img.Layers[i].DiffID || l.Digest != l.DiffID || l.MediaType != ocispec.MediaTypeImageLayer || !dst.HasBlob(l.Digest, l.Size) {
				t.Errorf("layer %d = %+v", i, l)
			}
		}
		gm, _ := got.Manifest()
		if gm.Descriptor.Digest != m.Descriptor.Digest {
			t.Errorf("loaded manifest %s, saved %s", gm.Descriptor.Digest, m.Descriptor.Digest)
		}
		orig, _ := img.Manifest()
		if !bytes.Equal(gm.ConfigJSON, orig.ConfigJSON) {
			t.Errorf("config changed:\n%s\n%s", gm.ConfigJSON, orig.ConfigJSON)
		}
	}
}

func TestSaveDockerArchiveUntagged(t *testing.T) {
	store := newMemStore()
	p := filepath.Join(t.TempDir(), "app.tar")
	m := saveDockerArchive(t, p, "", mixedImage(t, store), store)
	_, files := tarFiles(t, p)
	if _, ok := files["repositories"]; ok {
		t.Error("an untagged image has a repositories file")
	}
	if !strings.Contains(string(files["manifest.json"]), `"RepoTags":null`) {
		t.Errorf("manifest.json = %s", files["manifest.json"])
	}
	var index ocispec.Index
	json.Unmarshal(files["index.json"], &index)
	if len(index.Manifests) != 1 || index.Manifests[0].Digest != m.Descriptor.Digest || index.Manifests[0].Annotations != nil {
		t.Errorf("index.json = %s", files["index.json"])
	}
}

// The same image gives the same bytes; a repeated layer is stored once.
func TestSaveDockerArchiveDeterministic(t *testing.T) {
	store := newMemStore()
	img := mixedImage(t, store)
	img.Layers = append(img.Layers, img.Layers[0])
	img.Config.History = append(img.Config.History, ocispec.History{CreatedBy: "COPY gz /gz"})
	dir := t.TempDir()
	var archives [][]byte
	for _, name := range []string{"a.tar", "b.tar"} {
		p := filepath.Join(dir, name)
		saveDockerArchive(t, p, "app", img, store)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		archives = append(archives, data)
	}
	if !bytes.Equal(archives[0], archives[1]) {
		t.Error("two saves of the same image differ")
	}
	names, files := tarFiles(t, filepath.Join(dir, "a.tar"))
	if len(names) != 8+3 {
		t.Errorf("entries: %v", names)
	}
	if !strings.Contains(string(files["manifest.json"]), `"RepoTags":["app:latest"]`) {
		t.Errorf("manifest.json = %s", files["manifest.json"])
	}
}

// skopeo reads the archive, both as a docker-archive and, as Docker's
// own archives since Docker 25, as an oci-archive.
func TestSaveDockerArchiveSkopeo(t *testing.T) {
	store := newMemStore()
	img := mixedImage(t, store)
	tmp := t.TempDir()
	p := filepath.Join(tmp, "app.tar")
	m := saveDockerArchive(t, p, "example/app:1.0", img, store)

	var inspected struct {
		Layers       []string
		Architecture string
		Env          []string
	}
	if err := json.Unmarshal(run(t, "skopeo", "inspect", "docker-archive:"+p), &inspected); err != nil {
		t.Fatal(err)
	}
	if len(inspected.Layers) != 3 || inspected.Layers[0] != img.Layers[0].DiffID.String() || len(inspected.Env) != 2 {
		t.Errorf("skopeo inspect docker-archive: %+v", inspected)
	}
	if raw := run(t, "skopeo", "inspect", "--raw", "oci-archive:"+p); digest.FromBytes(raw) != m.Descriptor.Digest {
		t.Errorf("skopeo inspect oci-archive: manifest %s, want %s", digest.FromBytes(raw), m.Descriptor.Digest)
	}
	for _, src := range []string{"docker-archive:" + p, "docker-archive:" + p + ":example/app:1.0"} {
		layout := filepath.Join(t.TempDir(), "layout")
		run(t, "skopeo", "copy", src, "oci:"+layout+":copy")
		got, err := loadOCILayout(layout, "copy", HostPlatform(), newMemStore())
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range got.Layers {
			if l.DiffID != img.Layers[i].DiffID {
				t.Errorf("%s: layer %d diffID %s, want %s", src, i, l.DiffID, img.Layers[i].DiffID)
			}
		}
		if !slicesEqual(got.Config.Config.Cmd, img.Config.Config.Cmd) || got.Config.History[2].CreatedBy != img.Config.History[2].CreatedBy {
			t.Errorf("%s: config %+v", src, got.Config)
		}
	}
}

// A layer that does not decompress to its diffID fails the save, which
// leaves no archive behind.
func TestSaveDockerArchiveChecksDiffID(t *testing.T) {
	for _, mt := range allCompressions {
		store := newMemStore()
		img := mixedImage(t, store)
		l := putLayer(t, store, mt, "x", "x")
		l.DiffID = digest.FromString("something else")
		img.Layers = append(img.Layers, l)
		dir := t.TempDir()
		_, err := WriteDockerArchive(context.Background(), filepath.Join(dir, "a.tar"), "", img, store)
		if err == nil || !strings.Contains(err.Error(), "diffID") {
			t.Errorf("%s: err = %v", mt, err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("%s: left %v", mt, ents)
		}
	}
}

func TestSaveDockerArchiveBadName(t *testing.T) {
	store := newMemStore()
	p := filepath.Join(t.TempDir(), "a.tar")
	for _, name := range []string{"App:1", "app@sha256:" + strings.Repeat("a", 64), "app:bad/tag", strings.Repeat("a", 64)} {
		if err := CheckDockerName(name); err == nil {
			t.Errorf("CheckDockerName accepts %q", name)
		}
		if _, err := WriteDockerArchive(context.Background(), p, name, mixedImage(t, store), store); err == nil {
			t.Errorf("%q accepted", name)
		}
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Error("archive written for a bad name")
	}
	for _, name := range []string{"app:1", "", "docker.io/library/app"} {
		if err := CheckDockerName(name); err != nil {
			t.Errorf("CheckDockerName(%q) = %v", name, err)
		}
	}
}

func TestFamiliarTag(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                         "busybox:latest",
		"busybox:1.36":                    "busybox:1.36",
		"docker.io/library/busybox:1.36":  "busybox:1.36",
		"index.docker.io/library/busybox": "busybox:latest",
		"docker.io/user/app:v1":           "user/app:v1",
		"user/app":                        "user/app:latest",
		"library/busybox":                 "busybox:latest",
		"docker.io/library/a/b:1":         "library/a/b:1",
		"ghcr.io/user/app:v1":             "ghcr.io/user/app:v1",
		"localhost/app":                   "localhost/app:latest",
		"localhost:5000/app":              "localhost:5000/app:latest",
		"registry:5000/a/b:x":             "registry:5000/a/b:x",
		"Registry/app:1":                  "Registry/app:1",
		"a.b-c/d__e.f--g:1.0_x":           "a.b-c/d__e.f--g:1.0_x",
	} {
		got, err := familiarTag(in)
		if err != nil || got != want {
			t.Errorf("familiarTag(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "App", "app:", ":tag", "a//b", "app:" + strings.Repeat("x", 129), "-app", "app@sha256:abc", "ghcr.io/App/x"} {
		if got, err := familiarTag(in); err == nil {
			t.Errorf("familiarTag(%q) = %q, want an error", in, got)
		}
	}
}

// A canceled save fails with the context's error and leaves nothing.
func TestSaveCanceled(t *testing.T) {
	store := newMemStore()
	img := mixedImage(t, store)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for tr, write := range writers {
		dir := t.TempDir()
		_, err := write(ctx, filepath.Join(dir, "out"), "", img, store)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: err = %v", tr, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "out", "index.json")); err == nil {
			t.Errorf("%s: index written", tr)
		}
		if ents, _ := os.ReadDir(dir); tr != "oci" && len(ents) != 0 {
			t.Errorf("%s: left %v", tr, ents)
		}
	}
}
