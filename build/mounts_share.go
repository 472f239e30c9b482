package build

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/mountsync"
)

// mountShare brings the cache mounts a build uses from the shared cache
// before their first use, and sends them back once every step is done.
// Only sharing=shared and locked mounts travel: a private one is a copy
// of a build's own.
type mountShare struct {
	sharer *mountsync.Sharer
	export bool

	mu   sync.Mutex
	used map[string]string // sharing of each mount used, by id
	once map[string]*sync.Once
}

// newMountShare is nil without a shared cache.
func (b *builder) newMountShare() *mountShare {
	if b.opts.CacheRepo == nil || b.opts.Explain {
		return nil
	}
	return &mountShare{sharer: mountsync.New(b.opts.CacheRepo, b.opts.Store), export: !b.opts.NoCacheMountExport,
		used: map[string]string{}, once: map[string]*sync.Once{}}
}

// use imports the cache mount id into dir, once per build, before a step
// mounts it, and notes it for the export. A shared cache that fails only
// warns: the step runs with the copy it has.
func (b *builder) useMount(ctx context.Context, id, sharing, dir string) {
	ms := b.mounts
	if ms == nil || sharing == cache.SharingPrivate || b.cacheRepo() == nil {
		return
	}
	ms.mu.Lock()
	ms.used[id] = sharing
	once := ms.once[id]
	if once == nil {
		once = &sync.Once{}
		ms.once[id] = once
	}
	ms.mu.Unlock()
	once.Do(func() {
		if _, err := ms.sharer.Import(ctx, id, dir); err != nil && ctx.Err() == nil {
			b.rep.Warning(fmt.Sprintf("cache mount %s: %v; using the local copy", mountName(id), err))
		}
	})
}

// exportMounts sends every cache mount the build used to the shared
// cache, each under its lock when it is sharing=locked.
func (b *builder) exportMounts(ctx context.Context) {
	ms := b.mounts
	if ms == nil || !ms.export || b.cacheRepo() == nil {
		return
	}
	ms.mu.Lock()
	ids := make([]string, 0, len(ms.used))
	for id := range ms.used {
		ids = append(ids, id)
	}
	ms.mu.Unlock()
	slices.Sort(ids)
	for _, id := range ids {
		if err := b.exportMount(ctx, id, ms.used[id]); err != nil && ctx.Err() == nil {
			b.rep.Warning(fmt.Sprintf("cache mount %s: export: %v", mountName(id), err))
		}
	}
}

func (b *builder) exportMount(ctx context.Context, id, sharing string) error {
	dir, release, err := b.opts.Store.CacheMount(ctx, id, sharing, nil)
	if err != nil {
		return err
	}
	defer release()
	_, err = b.mounts.sharer.Export(ctx, id, dir)
	return err
}

// mountName is the id of a cache mount as written, without what the
// store adds to it (see cacheMount.dirID).
func mountName(id string) string {
	for i := 0; i < len(id); i++ {
		if id[i] == 0 {
			return id[:i]
		}
	}
	return id
}
