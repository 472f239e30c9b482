package image

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestSelectPlatform(t *testing.T) {
	at := func(s string) *ocispec.Platform {
		p, err := ParsePlatform(s)
		if err != nil {
			t.Fatal(err)
		}
		return &p
	}
	desc := func(name string, p *ocispec.Platform) ocispec.Descriptor {
		return ocispec.Descriptor{Digest: digest.FromString(name), Platform: p}
	}
	for _, c := range []struct {
		name  string
		descs []ocispec.Descriptor
		want  string // "" when none fits
	}{
		{"exact variant before a loose one", []ocispec.Descriptor{desc("loose", at("linux/arm64")), desc("exact", at("linux/arm64/v8"))}, "exact"},
		{"loose when no exact", []ocispec.Descriptor{desc("v7", at("linux/arm/v7")), desc("loose", at("linux/arm64"))}, "loose"},
		{"the first loose one", []ocispec.Descriptor{desc("a", at("linux/arm64/v9")), desc("b", at("linux/arm64"))}, "b"},
		{"lone without platform", []ocispec.Descriptor{desc("only", nil)}, "only"},
		{"lone for another platform", []ocispec.Descriptor{desc("amd", at("linux/amd64"))}, ""},
		{"several without platform", []ocispec.Descriptor{desc("a", nil), desc("b", nil)}, ""},
		{"other variant", []ocispec.Descriptor{desc("v9", at("linux/arm64/v9"))}, ""},
	} {
		d, ok := SelectPlatform(c.descs, *at("linux/arm64/v8"))
		switch {
		case c.want == "" && ok:
			t.Errorf("%s: picked %s, want none", c.name, d.Digest)
		case c.want != "" && d.Digest != digest.FromString(c.want):
			t.Errorf("%s: picked %s (ok %v), want %s", c.name, d.Digest, ok, c.want)
		}
	}
}

// platformLayout writes one image per platform, each with its own Cmd,
// listed in that order by an index that index.json names "multi", nested
// extra indexes deeper.
func platformLayout(t *testing.T, dir string, extra int, platforms ...string) {
	t.Helper()
	store := newMemStore()
	var blobs [][]byte
	var manifests []ocispec.Descriptor
	for _, s := range platforms {
		img := testImage(t, store)
		img.Config.Config.Cmd = []string{s}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParsePlatform(s)
		if err != nil {
			t.Fatal(err)
		}
		d := m.Descriptor
		d.Platform = &p
		manifests = append(manifests, d)
		blobs = append(blobs, m.ConfigJSON, m.ManifestJSON)
		for _, l := range img.Layers {
			blobs = append(blobs, store.blobs[l.Digest])
		}
	}
	for range extra + 1 {
		index, err := json.Marshal(newIndex(manifests...))
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, index)
		manifests = []ocispec.Descriptor{blobDescriptor(ocispec.MediaTypeImageIndex, index)}
	}
	writeLayout(t, dir, []ocispec.Descriptor{namedDescriptor(manifests[0], "multi")}, blobs...)
}

// A layout picks platforms as a registry does: an exact variant before a
// loose match, whatever the order of the index.
func TestLoadPrefersExactVariant(t *testing.T) {
	dir := t.TempDir()
	platformLayout(t, dir, 0, "linux/arm64", "linux/arm64/v8")
	for want, p := range map[string]ocispec.Platform{
		"linux/arm64/v8": {OS: "linux", Architecture: "arm64", Variant: "v8"},
		"linux/arm64":    {OS: "linux", Architecture: "arm64"},
	} {
		img, err := Load(context.Background(), Ref{Transport: OCILayout, Path: dir, Name: "multi"}, p, newMemStore())
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(img.Config.Config.Cmd, " "); got != want {
			t.Errorf("for %s: got the image for %s", FormatPlatform(p), got)
		}
	}
}

// Indexes nest at most MaxIndexDepth deep, index.json included, in a
// layout as in a registry.
func TestLoadIndexDepth(t *testing.T) {
	p := ocispec.Platform{OS: "linux", Architecture: "amd64"}
	for extra := 0; extra <= MaxIndexDepth-1; extra++ {
		dir := t.TempDir()
		platformLayout(t, dir, extra, "linux/amd64")
		_, err := Load(context.Background(), Ref{Transport: OCILayout, Path: dir, Name: "multi"}, p, newMemStore())
		depth := extra + 2 // index.json, the platforms' index, extra between
		switch {
		case depth <= MaxIndexDepth && err != nil:
			t.Errorf("%d deep: %v", depth, err)
		case depth > MaxIndexDepth && (err == nil || !strings.Contains(err.Error(), "nested too deeply")):
			t.Errorf("%d deep: err = %v", depth, err)
		}
	}
}
