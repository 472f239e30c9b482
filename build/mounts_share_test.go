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

// A sharing=private cache mount is a build's own copy: it is neither
// exported, nor imported over, while a shared one of the same step is.
func TestCacheMountPrivateNotShared(t *testing.T) {
	reg := registrytest.Start(t)
	repo := func(o *Options) { o.CacheRepo = newRepo(t, reg.Ref("cache"), false) }
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude +
		"RUN --mount=type=cache,target=/p,sharing=private --mount=type=cache,target=/s echo p > /p/f && echo s > /s/f\n"}))
	testBuild(t, dir, t.TempDir(), repo)
	ctx := context.Background()
	if _, err := newRepo(t, reg.Ref("cache"), false).Mount(ctx, "/p"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("the registry has the private cache mount: %v", err)
	}
	if mc, err := newRepo(t, reg.Ref("cache"), false).Mount(ctx, "/s"); err != nil || mc.Generation != 1 {
		t.Errorf("the shared cache mount of the same step: %+v %v, want it exported", mc, err)
	}

	// On another machine, a private mount of the id the registry has
	// starts empty.
	read := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude +
		"RUN --mount=type=cache,target=/s,sharing=private ls /s > /out\n"}))
	out, _ := testBuild(t, read, t.TempDir(), repo)
	if l := lineOf(t, out, "/out"); !strings.Contains(l, digest.FromString("").Encoded()) {
		t.Errorf("/out of the private mount on another machine: %s, want it empty", l)
	}
}

// The name a cache mount is shared under is what keys it locally (see
// cacheMount.dirID): its id, and its uid, gid, mode and from= stage and
// source=. Mounts of one id that differ in any of them travel apart.
func TestCacheMountSharedKeySeparates(t *testing.T) {
	reg := registrytest.Start(t)
	repo := func(o *Options) { o.CacheRepo = newRepo(t, reg.Ref("cache"), false) }
	variants := []struct{ name, opts, want string }{
		{"none", "", "none\n"},
		{"uid", ",uid=1", "uid\n"},
		{"gid", ",gid=1", "gid\n"},
		{"mode", ",mode=0700", "mode\n"},
		{"from", ",from=base,source=/seed", "from\nseed\n"},
		{"from-root", ",from=base", "bin\nfrom-root\nseed\n"},
	}
	dockerfile := func(run func(name string) string) string {
		df := strings.Replace(busyboxPrelude, "FROM scratch", "FROM scratch AS base", 1) +
			"RUN mkdir /seed && echo s > /seed/seed\nFROM base\n"
		for _, v := range variants {
			df += "RUN --mount=type=cache,target=/c,id=k" + v.opts + " " + run(v.name) + "\n"
		}
		return df
	}
	fill := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": dockerfile(func(n string) string { return "echo " + n + " > /c/" + n })}))
	testBuild(t, fill, t.TempDir(), repo)

	var mounts int
	for _, tag := range repoTags(t, reg, "cache") {
		if strings.HasPrefix(tag, "mount-") {
			mounts++
		}
	}
	if mounts != len(variants) {
		t.Errorf("%d cache mounts in the registry, want %d: one per variant", mounts, len(variants))
	}

	// Another machine: each mount finds only what the same variant left.
	read := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": dockerfile(func(n string) string { return "ls /c > /ls-" + n })}))
	out, _ := testBuild(t, read, t.TempDir(), repo)
	for _, v := range variants {
		if l := lineOf(t, out, "/ls-"+v.name); !strings.Contains(l, digest.FromString(v.want).Encoded()) {
			t.Errorf("cache mount %s on another machine: %s, want %q", v.opts, l, v.want)
		}
	}
}

// Importing a cache mount never changes a key: a machine whose copy of
// the mount came from the registry (not empty, unlike the first
// machine's when it keyed its steps) hits the first machine's records,
// under the same keys, and then its own.
func TestCacheMountImportKeepsKeys(t *testing.T) {
	reg := registrytest.Start(t)
	repo := func(o *Options) { o.CacheRepo = newRepo(t, reg.Ref("cache"), false) }
	const use = busyboxPrelude + "RUN --mount=type=cache,target=/c echo hello >> /c/f\nRUN --mount=type=cache,target=/c cat /c/f > /out\n"
	_, first := testBuild(t, withBusybox(t, contextDir(t, map[string]string{"Dockerfile": use})), t.TempDir(), repo)

	// The second machine imports the mount in a step of another build.
	second := t.TempDir()
	out, _ := testBuild(t, withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude +
		"RUN --mount=type=cache,target=/c cp /c/f /seen\n"})), second, repo)
	if l := lineOf(t, out, "/seen"); !strings.Contains(l, digest.FromString("hello\n").Encoded()) {
		t.Fatalf("/seen: %s, want the mount imported", l)
	}

	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": use}))
	for _, pass := range []struct {
		name, source string
		opts         []func(*Options)
	}{
		{"from the registry", "registry", []func(*Options){repo}},
		{"then from its own cache", "local", nil},
	} {
		_, res := testBuild(t, dir, second, pass.opts...)
		if got := cachedSteps(res); got != "CCCCC" {
			t.Errorf("%s: steps %s, want all cached", pass.name, got)
		}
		for i, s := range res.Steps {
			if s.Key != first.Steps[i].Key {
				t.Errorf("%s: step %d key %s, want the first machine's %s", pass.name, s.Index, s.Key, first.Steps[i].Key)
			}
		}
		for _, s := range res.Steps[3:] {
			if s.CacheSource != pass.source {
				t.Errorf("%s: step %d from %q, want %q", pass.name, s.Index, s.CacheSource, pass.source)
			}
		}
	}
}
