package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybuild/mybuild/registry/registrytest"
)

// stepSources builds dir with a cache of its own and the flags given,
// and returns where each step's result came from, as the metadata file
// tells: "local", "registry", or "" for a step that ran.
func stepSources(t *testing.T, dir string, flags ...string) []string {
	t.Helper()
	meta := filepath.Join(t.TempDir(), "meta.json")
	args := append([]string{"--cache-dir", t.TempDir(), "--metadata-file", meta}, flags...)
	code, _, stderr := runCLI(t, append(args, dir)...)
	if code != 0 {
		t.Fatalf("%v: exit %d\n%s", flags, code, stderr)
	}
	t.Logf("%v:\n%s", flags, stderr) // shown when the sources are wrong
	var m metadata
	data, _ := os.ReadFile(meta)
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range m.Steps[1:] { // FROM scratch is always "local"
		src := ""
		if s.CacheSource != nil {
			src = *s.CacheSource
		}
		out = append(out, src)
	}
	return out
}

// --cache-to type=registry,ref=R shares the steps through R, as
// --cache-repo R does; --cache-from type=registry,ref=R alone reads them
// and pushes nothing.
func TestCacheFromAndTo(t *testing.T) {
	reg := registrytest.Start(t)
	repo := reg.Ref("cache")
	dir := project(t, prelude+"RUN echo one > /one\n")
	if got := strings.Join(stepSources(t, dir, "--cache-to", "type=registry,ref="+repo+",mode=max"), ","); got != ",," {
		t.Fatalf("first build: sources %q, want every step run", got)
	}
	if got := strings.Join(stepSources(t, dir, "--cache-from", "type=registry,ref="+repo), ","); got != "registry,registry,registry" {
		t.Errorf("--cache-from: sources %q, want every step from the registry", got)
	}
	// A new step, built with --cache-from only, runs and is not shared.
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(prelude+"RUN echo one > /one\nRUN echo two > /two\n"), 0o644)
	if got := strings.Join(stepSources(t, dir, "--cache-from", repo), ","); got != "registry,registry,registry," {
		t.Errorf("--cache-from REF: sources %q, want the new step run", got)
	}
	if got := strings.Join(stepSources(t, dir, "--cache-from", "type=registry,ref="+repo), ","); got != "registry,registry,registry," {
		t.Errorf("--cache-from shared a step: sources %q", got)
	}
	// --cache-from and --cache-to together read and write.
	stepSources(t, dir, "--cache-from", "type=registry,ref="+repo, "--cache-to", "type=registry,ref="+repo)
	if got := strings.Join(stepSources(t, dir, "--cache-repo", repo, "--cache-repo-readonly"), ","); got != "registry,registry,registry,registry" {
		t.Errorf("after --cache-from and --cache-to: sources %q, want every step shared", got)
	}
}

// --pull is buildx's boolean: bare, it is always, and a registry that is
// gone fails the build; without it, mybuild uses its last resolution.
// --pull VALUE, as mybuild took it, still works.
func TestPullFlag(t *testing.T) {
	reg := registrytest.StartInMemory(t)
	cacheDir := t.TempDir()
	ref := reg.Ref("base:1")
	if code, _, stderr := runCLI(t, "--cache-dir", cacheDir, "-t", "docker://"+ref, project(t, prelude)); code != 0 {
		t.Fatalf("push: exit %d\n%s", code, stderr)
	}
	dir := project(t, "FROM "+ref+"\nRUN echo x > /x\n")
	if code, _, stderr := runCLI(t, "--cache-dir", cacheDir, "--pull", dir); code != 0 {
		t.Fatalf("--pull: exit %d\n%s", code, stderr)
	}
	reg.Stop()
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"--pull", dir}, 1},
		{[]string{"--pull=true", dir}, 1},
		{[]string{dir}, 0},
		{[]string{"--pull=false", dir}, 0},
		{[]string{"--pull", "never", dir}, 0},
		{[]string{"--pull", "always", dir}, 1},
	} {
		code, _, stderr := runCLI(t, append([]string{"--cache-dir", cacheDir}, tc.args...)...)
		if code != tc.code || (code == 1 && !strings.Contains(stderr, "mybuild: Dockerfile:1: ")) {
			t.Errorf("%v: exit %d, want %d\n%s", tc.args, code, tc.code, stderr)
		}
	}
}
