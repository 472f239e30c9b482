package build

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/registry/registrytest"
)

// A machine with an empty cache dir, whose checkout is elsewhere, learns
// from the shared cache why a step missed: the entry another machine left
// for the step's place carries its inputs and its file list.
func TestSharedCacheExplainsMisses(t *testing.T) {
	reg := registrytest.Start(t)
	files := map[string]string{"Dockerfile": explainDockerfile, "src/a.txt": "a\n", "src/b.txt": "b\n"}
	first := withBusybox(t, contextDir(t, files))
	repo := func(o *Options) {
		r, err := registry.NewCacheRepo(reg.Ref("cache"), time.Hour, false)
		if err != nil {
			t.Fatal(err)
		}
		o.CacheRepo = r
	}
	testBuild(t, first, t.TempDir(), repo)

	files["src/a.txt"] = "edited\n"
	second := withBusybox(t, contextDir(t, files))
	_, res := testBuild(t, second, t.TempDir(), repo)
	if got := cachedSteps(res); got != "CCCCRR" {
		t.Fatalf("second machine: steps %s, want the COPY and the RUN to run", got)
	}
	m := missOf(t, res, 5)
	if m == nil || m.Earlier == "" || m.Reason != "1 file changed: src/a.txt" {
		t.Errorf("COPY: miss %+v, want src/a.txt changed, from the shared entry", m)
	}
	if m := missOf(t, res, 6); m == nil || m.Earlier == "" || m.Reason != "parent step missed" {
		t.Errorf("RUN: miss %+v, want parent step missed", m)
	}
	// Without a shared cache, the same machine has nothing to compare with.
	_, res = testBuild(t, second, t.TempDir(), func(o *Options) { os.Remove(filepath.Join(second, "src/b.txt")) })
	if m := missOf(t, res, 5); m == nil || m.Earlier != "" {
		t.Errorf("COPY with no shared cache: miss %+v, want no earlier record", m)
	}
}
