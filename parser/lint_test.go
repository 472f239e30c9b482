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
