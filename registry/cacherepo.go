package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/layer"
)

// MediaTypeStepRecord is the config media type of a cache entry: the
// config blob is the step's cache.Record, as JSON.
const MediaTypeStepRecord = "application/vnd.mybuild.step.v1+json"

// maxRecord bounds the record blobs read into memory.
const maxRecord = 4 << 20

// CacheRepo shares step results between machines through a repository.
// Each step key is one tag of the repository, REPO:<key hex>, so builds
// that run at once never overwrite each other's entries (as they would
// with one cache manifest, docker/buildx#1142). An entry is an OCI
// manifest whose config blob is the step record (MediaTypeStepRecord) and
// whose one layer, if the step made one, is the step's layer blob.
//
// A CacheRepo that failed to reach the registry, or was refused, fails
// every later call at once with the same error, rather than making each
// step of a build wait for the network again.
type CacheRepo struct {
	repo     name.Repository
	ttl      time.Duration
	readOnly bool
	o        *options
	puller   *remote.Puller
	uploader *uploader

	mu     sync.Mutex
	broken error
}

// NewCacheRepo opens repo (REGISTRY/REPO) as a step cache. Entries older
// than ttl, by the record's creation time, are ignored; 0 keeps them
// forever. A readOnly cache never pushes.
func NewCacheRepo(repo string, ttl time.Duration, readOnly bool, opts ...Option) (*CacheRepo, error) {
	o := makeOptions(opts)
	r, err := parseRepository(repo, o)
	if err != nil {
		return nil, fmt.Errorf("cache repository: %w", err)
	}
	puller, err := remote.NewPuller(o.remoteOptions(nil)...)
	if err != nil {
		return nil, err
	}
	u, err := newUploader(o, r, canonicalRepo(r))
	if err != nil {
		return nil, err
	}
	return &CacheRepo{repo: r, ttl: ttl, readOnly: readOnly, o: o, puller: puller, uploader: u}, nil
}

// Repo is the repository, normalised.
func (c *CacheRepo) Repo() string { return canonicalRepo(c.repo) }

func (c *CacheRepo) tag(key digest.Digest) name.Tag { return c.repo.Tag(key.Encoded()) }

// Get looks key up. On a hit it stores the step's layer blob, checked
// against its digest, in store, and returns the record. A miss, or an
// entry older than the ttl, is cache.ErrNotFound. Any other error means
// the cache could not be asked: a build should warn and run the step.
func (c *CacheRepo) Get(ctx context.Context, key digest.Digest, store image.Store) (*cache.Record, error) {
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("get cache entry %q: %w", key, err)
	}
	if err := c.failed(); err != nil {
		return nil, err
	}
	tag := c.tag(key)
	rec, err := c.get(ctx, tag, key, store)
	if errors.Is(err, cache.ErrNotFound) {
		return nil, cache.ErrNotFound
	}
	if err != nil {
		return nil, c.fail(opError("get cache entry", tag, c.o, err))
	}
	return rec, nil
}

