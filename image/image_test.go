package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/mybuild/mybuild/layer"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// memStore is a Store in memory.
type memStore struct {
	mu    sync.Mutex
	blobs map[digest.Digest][]byte
	puts  int
}

func newMemStore() *memStore { return &memStore{blobs: map[digest.Digest][]byte{}} }

func (s *memStore) HasBlob(d digest.Digest, size int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blobs[d]
	return ok && int64(len(b)) == size
}

func (s *memStore) PutBlob(d digest.Digest, size int64, r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if digest.FromBytes(data) != d || (size >= 0 && int64(len(data)) != size) {
		return fmt.Errorf("blob %s: wrong content", d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blobs[d] = data
	s.puts++
	return nil
}

func (s *memStore) OpenBlob(d digest.Digest) (io.ReadCloser, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blobs[d]
	if !ok {
		return nil, 0, os.ErrNotExist
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}

// layerTar makes a gzip layer holding one file.
func layerTar(t *testing.T, name, content string) (blob []byte, diffID digest.Digest) {
	t.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	tw.Write([]byte(content))
	tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw.Bytes())
	zw.Close()
	return gz.Bytes(), digest.FromBytes(raw.Bytes())
}

func testImage(t *testing.T, store *memStore) *Image {
	img := &Image{}
	img.Config.OS = "linux"
	img.Config.Architecture = HostPlatform().Architecture
	img.Config.Config.Env = []string{"PATH=/bin"}
	img.Config.Config.Cmd = []string{"/bin/sh"}
	img.Config.History = []ocispec.History{{CreatedBy: "COPY a /"}, {CreatedBy: "COPY b /"}}
	for _, f := range []string{"a", "b"} {
		blob, diffID := layerTar(t, f, "content of "+f)
		d := digest.FromBytes(blob)
		if err := store.PutBlob(d, int64(len(blob)), bytes.NewReader(blob)); err != nil {
			t.Fatal(err)
		}
		img.Layers = append(img.Layers, layer.Layer{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: d, Size: int64(len(blob)), DiffID: diffID})
	}
	return img
}

func save(t *testing.T, img *Image, store Store, name string) (string, *Manifest) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "app.tar")
	m, err := WriteOCIArchive(context.Background(), p, name, img, store)
	if err != nil {
		t.Fatal(err)
	}
	return p, m
}

func TestSaveLoadRoundTrip(t *testing.T) {
	src := newMemStore()
	img := testImage(t, src)
	p, m := save(t, img, src, "v1")

	for _, name := range []string{"v1", ""} {
		dst := newMemStore()
		got, err := loadOCIArchive(p, name, HostPlatform(), dst)
		if err != nil {
			t.Fatal(err)
		}
		assertSameImage(t, got, img, dst)
		m2, _ := got.Manifest()
		if m2.Descriptor.Digest != m.Descriptor.Digest {
			t.Errorf("manifest digest changed across a round trip: %s != %s", m2.Descriptor.Digest, m.Descriptor.Digest)
		}
	}
	if _, err := loadOCIArchive(p, "nope", HostPlatform(), newMemStore()); err == nil || !strings.Contains(err.Error(), `no image named "nope"`) {
		t.Errorf("unknown ref: err = %v", err)
	}
}

func assertSameImage(t *testing.T, got, want *Image, store *memStore) {
	t.Helper()
	if len(got.Layers) != len(want.Layers) {
		t.Fatalf("got %d layers, want %d", len(got.Layers), len(want.Layers))
	}
	for i := range want.Layers {
		if got.Layers[i] != want.Layers[i] {
			t.Errorf("layer %d = %+v, want %+v", i, got.Layers[i], want.Layers[i])
		}
		if !store.HasBlob(want.Layers[i].Digest, want.Layers[i].Size) {
			t.Errorf("layer %d not imported", i)
		}
	}
	if strings.Join(got.Config.Config.Cmd, " ") != "/bin/sh" || got.Config.History[1].CreatedBy != "COPY b /" {
		t.Errorf("config not read back: %+v", got.Config)
	}
}

func TestSecondLoadImportsNothing(t *testing.T) {
	src := newMemStore()
	p, _ := save(t, testImage(t, src), src, "")
	dst := newMemStore()
	for i := 0; i < 2; i++ {
		if _, err := loadOCIArchive(p, "", HostPlatform(), dst); err != nil {
			t.Fatal(err)
		}
	}
	if dst.puts != 2 {
		t.Errorf("stored %d blobs over two loads, want 2", dst.puts)
	}
}

