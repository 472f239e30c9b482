package main

import (
	"context"
	"errors"
	"testing"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/registry/registrytest"
)

// --cache-mount-export=false keeps cache mounts from the shared cache;
// without it, a build that pushes its steps sends them.
func TestCacheMountExportFlag(t *testing.T) {
	reg := registrytest.Start(t)
	repo := reg.Ref("cache")
	dir := project(t, prelude+"RUN --mount=type=cache,target=/c echo hi > /c/f\n")
	mount := func() error {
		r, err := registry.NewCacheRepo(repo, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Mount(context.Background(), "/c")
		return err
	}
	if code, _, stderr := runCLI(t, "--cache-dir", t.TempDir(), "--cache-repo", repo, "--cache-mount-export=false", dir); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if err := mount(); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("--cache-mount-export=false: the registry has the mount (%v)", err)
	}
	if code, _, stderr := runCLI(t, "--cache-dir", t.TempDir(), "--cache-repo", repo, "--no-cache", dir); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if err := mount(); err != nil {
		t.Errorf("by default: the registry lacks the mount (%v)", err)
	}
}
