package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/registry/registrytest"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// copyOnly builds for both platforms without an emulator: no RUN.
const copyOnly = "FROM scratch\nCOPY busybox /bin/busybox\nCOPY Dockerfile /etc/\n"

// --platform A,B: progress names each step's platform, the index digest
// goes to stdout and the iidfile, and the metadata file lists the
// platforms' manifests and each step's platform.
func TestMultiPlatformBuild(t *testing.T) {
	dir := project(t, copyOnly)
	out := t.TempDir()
	archive, meta, iid := filepath.Join(out, "multi.tar"), filepath.Join(out, "meta.json"), filepath.Join(out, "iid")
	code, stdout, stderr := runCLI(t, "--cache-dir", t.TempDir(), "--platform", "linux/amd64,linux/arm64", "-t", archive, "--metadata-file", meta, "--iidfile", iid,
		"--annotation", "manifest-descriptor:org.example.d=1", "--annotation", "index:org.example.i=2", "--annotation", "index-descriptor:org.example.e=3",
		"--annotation", "manifest[linux/arm64]:org.example.arm=4", "--annotation", "manifest-descriptor[linux/amd64]:org.example.amd=5", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"[linux/amd64 2/3] COPY busybox /bin/busybox\n", "[linux/arm64 2/3] COPY busybox /bin/busybox\n", "[linux/arm64 3/3] COPY Dockerfile /etc/\n"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("progress lacks %q:\n%s", want, stderr)
		}
	}
	printed := digestOf(stdout)
	raw, err := exec.Command("skopeo", "inspect", "--raw", "oci-archive:"+archive).Output()
	if err != nil || digest.FromBytes(raw) != printed {
		t.Fatalf("skopeo inspect --raw: %s (%v), want the index %s", raw, err, printed)
	}
	if data, err := os.ReadFile(iid); err != nil || string(data) != printed.String() {
		t.Errorf("iidfile %q (%v), want the index digest", data, err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil || len(idx.Manifests) != 2 {
		t.Fatalf("index: %s (%v)", raw, err)
	}
	for _, d := range idx.Manifests {
		if d.Annotations["org.example.d"] != "1" {
			t.Errorf("manifest-descriptor annotation not on the index entry %s", d.Digest)
		}
		if amd := d.Annotations["org.example.amd"]; (amd == "5") != (d.Platform.Architecture == "amd64") {
			t.Errorf("manifest-descriptor[linux/amd64] annotation on the %s entry: %q", d.Platform.Architecture, amd)
		}
	}
	if idx.Annotations["org.example.i"] != "2" {
		t.Errorf("index annotation not on the index: %s", raw)
	}
	files := tarFiles(t, archive)
	if !strings.Contains(string(files["index.json"]), `"org.example.e":"3"`) {
		t.Errorf("index-descriptor annotation not in index.json: %s", files["index.json"])
	}
	for _, d := range idx.Manifests {
		var m ocispec.Manifest
		if err := json.Unmarshal(files[blobPath(d.Digest)], &m); err != nil {
			t.Fatal(err)
		}
		if arm := m.Annotations["org.example.arm"]; (arm == "4") != (d.Platform.Architecture == "arm64") {
			t.Errorf("manifest[linux/arm64] annotation on the %s manifest: %q", d.Platform.Architecture, arm)
		}
	}
	var m struct {
		ImageDigest  digest.Digest  `json:"image_digest"`
		IndexDigest  digest.Digest  `json:"index_digest"`
		ConfigDigest *digest.Digest `json:"config_digest"`
		Manifests    []struct {
			Platform string        `json:"platform"`
			Digest   digest.Digest `json:"digest"`
		} `json:"manifests"`
		Steps []struct {
			Platform    string `json:"platform"`
			Instruction string `json:"instruction"`
			LayerFrom   string `json:"layer_from"`
		} `json:"steps"`
	}
	data, _ := os.ReadFile(meta)
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.ImageDigest != printed || m.IndexDigest != printed || m.ConfigDigest != nil || len(m.Manifests) != 2 {
		t.Errorf("metadata: %s", data)
	}
	for i, pm := range m.Manifests {
		if pm.Digest != idx.Manifests[i].Digest || pm.Platform != "linux/"+idx.Manifests[i].Platform.Architecture {
			t.Errorf("metadata manifest %d: %+v, the index has %s", i, pm, idx.Manifests[i].Digest)
		}
	}
	if len(m.Steps) != 6 || m.Steps[0].Platform != "linux/amd64" || m.Steps[5].Platform != "linux/arm64" {
		t.Fatalf("metadata steps: %+v", m.Steps)
	}
	// Each COPY's layer is made by one platform and taken by the other.
	for i := 1; i < 3; i++ {
		amd, arm := m.Steps[i], m.Steps[i+3]
		if (amd.LayerFrom == "linux/arm64") == (arm.LayerFrom == "linux/amd64") {
			t.Errorf("%s: layer_from %q (amd64) and %q (arm64), want one taken from the other", amd.Instruction, amd.LayerFrom, arm.LayerFrom)
		}
		if !strings.Contains(stderr, " layer taken from linux/") {
			t.Errorf("progress does not say a layer was taken from another platform:\n%s", stderr)
		}
	}
}

// A single-platform build's metadata and progress are what they were: no
// platform anywhere.
func TestSinglePlatformUnchanged(t *testing.T) {
	dir := project(t, copyOnly)
	meta := filepath.Join(t.TempDir(), "meta.json")
	code, _, stderr := runCLI(t, "--cache-dir", t.TempDir(), "--platform", "linux/amd64", "-t", filepath.Join(t.TempDir(), "one.tar"), "--metadata-file", meta, dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	data, _ := os.ReadFile(meta)
	for _, absent := range []string{`"platform"`, `"index_digest"`, `"manifests"`} {
		if strings.Contains(string(data), absent) {
			t.Errorf("single-platform metadata has %s:\n%s", absent, data)
		}
	}
	if !strings.Contains(string(data), `"config_digest"`) || !strings.Contains(stderr, "#2 [2/3] COPY busybox /bin/busybox\n") {
		t.Errorf("single-platform output changed:\n%s\n%s", stderr, data)
	}
}

// A docker-archive takes one platform; run takes one platform.
func TestMultiPlatformRefusedOutputs(t *testing.T) {
	dir := project(t, copyOnly)
	out := filepath.Join(t.TempDir(), "d.tar")
	code, _, stderr := runCLI(t, "--cache-dir", t.TempDir(), "--platform", "linux/amd64,linux/arm64", "-t", "docker-archive:"+out, dir)
	want := "mybuild: docker-archive:" + out + ": a docker-archive holds one platform (this build has 2: linux/amd64, linux/arm64): build one --platform for it, or write oci-archive:\n"
	if code != 1 || stderr != want {
		t.Errorf("exit %d, stderr %q\nwant %q", code, stderr, want)
	}
	code, _, stderr = runCLI(t, "--platform", "linux/amd64,linux/arm64", "--annotation", "manifest[linux/s390x]:a=b", dir)
	if code != 2 || !strings.Contains(stderr, "--annotation manifest[linux/s390x]:a=b: the build is for linux/amd64, linux/arm64, not linux/s390x") {
		t.Errorf("another platform's annotation: exit %d, %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "--platform", "linux/amd64,linux/arm64", "--annotation", "index[linux/arm64]:a=b", dir)
	if code != 2 || !strings.Contains(stderr, `--annotation index[linux/arm64]:a=b: "index[linux/arm64]": an index is for every platform, not one`) {
		t.Errorf("a platform's index annotation: exit %d, %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "run", "--platform", "linux/amd64,linux/arm64", "x.tar")
	if code != 125 || !strings.Contains(stderr, "--platform linux/amd64,linux/arm64: one platform only") {
		t.Errorf("run: exit %d, %s", code, stderr)
	}
}

// index create of two single-platform pushes: skopeo reads an index of
// both, with the digests the pushes printed.
func TestIndexCreate(t *testing.T) {
	reg := registrytest.Start(t)
	dir := project(t, copyOnly)
	cacheDir := t.TempDir()
	pushed := map[string]digest.Digest{}
	for _, arch := range []string{"amd64", "arm64"} {
		code, stdout, stderr := runCLI(t, "--cache-dir", cacheDir, "--platform", "linux/"+arch, "-t", "docker://"+reg.Ref("app:"+arch), dir)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		pushed[arch] = digestOf(stdout)
	}
	// A multi-platform build pushes its index.
	code, stdout, stderr := runCLI(t, "--cache-dir", cacheDir, "--platform", "linux/amd64,linux/arm64", "-t", "docker://"+reg.Ref("app:both"), dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	raw, err := exec.Command("skopeo", "inspect", "--tls-verify=false", "--raw", "docker://"+reg.Ref("app:both")).Output()
	if err != nil || digest.FromBytes(raw) != digestOf(stdout) {
		t.Fatalf("skopeo inspect --raw of the pushed index: %s (%v), want the printed %s", raw, err, stdout)
	}
	code, stdout, stderr = runCLI(t, "index", "create", "-t", reg.Ref("app:1"), "docker://"+reg.Ref("app:amd64"), reg.Ref("app:arm64"))
	if code != 0 {
		t.Fatalf("index create: exit %d\n%s", code, stderr)
	}
	raw, err = exec.Command("skopeo", "inspect", "--tls-verify=false", "--raw", "docker://"+reg.Ref("app:1")).Output()
	if err != nil || digest.FromBytes(raw) != digestOf(stdout) {
		t.Fatalf("skopeo inspect --raw: %s (%v), want the printed %s", raw, err, stdout)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil || len(idx.Manifests) != 2 {
		t.Fatalf("index: %s (%v)", raw, err)
	}
	for _, m := range idx.Manifests {
		if m.Platform == nil || m.Digest != pushed[m.Platform.Architecture] {
			t.Errorf("index entry %s %+v, pushed %v", m.Digest, m.Platform, pushed)
		}
	}
	code, _, stderr = runCLI(t, "index", "create", reg.Ref("app:amd64"))
	if code != 2 || !strings.HasPrefix(stderr, "mybuild: index create: -t DEST is required\n") {
		t.Errorf("without -t: exit %d, %q", code, stderr)
	}
}
