package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/image"
)

// index create of two docker-archives, as --format docker writes them:
// each image in the index has the manifest inspect gives the archive's
// image, and skopeo reads the index and each image's config.
func TestIndexCreateDockerArchive(t *testing.T) {
	dir := project(t, copyOnly)
	cacheDir, out := t.TempDir(), t.TempDir()
	inspected := map[string]*image.Inspection{}
	var srcs []string
	for _, arch := range []string{"amd64", "arm64"} {
		archive := filepath.Join(out, arch+".tar")
		code, _, stderr := runCLI(t, "--cache-dir", cacheDir, "--platform", "linux/"+arch, "--format", "docker", "-t", archive, dir)
		if code != 0 {
			t.Fatalf("build linux/%s: exit %d\n%s", arch, code, stderr)
		}
		src := "docker-archive:" + archive
		code, stdout, stderr := runCLI(t, "inspect", "--json", src)
		if code != 0 {
			t.Fatalf("inspect %s: exit %d\n%s", src, code, stderr)
		}
		var in image.Inspection
		if err := json.Unmarshal([]byte(stdout), &in); err != nil {
			t.Fatal(err)
		}
		inspected["linux/"+arch] = &in
		srcs = append(srcs, src)
	}
	multi := filepath.Join(out, "multi.tar")
	code, stdout, stderr := runCLI(t, append([]string{"index", "create", "-t", multi}, srcs...)...)
	if code != 0 {
		t.Fatalf("index create: exit %d\n%s", code, stderr)
	}
	raw, err := exec.Command("skopeo", "inspect", "--raw", "oci-archive:"+multi).Output()
	if err != nil || digest.FromBytes(raw) != digestOf(stdout) {
		t.Fatalf("skopeo inspect --raw: %s (%v), want the printed %s", raw, err, stdout)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil || len(idx.Manifests) != 2 {
		t.Fatalf("index: %s (%v)", raw, err)
	}
	for _, m := range idx.Manifests {
		in := inspected[image.FormatPlatform(*m.Platform)]
		if in == nil || m.Digest != in.Manifest.Digest {
			t.Fatalf("index entry %s %+v: inspect of the archives gave %v", m.Digest, m.Platform, inspected)
		}
		cfg, err := exec.Command("skopeo", "inspect", "--raw", "--config", "--override-arch", m.Platform.Architecture, "oci-archive:"+multi).Output()
		if err != nil || digest.FromBytes(cfg) != in.Config.Digest {
			t.Errorf("skopeo inspect --config %s: %v, want config %s", m.Platform.Architecture, err, in.Config.Digest)
		}
	}
}
