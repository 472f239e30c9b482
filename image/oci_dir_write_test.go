package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mybuild/mybuild/layer"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

func saveOCIDir(t *testing.T, dir, name string, img *Image, store Store) *Manifest {
	t.Helper()
	m, err := WriteOCILayout(context.Background(), dir, name, img, store)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// refNames lists the index entries as name=digest, in order.
func refNames(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, d := range readIndex(t, dir).Manifests {
		out = append(out, d.Annotations[ocispec.AnnotationRefName]+"="+d.Digest.String())
	}
	return out
}

func TestSaveOCIDirCreatesLayout(t *testing.T) {
	store := newMemStore()
	img := mixedImage(t, store)
	dir := filepath.Join(t.TempDir(), "new", "layout")
	m := saveOCIDir(t, dir, "v1", img, store)

	layout, err := os.ReadFile(filepath.Join(dir, ocispec.ImageLayoutFile))
	if err != nil || string(layout) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %q, %v", layout, err)
	}
	if got, want := refNames(t, dir), []string{"v1=" + m.Descriptor.Digest.String()}; !slicesEqual(got, want) {
		t.Errorf("index = %v, want %v", got, want)
	}
	if idx := readIndex(t, dir); idx.SchemaVersion != 2 || idx.MediaType != ocispec.MediaTypeImageIndex {
		t.Errorf("index header = %d %q", idx.SchemaVersion, idx.MediaType)
	}
	// Every blob is there under its digest, and nothing else is.
	want := map[string]bool{m.Descriptor.Digest.Encoded(): true, m.Config.Digest.Encoded(): true}
	for _, l := range img.Layers {
		want[l.Digest.Encoded()] = true
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if len(ents) != len(want) {
		t.Errorf("blobs/sha256 holds %d files, want %d", len(ents), len(want))
	}
	for _, e := range ents {
		data, _ := os.ReadFile(filepath.Join(dir, "blobs", "sha256", e.Name()))
		if !want[e.Name()] || digest.FromBytes(data).Encoded() != e.Name() {
			t.Errorf("blob %s: unexpected or wrong content", e.Name())
		}
	}
	// Media types are kept, one per compression.
	var manifest ocispec.Manifest
	json.Unmarshal(m.ManifestJSON, &manifest)
	for i, l := range manifest.Layers {
		if l.MediaType != allCompressions[i] {
			t.Errorf("layer %d media type %q, want %q", i, l.MediaType, allCompressions[i])
		}
	}
	got, err := loadOCILayout(dir, "v1", HostPlatform(), newMemStore())
	if err != nil {
		t.Fatal(err)
	}
	if m2, _ := got.Manifest(); m2.Descriptor.Digest != m.Descriptor.Digest {
		t.Errorf("loaded back as %s, saved %s", m2.Descriptor.Digest, m.Descriptor.Digest)
	}
}

func TestSaveOCIDirDefaultName(t *testing.T) {
	store := newMemStore()
	dir := t.TempDir()
	m := saveOCIDir(t, dir, "", mixedImage(t, store), store)
	if got := refNames(t, dir); !slicesEqual(got, []string{"latest=" + m.Descriptor.Digest.String()}) {
		t.Errorf("index = %v", got)
	}
}

// A second image of the same name replaces the first in the index; one of
// another name is added; entries of other names, skopeo's included, stay.
func TestSaveOCIDirReplacesAndAdds(t *testing.T) {
	store := newMemStore()
	dir := filepath.Join(t.TempDir(), "layout")
	first := mixedImage(t, store)
	other := testImage(t, store)
	// A layout another tool made, with an image of its own.
	archive, _ := save(t, other, store, "")
	run(t, "skopeo", "copy", "oci-archive:"+archive, "oci:"+dir+":theirs")
	theirs := readIndex(t, dir).Manifests[0].Digest

	m1 := saveOCIDir(t, dir, "v1", first, store)
	second := *first
	second.Config.Config.Cmd = []string{"echo second"}
	m2 := saveOCIDir(t, dir, "v1", &second, store)
	if m1.Descriptor.Digest == m2.Descriptor.Digest {
		t.Fatal("test images should differ")
	}
	want := []string{"theirs=" + theirs.String(), "v1=" + m2.Descriptor.Digest.String()}
	if got := refNames(t, dir); !slicesEqual(got, want) {
		t.Errorf("after replacing v1: index = %v, want %v", got, want)
	}
	m3 := saveOCIDir(t, dir, "v2", first, store)
	want = append(want, "v2="+m3.Descriptor.Digest.String())
	if got := refNames(t, dir); !slicesEqual(got, want) {
		t.Errorf("after adding v2: index = %v, want %v", got, want)
	}
	// Saving the same image again changes nothing.
	before, _ := os.ReadFile(filepath.Join(dir, ocispec.ImageIndexFile))
	saveOCIDir(t, dir, "v2", first, store)
	after, _ := os.ReadFile(filepath.Join(dir, ocispec.ImageIndexFile))
	if !bytes.Equal(before, after) {
		t.Errorf("saving the same image again changed index.json:\n%s\n%s", before, after)
	}
	for name, d := range map[string]digest.Digest{"theirs": theirs, "v1": m2.Descriptor.Digest, "v2": m3.Descriptor.Digest} {
		raw := run(t, "skopeo", "inspect", "--raw", "oci:"+dir+":"+name)
		if digest.FromBytes(raw) != d {
			t.Errorf("skopeo inspect %s: manifest %s, want %s", name, digest.FromBytes(raw), d)
		}
	}
}

// skopeo and umoci accept the layout. umoci 0.4.7 (Debian 12) knows no
// zstd: it unpacks the gzip and uncompressed layers, and a copy in which
// skopeo recompressed the zstd layer with gzip.
func TestSaveOCIDirClients(t *testing.T) {
	store := newMemStore()
	img := mixedImage(t, store)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "layout")
	m := saveOCIDir(t, dir, "mixed", img, store)
	noZstd := *img
	noZstd.Layers = []layer.Layer{img.Layers[0], img.Layers[2]}
	saveOCIDir(t, dir, "nozstd", &noZstd, store)

	var inspected struct {
		Digest string
		Layers []string
	}
	if err := json.Unmarshal(run(t, "skopeo", "inspect", "oci:"+dir+":mixed"), &inspected); err != nil {
		t.Fatal(err)
	}
	if inspected.Digest != m.Descriptor.Digest.String() || len(inspected.Layers) != 3 {
		t.Errorf("skopeo inspect: %+v", inspected)
	}
	recompressed := filepath.Join(tmp, "recompressed")
	run(t, "skopeo", "copy", "--dest-compress", "--dest-compress-format", "gzip", "oci:"+dir+":mixed", "oci:"+recompressed+":mixed")
	for _, c := range []struct{ image, name string }{{dir + ":nozstd", "nozstd"}, {recompressed + ":mixed", "mixed"}} {
		bundle := filepath.Join(tmp, "bundle-"+c.name)
		run(t, "umoci", "unpack", "--image", c.image, bundle)
		files := []string{"gz", "zst", "tar"}
		if c.name == "nozstd" {
			files = []string{"gz", "tar"}
		}
		for _, name := range files {
			data, err := os.ReadFile(filepath.Join(bundle, "rootfs", name))
			if err != nil || string(data) != "content of "+name+"\n" {
				t.Errorf("umoci unpack %s: %s = %q, %v", c.image, name, data, err)
			}
		}
	}
	// umoci walks the whole layout: it fails on a dangling reference.
	run(t, "umoci", "gc", "--layout", dir)
	run(t, "umoci", "stat", "--image", dir+":mixed")
}