// skopeo is the reference client: it must accept our archives, and what it
// converts them to must load back.
func TestSkopeoInterop(t *testing.T) {
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Fatal("skopeo is needed: apt-get install skopeo")
	}
	src := newMemStore()
	img := testImage(t, src)
	p, m := save(t, img, src, "")
	out, err := exec.Command(skopeo, "inspect", "--raw", "oci-archive:"+p).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo inspect: %v\n%s", err, out)
	}
	if digest.FromBytes(out) != m.Descriptor.Digest {
		t.Errorf("skopeo sees manifest %s, want %s", digest.FromBytes(out), m.Descriptor.Digest)
	}

	dir := t.TempDir()
	layout := filepath.Join(dir, "layout")
	darchive := filepath.Join(dir, "docker.tar")
	for _, dest := range []string{"oci:" + layout + ":tag1", "docker-archive:" + darchive + ":example/app:1.0"} {
		if out, err := exec.Command(skopeo, "copy", "oci-archive:"+p, dest).CombinedOutput(); err != nil {
			t.Fatalf("skopeo copy to %s: %v\n%s", dest, err, out)
		}
	}
	for ref, load := range map[string]func(Store) (*Image, error){
		"oci:" + layout + ":tag1":    func(s Store) (*Image, error) { return loadOCILayout(layout, "tag1", HostPlatform(), s) },
		"oci:" + layout:              func(s Store) (*Image, error) { return loadOCILayout(layout, "", HostPlatform(), s) },
		"docker-archive:" + darchive: func(s Store) (*Image, error) { return loadDockerArchive(darchive, "", s) },
		"docker-archive:" + darchive + ":example/app:1.0": func(s Store) (*Image, error) {
			return loadDockerArchive(darchive, "example/app:1.0", s)
		},
	} {
		dst := newMemStore()
		got, err := load(dst)
		if err != nil {
			t.Fatalf("load %s: %v", ref, err)
		}
		if len(got.Layers) != 2 || got.Layers[1].DiffID != img.Layers[1].DiffID {
			t.Fatalf("load %s: layers %+v", ref, got.Layers)
		}
		for _, l := range got.Layers {
			if !dst.HasBlob(l.Digest, l.Size) {
				t.Errorf("load %s: layer %s not imported", ref, l.Digest)
			}
		}
	}
}

func TestLoadRejectsTamperedBlob(t *testing.T) {
	src := newMemStore()
	img := testImage(t, src)
	// Same size, different bytes.
	d := img.Layers[0].Digest
	b := bytes.Clone(src.blobs[d])
	b[len(b)-1] ^= 0xff
	src.blobs[d] = b
	p := filepath.Join(t.TempDir(), "x.tar")
	// Save itself does not check (the cache's reader does); Load must.
	m, _ := img.Manifest()
	f, _ := os.Create(p)
	writeOCIArchive(context.Background(), f, img, m, "latest", src)
	f.Close()
	if _, err := loadOCIArchive(p, "", HostPlatform(), newMemStore()); err == nil {
		t.Fatal("a blob that does not match its digest was loaded")
	}
}

func TestMultiPlatformIndex(t *testing.T) {
	store := newMemStore()
	img := testImage(t, store)
	m, _ := img.Manifest()
	dir := t.TempDir()
	blobs := filepath.Join(dir, "blobs", "sha256")
	os.MkdirAll(blobs, 0o755)
	write := func(data []byte) digest.Digest {
		d := digest.FromBytes(data)
		os.WriteFile(filepath.Join(blobs, d.Encoded()), data, 0o644)
		return d
	}
	for _, l := range img.Layers {
		write(store.blobs[l.Digest])
	}
	write(m.ConfigJSON)
	write(m.ManifestJSON)
	other := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("other"), Size: 5,
		Platform: &ocispec.Platform{OS: "linux", Architecture: "s390x"}}
	mine := m.Descriptor
	host := HostPlatform()
	mine.Platform = &host
	nested, _ := json.Marshal(ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{other, mine}})
	nd := write(nested)
	top, _ := json.Marshal(ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{
		{MediaType: ocispec.MediaTypeImageIndex, Digest: nd, Size: int64(len(nested)), Annotations: map[string]string{ocispec.AnnotationRefName: "multi"}}}})
	os.WriteFile(filepath.Join(dir, "index.json"), top, 0o644)
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)

	got, err := loadOCILayout(dir, "multi", host, newMemStore())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Layers) != 2 {
		t.Fatalf("got %+v", got.Layers)
	}
	_, err = loadOCILayout(dir, "multi", ocispec.Platform{OS: "linux", Architecture: "riscv64"}, newMemStore())
	if err == nil || !strings.Contains(err.Error(), "linux/riscv64") {
		t.Errorf("missing platform: err = %v", err)
	}
}

