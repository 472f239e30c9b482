package registry

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/registry/registrytest"
)

// pulledImage puts an image in a store by pulling it from a scratch
// registry, and returns it.
func pulledImage(t *testing.T, seeds ...string) (*image.Image, *cacheStore) {
	t.Helper()
	src := registrytest.StartInMemory(t)
	write(t, src.Ref("src:1"), ociImage(t, seeds...), nil)
	store := openStore(t)
	res, err := Pull(context.Background(), src.Ref("src:1"), store, PullMissing)
	if err != nil {
		t.Fatal(err)
	}
	return res.Image, store
}

func TestPushThenPull(t *testing.T) {
	reg := registrytest.Start(t)
	ctx := context.Background()
	img, store := pulledImage(t, "a", "b")
	img.Config.Config.Env = []string{"PUSHED=1"}
	var events []Progress
	d, err := Push(ctx, reg.Ref("app:1"), img, store, WithProgress(func(p Progress) { events = append(events, p) }))
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if d != m.Descriptor.Digest {
		t.Errorf("pushed %s, want %s", d, m.Descriptor.Digest)
	}
	done := 0
	for _, e := range events {
		if e.Done == e.Total && !e.Skipped && !e.Mounted {
			done++
		}
	}
	if done < len(img.Layers) {
		t.Errorf("progress: %+v", events)
	}

	store2 := openStore(t)
	res, err := Pull(ctx, reg.Ref("app:1"), store2, PullMissing)
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != d {
		t.Errorf("pulled back %s, pushed %s", res.Digest, d)
	}
	if got := res.Image.Config.Config.Env; len(got) != 1 || got[0] != "PUSHED=1" {
		t.Errorf("env %v", got)
	}
	for i, l := range res.Image.Layers {
		if l != img.Layers[i] {
			t.Errorf("layer %d: %+v, want %+v", i, l, img.Layers[i])
		}
		rc, _, err := store2.OpenBlob(l.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := readAll(rc); err != nil {
			t.Errorf("layer %d: %v", i, err)
		}
	}
}

func TestPushSkipsAndMounts(t *testing.T) {
	reg := registrytest.Start(t)
	ctx := context.Background()
	img, store := pulledImage(t, "a", "b")
	if _, err := Push(ctx, reg.Ref("app:1"), img, store); err != nil {
		t.Fatal(err)
	}

	// Again, to another tag: every blob is there.
	c := newCounter()
	var events []Progress
	progress := WithProgress(func(p Progress) { events = append(events, p) })
	if _, err := Push(ctx, reg.Ref("app:2"), img, store, WithTransport(c), progress); err != nil {
		t.Fatal(err)
	}
	if n := c.get("POST upload") + c.get("PATCH upload") + c.get("PUT upload"); n != 0 {
		t.Errorf("%d upload requests for blobs the registry has: %v", n, c.n)
	}
	if n := countEvents(events, func(p Progress) bool { return p.Skipped }); n != len(img.Layers) {
		t.Errorf("%d skipped, want %d: %+v", n, len(img.Layers), events)
	}

	// To another repository of the registry: the store knows app has the
	// layers, and the registry mounts them.
	c.reset()
	events = nil
	if _, err := Push(ctx, reg.Ref("other:1"), img, store, WithTransport(c), progress); err != nil {
		t.Fatal(err)
	}
	if n := countEvents(events, func(p Progress) bool { return p.Mounted }); n != len(img.Layers) {
		t.Errorf("%d mounted, want %d: %+v", n, len(img.Layers), events)
	}
	if n := c.get("PATCH upload"); n != 1 { // the config only
		t.Errorf("%d blobs uploaded, want 1 (the config): %v", n, c.n)
	}
	if _, err := Pull(ctx, reg.Ref("other:1"), openStore(t), PullMissing); err != nil {
		t.Fatal(err)
	}
}

// A registry that does not know the mount source gets an upload.
func TestPushMountRefused(t *testing.T) {
	reg := registrytest.Start(t)
	other := registrytest.Start(t)
	ctx := context.Background()
	img, store := pulledImage(t, "a")
	if _, err := Push(ctx, reg.Ref("app:1"), img, store); err != nil {
		t.Fatal(err)
	}
	// The store now says app holds the layer, on reg; on other, nothing.
	rememberBlobs(store, mustRepo(t, other.Ref("app")), []digestT{img.Layers[0].Digest})
	var events []Progress
	if _, err := Push(ctx, other.Ref("new:1"), img, store, WithProgress(func(p Progress) { events = append(events, p) })); err != nil {
		t.Fatal(err)
	}
	if n := countEvents(events, func(p Progress) bool { return p.Mounted || p.Skipped }); n != 0 {
		t.Errorf("%+v", events)
	}
	if _, err := Pull(ctx, other.Ref("new:1"), openStore(t), PullMissing); err != nil {
		t.Fatal(err)
	}
}

// A damaged blob in the store is never pushed.
func TestPushDamagedBlob(t *testing.T) {
	reg := registrytest.StartInMemory(t)
	img, store := pulledImage(t, "a")
	corrupt(t, store, img.Layers[0].Digest)
	_, err := Push(context.Background(), reg.Ref("app:1"), img, store)
	want := "push " + reg.Ref("app:1") + ": layer " + img.Layers[0].Digest.String() + ": the store's copy is damaged (it was deleted: build again)"
	if err == nil || err.Error() != want || !errors.Is(err, cache.ErrCorrupt) {
		t.Fatalf("got %v, want %s", err, want)
	}
	if store.HasBlob(img.Layers[0].Digest, img.Layers[0].Size) {
		t.Error("the damaged blob is still in the store")
	}
}

func countEvents(events []Progress, f func(Progress) bool) int {
	n := 0
	for _, e := range events {
		if f(e) {
			n++
		}
	}
	return n
}

// stateCounter is a store that counts the state paths asked for.
type stateCounter struct {
	*cacheStore
	mu    sync.Mutex
	names []string
}

func (s *stateCounter) StatePath(name string) string {
	s.mu.Lock()
	s.names = append(s.names, name)
	s.mu.Unlock()
	return s.cacheStore.StatePath(name)
}

// A push reads the known-blobs files once, to find mount sources, and
// only if it has a layer to upload: a cache entry without a layer, as
// most steps make, reads no state at all.
func TestPushReadsKnownBlobsOnce(t *testing.T) {
	reg := registrytest.StartInMemory(t)
	ctx := context.Background()
	img, store := pulledImage(t, "a", "b", "c")
	counter := &stateCounter{cacheStore: store}
	if _, err := Push(ctx, reg.Ref("app:1"), img, counter); err != nil {
		t.Fatal(err)
	}
	listed := 0
	for _, n := range counter.names {
		if n == statePattern(blobsKind) {
			listed++
		}
	}
	if listed != 1 {
		t.Errorf("a push of %d layers listed the known-blobs files %d times, want 1 (state asked for: %q)", len(img.Layers), listed, counter.names)
	}

	counter.names = nil
	cr, err := NewCacheRepo(reg.Ref("cache"), 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := cr.Put(ctx, stepRecord(t, store, "env", nil), counter); err != nil {
		t.Fatal(err)
	}
	if len(counter.names) != 0 {
		t.Errorf("a cache entry without a layer asked for state %q", counter.names)
	}
}
