package transport

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	ggcrremote "github.com/google/go-containerregistry/pkg/v1/remote"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/registry/registrytest"
)

// index create into an OCI archive, from an OCI layout and a registry:
// skopeo reads the index, each manifest has its source's digest, and
// Load picks each platform from it.
func TestCreateIndexArchive(t *testing.T) {
	dir := t.TempDir()
	amd, arm := platformImage(t, "linux/amd64"), platformImage(t, "linux/arm64")
	src := filepath.Join(dir, "amd")
	p, err := layout.Write(src, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(amd); err != nil {
		t.Fatal(err)
	}
	reg := registrytest.StartInMemory(t)
	r, err := name.ParseReference(reg.Ref("arm:1"), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := ggcrremote.Write(r, arm); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "multi.tar")
	ctx := context.Background()
	d, err := CreateIndex(ctx, Ref{Transport: OCIArchive, Path: out}, []Ref{{Transport: OCILayout, Path: src}, {Transport: Docker, Path: reg.Ref("arm:1")}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := exec.Command("skopeo", "inspect", "--raw", "oci-archive:"+out).Output()
	if err != nil || digest.FromBytes(raw) != d {
		t.Fatalf("skopeo inspect --raw: %s (%v), want the index %s", raw, err, d)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil || len(idx.Manifests) != 2 {
		t.Fatalf("index %s (%v)", raw, err)
	}
	for i, img := range []v1.Image{amd, arm} {
		want, _ := img.Digest()
		if idx.Manifests[i].Digest.String() != want.String() {
			t.Errorf("manifest %d: %s, the source has %s", i, idx.Manifests[i].Digest, want)
		}
	}
	for _, want := range []string{"linux/amd64", "linux/arm64"} {
		platform, _ := image.ParsePlatform(want)
		img, err := Load(ctx, Ref{Transport: OCIArchive, Path: out}, openStore(t), WithPlatform(platform))
		if err != nil || img.Config.Config.Cmd[0] != want {
			t.Errorf("load %s: %v", want, err)
		}
	}
	// Into an OCI layout, beside what it holds.
	layoutDir := filepath.Join(dir, "layout")
	for _, name := range []string{"other", "multi"} {
		ld, err := CreateIndex(ctx, Ref{Transport: OCILayout, Path: layoutDir, Name: name}, []Ref{{Transport: OCIArchive, Path: out}})
		if err != nil || ld != d {
			t.Fatalf("index create into oci:%s:%s: %s (%v), want %s", layoutDir, name, ld, err, d)
		}
	}
	raw, err = exec.Command("skopeo", "inspect", "--raw", "oci:"+layoutDir+":multi").Output()
	if err != nil || digest.FromBytes(raw) != d {
		t.Errorf("skopeo inspect --raw oci:%s:multi: %s (%v)", layoutDir, raw, err)
	}
	if _, err := CreateIndex(ctx, Ref{Transport: DockerArchive, Path: out}, []Ref{{Transport: OCILayout, Path: src}}); !errors.Is(err, ErrOnePlatform) {
		t.Errorf("index create into a docker-archive: %v", err)
	}
}
