package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mybuild/mybuild/internal/imagetest"
)

// damageLayerFile overwrites one byte in the middle of the file rel of
// the unpacked layer that holds it, keeping its size and mtime, as a
// stray write would (the ctime tells it), and returns the file's path.
func damageLayerFile(t *testing.T, cacheDir, rel string) string {
	t.Helper()
	found, err := filepath.Glob(filepath.Join(cacheDir, "layers/sha256/*", rel))
	if err != nil || len(found) != 1 {
		t.Fatalf("unpacked %s: %v, %v", rel, found, err)
	}
	p := found[0]
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	rf, _ := os.Open(p)
	rf.ReadAt(b, fi.Size()/2)
	rf.Close()
	if _, err := f.WriteAt([]byte{b[0] ^ 0xff}, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Chtimes(p, time.Now(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	return p
}

// imageFile is the content digest of the file p of an image archive.
func imageFile(t *testing.T, archive, p string) string {
	t.Helper()
	fsys, err := imagetest.Flatten(archive)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := fsys.Lookup(p)
	if !ok {
		t.Fatalf("%s: no %s", archive, p)
	}
	return e.SHA256
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// One byte overwritten in busybox, in its unpacked layer: the next build
// that runs a step on that layer finds it, warns, unpacks the layer again
// from its blob, and runs the step on the right busybox.
func TestDamagedLayerIsUnpackedAgain(t *testing.T) {
	dir := project(t, prelude+"RUN sha256sum /bin/busybox > /sum\n")
	busybox, _ := os.ReadFile(filepath.Join(dir, "busybox"))
	cacheDir := t.TempDir()
	if code, _, stderr := runCLI(t, "--cache-dir", cacheDir, dir); code != 0 {
		t.Fatalf("first build: exit %d\n%s", code, stderr)
	}
	unpacked := damageLayerFile(t, cacheDir, "bin/busybox")

	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(prelude+"RUN sha256sum /bin/busybox > /sum\nRUN sha256sum /bin/busybox > /again\n"), 0o644)
	out := filepath.Join(t.TempDir(), "app.tar")
	code, _, stderr := runCLI(t, "--cache-dir", cacheDir, "--progress", "plain", "-t", out, dir)
	if code != 0 {
		t.Fatalf("build on the damaged layer: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "is damaged: /bin/busybox: content changed; unpacking it again from its blob") {
		t.Errorf("no warning of the damage:\n%s", stderr)
	}
	want := sha256Hex([]byte(sha256Hex(busybox) + "  /bin/busybox\n"))
	if got := imageFile(t, out, "/again"); got != want {
		t.Errorf("/again has digest %s, want %s (the step saw a damaged busybox)", got, want)
	}
	if got, _ := os.ReadFile(unpacked); sha256Hex(got) != sha256Hex(busybox) {
		t.Error("the unpacked busybox is still damaged")
	}
	// The layer unpacked again was sealed with the digests its extraction
	// computed: a full check, every file read, agrees with them.
	if code, stdout, stderr := runCLI(t, "cache", "verify", "--cache-dir", cacheDir); code != 0 || stdout != "the cache is sound\n" {
		t.Errorf("verify after the build: exit %d\n%s%s", code, stdout, stderr)
	}
}

// cache verify finds damaged unpacked layers and a damaged step record,
// one line each, and exits 1; --repair removes the record and unpacks the
// layers again from their blobs, on the layers the records chain them on
// (busybox's COPY after FROM scratch, and a RUN three steps later), and
// the next verify finds nothing; the next build uses them.
func TestCacheVerifyRepair(t *testing.T) {
	dir := project(t, prelude+"RUN echo x > /x\n")
	cacheDir := t.TempDir()
	if code, _, stderr := runCLI(t, "--cache-dir", cacheDir, dir); code != 0 {
		t.Fatalf("build: exit %d\n%s", code, stderr)
	}
	if code, stdout, stderr := runCLI(t, "cache", "verify", "--cache-dir", cacheDir); code != 0 || stdout != "the cache is sound\n" {
		t.Fatalf("verify of a sound cache: exit %d\n%s%s", code, stdout, stderr)
	}
	busyboxLayer := damageLayerFile(t, cacheDir, "bin/busybox")
	xLayer := damageLayerFile(t, cacheDir, "x")
	os.WriteFile(filepath.Join(cacheDir, "steps", strings.Repeat("ab", 32)+".json"), []byte("{"), 0o600)

	code, stdout, stderr := runCLI(t, "cache", "verify", "--cache-dir", cacheDir)
	if code != 1 || !strings.Contains(stderr, "3 problems found") {
		t.Errorf("verify: exit %d, want 1\n%s", code, stderr)
	}
	for _, want := range []string{"step sha256:abab", ": /bin/busybox: content changed\n", ": /x: content changed\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("verify printed no %q:\n%s", want, stdout)
		}
	}

	code, stdout, stderr = runCLI(t, "cache", "verify", "--repair", "--cache-dir", cacheDir)
	if code != 0 || strings.Count(stdout, "(removed)") != 1 || strings.Count(stdout, "(unpacked again from its blob)") != 2 ||
		!strings.Contains(stdout, "repaired 3 problems") {
		t.Errorf("verify --repair: exit %d\n%s%s", code, stdout, stderr)
	}
	busybox, _ := os.ReadFile(filepath.Join(dir, "busybox"))
	if got, _ := os.ReadFile(busyboxLayer); sha256Hex(got) != sha256Hex(busybox) {
		t.Error("the unpacked busybox is still damaged after the repair")
	}
	if got, _ := os.ReadFile(xLayer); string(got) != "x\n" {
		t.Errorf("the unpacked /x holds %q after the repair", got)
	}
	if code, stdout, stderr := runCLI(t, "cache", "verify", "--cache-dir", cacheDir); code != 0 || stdout != "the cache is sound\n" {
		t.Errorf("verify after the repair: exit %d\n%s%s", code, stdout, stderr)
	}
	out := filepath.Join(t.TempDir(), "app.tar")
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(prelude+"RUN echo x > /x\nRUN sha256sum /bin/busybox /x > /sum\n"), 0o644)
	code, _, stderr = runCLI(t, "--cache-dir", cacheDir, "--progress", "plain", "-t", out, dir)
	if code != 0 {
		t.Fatalf("build after the repair: exit %d\n%s", code, stderr)
	}
	if strings.Contains(stderr, "damaged") {
		t.Errorf("the build after the repair found damage:\n%s", stderr)
	}
	want := sha256Hex([]byte(sha256Hex(busybox) + "  /bin/busybox\n" + sha256Hex([]byte("x\n")) + "  /x\n"))
	if got := imageFile(t, out, "/sum"); got != want {
		t.Errorf("/sum has digest %s, want %s", got, want)
	}
}

// A blob whose bytes changed is reported, and with it every record that
// refers to it; --repair removes them all.
func TestCacheVerifyBlob(t *testing.T) {
	dir := project(t, prelude)
	cacheDir := t.TempDir()
	if code, _, stderr := runCLI(t, "--cache-dir", cacheDir, dir); code != 0 {
		t.Fatalf("build: exit %d\n%s", code, stderr)
	}
	blobs, _ := filepath.Glob(filepath.Join(cacheDir, "blobs/sha256/*"))
	if len(blobs) == 0 {
		t.Fatal("no blob")
	}
	data, _ := os.ReadFile(blobs[0])
	data[len(data)/2] ^= 0xff
	os.WriteFile(blobs[0], data, 0o600)
	code, stdout, _ := runCLI(t, "cache", "verify", "--cache-dir", cacheDir)
	name := "blob sha256:" + filepath.Base(blobs[0]) + ": content has digest sha256:"
	// The first blob is a layer's or a file list's, as the digests fall:
	// the record that names it says which.
	damaged := regexp.MustCompile(`its (file list )?blob sha256:` + filepath.Base(blobs[0]) + ` is damaged`)
	if code != 1 || !strings.HasPrefix(stdout, name) || !damaged.MatchString(stdout) {
		t.Errorf("verify: exit %d\n%s", code, stdout)
	}
	if code, stdout, _ := runCLI(t, "cache", "verify", "--repair", "--cache-dir", cacheDir); code != 0 || !strings.Contains(stdout, "(removed)") {
		t.Errorf("verify --repair: exit %d\n%s", code, stdout)
	}
	if code, stdout, _ := runCLI(t, "cache", "verify", "--cache-dir", cacheDir); code != 0 {
		t.Errorf("verify after the repair: exit %d\n%s", code, stdout)
	}
}