func TestSaveIsAtomic(t *testing.T) {
	store := newMemStore()
	img := testImage(t, store)
	p, _ := save(t, img, store, "")
	before, _ := os.ReadFile(p)
	// A blob missing from the store fails the write half-way.
	delete(store.blobs, img.Layers[1].Digest)
	_, err := WriteOCIArchive(context.Background(), p, "", img, store)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
	after, _ := os.ReadFile(p)
	if sha256.Sum256(before) != sha256.Sum256(after) {
		t.Fatal("a failed write changed the existing archive")
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Fatalf("temp files left behind: %v", entries)
	}
}

var _ Store = (*memStore)(nil)

// A layer descriptor with a negative size is refused when the image is
// read, as the registry refuses one, before any blob is copied.
func TestLoadRejectsNegativeLayerSize(t *testing.T) {
	store := newMemStore()
	img := testImage(t, store)
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var manifest ocispec.Manifest
	if err := json.Unmarshal(m.ManifestJSON, &manifest); err != nil {
		t.Fatal(err)
	}
	manifest.Layers[1].Size = -1
	manifestJSON, err := json.Marshal(manifest)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeLayout(t, dir, []ocispec.Descriptor{blobDescriptor(ocispec.MediaTypeImageManifest, manifestJSON)},
		manifestJSON, m.ConfigJSON, store.blobs[img.Layers[0].Digest], store.blobs[img.Layers[1].Digest])
	_, err = loadOCILayout(dir, "", HostPlatform(), newMemStore())
	if err == nil || !strings.Contains(err.Error(), "layer 1: negative size -1") {
		t.Errorf("load: err = %v", err)
	}
	if _, err := OpenOCILayout(dir, "", HostPlatform()); err == nil || !strings.Contains(err.Error(), "layer 1: negative size -1") {
		t.Errorf("inspect: err = %v", err)
	}
}

// NewManifest renders a manifest for any config media type, byte for byte
// as it always has: registry cache entries, whose digests other machines
// look up, depend on it. No layers is "layers":[], never null.
func TestNewManifest(t *testing.T) {
	cfg := []byte(`{"key":"x"}`)
	m, err := NewManifest("application/vnd.example.config+json", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.example.config+json","digest":"sha256:3453ef6ff9c71b321eab1c720226177ca468bd24284b33eade9e69f2a12c853b","size":11},"layers":[]}`
	if string(m.ManifestJSON) != want {
		t.Errorf("manifest\n%s\nwant\n%s", m.ManifestJSON, want)
	}
	if !reflect.DeepEqual(m.Descriptor, blobDescriptor(ocispec.MediaTypeImageManifest, m.ManifestJSON)) ||
		!reflect.DeepEqual(m.Config, blobDescriptor("application/vnd.example.config+json", cfg)) {
		t.Errorf("descriptors %+v, %+v", m.Descriptor, m.Config)
	}
	if !bytes.Equal(m.ConfigJSON, cfg) {
		t.Errorf("config %s", m.ConfigJSON)
	}
}

// An archive whose index names a layer blob it lacks fails the load, once
// the layers present are stored, naming the missing one.
func TestLoadArchiveMissingBlob(t *testing.T) {
	src := newMemStore()
	img := testImage(t, src)
	p, _ := save(t, img, src, "")
	names, files := tarFiles(t, p)
	gone := blobName(img.Layers[1].Digest)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for _, name := range names {
		data, ok := files[name]
		if !ok || name == gone {
			continue
		}
		if err := writeTarFile(tw, name, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	dst := newMemStore()
	_, err = loadOCIArchive(p, "", HostPlatform(), dst)
	if err == nil || !strings.Contains(err.Error(), "layer "+gone+" is missing") {
		t.Errorf("err = %v", err)
	}
	if !dst.HasBlob(img.Layers[0].Digest, img.Layers[0].Size) {
		t.Error("the layer present was not stored")
	}
}
