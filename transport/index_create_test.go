package transport

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
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

// index create from docker-archives, read where they are, into an OCI
// archive and a registry: each image gets the manifest inspect gives it
// (its layers the archive's uncompressed tars), skopeo reads the index,
// and Load finds each platform's files in it.
func TestCreateIndexDockerArchive(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	store := openStore(t)
	var srcs []Ref
	want := map[string]*image.Inspection{}
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		img := testImage(t, store, p, "a", "b-"+path.Base(p))
		platform, _ := image.ParsePlatform(p)
		img.Config.OS, img.Config.Architecture, img.Config.Variant = platform.OS, platform.Architecture, platform.Variant
		src := Ref{Transport: DockerArchive, Path: filepath.Join(dir, path.Base(p)+".tar"), Name: "app:" + path.Base(p)}
		if _, err := Save(ctx, src, img, store); err != nil {
			t.Fatal(err)
		}
		in, err := Inspect(ctx, src)
		if err != nil {
			t.Fatal(err)
		}
		want[p] = in
		srcs = append(srcs, src)
	}
	srcs[1].Name = "" // the only image
	check := func(what string, raw []byte, d digest.Digest) {
		t.Helper()
		if digest.FromBytes(raw) != d {
			t.Fatalf("%s: index %s, CreateIndex said %s", what, digest.FromBytes(raw), d)
		}
		var idx ocispec.Index
		if err := json.Unmarshal(raw, &idx); err != nil || len(idx.Manifests) != 2 || idx.MediaType != ocispec.MediaTypeImageIndex {
			t.Fatalf("%s: index %s (%v)", what, raw, err)
		}
		for _, m := range idx.Manifests {
			in := want[image.FormatPlatform(*m.Platform)]
			if in == nil || m.Digest != in.Manifest.Digest || m.MediaType != ocispec.MediaTypeImageManifest {
				t.Errorf("%s: entry %+v, inspect of the archive gives %+v", what, m, in)
			}
		}
	}
	out := filepath.Join(dir, "multi.tar")
	d, err := CreateIndex(ctx, Ref{Transport: OCIArchive, Path: out}, srcs)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := exec.Command("skopeo", "inspect", "--raw", "oci-archive:"+out).Output()
	if err != nil {
		t.Fatalf("skopeo inspect --raw: %v", err)
	}
	check("oci-archive", raw, d)
	for p, in := range want {
		platform, _ := image.ParsePlatform(p)
		cfg, err := exec.Command("skopeo", "inspect", "--raw", "--config", "--override-arch", platform.Architecture, "oci-archive:"+out).Output()
		if err != nil || digest.FromBytes(cfg) != in.Config.Digest {
			t.Errorf("skopeo inspect --config of %s: %v, want config %s", p, err, in.Config.Digest)
		}
		other := openStore(t)
		img, err := Load(ctx, Ref{Transport: OCIArchive, Path: out}, other, WithPlatform(platform))
		if err != nil {
			t.Fatalf("load %s: %v", p, err)
		}
		if len(img.Layers) != 2 || img.Config.Config.Cmd[0] != p {
			t.Fatalf("load %s: %+v", p, img)
		}
		for i, l := range img.Layers {
			if l.MediaType != ocispec.MediaTypeImageLayer || l.Digest != l.DiffID || l.Digest != in.History[i].Layer.Digest {
				t.Errorf("%s layer %d: %+v, want the archive's uncompressed %s", p, i, l, in.History[i].Layer.Digest)
			}
		}
		if f := layerFiles(t, other, img.Layers[1]); f["b-"+path.Base(p)] != "content of b-"+path.Base(p) {
			t.Errorf("%s: top layer holds %v", p, f)
		}
	}

	// A registry checks every blob pushed against its digest.
	reg := registrytest.Start(t)
	rd, err := CreateIndex(ctx, Ref{Transport: Docker, Path: reg.Ref("app:1")}, srcs)
	if err != nil || rd != d {
		t.Fatalf("index create into a registry: %s (%v), want %s", rd, err, d)
	}
	raw, err = exec.Command("skopeo", "inspect", "--tls-verify=false", "--raw", "docker://"+reg.Ref("app:1")).Output()
	if err != nil {
		t.Fatalf("skopeo inspect --raw: %v", err)
	}
	check("registry", raw, d)
	arm, _ := image.ParsePlatform("linux/arm64")
	img, err := Load(ctx, Ref{Transport: Docker, Path: reg.Ref("app:1")}, openStore(t), WithPlatform(arm))
	if err != nil || img.Layers[1].Digest != want["linux/arm64"].History[1].Layer.Digest {
		t.Errorf("load linux/arm64 from the registry: %v", err)
	}

	if _, err := CreateIndex(ctx, Ref{Transport: OCIArchive, Path: filepath.Join(dir, "x.tar")}, []Ref{{Transport: DockerArchive, Path: srcs[0].Path, Name: "app:none"}}); err == nil || !strings.Contains(err.Error(), `no image tagged "app:none"`) {
		t.Errorf("index create of a tag the archive lacks: %v", err)
	}
}
