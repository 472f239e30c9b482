package provenance

import (
	"encoding/json"
	"testing"

	"github.com/mybuild/mybuild/image"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Package URLs as BuildKit's util/purl.RefToPURL writes them.
func TestImagePURL(t *testing.T) {
	amd64 := ocispec.Platform{OS: "linux", Architecture: "amd64"}
	arm := ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
	d := "sha256:" + digest.FromString("x").Encoded()
	for _, tc := range []struct {
		ref  string
		p    ocispec.Platform
		want string
	}{
		{"docker.io/library/alpine:3.20", amd64, "pkg:docker/alpine@3.20?platform=linux%2Famd64"},
		{"docker.io/acme/app:1", arm, "pkg:docker/acme/app@1?platform=linux%2Farm%2Fv7"},
		{"ghcr.io/acme/app", ocispec.Platform{}, "pkg:docker/ghcr.io/acme/app@latest"},
		{"localhost:5000/app:v1", amd64, "pkg:docker/localhost:5000/app@v1?platform=linux%2Famd64"},
		{"docker.io/library/alpine@" + d, amd64, "pkg:docker/alpine?digest=sha256%3A" + d[7:] + "&platform=linux%2Famd64"},
	} {
		if got := ImagePURL(tc.ref, tc.p); got != tc.want {
			t.Errorf("ImagePURL(%q) = %q, want %q", tc.ref, got, tc.want)
		}
	}
}

// The attestation manifest is laid out as BuildKit's: its config has the
// platform unknown/unknown and the statement's digest as its one diffID,
// its layer the in-toto media type and predicate type, its index entry
// the reference annotations; and two images' attestations share an index.
func TestNewAttestation(t *testing.T) {
	target := digest.FromString("manifest")
	stmt := &Statement{Type: StatementType, PredicateType: PredicateType, Subject: []Subject{{Name: "_", Digest: map[string]string{"sha256": target.Encoded()}}}}
	att, err := NewAttestation(stmt, target)
	if err != nil {
		t.Fatal(err)
	}
	m, err := att.Image.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	d := digest.FromBytes(att.Statement)
	want := `{"architecture":"unknown","os":"unknown","rootfs":{"type":"layers","diff_ids":["` + d.String() + `"]},"config":{}}`
	if string(m.ConfigJSON) != want {
		t.Errorf("config %s\nwant   %s", m.ConfigJSON, want)
	}
	var man ocispec.Manifest
	if err := json.Unmarshal(m.ManifestJSON, &man); err != nil {
		t.Fatal(err)
	}
	l := man.Layers[0]
	if len(man.Layers) != 1 || l.MediaType != MediaTypeInToto || l.Digest != d || l.Annotations[AnnotationPredicateType] != PredicateType {
		t.Errorf("manifest %s", m.ManifestJSON)
	}
	other, err := NewAttestation(stmt, digest.FromString("other"))
	if err != nil {
		t.Fatal(err)
	}
	img := &image.Image{}
	img.Config.OS, img.Config.Architecture = "linux", "amd64"
	idx, err := image.NewIndex([]*image.Image{img, att.Image, other.Image}, image.IndexAnnotations{})
	if err != nil {
		t.Fatal(err)
	}
	var index ocispec.Index
	if err := json.Unmarshal(idx.IndexJSON, &index); err != nil {
		t.Fatal(err)
	}
	e := index.Manifests[1]
	if e.Platform.OS != "unknown" || e.Annotations[AnnotationReferenceDigest] != target.String() || e.Annotations[image.AnnotationReferenceType] != image.AttestationManifest {
		t.Errorf("index entry %+v", e)
	}
	if _, err := image.NewIndex([]*image.Image{img, img}, image.IndexAnnotations{}); err == nil {
		t.Errorf("an index of two images for one platform was made")
	}
}
