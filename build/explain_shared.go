package build

import (
	"context"
	"path/filepath"
	"strconv"

	"github.com/mybuild/mybuild/cache"
	digest "github.com/opencontainers/go-digest"
)

// sharedPosition names the place of a step the same on every machine
// that builds the same Dockerfile: its path in the context, the stage,
// the position and the platform. The shared cache keeps the latest
// record of each (registry.CacheRepo.PutLatest).
func (b *builder) sharedPosition(in *stepInputs) digest.Digest {
	df := ""
	if in.Dockerfile != "" {
		if rel, err := filepath.Rel(in.Context, in.Dockerfile); err == nil {
			df = filepath.ToSlash(rel)
		}
	}
	return cache.NewKey("shared-position").String("dockerfile", df).String("stage", in.Stage).
		String("position", strconv.Itoa(in.Position)).String("platform", in.platform).Sum()
}

// sharedClosest is the latest record the shared cache has of the step's
// position, when the store has no earlier record of it. Its file list is
// kept in memory, not in the store.
func (b *builder) sharedClosest(ctx context.Context, in *stepInputs) *cache.Record {
	repo := b.cacheRepo()
	if repo == nil {
		return nil
	}
	rec, files, err := repo.Latest(ctx, b.sharedPosition(in))
	if err != nil || rec.Inputs == nil || rec.Inputs.Fields == nil {
		return nil
	}
	if files != nil {
		b.mu.Lock()
		if b.sharedFiles == nil {
			b.sharedFiles = map[digest.Digest][]cache.FileEntry{}
		}
		b.sharedFiles[rec.Inputs.Files] = files
		b.mu.Unlock()
	}
	return rec
}

// sharedFileList reads a file list the store lacks from the shared
// cache: that of a record a shared entry brought.
func (b *builder) sharedFileList(ctx context.Context, d digest.Digest) ([]cache.FileEntry, error) {
	b.mu.Lock()
	files, ok := b.sharedFiles[d]
	b.mu.Unlock()
	if ok {
		return files, nil
	}
	repo := b.cacheRepo()
	if repo == nil {
		return nil, cache.ErrNotFound
	}
	return repo.FileList(ctx, d)
}

// shareLatest makes rec the shared cache's latest record of its step's
// position, for the misses of other machines to be explained with.
func (b *builder) shareLatest(ctx context.Context, in *stepInputs, rec *cache.Record) {
	if repo := b.cacheRepo(); repo != nil {
		if err := repo.PutLatest(ctx, b.sharedPosition(in), rec, b.opts.Store); err != nil && ctx.Err() == nil {
			b.dropCacheRepo(err)
		}
	}
}
