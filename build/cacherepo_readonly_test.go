package build

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/mybuild/mybuild/registry"
	"github.com/mybuild/mybuild/registry/registrytest"
)

// writeRecorder passes requests on to the registry, and notes every one
// that is not a read (GET or HEAD): a push of any kind, a blob upload, a
// cross-repository mount, a delete.
type writeRecorder struct {
	inner http.RoundTripper

	mu     sync.Mutex
	writes []string
	reads  int
}

func newWriteRecorder() *writeRecorder {
	return &writeRecorder{inner: http.DefaultTransport.(*http.Transport).Clone()}
}

func (w *writeRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	w.mu.Lock()
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		w.reads++
	} else {
		w.writes = append(w.writes, req.Method+" "+req.URL.Path)
	}
	w.mu.Unlock()
	return w.inner.RoundTrip(req)
}

func (w *writeRecorder) seen() (writes []string, reads int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.writes), w.reads
}

// repoTags lists the tags of repo in reg, nil when it has none (or no
// such repository).
func repoTags(t *testing.T, reg *registrytest.Registry, repo string) []string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s/v2/%s/tags/list", reg.Host, repo))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil
	}
	var list struct {
		Tags []string `json:"tags"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("tags of %s: %s", repo, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatalf("tags of %s: %v", repo, err)
	}
	slices.Sort(list.Tags)
	return list.Tags
}

// A --cache-repo-readonly build sends the shared cache nothing at all: no
// step entry (Put), no latest entry of a step's place (PutLatest), no
// cache mount, not even a blob; it only reads. Every kind of push has
// something to send here: COPY and RUN steps that miss, a COPY with a file
// list, and cache mounts (shared and locked) that the steps write to.
func TestCacheRepoReadOnlyBuildPushesNothing(t *testing.T) {
	reg := registrytest.Start(t)
	const df = busyboxPrelude + `COPY src /src
RUN --mount=type=cache,target=/c echo shared >> /c/f && cat /src/a.txt > /out
RUN --mount=type=cache,target=/l,sharing=locked echo locked >> /l/f
`
	files := map[string]string{"Dockerfile": df, "src/a.txt": "a\n"}
	readOnly := func(rec *writeRecorder) func(*Options) {
		return func(o *Options) {
			r, err := registry.NewCacheRepo(reg.Ref("cache"), 0, true, registry.WithTransport(rec))
			if err != nil {
				t.Fatal(err)
			}
			o.CacheRepo = r
		}
	}
	check := func(when string, rec *writeRecorder, wantTags []string) {
		t.Helper()
		if writes, _ := rec.seen(); len(writes) > 0 {
			t.Errorf("%s: the read-only build sent %d requests that write: %v", when, len(writes), writes)
		}
		if got := repoTags(t, reg, "cache"); !slices.Equal(got, wantTags) {
			t.Errorf("%s: the registry has tags %v, want %v", when, got, wantTags)
		}
	}

	// An empty shared cache stays empty.
	rec := newWriteRecorder()
	_, res := testBuild(t, withBusybox(t, contextDir(t, files)), t.TempDir(), readOnly(rec))
	if got := cachedSteps(res); got != "CRRRRR" {
		t.Fatalf("first build: steps %s, want all but FROM to run", got)
	}
	check("empty registry", rec, nil)
	if _, reads := rec.seen(); reads == 0 {
		t.Fatal("the read-only build never asked the shared cache: the check above can pass for want of trying")
	}

	// Another machine fills it: step entries, latest entries and both
	// cache mounts.
	testBuild(t, withBusybox(t, contextDir(t, files)), t.TempDir(), func(o *Options) { o.CacheRepo = newRepo(t, reg.Ref("cache"), false) })
	filled := repoTags(t, reg, "cache")
	var mounts, latest int
	for _, tag := range filled {
		switch {
		case len(tag) > 6 && tag[:6] == "mount-":
			mounts++
		case len(tag) > 4 && tag[:4] == "pos-":
			latest++
		}
	}
	if mounts != 2 || latest == 0 {
		t.Fatalf("after a build that pushes: %d cache mounts and %d latest entries in %v, want 2 and some", mounts, latest, filled)
	}
	before := map[string]int64{}
	for _, id := range []string{"/c", "/l"} {
		mc, err := newRepo(t, reg.Ref("cache"), false).Mount(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		before[id] = mc.Generation
	}

	// A read-only build that imports both mounts, writes to them, and
	// misses its COPY and RUNs (an edited file) sends nothing back.
	files["src/a.txt"] = "edited\n"
	rec = newWriteRecorder()
	_, res = testBuild(t, withBusybox(t, contextDir(t, files)), t.TempDir(), readOnly(rec))
	if got := cachedSteps(res); got != "CCCRRR" {
		t.Fatalf("read-only build after an edit: steps %s, want the prelude from the shared cache and the rest to run", got)
	}
	if m := missOf(t, res, 4); m == nil || m.Earlier == "" {
		t.Errorf("COPY: miss %+v, want it explained from the shared cache's latest entry", m)
	}
	check("filled registry", rec, filled)
	for id, gen := range before {
		if mc, err := newRepo(t, reg.Ref("cache"), false).Mount(context.Background(), id); err != nil || mc.Generation != gen {
			t.Errorf("cache mount %s after the read-only build: %+v %v, want generation %d", id, mc, err, gen)
		}
	}
}
