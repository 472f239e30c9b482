package build

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/registry/registrytest"
	"github.com/mybuild/mybuild/transport"
)

// A base image pushed to a registry by one build is the FROM of the next;
// what the second pushes pulls back the same.
func TestFromAndPushRegistry(t *testing.T) {
	reg := registrytest.Start(t)
	base := reg.Ref("tools/busybox:1")
	dir := withBusybox(t, contextDir(t, map[string]string{"Dockerfile": busyboxPrelude + "CMD [\"sh\"]\n"}))
	testBuild(t, dir, t.TempDir(), func(o *Options) {
		o.Outputs = append(o.Outputs, transport.Ref{Transport: transport.Docker, Path: base})
	})

	app := reg.Ref("app:latest")
	appDir := contextDir(t, map[string]string{"Dockerfile": "FROM " + base + "\nRUN echo built > /built\n"})
	cacheDir := t.TempDir()
	_, appRes := testBuild(t, appDir, cacheDir, func(o *Options) {
		o.Outputs = append(o.Outputs, transport.Ref{Transport: transport.Docker, Path: app})
	})

	store, err := cache.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	pulled, err := registry.Pull(context.Background(), app, store, registry.PullAlways)
	if err != nil {
		t.Fatal(err)
	}
	if pulled.Digest != appRes.ImageDigest {
		t.Errorf("pulled %s, built %s", pulled.Digest, appRes.ImageDigest)
	}
	if got, want := len(pulled.Image.Layers), 3; got != want {
		t.Errorf("%d layers, want %d (the base's two and the RUN's)", got, want)
	}
}

// Two machines (two cache dirs) share steps through a registry: the
// second build runs no RUN step, it takes every result from the registry.
func TestSharedCacheThroughRegistry(t *testing.T) {
	reg := registrytest.Start(t)
	dir := withBusybox(t, contextDir(t, map[string]string{
		"Dockerfile": busyboxPrelude + "COPY app.txt /app/\nRUN cat /app/app.txt > /copy\nRUN echo done > /done\n",
		"app.txt":    "shared\n",
	}))
	repo := func(readOnly bool) func(*Options) {
		return func(o *Options) {
			r, err := registry.NewCacheRepo(reg.Ref("cache"), time.Hour, readOnly)
			if err != nil {
				t.Fatal(err)
			}
			o.CacheRepo = r
		}
	}
	_, first := testBuild(t, dir, t.TempDir(), repo(false))
	if got := cachedSteps(first); got != "CRRRRR" {
		t.Fatalf("first machine: %s", got)
	}
	out, second := testBuild(t, dir, t.TempDir(), repo(true))
	if got := cachedSteps(second); got != "CCCCCC" {
		t.Errorf("second machine: %s, want every step from the registry", got)
	}
	for _, s := range second.Steps[1:] {
		if s.CacheSource != "registry" {
			t.Errorf("step %d: source %q, want registry", s.Index, s.CacheSource)
		}
	}
	if second.ImageDigest != first.ImageDigest {
		t.Errorf("the second machine made %s, the first %s", second.ImageDigest, first.ImageDigest)
	}
	if l := lineOf(t, out, "/copy"); !strings.Contains(l, "size=7") {
		t.Errorf("/copy: %s", l)
	}
}

// An unreachable shared cache is reported once and the build goes on.
func TestSharedCacheUnreachable(t *testing.T) {
	dir := contextDir(t, map[string]string{"Dockerfile": "FROM scratch\nENV A=1\nENV B=2\n"})
	r, err := registry.NewCacheRepo("127.0.0.1:1/cache", time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	w := &warnings{}
	testBuild(t, dir, t.TempDir(), func(o *Options) { o.CacheRepo, o.Reporter = r, w })
	if len(w.msgs) != 1 || !strings.Contains(w.msgs[0], "shared cache 127.0.0.1:1/cache: ") || !strings.Contains(w.msgs[0], "going on without it") {
		t.Errorf("warnings %q", w.msgs)
	}
}
