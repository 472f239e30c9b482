package build

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/internal/imagetest"
	"github.com/mybuild/mybuild/transport"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// twoPlatforms are linux/amd64 and linux/arm64, the platforms of the
// multi-platform tests.
func twoPlatforms(o *Options) {
	o.Platforms = []ocispec.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
}

// withArchBusyboxes adds the static busybox of amd64 and of arm64 to a
// context, as busybox-amd64 and busybox-arm64.
func withArchBusyboxes(t *testing.T, dir string) string {
	t.Helper()
	for arch, src := range map[string]string{"amd64": imagetest.Busybox(t), "arm64": imagetest.BusyboxArm64(t)} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "busybox-"+arch), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// busyboxIndex builds an OCI layout holding an index of two busybox
// images, for linux/amd64 and linux/arm64, and returns its FROM
// reference.
func busyboxIndex(t *testing.T, cacheDir string) string {
	t.Helper()
	dir := withArchBusyboxes(t, contextDir(t, map[string]string{"Dockerfile": "FROM scratch\nARG TARGETARCH\nCOPY busybox-$TARGETARCH /bin/busybox\n"}))
	layout := filepath.Join(t.TempDir(), "base")
	testBuild(t, dir, cacheDir, twoPlatforms, func(o *Options) {
		o.Outputs = []transport.Ref{{Transport: transport.OCILayout, Path: layout, Name: "busybox"}}
	})
	return "oci:" + layout + ":busybox"
}

// recorder keeps the labels of the steps a build started.
type recorder struct {
	discardReporter
	mu     sync.Mutex
	labels []string
}

func (r *recorder) StepStarted(info StepInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.labels = append(r.labels, info.Label()+" "+info.Instruction)
}

func (r *recorder) started() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.labels)
}

