package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	digest "github.com/opencontainers/go-digest"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/layer"
)

// MediaTypeFileList is the media type of a step's file list (a JSON list
// of cache.FileEntry) in a latest entry (PutLatest).
const MediaTypeFileList = "application/vnd.mybuild.files.v1+json"

// maxFileList bounds the file lists read into memory.
const maxFileList = 64 << 20

// Record returns the step record of key without fetching its layer: what
// explaining a step needs. A miss is cache.ErrNotFound.
func (c *CacheRepo) Record(ctx context.Context, key digest.Digest) (*cache.Record, error) {
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("get cache entry %q: %w", key, err)
	}
	if err := c.failed(); err != nil {
		return nil, err
	}
	tag := c.tag(key)
	rec, _, err := c.record(ctx, tag, key)
	if err != nil && !errors.Is(err, cache.ErrNotFound) {
		return nil, c.fail(opError("get cache entry", tag, c.o, err))
	}
	return rec, err
}

// latestTag is the tag of the latest record of the step at pos, a digest
// that names a step's place (its Dockerfile, stage, position and
// platform) the same on every machine.
func (c *CacheRepo) latestTag(pos digest.Digest) string { return "pos-" + pos.Encoded() }

// PutLatest makes rec the latest record of the step at pos: an entry
// whose config is the record and whose one layer, when the record has
// one, is its file list (cache.Inputs.Files) from store. A build whose
// step misses asks for it (Latest) to tell what changed. Builds that put
// the same pos at once race; the last one wins, which only makes an
// explanation compare with a slightly different record. A read-only
// cache does nothing.
func (c *CacheRepo) PutLatest(ctx context.Context, pos digest.Digest, rec *cache.Record, store image.Store) error {
	if c.readOnly || rec.Inputs == nil {
		return nil
	}
	if err := c.failed(); err != nil {
		return err
	}
	tag := c.repo.Tag(c.latestTag(pos))
	var layers []layer.Layer
	if d := rec.Inputs.Files; d != "" {
		size, ok := blobSize(store, d)
		if !ok {
			return nil // nothing to explain files with
		}
		layers = []layer.Layer{{MediaType: MediaTypeFileList, Digest: d, DiffID: d, Size: size}}
	}
	if err := c.pushConfig(ctx, tag, MediaTypeStepRecord, rec, layers, store); err != nil {
		return c.fail(opError("put latest cache entry", tag, c.o, err))
	}
	return nil
}

// Latest returns the latest record of the step at pos (PutLatest) and
// its file list, nil when it has none. None is cache.ErrNotFound.
func (c *CacheRepo) Latest(ctx context.Context, pos digest.Digest) (*cache.Record, []cache.FileEntry, error) {
	if err := c.failed(); err != nil {
		return nil, nil, err
	}
	tag := c.repo.Tag(c.latestTag(pos))
	rec, m, err := c.record(ctx, tag, "")
	if errors.Is(err, cache.ErrNotFound) {
		return nil, nil, err
	}
	if err != nil {
		return nil, nil, c.fail(opError("get latest cache entry", tag, c.o, err))
	}
	if len(m.Layers) == 0 || rec.Inputs == nil || m.Layers[0].MediaType != MediaTypeFileList || m.Layers[0].Digest != rec.Inputs.Files {
		return rec, nil, nil
	}
	files, err := c.FileList(ctx, rec.Inputs.Files)
	if err != nil {
		return rec, nil, nil // the record alone still explains
	}
	return rec, files, nil
}

// FileList reads the file list blob d from the repository.
func (c *CacheRepo) FileList(ctx context.Context, d digest.Digest) ([]cache.FileEntry, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("file list %q: %w", d, err)
	}
	data, err := c.blobs().read(ctx, "file list", d, -1, maxFileList)
	if err != nil {
		return nil, err
	}
	var files []cache.FileEntry
	if err := json.Unmarshal(data, &files); err != nil {
		return nil, fmt.Errorf("file list %s: %w", d, err)
	}
	return files, nil
}

// blobSize is the size of the blob d in store.
func blobSize(store image.Store, d digest.Digest) (int64, bool) {
	rc, size, err := store.OpenBlob(d)
	if err != nil {
		return 0, false
	}
	rc.Close()
	return size, true
}