// A failed save leaves the index as it was: it never names a blob that is
// not there.
func TestSaveOCIDirFailureKeepsIndex(t *testing.T) {
	store := newMemStore()
	img := mixedImage(t, store)
	dir := t.TempDir()
	saveOCIDir(t, dir, "v1", img, store)
	before, _ := os.ReadFile(filepath.Join(dir, ocispec.ImageIndexFile))

	broken := *img
	broken.Layers = append(append([]layer.Layer(nil), img.Layers...), putLayer(t, store, ocispec.MediaTypeImageLayerGzip, "x", "x"))
	delete(store.blobs, broken.Layers[3].Digest)
	_, err := WriteOCILayout(context.Background(), dir, "v2", &broken, store)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, ocispec.ImageIndexFile))
	if !bytes.Equal(before, after) {
		t.Error("a failed save changed index.json")
	}
	// A blob whose content does not match its digest is not written.
	tampered := *img
	tampered.Layers = []layer.Layer{putLayer(t, store, ocispec.MediaTypeImageLayer, "y", "y")}
	d := tampered.Layers[0].Digest
	b := bytes.Clone(store.blobs[d])
	b[len(b)-1] ^= 1
	store.blobs[d] = b
	if _, err := WriteOCILayout(context.Background(), dir, "v3", &tampered, store); err == nil || !strings.Contains(err.Error(), "digest") {
		t.Fatalf("tampered blob: err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", d.Encoded())); !errors.Is(err, os.ErrNotExist) {
		t.Error("a blob not matching its digest was written")
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}

