package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/registry/registrytest"
)

// stepRecord makes the record of a step that added a layer of files, and
// stores the layer blob; without files, the step added no layer.
func stepRecord(t *testing.T, store *cache.Store, key string, files map[string]string) *cache.Record {
	t.Helper()
	rec := &cache.Record{
		Key:       digest.FromString(key),
		CreatedBy: "RUN " + key,
		Change:    json.RawMessage(`{"env":["STEP=` + key + `"]}`),
		Created:   time.Now().UTC().Truncate(time.Second),
	}
	if files != nil {
		l := newLayer(t, types.OCILayer, files)
		d, _ := l.Digest()
		rec.Layer = &layer.Layer{
			MediaType: string(l.mt), Digest: digest.Digest(d.String()),
			DiffID: digest.Digest(l.diffID.String()), Size: int64(len(l.data)),
		}
		if err := store.PutBlob(rec.Layer.Digest, rec.Layer.Size, bytes.NewReader(l.data)); err != nil {
			t.Fatal(err)
		}
	}
	return rec
}

func sameRecord(t *testing.T, got, want *cache.Record) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("record\n%s\nwant\n%s", g, w)
	}
}

func TestCacheRepoRoundTrip(t *testing.T) {
	reg := registrytest.Start(t)
	ctx := context.Background()
	here, there := openStore(t), openStore(t) // two machines
	c1, err := NewCacheRepo(reg.Ref("cache"), 336*time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := NewCacheRepo(reg.Ref("cache"), 336*time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	withLayer := stepRecord(t, here, "run", map[string]string{"built": "by the step"})
	noLayer := stepRecord(t, here, "env", nil)
	for _, rec := range []*cache.Record{withLayer, noLayer} {
		if err := c1.Put(ctx, rec, here); err != nil {
			t.Fatal(err)
		}
		got, err := c2.Get(ctx, rec.Key, there)
		if err != nil {
			t.Fatal(err)
		}
		sameRecord(t, got, rec)
	}
	rc, _, err := there.OpenBlob(withLayer.Layer.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(rc); err != nil {
		t.Error(err)
	}

	if _, err := c2.Get(ctx, digest.FromString("never built"), there); err != cache.ErrNotFound {
		t.Errorf("miss: %v, want cache.ErrNotFound", err)
	}

	// The store knows the cache repository has the layer: an image with
	// it, pushed to another repository, mounts it.
	img := &image.Image{Layers: []layer.Layer{{MediaType: withLayer.Layer.MediaType, Digest: withLayer.Layer.Digest, Size: withLayer.Layer.Size, DiffID: withLayer.Layer.DiffID}}}
	var mounted int
	if _, err := Push(ctx, reg.Ref("app:1"), img, here, WithProgress(func(p Progress) {
		if p.Mounted {
			mounted++
		}
	})); err != nil {
		t.Fatal(err)
	}
	if mounted != 1 {
		t.Errorf("%d layers mounted from the cache repository, want 1", mounted)
	}
}

func TestCacheRepoTTL(t *testing.T) {
	reg := registrytest.StartInMemory(t)
	ctx := context.Background()
	store := openStore(t)
	rec := stepRecord(t, store, "old", map[string]string{"f": "x"})
	rec.Created = time.Now().Add(-2 * time.Hour)
	put, _ := NewCacheRepo(reg.Ref("cache"), time.Hour, false)
	if err := put.Put(ctx, rec, store); err != nil {
		t.Fatal(err)
	}
	if _, err := put.Get(ctx, rec.Key, openStore(t)); err != cache.ErrNotFound {
		t.Errorf("expired entry: %v, want cache.ErrNotFound", err)
	}
	longer, _ := NewCacheRepo(reg.Ref("cache"), 3*time.Hour, false)
	if _, err := longer.Get(ctx, rec.Key, openStore(t)); err != nil {
		t.Errorf("with a longer ttl: %v", err)
	}
	forever, _ := NewCacheRepo(reg.Ref("cache"), 0, false)
	if _, err := forever.Get(ctx, rec.Key, openStore(t)); err != nil {
		t.Errorf("with no ttl: %v", err)
	}
}

func TestCacheRepoReadOnly(t *testing.T) {
	reg := registrytest.StartInMemory(t)
	ctx := context.Background()
	store := openStore(t)
	rec := stepRecord(t, store, "ro", map[string]string{"f": "x"})
	c := newCounter()
	ro, _ := NewCacheRepo(reg.Ref("cache"), 0, true, WithTransport(c))
	if err := ro.Put(ctx, rec, store); err != nil {
		t.Fatal(err)
	}
	if n := c.get("total"); n != 0 {
		t.Errorf("read-only Put made %d requests", n)
	}
	rw, _ := NewCacheRepo(reg.Ref("cache"), 0, false)
	if _, err := rw.Get(ctx, rec.Key, openStore(t)); err != cache.ErrNotFound {
		t.Errorf("got %v, want cache.ErrNotFound", err)
	}
	// It still reads.
	if err := rw.Put(ctx, rec, store); err != nil {
		t.Fatal(err)
	}
	got, err := ro.Get(ctx, rec.Key, openStore(t))
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, got, rec)
}

// Builds on several machines push at once: each key is its own tag, so
// every entry survives.
func TestCacheRepoConcurrentPuts(t *testing.T) {
	reg := registrytest.Start(t)
	ctx := context.Background()
	const machines = 8
	recs := make([]*cache.Record, machines)
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, machines)
	for i := range machines {
		store := openStore(t)
		recs[i] = stepRecord(t, store, fmt.Sprintf("step %d", i), map[string]string{"f": fmt.Sprint(i)})
		c, err := NewCacheRepo(reg.Ref("cache"), 0, false)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- c.Put(ctx, recs[i], store)
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c, _ := NewCacheRepo(reg.Ref("cache"), 0, false)
	store := openStore(t)
	for _, rec := range recs {
		got, err := c.Get(ctx, rec.Key, store)
		if err != nil {
			t.Fatalf("%s: %v", rec.CreatedBy, err)
		}
		sameRecord(t, got, rec)
	}
}

// A cache that cannot be reached says so once, then fails at once.
func TestCacheRepoUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close()
	c := newCounter()
	cr, err := NewCacheRepo(host+"/cache", 0, false, WithTransport(c))
	if err != nil {
		t.Fatal(err)
	}
	key := digest.FromString("k")
	_, err = cr.Get(context.Background(), key, openStore(t))
	want := fmt.Sprintf("get cache entry %s/cache:%s: cannot reach registry %s: connection refused", host, key.Encoded(), host)
	if err == nil || err.Error() != want || !errors.Is(err, ErrUnreachable) {
		t.Errorf("got %v, want %s", err, want)
	}
	c.reset()
	if _, err := cr.Get(context.Background(), digest.FromString("k2"), openStore(t)); !errors.Is(err, ErrUnreachable) {
		t.Errorf("second get: %v", err)
	}
	store := openStore(t)
	if err := cr.Put(context.Background(), stepRecord(t, store, "p", nil), store); !errors.Is(err, ErrUnreachable) {
		t.Errorf("put: %v", err)
	}
	if n := c.get("total"); n != 0 {
		t.Errorf("%d requests after the registry was found unreachable", n)
	}
}

// A tag that is not a cache entry is an error, not a hit.
func TestCacheRepoForeignTag(t *testing.T) {
	reg := registrytest.StartInMemory(t)
	key := digest.FromString("k")
	write(t, reg.Ref("cache:"+key.Encoded()), ociImage(t, "a"), nil)
	cr, _ := NewCacheRepo(reg.Ref("cache"), 0, false)
	_, err := cr.Get(context.Background(), key, openStore(t))
	if err == nil || errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("got %v", err)
	}
	t.Log(err)
}

// A cache entry whose manifest gives its step record a wrong size is an
// error, told as the step record's, not a hit.
func TestCacheRepoRecordSizeMismatch(t *testing.T) {
	reg := registrytest.StartInMemory(t)
	ctx := context.Background()
	store := openStore(t)
	cr, err := NewCacheRepo(reg.Ref("cache"), 0, false)
	if err != nil {
		t.Fatal(err)
	}
	rec := stepRecord(t, store, "env", nil)
	if err := cr.Put(ctx, rec, store); err != nil {
		t.Fatal(err)
	}
	tag := cr.tag(rec.Key)
	desc, err := remote.Get(tag)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	m.Config.Size--
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(tag, rawManifest{data: raw, mt: types.OCIManifestSchema1}); err != nil {
		t.Fatal(err)
	}
	_, err = cr.Get(ctx, rec.Key, openStore(t))
	want := fmt.Sprintf("step record %s is %d bytes, the manifest says %d", m.Config.Digest, m.Config.Size+1, m.Config.Size)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
}