// unpackPlatform unpacks, with umoci, the image of platform (as
// os/arch) that the index of the OCI archive names, and returns its root
// filesystem. The index is that of mybuild's archive: a layout naming
// the manifest alone is made of its blobs, for umoci to read.
func unpackPlatform(t *testing.T, archive, platform string) string {
	t.Helper()
	layout := filepath.Join(t.TempDir(), "layout")
	if err := os.MkdirAll(layout, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := extractTar(archive, layout); err != nil {
		t.Fatal(err)
	}
	idx := readIndex(t, layout)
	var found *ocispec.Descriptor
	for _, d := range idx.Manifests {
		if d.Platform != nil && image.FormatPlatform(*d.Platform) == platform {
			found = &d
		}
	}
	if found == nil {
		t.Fatalf("the index has no image for %s", platform)
	}
	found.Annotations = map[string]string{ocispec.AnnotationRefName: "picked"}
	data, _ := json.Marshal(ocispec.Index{Versioned: idx.Versioned, Manifests: []ocispec.Descriptor{*found}})
	if err := os.WriteFile(filepath.Join(layout, "index.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "bundle")
	if out, err := exec.Command("umoci", "unpack", "--image", layout+":picked", bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack %s: %v\n%s", platform, err, out)
	}
	return filepath.Join(bundle, "rootfs")
}

// readIndex reads the image index that the index.json of the layout in
// dir names.
func readIndex(t *testing.T, dir string) ocispec.Index {
	t.Helper()
	var top ocispec.Index
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err == nil {
		err = json.Unmarshal(data, &top)
	}
	if err != nil || len(top.Manifests) != 1 || top.Manifests[0].MediaType != ocispec.MediaTypeImageIndex {
		t.Fatalf("index.json names %d entries, want one index (%v)", len(top.Manifests), err)
	}
	var idx ocispec.Index
	data, err = os.ReadFile(filepath.Join(dir, "blobs/sha256", top.Manifests[0].Digest.Encoded()))
	if err == nil {
		err = json.Unmarshal(data, &idx)
	}
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// readFile reads a file of an unpacked root filesystem.
func readFile(t *testing.T, root, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// skopeoArch is the architecture of the image skopeo picks for arch in
// an OCI archive: it reads the index, then that image's manifest and
// config.
func skopeoArch(t *testing.T, archive, arch string) string {
	t.Helper()
	out, err := exec.Command("skopeo", "--override-os", "linux", "--override-arch", arch, "inspect", "oci-archive:"+archive).Output()
	if err != nil {
		t.Fatalf("skopeo inspect --override-arch %s: %v", arch, err)
	}
	var info struct{ Architecture string }
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	return info.Architecture
}

// An amd64 and arm64 image built in one run from a busybox index: FROM
// picks each platform's image, the arm64 RUN runs through the emulator
// (under the step's seccomp filter and confinement), the index lists
// both, and skopeo and umoci read each.
func TestMultiPlatformRun(t *testing.T) {
	imagetest.Emulator(t, "aarch64")
	cacheDir := t.TempDir()
	base := busyboxIndex(t, cacheDir)
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM " + base + "\nCOPY Dockerfile /etc/\n" +
		`RUN ["/bin/busybox", "sh", "-c", "/bin/busybox uname -m > /arch"]` + "\n"})
	rec := &recorder{}
	out, res := testBuild(t, dir, cacheDir, twoPlatforms, func(o *Options) { o.Reporter = rec })
	if res.IndexDigest == "" || res.ImageDigest != res.IndexDigest || len(res.Manifests) != 2 {
		t.Fatalf("result: index %q, image %q, %d manifests", res.IndexDigest, res.ImageDigest, len(res.Manifests))
	}
	raw, err := exec.Command("skopeo", "inspect", "--raw", "oci-archive:"+out).Output()
	if err != nil {
		t.Fatalf("skopeo inspect --raw: %v", err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil || idx.MediaType != ocispec.MediaTypeImageIndex {
		t.Fatalf("skopeo inspect --raw: %s (%v)", raw, err)
	}
	if got := image.PlatformList(idx.Manifests); got != "linux/amd64, linux/arm64" {
		t.Errorf("index platforms: %s", got)
	}
	for i, arch := range map[string]string{"amd64": "x86_64", "arm64": "aarch64"} {
		if got := skopeoArch(t, out, i); got != i {
			t.Errorf("skopeo picks a %s image for %s", got, i)
		}
		if got := strings.TrimSpace(readFile(t, unpackPlatform(t, out, "linux/"+i), "arch")); got != arch {
			t.Errorf("linux/%s: uname -m says %q, want %q", i, got, arch)
		}
	}
	for i, m := range res.Manifests {
		if m.Digest != idx.Manifests[i].Digest || m.Platform != image.FormatPlatform(*idx.Manifests[i].Platform) {
			t.Errorf("result manifest %d: %+v, the index has %s", i, m, idx.Manifests[i].Digest)
		}
	}
	// The COPY keys differ (the bases do) but its layer is the same: one
	// blob, made once.
	var copies []StepResult
	for _, s := range res.Steps {
		if strings.HasPrefix(s.Instruction, "COPY") {
			copies = append(copies, s)
		}
	}
	if len(copies) != 2 || copies[0].Key == copies[1].Key || copies[0].Layer == nil || copies[1].Layer == nil || *copies[0].Layer != *copies[1].Layer {
		t.Errorf("the COPY of both platforms: %+v", copies)
	}
	for _, want := range []string{"[linux/amd64 3/3] RUN", "[linux/arm64 3/3] RUN"} {
		if !slices.ContainsFunc(rec.started(), func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("no step %q in %q", want, rec.started())
		}
	}
}

// FROM --platform=$BUILDPLATFORM: a stage that reads no target arg runs
// once for both targets, and one that reads ARG TARGETARCH runs per
// target, seeing its own.
func TestMultiPlatformBuildPlatformStages(t *testing.T) {
	dir := withArchBusyboxes(t, contextDir(t, map[string]string{"Dockerfile": `FROM --platform=$BUILDPLATFORM scratch AS tools
ARG BUILDARCH
COPY busybox-$BUILDARCH /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "echo once >> /once"]

FROM --platform=$BUILDPLATFORM scratch AS cross
COPY busybox-amd64 /bin/busybox
ARG TARGETARCH
RUN ["/bin/busybox", "sh", "-c", "echo $TARGETARCH > /target"]

FROM scratch
COPY --from=tools /once /once
COPY --from=cross /target /target
`}))
	rec := &recorder{}
	out, res := testBuild(t, dir, t.TempDir(), twoPlatforms, func(o *Options) { o.Reporter = rec })
	runs := map[string][]StepResult{}
	for _, s := range res.Steps {
		if strings.HasPrefix(s.Instruction, "RUN") {
			runs[s.Stage] = append(runs[s.Stage], s)
		}
	}
	if tools := runs["tools"]; len(tools) != 1 || tools[0].Cached || tools[0].Platform != "linux/amd64" {
		t.Errorf("the tools stage's RUN: %+v, want one, run, for linux/amd64", tools)
	}
	cross := runs["cross"]
	if len(cross) != 2 || cross[0].Platform != "linux/amd64" || cross[1].Platform != "linux/arm64" || cross[0].Cached || cross[1].Cached {
		t.Errorf("the cross stage's RUN: %+v, want one per target, both run", cross)
	}
	var toolsRuns []string
	for _, l := range rec.started() {
		if strings.Contains(l, " tools ") && strings.Contains(l, "RUN") {
			toolsRuns = append(toolsRuns, l)
		}
	}
	if len(toolsRuns) != 1 || !strings.HasPrefix(toolsRuns[0], "[linux/amd64 tools 4/4]") {
		t.Errorf("progress of the tools stage's RUN: %q", toolsRuns)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		root := unpackPlatform(t, out, "linux/"+arch)
		if got := readFile(t, root, "target"); got != arch+"\n" {
			t.Errorf("linux/%s: the cross stage saw TARGETARCH %q", arch, got)
		}
		if got := readFile(t, root, "once"); got != "once\n" {
			t.Errorf("linux/%s: /once is %q", arch, got)
		}
	}
}

// Without an emulator for arm64, a build whose arm64 RUN step the cache
// lacks fails before anything runs, in one line naming the platform and
// the package; one whose arm64 RUN is cached needs none.
func TestMultiPlatformNoEmulator(t *testing.T) {
	dockerfile := "FROM scratch\nARG TARGETARCH\nCOPY busybox-$TARGETARCH /bin/busybox\n" +
		`RUN ["/bin/busybox", "sh", "-c", "/bin/busybox uname -m > /arch"]` + "\n"
	dir := withArchBusyboxes(t, contextDir(t, map[string]string{"Dockerfile": dockerfile}))
	cached := t.TempDir()
	unlock := imagetest.Emulator(t, "aarch64")
	testBuild(t, dir, cached, twoPlatforms)
	unlock()

	enable := imagetest.DisableEmulator(t, "aarch64")
	rec := &recorder{}
	_, _, err := tryBuild(t, dir, t.TempDir(), twoPlatforms, func(o *Options) { o.Reporter = rec })
	_, _, cachedErr := tryBuild(t, dir, cached, twoPlatforms)
	enable()

	want := "Dockerfile:4: no emulator for linux/arm64: its RUN steps need qemu-aarch64 registered in binfmt_misc (apt-get install qemu-user-static binfmt-support)"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	if got := rec.started(); len(got) != 0 {
		t.Errorf("steps ran before the error: %q", got)
	}
	if cachedErr != nil {
		t.Errorf("every step cached: %v", cachedErr)
	}
}

// An index without the target platform is an error that lists those it
// has; a docker-archive output of several platforms is refused before
// anything runs.
func TestMultiPlatformRefusals(t *testing.T) {
	cacheDir := t.TempDir()
	base := busyboxIndex(t, cacheDir)
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM " + base + "\nCOPY Dockerfile /\n"})
	_, _, err := tryBuild(t, dir, cacheDir, func(o *Options) {
		o.Platforms = []ocispec.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "riscv64"}}
	})
	want := "no image for platform linux/riscv64 (the index has linux/amd64, linux/arm64)"
	if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, image.ErrNoPlatform) {
		t.Errorf("err = %v, want one with %s", err, want)
	}
	rec := &recorder{}
	_, _, err = tryBuild(t, dir, cacheDir, twoPlatforms, func(o *Options) {
		o.Outputs = []transport.Ref{{Transport: transport.DockerArchive, Path: filepath.Join(t.TempDir(), "d.tar")}}
		o.Reporter = rec
	})
	if !errors.Is(err, transport.ErrOnePlatform) || strings.Contains(err.Error(), "\n") || len(rec.started()) != 0 {
		t.Errorf("docker-archive of two platforms: %v, after %d steps", err, len(rec.started()))
	}
}

// A single-platform base for another platform is used, with BuildKit's
// warning, once per build.
func TestBaseForAnotherPlatform(t *testing.T) {
	cacheDir := t.TempDir()
	base, _ := testBuild(t, contextDir(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY Dockerfile /base\n"}), cacheDir)
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM oci-archive:" + base + "\nCOPY Dockerfile /app\n"})
	w := &warnings{}
	_, res := testBuild(t, dir, cacheDir, twoPlatforms, func(o *Options) { o.Reporter = w })
	want := `Dockerfile:1: InvalidBaseImagePlatform: Base image oci-archive:` + base + ` was pulled with platform "linux/amd64", expected "linux/arm64" for current build`
	if len(w.msgs) != 1 || w.msgs[0] != want {
		t.Errorf("warnings %q\nwant %q", w.msgs, want)
	}
	if len(res.Manifests) != 2 || res.Manifests[1].Platform != "linux/arm64" {
		t.Errorf("manifests: %+v", res.Manifests)
	}
	// "# check=skip=" silences it, as it does BuildKit's.
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("# check=skip=InvalidBaseImagePlatform\nFROM oci-archive:"+base+"\nCOPY Dockerfile /app\n"), 0o644)
	w = &warnings{}
	testBuild(t, dir, cacheDir, twoPlatforms, func(o *Options) { o.Reporter = w })
	if len(w.msgs) != 0 {
		t.Errorf("skipped, yet warned %q", w.msgs)
	}
}

// --output type=local of several platforms writes each platform's files
// to a directory of its own, as BuildKit does; type=tar is refused.
func TestMultiPlatformExportDir(t *testing.T) {
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM scratch\nARG TARGETARCH\nCOPY Dockerfile /$TARGETARCH\n"})
	dest := t.TempDir()
	testBuild(t, dir, t.TempDir(), twoPlatforms, func(o *Options) {
		o.Exports = []Export{{Kind: ExportDir, Dest: dest}}
	})
	for _, want := range []string{"linux_amd64/amd64", "linux_arm64/arm64"} {
		if _, err := os.Stat(filepath.Join(dest, want)); err != nil {
			t.Errorf("%s: %v", want, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dest, "linux_amd64/arm64")); err == nil {
		t.Error("the arm64 file is in the amd64 directory")
	}
	_, _, err := tryBuild(t, dir, t.TempDir(), twoPlatforms, func(o *Options) {
		o.Exports = []Export{{Kind: ExportTar, Dest: filepath.Join(dest, "fs.tar")}}
	})
	if err == nil || !strings.Contains(err.Error(), "type=local) only") {
		t.Errorf("type=tar of two platforms: %v", err)
	}
}