func (c *CacheRepo) get(ctx context.Context, tag name.Tag, key digest.Digest, store image.Store) (*cache.Record, error) {
	rec, m, err := c.record(ctx, tag, key)
	if err != nil {
		return nil, err
	}
	if (rec.Layer == nil) != (len(m.Layers) == 0) {
		return nil, fail(nil, "the entry's layers do not match its step record")
	}
	if l := rec.Layer; l != nil {
		if m.Layers[0].Digest != l.Digest || m.Layers[0].Size != l.Size || l.Digest.Validate() != nil {
			return nil, fail(nil, "the entry's layer does not match its step record")
		}
		if err := layerError(l.Digest, c.fetchLayer(ctx, store, l)); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

// record reads the step record of the entry at tag, which must be key's
// unless key is "", and the entry's manifest. An entry older than the
// ttl is cache.ErrNotFound.
func (c *CacheRepo) record(ctx context.Context, tag name.Tag, key digest.Digest) (*cache.Record, *ocispec.Manifest, error) {
	desc, err := c.puller.Get(ctx, tag)
	if err != nil {
		if describe(err, c.repo, c.o).kind == ErrNotFound {
			return nil, nil, cache.ErrNotFound
		}
		return nil, nil, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return nil, nil, fmt.Errorf("manifest: %w", err)
	}
	if m.Config.MediaType != MediaTypeStepRecord || len(m.Layers) > 1 {
		return nil, nil, fail(nil, "not a mybuild cache entry (config media type %q)", m.Config.MediaType)
	}
	if m.Config.Size > maxRecord {
		return nil, nil, fail(nil, "step record of %d bytes is too large", m.Config.Size)
	}
	data, err := c.blobs().read(ctx, "step record", m.Config.Digest, m.Config.Size, maxRecord)
	if err != nil {
		return nil, nil, err
	}
	var rec cache.Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, nil, fmt.Errorf("step record: %w", err)
	}
	if rec.Key.Validate() != nil || key != "" && rec.Key != key {
		return nil, nil, fail(nil, "the entry holds the step record of %s", rec.Key)
	}
	if c.ttl > 0 && time.Since(rec.Created) > c.ttl {
		return nil, nil, cache.ErrNotFound
	}
	return &rec, &m, nil
}

func (c *CacheRepo) blobs() repoBlobs {
	return repoBlobs{puller: c.puller, repo: c.repo, ref: c.Repo(), o: c.o}
}

// fetchLayer stores the layer of a cache entry, unless store has it.
func (c *CacheRepo) fetchLayer(ctx context.Context, store image.Store, l *layer.Layer) error {
	blobs := c.blobs()
	if blobs.stored(store, l.Digest, l.Size) {
		return nil
	}
	if err := blobs.fetch(ctx, store, l.Digest, l.Size); err != nil {
		return err
	}
	if ss, ok := store.(stateStore); ok {
		rememberBlobs(ss, c.repo, []digest.Digest{l.Digest})
	}
	return nil
}

// Put pushes rec, and its layer blob from store, under the key's tag. A
// read-only cache does nothing; nor is a FROM record (one with Base
// layers) shared, as the base image comes from its own registry.
func (c *CacheRepo) Put(ctx context.Context, rec *cache.Record, store image.Store) error {
	if c.readOnly || len(rec.Base) > 0 {
		return nil
	}
	if err := rec.Key.Validate(); err != nil {
		return fmt.Errorf("put cache entry %q: %w", rec.Key, err)
	}
	if err := c.failed(); err != nil {
		return err
	}
	tag := c.tag(rec.Key)
	if err := c.put(ctx, tag, rec, store); err != nil {
		return c.fail(opError("put cache entry", tag, c.o, err))
	}
	return nil
}

func (c *CacheRepo) put(ctx context.Context, tag name.Tag, rec *cache.Record, store image.Store) error {
	var layers []layer.Layer
	if rec.Layer != nil {
		layers = []layer.Layer{*rec.Layer}
	}
	return c.pushConfig(ctx, tag, MediaTypeStepRecord, rec, layers, store)
}

// pushConfig pushes to tag a manifest whose config is v, as JSON of
// media type configType, and whose layers, blobs of store, are layers:
// how the shared cache keeps step records, latest records and cache
// mounts.
func (c *CacheRepo) pushConfig(ctx context.Context, tag name.Tag, configType string, v any, layers []layer.Layer, store image.Store) error {
	cfg, err := json.Marshal(v)
	if err != nil {
		return err
	}
	m, err := image.NewManifest(configType, cfg, layers)
	if err != nil {
		return err
	}
	return c.uploader.push(ctx, tag, store, layers, static.NewLayer(m.ConfigJSON, types.MediaType(configType)), m.ManifestJSON, types.OCIManifestSchema1)
}

func (c *CacheRepo) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.broken
}

// fail remembers err if it says the registry cannot be used at all.
func (c *CacheRepo) fail(err error) error {
	if errors.Is(err, ErrUnreachable) || errors.Is(err, ErrUnauthorized) {
		c.mu.Lock()
		if c.broken == nil {
			c.broken = err
		}
		c.mu.Unlock()
	}
	return err
}
