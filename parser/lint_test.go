package parser

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestLintCases lints each testdata/lint/<case>/Dockerfile, most of them
// BuildKit's own lint test cases (frontend/dockerfile/dockerfile_check_test.go),
// and compares what --check prints, and the error of check=error=true,
// with testdata/lint/<case>/result. A case may hold a dockerignore file
// (the context's .dockerignore), a buildargs file (K=V lines) and a
// target file (the build's --target: only the stages it needs).
func TestLintCases(t *testing.T) {
	for _, dir := range caseDirs(t, "lint") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			amd64 := ocispec.Platform{OS: "linux", Architecture: "amd64"}
			opts := []LintOption{LintPlatforms(amd64, amd64)}
			if lines, ok := readLines(t, filepath.Join(dir, "dockerignore")); ok {
				opts = append(opts, LintIgnore(lines))
			}
			if lines, ok := readLines(t, filepath.Join(dir, "buildargs")); ok {
				args := map[string]string{}
				for _, kv := range lines {
					k, v, _ := strings.Cut(kv, "=")
					args[k] = v
				}
				opts = append(opts, LintBuildArgs(args))
			}
			if lines, ok := readLines(t, filepath.Join(dir, "target")); ok {
				opts = append(opts, LintTarget(strings.Join(lines, "")))
			}
			res, err := Lint("Dockerfile", data, opts...)
			if err != nil {
				golden(t, filepath.Join(dir, "result"), "lint error: "+err.Error()+"\n")
				return
			}
			var b bytes.Buffer
			if err := res.PrintTo(&b); err != nil {
				t.Fatal(err)
			}
			for _, w := range res.Warnings {
				b.WriteString("short: " + w.Short() + "\n")
			}
			if err := res.Err(); err != nil {
				b.WriteString("error: " + err.Error() + "\n")
			}
			golden(t, filepath.Join(dir, "result"), b.String())
		})
	}
}

// readLines reads the non-empty lines of path; false when there is none.
func readLines(t *testing.T, path string) ([]string, bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines, true
}

// lintShorts lints src with opts, and gives each warning in its short
// form.
func lintShorts(t *testing.T, src []byte, opts ...LintOption) []string {
	t.Helper()
	res, err := Lint("Dockerfile", src, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, w := range res.Warnings {
		out = append(out, w.Short())
	}
	return out
}

// TestLintBaseImages: the base image's environment defines variables for
// UndefinedVar, and its SHELL silences JSONArgsRecommended; an image that
// cannot be read silences UndefinedVar, and is asked for once.
func TestLintBaseImages(t *testing.T) {
	src := []byte("FROM golang\nENV PATH=$GOPATH/bin:$PATH\nCOPY $NOPE /x\nCMD run\n\nFROM golang\nCOPY $NOPE /y\n")
	shorts := func(img *BaseImage) ([]string, int) {
		t.Helper()
		asked := 0
		out := lintShorts(t, src, LintBaseImages(func(ref string, p ocispec.Platform) *BaseImage {
			asked++
			if ref != "golang" || p.OS != "linux" {
				t.Errorf("asked for %s on %+v", ref, p)
			}
			return img
		}))
		return out, asked
	}
	got, asked := shorts(&BaseImage{Env: []string{"PATH=/go/bin", "GOPATH=/go"}})
	want := []string{
		"UndefinedVar: Usage of undefined variable '$NOPE' (line 3)",
		"JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (line 4)",
		"UndefinedVar: Usage of undefined variable '$NOPE' (line 7)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || asked != 1 {
		t.Errorf("with GOPATH: asked %d times, got\n%s", asked, strings.Join(got, "\n"))
	}
	got, _ = shorts(&BaseImage{Env: []string{"GOPATH=/go"}, Shell: []string{"/bin/bash", "-c"}})
	if len(got) != 2 || strings.Contains(strings.Join(got, ""), "JSONArgs") {
		t.Errorf("with a SHELL: %q", got)
	}
	got, _ = shorts(nil)
	if len(got) != 1 || !strings.HasPrefix(got[0], "JSONArgsRecommended") {
		t.Errorf("unreadable image: %q", got)
	}
}

// TestLintBasePlatforms: with LintBasePlatforms, every base image's
// config is read, and one of another OS or architecture than its stage's
// platform is InvalidBaseImagePlatform, at its FROM; a variant does not
// count, nor does FROM scratch or a stage. Without the option no image
// is asked for.
func TestLintBasePlatforms(t *testing.T) {
	src := []byte("# check=skip=FromPlatformFlagConstDisallowed\nFROM arm AS a\nFROM amd\nFROM --platform=linux/arm64 arm\nFROM armv7\nFROM scratch\nFROM a\n")
	images := map[string]ocispec.Platform{
		"arm":   {OS: "linux", Architecture: "arm64"},
		"amd":   {OS: "linux", Architecture: "amd64", Variant: "v3"},
		"armv7": {OS: "linux", Architecture: "arm", Variant: "v7"},
	}
	lint := func(opts ...LintOption) ([]string, []string) {
		t.Helper()
		var asked []string
		opts = append(opts, LintPlatforms(ocispec.Platform{OS: "linux", Architecture: "amd64"}, ocispec.Platform{OS: "linux", Architecture: "amd64"}),
			LintBaseImages(func(ref string, p ocispec.Platform) *BaseImage {
				asked = append(asked, ref+" "+formatPlatform(p))
				return &BaseImage{Platform: images[ref]}
			}))
		return lintShorts(t, src, opts...), asked
	}
	got, asked := lint(LintBasePlatforms())
	want := []string{
		`InvalidBaseImagePlatform: Base image arm was pulled with platform "linux/arm64", expected "linux/amd64" for current build (line 2)`,
		`InvalidBaseImagePlatform: Base image armv7 was pulled with platform "linux/arm/v7", expected "linux/amd64" for current build (line 5)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if wantAsked := "arm linux/amd64,amd linux/amd64,arm linux/arm64,armv7 linux/amd64"; strings.Join(asked, ",") != wantAsked {
		t.Errorf("asked for %q, want %q", strings.Join(asked, ","), wantAsked)
	}
	if got, asked := lint(); len(got) != 0 || len(asked) != 0 {
		t.Errorf("without LintBasePlatforms: %q, asked for %q", got, asked)
	}
}
