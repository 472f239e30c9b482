package registry

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/registry/registrytest"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// PushIndex pushes each platform's manifest, then the index under the
// tag: skopeo reads the index and each image, and Inspect lists the
// platforms with the digests pushed, picking the one asked for.
func TestPushIndex(t *testing.T) {
	reg := registrytest.Start(t)
	ctx := context.Background()
	amd, store := pulledImage(t, "a", "b")
	amd.Config.OS, amd.Config.Architecture = "linux", "amd64"
	arm := *amd
	arm.Config.Architecture = "arm64"
	imgs := []*image.Image{amd, &arm}
	annotations := map[string]string{"org.opencontainers.image.description": "two platforms"}
	d, err := PushIndex(ctx, reg.Ref("multi:1"), imgs, annotations, store)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := image.NewIndex(imgs, image.IndexAnnotations{Index: annotations})
	if err != nil {
		t.Fatal(err)
	}
	if d != idx.Descriptor.Digest {
		t.Errorf("pushed %s, want %s", d, idx.Descriptor.Digest)
	}
	raw, err := exec.Command("skopeo", "inspect", "--tls-verify=false", "--raw", "docker://"+reg.Ref("multi:1")).Output()
	if err != nil {
		t.Fatalf("skopeo inspect --raw: %v", err)
	}
	if digest.FromBytes(raw) != d || !strings.Contains(string(raw), `"annotations":{"org.opencontainers.image.description":"two platforms"}`) {
		t.Errorf("skopeo reads %s", raw)
	}
	for i, arch := range []string{"amd64", "arm64"} {
		out, err := exec.Command("skopeo", "--override-os", "linux", "--override-arch", arch, "inspect", "--tls-verify=false", "docker://"+reg.Ref("multi:1")).Output()
		var info struct{ Architecture, Digest string }
		if err == nil {
			err = json.Unmarshal(out, &info)
		}
		if err != nil || info.Architecture != arch || info.Digest != d.String() {
			t.Errorf("skopeo inspect %s: %+v (%v), want the index %s", arch, info, err, d)
		}
		m := idx.Manifests[i]
		raw, err := exec.Command("skopeo", "inspect", "--tls-verify=false", "--raw", "docker://"+reg.Ref("multi")+"@"+m.Descriptor.Digest.String()).Output()
		if err != nil || string(raw) != string(m.ManifestJSON) {
			t.Errorf("skopeo inspect --raw of the %s manifest: %s (%v)", arch, raw, err)
		}
		in, err := Inspect(ctx, reg.Ref("multi:1"), WithPlatform(ocispec.Platform{OS: "linux", Architecture: arch}))
		if err != nil {
			t.Fatal(err)
		}
		if in.Index == nil || in.Index.Digest != d || len(in.Index.Images) != 2 || in.Manifest.Digest != idx.Manifests[i].Descriptor.Digest {
			t.Errorf("inspect %s: index %+v, manifest %s", arch, in.Index, in.Manifest.Digest)
		}
	}
	single, err := Inspect(ctx, reg.Ref("multi:1")+"@"+idx.Manifests[0].Descriptor.Digest.String())
	if err != nil || single.Index != nil {
		t.Errorf("inspect of a manifest by digest: %v, index %+v", err, single)
	}
}
