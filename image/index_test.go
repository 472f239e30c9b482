package image

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// twoPlatformImages are mixedImage for linux/amd64 and a variant of it
// for linux/arm64, sharing their layers.
func twoPlatformImages(t *testing.T, store *memStore) []*Image {
	t.Helper()
	amd := mixedImage(t, store)
	arm := mixedImage(t, store)
	arm.Config.Architecture, arm.Config.Variant = "arm64", "v8"
	return []*Image{amd, arm}
}

// An index written to an archive and to a layout names one manifest per
// platform, each with its platform; skopeo reads each, every blob is
// stored once, and an inspection lists the platforms (golden).
func TestWriteIndex(t *testing.T) {
	store := newMemStore()
	imgs := twoPlatformImages(t, store)
	pkgDir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	a := IndexAnnotations{Index: map[string]string{"org.opencontainers.image.description": "two platforms"},
		Descriptor: map[string]string{"com.example.entry": "the index"}}
	idx, err := WriteOCIArchiveIndex(context.Background(), "multi.tar", "v1", imgs, a, store)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteOCILayoutIndex(context.Background(), "layout", "v1", imgs, a, store); err != nil {
		t.Fatal(err)
	}
	// The index's annotations are in it; its descriptor's, beside the
	// name, in index.json.
	top, err := os.ReadFile("layout/index.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(idx.IndexJSON, []byte(`"annotations":{"org.opencontainers.image.description":"two platforms"}`)) ||
		!bytes.Contains(top, []byte(`"annotations":{"com.example.entry":"the index","org.opencontainers.image.ref.name":"v1"}`)) {
		t.Errorf("annotations: index %s\nindex.json %s", idx.IndexJSON, top)
	}
	names, _ := tarFiles(t, "multi.tar")
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("%s is in the archive twice", n)
		}
		seen[n] = true
	}
	// 3 shared layers, 2 configs, 2 manifests, the index.
	if blobs := len(names) - 4; blobs != 8 {
		t.Errorf("the archive holds %d blobs, want 8: %q", blobs, names)
	}
	for _, ref := range []string{"oci-archive:multi.tar:v1", "oci:layout:v1"} {
		raw := run(t, tool(t, "skopeo"), "inspect", "--raw", ref)
		if !bytes.Equal(raw, idx.IndexJSON) {
			t.Errorf("skopeo inspect --raw %s:\n%s\nwant the index %s", ref, raw, idx.IndexJSON)
		}
		for _, arch := range []string{"amd64", "arm64"} {
			var info struct{ Architecture, Digest string }
			out := run(t, "skopeo", "--override-os", "linux", "--override-arch", arch, "inspect", ref)
			if err := json.Unmarshal(out, &info); err != nil || info.Architecture != arch {
				t.Errorf("skopeo picks %q for %s in %s (%v)", info.Architecture, arch, ref, err)
			}
		}
	}
	var index ocispec.Index
	if err := json.Unmarshal(idx.IndexJSON, &index); err != nil {
		t.Fatal(err)
	}
	if got := PlatformList(index.Manifests); got != "linux/amd64, linux/arm64/v8" {
		t.Errorf("index platforms: %s", got)
	}
	src, err := OpenOCILayout("layout", "v1", ocispec.Platform{OS: "linux", Architecture: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := src.Inspect("oci:layout:v1").WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Chdir(pkgDir)
	checkGolden(t, "inspect_index.txt.golden", text.Bytes())
	if !strings.Contains(text.String(), index.Manifests[1].Digest.String()+" (shown)") {
		t.Errorf("the arm64 image is not the one shown:\n%s", text.String())
	}
}

// Two images for one platform make no index.
func TestIndexRefusesTwoOfAPlatform(t *testing.T) {
	store := newMemStore()
	img := mixedImage(t, store)
	_, err := NewIndex([]*Image{img, img}, IndexAnnotations{})
	if err == nil || !strings.Contains(err.Error(), "two images for platform linux/amd64") {
		t.Errorf("err = %v", err)
	}
}
