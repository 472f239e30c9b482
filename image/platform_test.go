package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
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
	annotated := func(name string, p *ocispec.Platform) ocispec.Descriptor {
		d := desc(name, p)
		d.Annotations = map[string]string{AnnotationReferenceType: AttestationManifest}
		return d
	}
	// An attestation manifest as BuildKit lists it: unknown/unknown, and
	// the annotation.
	attest := func(name string) ocispec.Descriptor { return annotated(name, at("unknown/unknown")) }
	for _, c := range []struct {
		name  string
		descs []ocispec.Descriptor
		want  string // "" when none fits
	}{
		{"exact variant before a loose one", []ocispec.Descriptor{desc("loose", at("linux/arm64")), desc("exact", at("linux/arm64/v9"))}, "exact"},
		{"one it runs when no exact", []ocispec.Descriptor{desc("v7", at("linux/arm/v7")), desc("v8", at("linux/arm64"))}, "v8"},
		{"the first of equals", []ocispec.Descriptor{desc("a", at("linux/arm64/v8")), desc("b", at("linux/arm64"))}, "a"},
		{"lone without platform", []ocispec.Descriptor{desc("only", nil)}, "only"},
		{"lone for another platform", []ocispec.Descriptor{desc("amd", at("linux/amd64"))}, ""},
		{"several without platform", []ocispec.Descriptor{desc("a", nil), desc("b", nil)}, ""},
		{"other variant", []ocispec.Descriptor{desc("v10", at("linux/arm64/v10"))}, ""},
		{"attestations skipped", []ocispec.Descriptor{attest("att"), desc("arm", at("linux/arm64/v9")), attest("att2")}, "arm"},
		{"lone image beside its attestation", []ocispec.Descriptor{desc("only", nil), attest("att")}, "only"},
		{"attestations only", []ocispec.Descriptor{attest("att")}, ""},
		{"annotated attestation with a platform", []ocispec.Descriptor{annotated("att", at("linux/arm64/v9")), desc("v8", at("linux/arm64"))}, "v8"},
	} {
		d, ok := SelectPlatform(c.descs, *at("linux/arm64/v9"))
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
// extra indexes deeper. A platform "attestation" is an attestation
// manifest, as BuildKit adds one after each image.
func platformLayout(t *testing.T, dir string, extra int, platforms ...string) {
	t.Helper()
	store := newMemStore()
	var blobs [][]byte
	var manifests []ocispec.Descriptor
	for _, s := range platforms {
		if s == "attestation" {
			d, b := attestationManifest(t, manifests[len(manifests)-1])
			manifests = append(manifests, d)
			blobs = append(blobs, b...)
			continue
		}
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
	platformLayout(t, dir, 0, "linux/arm64", "linux/arm64/v9")
	for want, p := range map[string]ocispec.Platform{
		"linux/arm64/v9": {OS: "linux", Architecture: "arm64", Variant: "v9"},
		"linux/arm64":    {OS: "linux", Architecture: "arm64"},
	} {
		img, err := loadOCILayout(dir, "multi", p, newMemStore())
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
		_, err := loadOCILayout(dir, "multi", p, newMemStore())
		depth := extra + 2 // index.json, the platforms' index, extra between
		switch {
		case depth <= MaxIndexDepth && err != nil:
			t.Errorf("%d deep: %v", depth, err)
		case depth > MaxIndexDepth && (err == nil || !strings.Contains(err.Error(), "nested too deeply")):
			t.Errorf("%d deep: err = %v", depth, err)
		}
	}
}

// attestationManifest is an attestation manifest for subject, as BuildKit
// writes one: an in-toto layer, which no reader can unpack, so that
// picking it by mistake fails the load.
func attestationManifest(t *testing.T, subject ocispec.Descriptor) (ocispec.Descriptor, [][]byte) {
	t.Helper()
	statement := []byte(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2"}`)
	config := []byte(`{"architecture":"unknown","os":"unknown","config":{},"rootfs":{"type":"layers","diff_ids":["` + digest.FromBytes(statement).String() + `"]}}`)
	m, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    blobDescriptor(ocispec.MediaTypeImageConfig, config),
		Layers:    []ocispec.Descriptor{blobDescriptor("application/vnd.in-toto+json", statement)},
	})
	if err != nil {
		t.Fatal(err)
	}
	d := blobDescriptor(ocispec.MediaTypeImageManifest, m)
	d.Platform = &ocispec.Platform{OS: "unknown", Architecture: "unknown"}
	d.Annotations = map[string]string{
		AnnotationReferenceType:       AttestationManifest,
		"vnd.docker.reference.digest": subject.Digest.String(),
	}
	return d, [][]byte{statement, config, m}
}

// BuildKit lists an attestation manifest after each image of an index;
// a layout skips them, whatever the platform asked for, and does not list
// them among the platforms it has.
func TestLoadSkipsAttestations(t *testing.T) {
	dir := t.TempDir()
	platformLayout(t, dir, 0, "linux/amd64", "attestation", "linux/arm64/v8", "attestation")
	for _, want := range []string{"linux/amd64", "linux/arm64/v8"} {
		p, _ := ParsePlatform(want)
		img, err := loadOCILayout(dir, "multi", p, newMemStore())
		if err != nil {
			t.Fatalf("%s: %v", want, err)
		}
		if got := strings.Join(img.Config.Config.Cmd, " "); got != want {
			t.Errorf("for %s: got the image for %s", want, got)
		}
	}
	for _, p := range []ocispec.Platform{{OS: "unknown", Architecture: "unknown"}, {OS: "linux", Architecture: "s390x"}} {
		_, err := loadOCILayout(dir, "multi", p, newMemStore())
		want := fmt.Sprintf("no image for platform %s (the index has linux/amd64, linux/arm64)", FormatPlatform(p))
		if err == nil || err.Error() != want || !errors.Is(err, ErrNoPlatform) {
			t.Errorf("got %v, want %s", err, want)
		}
	}
}

// flatLayout moves the manifests of the index that index.json names up
// into index.json, as some tools write a layout, the platform of the
// first one cleared when clear is set.
func flatLayout(t *testing.T, dir string, clear bool) {
	t.Helper()
	index := readIndex(t, dir)
	blob, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", index.Manifests[0].Digest.Encoded()))
	if err != nil {
		t.Fatal(err)
	}
	var nested ocispec.Index
	if err := json.Unmarshal(blob, &nested); err != nil {
		t.Fatal(err)
	}
	index.Manifests = nested.Manifests
	if clear {
		index.Manifests[0].Platform = nil
	}
	data, _ := json.Marshal(index)
	if err := os.WriteFile(filepath.Join(dir, "index.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A single-platform build with attestations lists one image and its
// attestation: the image is then the only one, as if it were alone.
func TestLoadLoneImageBesideItsAttestation(t *testing.T) {
	dir := t.TempDir()
	platformLayout(t, dir, 0, "linux/riscv64", "attestation")
	flatLayout(t, dir, false)
	_, err := loadOCILayout(dir, "", HostPlatform(), newMemStore())
	want := "(the only one is linux/riscv64)"
	if !errors.Is(err, ErrNoPlatform) || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want one with %s", err, want)
	}
	// Without a platform, the lone image is taken as it is.
	dir = t.TempDir()
	platformLayout(t, dir, 0, "linux/riscv64", "attestation")
	flatLayout(t, dir, true)
	img, err := loadOCILayout(dir, "", HostPlatform(), newMemStore())
	if err != nil || strings.Join(img.Config.Config.Cmd, " ") != "linux/riscv64" {
		t.Errorf("image without a platform beside its attestation: %v", err)
	}
}

// Platforms are spelled as BuildKit spells them, whatever the user or an
// index wrote.
func TestParsePlatformNormalizes(t *testing.T) {
	for in, want := range map[string]string{
		"linux/amd64":       "linux/amd64",
		"linux/x86_64":      "linux/amd64",
		"Linux/AMD64/v1":    "linux/amd64",
		"linux/amd64/v3":    "linux/amd64/v3",
		"linux/arm64/v8":    "linux/arm64",
		"linux/aarch64":     "linux/arm64",
		"linux/arm64/v9.0":  "linux/arm64/v9",
		"linux/arm":         "linux/arm/v7",
		"linux/arm/6":       "linux/arm/v6",
		"linux/armhf":       "linux/arm/v7",
		"linux/i386":        "linux/386",
		"arm64":             "linux/arm64",
		"linux/riscv64":     "linux/riscv64",
		"windows/amd64":     "windows/amd64",
		"linux/ppc64le/foo": "linux/ppc64le/foo",
	} {
		p, err := ParsePlatform(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got := FormatPlatform(p); got != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
	for _, in := range []string{"", "linux", "linux/", "/amd64", "foo", "linux/amd64/v3/x"} {
		if _, err := ParsePlatform(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	// An index's un-normalized platform is found by the normalized one.
	aarch := ocispec.Descriptor{Digest: digest.FromString("a"), Platform: &ocispec.Platform{OS: "linux", Architecture: "aarch64", Variant: "8"}}
	other := ocispec.Descriptor{Digest: digest.FromString("b"), Platform: &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v9"}}
	want, _ := ParsePlatform("linux/arm64")
	if d, ok := SelectPlatform([]ocispec.Descriptor{other, aarch}, want); !ok || d.Digest != aarch.Digest {
		t.Errorf("linux/arm64 picked %s (ok %v), want the aarch64/8 image", d.Digest, ok)
	}
	// A CPU runs older variants: the newest one it runs is picked.
	arm := func(v string) ocispec.Descriptor {
		return ocispec.Descriptor{Digest: digest.FromString(v), Platform: &ocispec.Platform{OS: "linux", Architecture: "arm", Variant: v}}
	}
	for wantS, c := range map[string]struct {
		descs []ocispec.Descriptor
		pick  string // "" for none
	}{
		"linux/arm":    {[]ocispec.Descriptor{arm("v5"), arm("v6")}, "v6"},
		"linux/arm/v6": {[]ocispec.Descriptor{arm("v7"), arm("v5")}, "v5"},
		"linux/arm/v5": {[]ocispec.Descriptor{arm("v6"), arm("v7")}, ""},
		// A v8 CPU does not run v9 code; an amd64 one runs 386 code.
		"linux/arm64": {[]ocispec.Descriptor{{Digest: digest.FromString("v9"), Platform: &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v9"}}}, ""},
		"linux/amd64": {[]ocispec.Descriptor{arm("v7"), {Digest: digest.FromString("386"), Platform: &ocispec.Platform{OS: "linux", Architecture: "386"}}}, "386"},
	} {
		want, _ := ParsePlatform(wantS)
		d, ok := SelectPlatform(c.descs, want)
		if c.pick == "" && ok || c.pick != "" && d.Digest != digest.FromString(c.pick) {
			t.Errorf("%s picked %s (ok %v), want %q", wantS, d.Digest, ok, c.pick)
		}
	}
}
