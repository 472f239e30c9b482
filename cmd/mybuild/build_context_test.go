package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/internal/imagetest"
	"github.com/mybuild/mybuild/registry/registrytest"
)

// fileIn is the content of a file of the image in an OCI archive, and
// its owner; ok is false when it is missing.
func fileIn(t *testing.T, archive, p string) (sha string, uid int, ok bool) {
	t.Helper()
	fsys, err := imagetest.Flatten(archive)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := fsys.Lookup(p)
	return e.SHA256, e.Uid, ok
}

const (
	shaLib = "a325dcacb80b202a014b420b93fc19061900018f8ce216d0a0cb00d610ec7f97" // "lib\n"
	shaNew = "7aa7a5359173d05b63cfd682e3c38487f3cb4f7f1d60659fe59fab1505977d4c" // "new\n"
)

// --build-context NAME=DIR: COPY --from=NAME reads the directory (its
// .dockerignore applies, and files are root's), and FROM NAME starts
// from its files; the steps are keyed by its content.
func TestBuildContextDir(t *testing.T) {
	dir := project(t, "FROM lib AS base\nFROM scratch\nCOPY --from=lib f.txt /copied.txt\nCOPY --from=base / /base/\n")
	lib := t.TempDir()
	os.WriteFile(filepath.Join(lib, "f.txt"), []byte("lib\n"), 0o644)
	os.WriteFile(filepath.Join(lib, "secret"), []byte("ignored"), 0o644)
	os.WriteFile(filepath.Join(lib, ".dockerignore"), []byte("secret\n"), 0o644)
	os.Chown(filepath.Join(lib, "f.txt"), 1234, 1234)
	cacheDir, archive := t.TempDir(), filepath.Join(t.TempDir(), "app.tar")
	build := func() string {
		t.Helper()
		code, _, stderr := runCLI(t, "--cache-dir", cacheDir, "--build-context", "lib="+lib, "-t", archive, dir)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		return stderr
	}
	stderr := build()
	if !strings.Contains(stderr, "[lib 2/2] COPY . /") {
		t.Errorf("progress lacks the context's copy:\n%s", stderr)
	}
	for _, p := range []string{"/copied.txt", "/base/f.txt"} {
		if sha, uid, ok := fileIn(t, archive, p); !ok || sha != shaLib || uid != 0 {
			t.Errorf("%s: sha256 %s, uid %d, found %v; want the context's f.txt, owned by root", p, sha, uid, ok)
		}
	}
	if _, _, ok := fileIn(t, archive, "/base/secret"); ok {
		t.Error("the context's .dockerignore was not applied")
	}
	// Changing the directory is a cache miss.
	os.WriteFile(filepath.Join(lib, "f.txt"), []byte("new\n"), 0o644)
	if stderr := build(); strings.Count(stderr, "CACHED") == strings.Count(stderr, "#") {
		t.Errorf("a changed context hit the cache:\n%s", stderr)
	}
	if sha, _, _ := fileIn(t, archive, "/copied.txt"); sha != shaNew {
		t.Errorf("/copied.txt has sha256 %s after the change, want %s", sha, shaNew)
	}
}

// --build-context NAME=oci-layout://DIR:TAG and docker-image://REF: FROM
// NAME, COPY --from=NAME and RUN --mount=from=NAME take that image, which
// also replaces a stage of that name.
func TestBuildContextImage(t *testing.T) {
	reg := registrytest.StartInMemory(t)
	cacheDir, out := t.TempDir(), t.TempDir()
	layout := filepath.Join(out, "layout")
	base := project(t, prelude+"RUN echo base > /marker\n")
	if code, _, stderr := runCLI(t, "--cache-dir", cacheDir, "-t", "oci:"+layout+":v1", "-t", "docker://"+reg.Ref("base:1"), base); code != 0 {
		t.Fatalf("base: exit %d\n%s", code, stderr)
	}
	// Without its context, "base" is a stage that fails, and "alpine" an
	// image without /marker.
	dir := project(t, `FROM scratch AS base
RUN false
FROM alpine AS other
FROM base
RUN --mount=from=other,target=/o cat /o/marker > /from-mount
COPY --from=base /marker /copied
COPY --from=other /marker /other
`)
	archive := filepath.Join(out, "app.tar")
	code, _, stderr := runCLI(t, "--cache-dir", cacheDir, "-t", archive,
		"--build-context", "base=oci-layout://"+layout+":v1", "--build-context", "alpine=docker-image://"+reg.Ref("base:1"), dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, p := range []string{"/marker", "/from-mount", "/copied", "/other"} {
		if _, _, ok := fileIn(t, archive, p); !ok {
			t.Errorf("the image lacks %s", p)
		}
	}
}
