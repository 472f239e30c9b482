package build

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/registry/registrytest"
	digest "github.com/opencontainers/go-digest"
)

// A RUN --mount=type=cache step on a second machine sees the files a
// step of the first one left in the cache mount, through --cache-repo.
func TestCacheMountTravels(t *testing.T) {
	reg := registrytest.Start(t)
	repo := func(readOnly bool) func(*Options) {
		return func(o *Options) {
			r, err := registry.NewCacheRepo(reg.Ref("cache"), time.Hour, readOnly)
			if err != nil {
				t.Fatal(err)
			}
			o.CacheRepo = r
		}
	}
	fill := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude +
		"RUN --mount=type=cache,target=/c echo hello > /c/f && mkdir -p /c/d && echo x > /c/d/y\n"}))
	testBuild(t, fill, t.TempDir(), repo(false))

	read := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude +
		"RUN --mount=type=cache,target=/c cat /c/f /c/d/y > /out\n"}))
	out, res := testBuild(t, read, t.TempDir(), repo(true))
	if got := cachedSteps(res); got != "CCCR" {
		t.Fatalf("second machine: steps %s, want its RUN to run", got)
	}
	if l := lineOf(t, out, "/out"); !strings.Contains(l, digest.FromString("hello\nx\n").Encoded()) {
		t.Errorf("/out of the second machine: %s, want the files of the first", l)
	}
	// Without the shared cache, the same step finds an empty cache.
	if _, _, err := tryBuild(t, read, t.TempDir()); err == nil {
		t.Error("the step read files from an empty cache mount")
	}
}

// A --cache-repo-readonly build, or one with NoCacheMountExport, sends no
// cache mount.
func TestCacheMountNotExported(t *testing.T) {
	reg := registrytest.Start(t)
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude +
		"RUN --mount=type=cache,target=/c,sharing=locked echo hello > /c/f\n"}))
	for _, opt := range []func(*Options){
		func(o *Options) { o.CacheRepo = newRepo(t, reg.Ref("cache"), true) },
		func(o *Options) { o.CacheRepo, o.NoCacheMountExport = newRepo(t, reg.Ref("cache"), false), true },
	} {
		testBuild(t, dir, t.TempDir(), opt)
		if _, err := newRepo(t, reg.Ref("cache"), false).Mount(context.Background(), "/c"); !errors.Is(err, cache.ErrNotFound) {
			t.Errorf("the registry has the cache mount: %v", err)
		}
	}
	// The same build exports it otherwise (the registry has the steps:
	// --no-cache makes the RUN run): the check above can fail.
	testBuild(t, dir, t.TempDir(), func(o *Options) { o.CacheRepo, o.NoCache = newRepo(t, reg.Ref("cache"), false), true })
	if mc, err := newRepo(t, reg.Ref("cache"), false).Mount(context.Background(), "/c"); err != nil || mc.Generation != 1 {
		t.Errorf("after a build that exports: %+v %v", mc, err)
	}
}

func newRepo(t *testing.T, ref string, readOnly bool) *registry.CacheRepo {
	t.Helper()
	r, err := registry.NewCacheRepo(ref, time.Hour, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
