package registry

import (
	"context"
	"os"
	"testing"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/registry/registrytest"
)

// pulledOnce is a registry holding app:1, and a store that pulled it
// once: the tag's next pull asks with one HEAD.
func pulledOnce(t *testing.T) (*registrytest.Registry, *cache.Store) {
	t.Helper()
	reg := registrytest.Start(t)
	write(t, reg.Ref("app:1"), ociImage(t, "a"), nil)
	store := openStore(t)
	if _, err := Pull(context.Background(), reg.Ref("app:1"), store, PullMissing); err != nil {
		t.Fatal(err)
	}
	return reg, store
}

// A build keeps the URLs its pulls asked with one HEAD; the next build
// under the same key asks them as it starts, and its pull takes that
// answer instead of asking again, once: a later pull asks anew. What
// the prefetched HEAD found is what the pull goes on with.
func TestPrefetchedHead(t *testing.T) {
	reg, store := pulledOnce(t)
	ctx := context.Background()
	head := "HEAD /v2/app/manifests/1"

	// The first build under the key has nothing to prefetch; it keeps
	// the URL its pull asked.
	rec := &registrytest.Recorder{}
	p := StartPrefetch(ctx, store.Root(), "Dockerfile", WithTransport(rec))
	if _, err := Pull(ctx, reg.Ref("app:1"), store, PullMissing, WithTransport(rec), WithPrefetcher(p)); err != nil {
		t.Fatal(err)
	}
	if got := rec.Requests(); len(got) != 1 || got[0] != head {
		t.Fatalf("requests of the first build: %q, want one HEAD", got)
	}
	if err := p.Remember(store); err != nil {
		t.Fatal(err)
	}

	// The next one asks as it starts, before its pull.
	rec = &registrytest.Recorder{}
	p = StartPrefetch(ctx, store.Root(), "Dockerfile", WithTransport(rec))
	if d, ok, found := p.take(ctx, "http://"+reg.Host+"/v2/app/manifests/1"); !found || !ok || d == "" {
		t.Fatalf("prefetched answer: %q, ok %v, found %v", d, ok, found)
	}
	if got := rec.Requests(); len(got) != 1 || got[0] != head {
		t.Fatalf("requests of the prefetch: %q, want one HEAD", got)
	}
	// Taken: the pull asks for itself now.
	if _, err := Pull(ctx, reg.Ref("app:1"), store, PullMissing, WithTransport(rec), WithPrefetcher(p)); err != nil {
		t.Fatal(err)
	}
	if got := rec.Requests(); len(got) != 2 {
		t.Errorf("requests after a second pull: %q, want a second HEAD", got)
	}

	// A pull takes a prefetched answer: no request of its own.
	rec = &registrytest.Recorder{}
	p = StartPrefetch(ctx, store.Root(), "Dockerfile", WithTransport(rec))
	res, err := Pull(ctx, reg.Ref("app:1"), store, PullMissing, WithTransport(rec), WithPrefetcher(p))
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.Requests(); len(got) != 1 || got[0] != head {
		t.Errorf("requests of a build with its answer prefetched: %q, want the prefetch's HEAD alone", got)
	}
	if res.RefDigest == "" {
		t.Error("no digest pulled")
	}
}

// Remember writes only what changed: a build that asked what it read
// writes nothing; one that asked nothing forgets the URLs, and the next
// build prefetches none. Another key reads none.
func TestPrefetchRemembers(t *testing.T) {
	reg, store := pulledOnce(t)
	ctx := context.Background()
	p := StartPrefetch(ctx, store.Root(), "k")
	if _, err := Pull(ctx, reg.Ref("app:1"), store, PullMissing, WithPrefetcher(p)); err != nil {
		t.Fatal(err)
	}
	if err := p.Remember(store); err != nil {
		t.Fatal(err)
	}
	state := cache.StatePathIn(store.Root(), stateName(headsKind, "k"))
	before, err := os.Stat(state)
	if err != nil {
		t.Fatal(err)
	}

	p = StartPrefetch(ctx, store.Root(), "k")
	if len(p.read) != 1 {
		t.Fatalf("read %q, want the one URL", p.read)
	}
	if _, err := Pull(ctx, reg.Ref("app:1"), store, PullMissing, WithPrefetcher(p)); err != nil {
		t.Fatal(err)
	}
	if err := p.Remember(store); err != nil {
		t.Fatal(err)
	}
	if after, err := os.Stat(state); err != nil || !after.ModTime().Equal(before.ModTime()) || !os.SameFile(before, after) {
		t.Errorf("the state was written again for the same URLs (%v)", err)
	}

	if other := StartPrefetch(ctx, store.Root(), "other"); len(other.read) != 0 {
		t.Errorf("another key read %q", other.read)
	}
	p = StartPrefetch(ctx, store.Root(), "k")
	if err := p.Remember(store); err != nil { // it asked nothing
		t.Fatal(err)
	}
	if p = StartPrefetch(ctx, store.Root(), "k"); len(p.read) != 0 {
		t.Errorf("read %q after a build that asked nothing", p.read)
	}
	if StartPrefetch(ctx, store.Root(), "") != nil {
		t.Error("a Prefetcher for no key")
	}
}

// Reading a cache dir that does not exist makes nothing there.
func TestPrefetchMakesNothing(t *testing.T) {
	dir := t.TempDir() + "/cache"
	p := StartPrefetch(context.Background(), dir, "k")
	if p == nil || len(p.read) != 0 {
		t.Fatalf("prefetcher %+v", p)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the cache dir: %v, want none", err)
	}
}

// A state that names anything but a registry's manifest is not asked.
func TestPrefetchAsksManifestsOnly(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:5000/v2/app/manifests/1", "https://r.example/v2/a/b/manifests/sha256:00"} {
		if !manifestURL(u) {
			t.Errorf("%s refused", u)
		}
	}
	for _, u := range []string{"file:///etc/passwd", "http://127.0.0.1:5000/admin", "http:///v2/a/manifests/1", "ftp://r/v2/a/manifests/1", "%zz"} {
		if manifestURL(u) {
			t.Errorf("%s taken for a manifest", u)
		}
	}
}
