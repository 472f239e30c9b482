package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrremote "github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/mybuild/mybuild/registry/registrytest"
	digest "github.com/opencontainers/go-digest"
)

// remoteManifest is the digest and config digest of a pushed image.
func remoteManifest(t *testing.T, ref string) (manifest, config digest.Digest, err error) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := ggcrremote.Image(r)
	if err != nil {
		return "", "", err
	}
	m, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	c, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return digest.Digest(m.String()), digest.Digest(c.String()), nil
}

// -t NAME --push pushes to NAME, as buildx does; --iidfile gets the
// config digest, as docker and buildx write it, and the metadata file
// buildx's keys.
func TestTagPushIIDFileAndMetadata(t *testing.T) {
	reg := registrytest.StartInMemory(t)
	dir := project(t, prelude+"RUN echo pushed > /p\n")
	out := t.TempDir()
	iid, meta := filepath.Join(out, "iid"), filepath.Join(out, "meta.json")
	one, two := reg.Ref("app:1"), reg.Ref("app:latest")
	code, stdout, stderr := runCLI(t, "--cache-dir", t.TempDir(), "-t", one, "--tag", two, "--push", "--iidfile", iid, "--metadata-file", meta, dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	built := digestOf(stdout)
	var config digest.Digest
	for _, ref := range []string{one, two} {
		m, c, err := remoteManifest(t, ref)
		if err != nil || m != built {
			t.Errorf("%s: manifest %s (%v), want the printed %s", ref, m, err, built)
		}
		config = c
		if !strings.Contains(stderr, "wrote docker://"+ref+"\n") {
			t.Errorf("stderr lacks the push to %s:\n%s", ref, stderr)
		}
	}
	if data, err := os.ReadFile(iid); err != nil || string(data) != config.String() {
		t.Errorf("iidfile: %q (%v), want %q", data, err, config)
	}
	var m map[string]any
	data, _ := os.ReadFile(meta)
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"containerimage.digest":        built.String(),
		"containerimage.config.digest": config.String(),
		"image.name":                   one + "," + two,
		"image_digest":                 built.String(),
	} {
		if m[k] != want {
			t.Errorf("metadata %s = %v, want %s", k, m[k], want)
		}
	}
}

// Without --push, -t NAME only names the image: nothing is pushed, and a
// warning says that nothing was written. So it is without any -t.
func TestTagWithoutPushWritesNothing(t *testing.T) {
	reg := registrytest.StartInMemory(t)
	dir := project(t, prelude)
	cacheDir := t.TempDir()
	meta := filepath.Join(t.TempDir(), "meta.json")
	ref := reg.Ref("app:1")
	code, stdout, stderr := runCLI(t, "--cache-dir", cacheDir, "-t", ref, "--metadata-file", meta, dir)
	want := "WARNING: -t " + ref + " names the image, and nothing writes it: the result stays in the build cache only. " +
		"Push it with --push, or write it with -t PATH.tar, -t oci:DIR or --output\n"
	if code != 0 || !strings.HasSuffix(stderr, want) || digestOf(stdout).Validate() != nil {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant the warning %q last", code, stdout, stderr, want)
	}
	if _, _, err := remoteManifest(t, ref); err == nil {
		t.Errorf("%s was pushed without --push", ref)
	}
	if data, _ := os.ReadFile(meta); !strings.Contains(string(data), `"image.name": "`+ref+`"`) {
		t.Errorf("metadata lacks image.name:\n%s", data)
	}
	code, _, stderr = runCLI(t, "--cache-dir", cacheDir, dir)
	if code != 0 || !strings.Contains(stderr, "WARNING: no output specified: the result stays in the build cache only.") {
		t.Errorf("no -t: exit %d\n%s", code, stderr)
	}
	// -q prints the digest only.
	code, stdout, stderr = runCLI(t, "--cache-dir", cacheDir, "-q", dir)
	if code != 0 || stderr != "" || digestOf(stdout).Validate() != nil {
		t.Errorf("-q: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// --output type=registry and type=image,push=true push; type=image alone
// names the image only.
func TestOutputRegistry(t *testing.T) {
	reg := registrytest.StartInMemory(t)
	dir := project(t, prelude)
	pushed, named, tagged := reg.Ref("a:1"), reg.Ref("b:1"), reg.Ref("c:1")
	code, stdout, stderr := runCLI(t, "--cache-dir", t.TempDir(), "-t", tagged,
		"--output", "type=registry,name="+pushed, "--output", "type=image,name="+named, "--output", "type=image,push=true", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for ref, want := range map[string]bool{pushed: true, named: false, tagged: true} {
		m, _, err := remoteManifest(t, ref)
		if got := err == nil && m == digestOf(stdout); got != want {
			t.Errorf("%s: pushed %v (manifest %s, %v), want %v", ref, got, m, err, want)
		}
	}
}