// Writers of the same layout take turns at index.json: none loses
// another's entry.
func TestSaveOCIDirConcurrent(t *testing.T) {
	store := newMemStore()
	img := mixedImage(t, store)
	dir := t.TempDir()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			one := *img
			one.Config.Config.Cmd = []string{fmt.Sprint(i)}
			_, err := WriteOCILayout(context.Background(), dir, fmt.Sprint("t", i), &one, store)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := readIndex(t, dir).Manifests; len(got) != n {
		t.Errorf("index lists %d images, want %d", len(got), n)
	}
}

// A save waiting for another writer's lock on the layout stops when its
// context is canceled, and leaves index.json as it was.
func TestSaveOCIDirLockWaitCanceled(t *testing.T) {
	store := newMemStore()
	img := mixedImage(t, store)
	dir := t.TempDir()
	saveOCIDir(t, dir, "v1", img, store)
	before, _ := os.ReadFile(filepath.Join(dir, ocispec.ImageIndexFile))
	held, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := unix.Flock(int(held.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := WriteOCILayout(ctx, dir, "v2", img, store)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want the context's", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the save still waits for the lock after its context ended")
	}
	after, _ := os.ReadFile(filepath.Join(dir, ocispec.ImageIndexFile))
	if !bytes.Equal(before, after) {
		t.Error("a canceled save changed index.json")
	}
}

func TestSaveOCIDirRefusesNonLayout(t *testing.T) {
	store := newMemStore()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ocispec.ImageIndexFile), []byte("{}"), 0o644)
	_, err := WriteOCILayout(context.Background(), dir, "", mixedImage(t, store), store)
	if err == nil || !strings.Contains(err.Error(), "not an OCI layout") {
		t.Fatalf("err = %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("the directory was changed: %v", ents)
	}
}

func slicesEqual(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n")
}

// A layer whose stored blob is not the size the image says fails the
// save, in an archive as in a layout, and names the blob.
func TestSaveStoredSizeMismatch(t *testing.T) {
	store := newMemStore()
	img := testImage(t, store)
	img.Layers[1].Size++
	for _, tr := range []string{"oci-archive", "oci"} {
		_, err := writers[tr](context.Background(), filepath.Join(t.TempDir(), "out"), "", img, store)
		want := fmt.Sprintf("blob %s: stored size %d, want %d", img.Layers[1].Digest, img.Layers[1].Size-1, img.Layers[1].Size)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", tr, err, want)
		}
	}
}
