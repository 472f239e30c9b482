package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/layer"
)

// Media types of the shared copy of a cache mount: the config is a
// MountCopy, each layer one chunk of the mount's contents.
const (
	MediaTypeMountCopy  = "application/vnd.mybuild.cachemount.v1+json"
	MediaTypeMountChunk = "application/vnd.mybuild.cachemount.chunk.v1.tar+gzip"
)

// maxMountCopy bounds the MountCopy documents read into memory.
const maxMountCopy = 16 << 20

// MountCopy is the shared copy of a RUN --mount=type=cache directory:
// its generation, and its contents in chunks.
type MountCopy struct {
	// Generation grows by one with each export: a machine imports a copy
	// newer than its own, and never exports over a newer one.
	Generation int64        `json:"generation"`
	Chunks     []MountChunk `json:"chunks"`
}

// MountChunk is one blob of a MountCopy: a gzip'd tar of what Name (an
// entry at the top of the directory) holds.
type MountChunk struct {
	Name   string        `json:"name"`
	Digest digest.Digest `json:"digest"`
	Size   int64         `json:"size"`
}

// ReadOnly reports whether the cache never pushes.
func (c *CacheRepo) ReadOnly() bool { return c.readOnly }

// mountTag is the tag of the cache mount id: a digest of it, as ids are
// free text.
func (c *CacheRepo) mountTag(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "mount-" + hex.EncodeToString(sum[:])
}

// Mount reads the shared copy of the cache mount id; none is
// cache.ErrNotFound.
func (c *CacheRepo) Mount(ctx context.Context, id string) (*MountCopy, error) {
	if err := c.failed(); err != nil {
		return nil, err
	}
	tag := c.repo.Tag(c.mountTag(id))
	desc, err := c.puller.Get(ctx, tag)
	if err != nil {
		if describe(err, c.repo, c.o).kind == ErrNotFound {
			return nil, cache.ErrNotFound
		}
		return nil, c.fail(opError("get cache mount", tag, c.o, err))
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return nil, fmt.Errorf("cache mount %s: manifest: %w", tag, err)
	}
	if m.Config.MediaType != MediaTypeMountCopy || m.Config.Size > maxMountCopy {
		return nil, fmt.Errorf("cache mount %s: %w", tag, fail(nil, "not a mybuild cache mount (config media type %q)", m.Config.MediaType))
	}
	data, err := c.blobs().read(ctx, "cache mount", m.Config.Digest, m.Config.Size, maxMountCopy)
	if err != nil {
		return nil, c.fail(opError("get cache mount", tag, c.o, err))
	}
	var mc MountCopy
	if err := json.Unmarshal(data, &mc); err != nil {
		return nil, fmt.Errorf("cache mount %s: %w", tag, err)
	}
	if err := mc.check(m.Layers); err != nil {
		return nil, fmt.Errorf("cache mount %s: %w", tag, err)
	}
	return &mc, nil
}

// check makes sure the chunks are the manifest's layers.
func (mc *MountCopy) check(layers []ocispec.Descriptor) error {
	if len(layers) != len(mc.Chunks) {
		return errors.New("the chunks do not match the manifest")
	}
	for i, ch := range mc.Chunks {
		if ch.Digest.Validate() != nil || layers[i].Digest != ch.Digest || layers[i].Size != ch.Size {
			return errors.New("the chunks do not match the manifest")
		}
	}
	return nil
}

// FetchMountChunk stores the chunk in store, unless it has it.
func (c *CacheRepo) FetchMountChunk(ctx context.Context, ch MountChunk, store image.Store) error {
	blobs := c.blobs()
	if blobs.stored(store, ch.Digest, ch.Size) {
		return nil
	}
	return layerError(ch.Digest, blobs.fetch(ctx, store, ch.Digest, ch.Size))
}

// PutMount pushes mc as the shared copy of the cache mount id, its
// chunks from store; a chunk the repository has already is not uploaded.
// A read-only cache does nothing.
func (c *CacheRepo) PutMount(ctx context.Context, id string, mc *MountCopy, store image.Store) error {
	if c.readOnly {
		return nil
	}
	if err := c.failed(); err != nil {
		return err
	}
	tag := c.repo.Tag(c.mountTag(id))
	layers := make([]layer.Layer, len(mc.Chunks))
	for i, ch := range mc.Chunks {
		layers[i] = layer.Layer{MediaType: MediaTypeMountChunk, Digest: ch.Digest, DiffID: ch.Digest, Size: ch.Size}
	}
	if err := c.pushConfig(ctx, tag, MediaTypeMountCopy, mc, layers, store); err != nil {
		return c.fail(opError("put cache mount", tag, c.o, err))
	}
	return nil
}
