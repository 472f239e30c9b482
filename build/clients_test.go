package build

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/transport"
	digest "github.com/opencontainers/go-digest"
)

func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed (apt-get install %s; .ci/run installs it)", name, name)
	}
	return p
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(tool(t, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The output is a standard image: skopeo reads it, umoci unpacks it, and
// buildah runs it.
func TestRealClientsAcceptTheImage(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{
		"Dockerfile": busyboxPrelude + `ENV GREETING=hello
WORKDIR /app
COPY msg.txt ./
RUN echo "$GREETING from the build" > built.txt && rm /bin/vi
CMD ["cat", "/app/built.txt"]
`,
		"msg.txt": "message\n",
	}))
	archive, res := testBuild(t, dir, t.TempDir())

	raw := runTool(t, "skopeo", "inspect", "--raw", "oci-archive:"+archive)
	if digest.FromString(raw) != res.ImageDigest {
		t.Errorf("skopeo sees manifest %s, want %s", digest.FromString(raw), res.ImageDigest)
	}

	layout := filepath.Join(t.TempDir(), "layout")
	os.MkdirAll(layout, 0o755)
	if err := extractTar(archive, layout); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "bundle")
	runTool(t, "umoci", "unpack", "--image", layout+":latest", bundle)
	got, err := os.ReadFile(filepath.Join(bundle, "rootfs/app/built.txt"))
	if err != nil || string(got) != "hello from the build\n" {
		t.Errorf("umoci rootfs: %q, %v", got, err)
	}
	if _, err := os.Lstat(filepath.Join(bundle, "rootfs/bin/vi")); !os.IsNotExist(err) {
		t.Error("umoci: the whiteout for /bin/vi was not applied")
	}

	// buildah keeps its own store; give it a private one.
	store := t.TempDir()
	buildah := func(args ...string) string {
		return runTool(t, "buildah", append([]string{"--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"), "--storage-driver", "vfs"}, args...)...)
	}
	ctr := strings.TrimSpace(buildah("from", "-q", "oci-archive:"+archive))
	defer buildah("rm", ctr)
	if out := buildah("run", "--isolation", "chroot", ctr, "--", "cat", "/app/built.txt", "/app/msg.txt"); out != "hello from the build\nmessage\n" {
		t.Errorf("buildah run printed %q", out)
	}
}

// skopeo and umoci read every local output: a zstd layout, and a
// docker-archive, which skopeo reads as docker load would. Debian's umoci
// (0.4.7) knows no zstd: skopeo, decompressing each zstd layer, turns the
// layout into a gzip one for it.
func TestRealClientsReadEveryOutput(t *testing.T) {
	dir := withBusybox(t, contextDir(t, map[string]string{
		"Dockerfile": busyboxPrelude + "RUN echo zstd > /z && rm /bin/vi\n",
	}))
	tmp := t.TempDir()
	layout := filepath.Join(tmp, "layout")
	docker := filepath.Join(tmp, "docker.tar")
	_, res := testBuild(t, dir, t.TempDir(), withCompression(layer.Zstd, 0), func(o *Options) {
		o.Outputs = []transport.Ref{
			{Transport: transport.OCILayout, Path: layout, Name: "v1"},
			{Transport: transport.DockerArchive, Path: docker, Name: "app:v1"},
		}
	})

	raw := runTool(t, "skopeo", "inspect", "--raw", "oci:"+layout+":v1")
	if digest.FromString(raw) != res.ImageDigest || !strings.Contains(raw, "tar+zstd") {
		t.Errorf("skopeo sees manifest %s:\n%s", digest.FromString(raw), raw)
	}
	gzipped := filepath.Join(tmp, "gzipped")
	runTool(t, "skopeo", "copy", "--dest-compress-format", "gzip", "oci:"+layout+":v1", "oci:"+gzipped+":v1")
	if raw := runTool(t, "skopeo", "inspect", "--raw", "oci:"+gzipped+":v1"); strings.Contains(raw, "zstd") {
		t.Errorf("skopeo did not recompress the zstd layers:\n%s", raw)
	}
	bundle := filepath.Join(tmp, "bundle")
	runTool(t, "umoci", "unpack", "--image", gzipped+":v1", bundle)
	if got, err := os.ReadFile(filepath.Join(bundle, "rootfs/z")); err != nil || string(got) != "zstd\n" {
		t.Errorf("umoci rootfs: %q, %v", got, err)
	}
	if _, err := os.Lstat(filepath.Join(bundle, "rootfs/bin/vi")); !os.IsNotExist(err) {
		t.Error("umoci: the whiteout for /bin/vi was not applied")
	}

	out := runTool(t, "skopeo", "inspect", "docker-archive:"+docker)
	if !strings.Contains(out, `"RepoTags": [`) && !strings.Contains(out, `"Layers": [`) {
		t.Errorf("skopeo inspect docker-archive:\n%s", out)
	}
	copied := filepath.Join(tmp, "copied")
	runTool(t, "skopeo", "copy", "docker-archive:"+docker, "oci:"+copied+":x")
	bundle2 := filepath.Join(tmp, "bundle2")
	runTool(t, "umoci", "unpack", "--image", copied+":x", bundle2)
	if got, err := os.ReadFile(filepath.Join(bundle2, "rootfs/z")); err != nil || string(got) != "zstd\n" {
		t.Errorf("docker-archive through skopeo and umoci: %q, %v", got, err)
	}
}
