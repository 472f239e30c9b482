package main

import (
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/image"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// --label adds to the config's labels, over the Dockerfile's own; it
// changes the config, and so the image, and nothing else: every step is
// cached.
func TestLabel(t *testing.T) {
	dir := project(t, prelude+"LABEL from.dockerfile=1 both=dockerfile\n")
	cacheDir, out := t.TempDir(), t.TempDir()
	plain, labelled := filepath.Join(out, "plain.tar"), filepath.Join(out, "labelled.tar")
	if code, _, stderr := runCLI(t, "--cache-dir", cacheDir, "-t", plain, dir); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, "--cache-dir", cacheDir, "-t", labelled, "--label", "org.opencontainers.image.version=1.2",
		"--label", "both=flag", "--label", "empty", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if strings.Count(stderr, "CACHED") != 4 {
		t.Errorf("--label ran a step again:\n%s", stderr)
	}
	img := readOCIArchive(t, labelled)
	want := map[string]string{"from.dockerfile": "1", "both": "flag", "org.opencontainers.image.version": "1.2", "empty": ""}
	if img.manifestDigest != digestOf(stdout) || !maps.Equal(img.config.Config.Labels, want) {
		t.Errorf("labels %v, want %v; manifest %s, printed %s", img.config.Config.Labels, want, img.manifestDigest, stdout)
	}
	before := readOCIArchive(t, plain)
	if before.manifestDigest == img.manifestDigest || len(before.config.History) != len(img.config.History) {
		t.Errorf("without --label: manifest %s, %d history entries; with: %s, %d", before.manifestDigest, len(before.config.History), img.manifestDigest, len(img.config.History))
	}
}

// --annotation puts manifest annotations (no prefix, manifest:, and
// manifest[PLATFORM]: for the build's platform) on the manifest, and
// manifest-descriptor: ones on its entry in index.json, in an OCI archive,
// an OCI layout and a docker-archive.
func TestAnnotation(t *testing.T) {
	dir := project(t, prelude)
	out := t.TempDir()
	archive, layout, docker := filepath.Join(out, "app.tar"), filepath.Join(out, "layout"), filepath.Join(out, "docker.tar")
	host := image.FormatPlatform(image.HostPlatform())
	code, stdout, stderr := runCLI(t, "--cache-dir", t.TempDir(), "-t", archive, "-t", "oci:"+layout, "-t", "docker-archive:"+docker+":app:1",
		"--annotation", "org.opencontainers.image.source=https://example.com/app",
		"--annotation", "manifest:org.example.a=1",
		"--annotation", "manifest["+host+"]:org.example.b=2",
		"--annotation", "manifest-descriptor:org.example.d=3",
		"--annotation", "manifest,manifest-descriptor:org.example.both=4", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	wantManifest := map[string]string{"org.opencontainers.image.source": "https://example.com/app", "org.example.a": "1", "org.example.b": "2", "org.example.both": "4"}
	for path, img := range map[string]ociImage{archive: readOCIArchive(t, archive), layout: readOCILayout(t, layout)} {
		if img.manifestDigest != digestOf(stdout) || !maps.Equal(img.manifest.Annotations, wantManifest) {
			t.Errorf("%s: manifest %s annotated %v; want %s, %v", path, img.manifestDigest, img.manifest.Annotations, stdout, wantManifest)
		}
		wantDesc := map[string]string{"org.example.d": "3", "org.example.both": "4", ocispec.AnnotationRefName: "latest"}
		if got := img.index.Manifests[0].Annotations; !maps.Equal(got, wantDesc) {
			t.Errorf("%s: index.json annotations %v, want %v", path, got, wantDesc)
		}
	}
	// A docker-archive holds the image with uncompressed layers: another
	// manifest, annotated all the same.
	img := readOCIArchive(t, docker)
	if !maps.Equal(img.manifest.Annotations, wantManifest) || img.index.Manifests[0].Annotations["org.example.d"] != "3" ||
		img.index.Manifests[0].Annotations["io.containerd.image.name"] != "docker.io/library/app:1" {
		t.Errorf("docker-archive: manifest annotations %v, index.json %v", img.manifest.Annotations, img.index.Manifests[0].Annotations)
	}
}
