package transport

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	ggcrremote "github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/registry/registrytest"
)

// platformImage is an OCI image for platform p (os/arch[/variant]) with
// one random layer, whose Cmd is p, to tell which image was picked.
func platformImage(t *testing.T, p string) v1.Image {
	t.Helper()
	l, err := random.Layer(256, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, l)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	platform, err := image.ParsePlatform(p)
	if err != nil {
		t.Fatal(err)
	}
	cf.OS, cf.Architecture, cf.Variant = platform.OS, platform.Architecture, platform.Variant
	cf.Config.Cmd = []string{p}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// attestation is the attestation manifest BuildKit adds to an index for
// subject: platform unknown/unknown, the attestation-manifest annotation,
// and an in-toto layer, which no reader unpacks, so that picking it by
// mistake fails the load.
func attestation(t *testing.T, subject v1.Image) mutate.IndexAddendum {
	t.Helper()
	statement := static.NewLayer([]byte(`{"_type":"https://in-toto.io/Statement/v0.1"}`), "application/vnd.in-toto+json")
	img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), statement)
	if err != nil {
		t.Fatal(err)
	}
	d, err := subject.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
		Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{
			image.AnnotationReferenceType: image.AttestationManifest,
			"vnd.docker.reference.digest": d.String(),
		},
	}}
}

// attestedIndex is what `docker buildx build --platform
// linux/amd64,linux/arm64 --provenance=true` makes: an image per
// platform, each followed by its attestation manifest.
func attestedIndex(t *testing.T) v1.ImageIndex {
	t.Helper()
	amd, arm := platformImage(t, "linux/amd64"), platformImage(t, "linux/arm64/v8")
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		attestation(t, amd),
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		attestation(t, arm),
	)
}

// An index holding attestation manifests reads the same in every
// transport that holds indexes: in an OCI layout, named in index.json or
// as index.json itself, in an OCI archive, and in a registry. The
// platform's image is picked, never an attestation, and an error lists
// the platforms without them.
func TestAttestedIndexInEveryTransport(t *testing.T) {
	idx := attestedIndex(t)
	dir := t.TempDir()
	nested := filepath.Join(dir, "nested")
	p, err := layout.Write(nested, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{ocispec.AnnotationRefName: "multi"})); err != nil {
		t.Fatal(err)
	}
	flat := filepath.Join(dir, "flat")
	if _, err := layout.Write(flat, idx); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "multi.tar")
	tarDir(t, nested, archive)
	reg := registrytest.StartInMemory(t)
	r, err := name.ParseReference(reg.Ref("multi:1"), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := ggcrremote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	for _, s := range []string{"oci:" + nested + ":multi", "oci:" + nested, "oci:" + flat, "oci-archive:" + archive + ":multi", reg.Ref("multi:1")} {
		ref, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"linux/amd64", "linux/arm64/v8"} {
			platform, _ := image.ParsePlatform(want)
			img, err := Load(ctx, ref, openStore(t), WithPlatform(platform))
			if err != nil {
				t.Fatalf("load %s for %s: %v", s, want, err)
			}
			if got := img.Config.Config.Cmd; len(got) != 1 || got[0] != want {
				t.Errorf("load %s for %s: got the image for %v", s, want, got)
			}
			i, err := Inspect(ctx, ref, WithPlatform(platform))
			if err != nil {
				t.Fatalf("inspect %s for %s: %v", s, want, err)
			}
			if got := i.Image.Config.Cmd; len(got) != 1 || got[0] != want {
				t.Errorf("inspect %s for %s: got the image for %v", s, want, got)
			}
		}
		for _, other := range []string{"unknown/unknown", "linux/s390x"} {
			platform, _ := image.ParsePlatform(other)
			_, err := Load(ctx, ref, openStore(t), WithPlatform(platform))
			if !errors.Is(err, image.ErrNoPlatform) || !errors.Is(err, registry.ErrNoPlatform) {
				t.Fatalf("load %s for %s: err = %v", s, other, err)
			}
			_, listed, _ := strings.Cut(err.Error(), "(")
			if strings.Contains(listed, "unknown") {
				t.Errorf("load %s for %s: %v lists an attestation", s, other, err)
			}
			// index.json itself tells how many images the layout holds.
			if s != "oci:"+flat && !strings.HasSuffix(err.Error(), "no image for platform "+other+" (the index has linux/amd64, linux/arm64/v8)") {
				t.Errorf("load %s for %s: err = %v, want the platforms listed", s, other, err)
			}
		}
	}
}

// WithAnyLonePlatform, FROM's rule, takes a layout's lone image whatever
// platform its entry names; an index's image must still be the
// platform's.
func TestAnyLonePlatform(t *testing.T) {
	dir := t.TempDir()
	lone := filepath.Join(dir, "lone")
	p, err := layout.Write(lone, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	riscv := platformImage(t, "linux/riscv64")
	if err := p.AppendImage(riscv, layout.WithPlatform(v1.Platform{OS: "linux", Architecture: "riscv64"})); err != nil {
		t.Fatal(err)
	}
	nested := filepath.Join(dir, "nested")
	if p, err = layout.Write(nested, empty.Index); err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: riscv, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "riscv64"}}})
	if err := p.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	amd64 := ocispec.Platform{OS: "linux", Architecture: "amd64"}
	ctx := context.Background()
	ref := Ref{Transport: OCILayout, Path: lone}
	if _, err := Load(ctx, ref, openStore(t), WithPlatform(amd64)); !errors.Is(err, image.ErrNoPlatform) {
		t.Errorf("lone riscv64 image for amd64: err = %v", err)
	}
	img, err := Load(ctx, ref, openStore(t), WithPlatform(amd64), WithAnyLonePlatform())
	if err != nil || img.Config.Architecture != "riscv64" {
		t.Errorf("WithAnyLonePlatform: %v", err)
	}
	_, err = Load(ctx, Ref{Transport: OCILayout, Path: nested}, openStore(t), WithPlatform(amd64), WithAnyLonePlatform())
	if !errors.Is(err, image.ErrNoPlatform) || !strings.Contains(err.Error(), "(the index has linux/riscv64)") {
		t.Errorf("an index without amd64: err = %v", err)
	}
}
