package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkOutputGolden compares got with testdata/check/<name>;
// MYBUILD_UPDATE_GOLDEN=1 rewrites it.
func checkOutputGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "check", name)
	if os.Getenv("MYBUILD_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// emptyDir fails unless dir holds nothing (or does not exist): what a
// build that must not build anything leaves in its cache dir.
func emptyDir(t *testing.T, dir string) {
	t.Helper()
	var found []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			found = append(found, path)
		}
		return nil
	})
	if len(found) > 0 {
		t.Errorf("the cache holds %d files, want none: %v", len(found), found)
	}
}

func TestCheckWarnings(t *testing.T) {
	dir := project(t, "FROM scratch as base\nCOPY busybox /bin/busybox\nCMD busybox true\n")
	cacheDir := filepath.Join(t.TempDir(), "cache")
	code, stdout, stderr := runCLI(t, "build", "--check", "--cache-dir", cacheDir, dir)
	if code != exitBuild || stderr != "" {
		t.Errorf("exit %d, stderr %q; want 1 and nothing", code, stderr)
	}
	checkOutputGolden(t, "warnings", stdout)
	emptyDir(t, cacheDir)
}

func TestCheckClean(t *testing.T) {
	dir := project(t, "FROM scratch AS base\nCOPY busybox /bin/busybox\nCMD [\"busybox\", \"true\"]\n")
	cacheDir := filepath.Join(t.TempDir(), "cache")
	code, stdout, stderr := runCLI(t, "build", "--check", "--cache-dir", cacheDir, dir)
	if code != exitOK || stderr != "" || stdout != "Check complete, no warnings found.\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	emptyDir(t, cacheDir)
}

// TestCheckSkip: "# check=skip=" silences the rules it names, in --check
// as in a build.
func TestCheckSkip(t *testing.T) {
	dir := project(t, "# check=skip=FromAsCasing,JSONArgsRecommended\nFROM scratch as base\nCOPY busybox /bin/busybox\nCMD busybox true\n")
	code, stdout, _ := runCLI(t, "build", "--check", "--cache-dir", t.TempDir(), dir)
	if code != exitOK || stdout != "Check complete, no warnings found.\n" {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
}

// TestBuildLintWarnings: a build prints the lint warnings, one line each,
// and goes on.
func TestBuildLintWarnings(t *testing.T) {
	dir := project(t, "FROM scratch as base\nCOPY busybox /bin/busybox\n")
	code, _, stderr := runCLI(t, "build", "--cache-dir", t.TempDir(), dir)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	want := "WARNING: FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)\n"
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
}

// TestBuildCheckError: with "# check=error=true", a warning fails the
// build before any step, in one line naming the rule and its line.
func TestBuildCheckError(t *testing.T) {
	dir := project(t, "# check=error=true\nFROM scratch as base\nCOPY busybox /bin/busybox\n")
	cacheDir := filepath.Join(t.TempDir(), "cache")
	code, stdout, stderr := runCLI(t, "build", "--cache-dir", cacheDir, dir)
	if code != exitBuild || stdout != "" {
		t.Errorf("exit %d, stdout %q; want 1 and nothing", code, stdout)
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if last, want := lines[len(lines)-1], "mybuild: Dockerfile:2: lint violation found for rules: FromAsCasing (line 2)"; last != want {
		t.Errorf("last line of stderr = %q, want %q", last, want)
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "#1 ") {
			t.Errorf("a step started: %q", l)
		}
	}
	emptyDir(t, filepath.Join(cacheDir, "steps"))
}

// TestCheckIgnoredFile: --check reads the context's .dockerignore for
// CopyIgnoredFile.
func TestCheckIgnoredFile(t *testing.T) {
	dir := project(t, "FROM scratch\nCOPY busybox /bin/busybox\n")
	if err := os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("busy*\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := runCLI(t, "build", "--check", "--cache-dir", t.TempDir(), dir)
	want := "Attempting to Copy file \"busybox\" that is excluded by .dockerignore\n"
	if code != exitBuild || !strings.Contains(stdout, want) {
		t.Errorf("exit %d, stdout lacks %q:\n%s", code, want, stdout)
	}
}

// TestCheckBasePlatform: --check reads the config of every base image,
// and one made for another architecture than the build's is
// InvalidBaseImagePlatform, at its FROM, as BuildKit reports it.
func TestCheckBasePlatform(t *testing.T) {
	armDir := project(t, "FROM scratch\nCOPY busybox /bin/busybox\n")
	arm := filepath.Join(t.TempDir(), "arm.tar")
	if code, _, stderr := runCLI(t, "build", "--platform", "linux/arm64", "--cache-dir", t.TempDir(), "-t", "oci-archive:"+arm, armDir); code != exitOK {
		t.Fatalf("arm64 base: exit %d\n%s", code, stderr)
	}
	dir := project(t, "FROM oci-archive:"+arm+"\nCMD [\"busybox\", \"true\"]\n")
	cacheDir := filepath.Join(t.TempDir(), "cache")
	code, stdout, stderr := runCLI(t, "build", "--check", "--platform", "linux/amd64", "--cache-dir", cacheDir, dir)
	want := "Check complete, 1 warning has been found!\n\nWARNING: InvalidBaseImagePlatform\n" +
		"Base image oci-archive:" + arm + " was pulled with platform \"linux/arm64\", expected \"linux/amd64\" for current build\n" +
		"Dockerfile:1\n"
	if code != exitBuild || stderr != "" || !strings.HasPrefix(stdout, want) {
		t.Errorf("exit %d, stderr %q, stdout\n%s\nwant it to start\n%s", code, stderr, stdout, want)
	}
	emptyDir(t, cacheDir)
	// The same base for the platform it was made for: no warning.
	if code, stdout, _ := runCLI(t, "build", "--check", "--platform", "linux/arm64", "--cache-dir", cacheDir, dir); code != exitOK {
		t.Errorf("--platform linux/arm64: exit %d\n%s", code, stdout)
	}
}
