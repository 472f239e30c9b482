package build

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/sandbox"
)

// planCache plans a cache mount: a directory of the cache dir, kept from
// build to build, id'd by id= or else the target. It starts empty (with
// uid, gid and mode), or, with from=, as a copy of that stage's source=
// path (its root when none), as BuildKit's dispatchRunMounts sets it up.
func (b *builder) planCache(m *instructions.Mount, target string) (runMount, error) {
	if m.Target == "" {
		return nil, errors.New("target is required")
	}
	c := &cacheMount{b: b, id: m.CacheID, sharing: string(m.CacheSharing), target: target, ro: m.ReadOnly,
		mode: 0o755, source: path.Join("/", m.Source)}
	if c.source == "/" {
		// With source=, BuildKit mounts that path of the stage as it is:
		// uid, gid and mode are ignored, and the cache is the one of the
		// same id and stage mounted without them.
		c.uid, c.gid, c.mode = optUint(m.UID, 0), optUint(m.GID, 0), fs.FileMode(optUint(m.Mode, 0o755))
		c.owned = m.UID != nil || m.GID != nil || m.Mode != nil
	}
	if m.From != "" {
		from, err := b.fromStage(m.From)
		if err != nil {
			return nil, err
		}
		c.from = from
	} else if c.source != "/" {
		return nil, fmt.Errorf("source=%s needs from=: without it a cache starts empty", m.Source)
	}
	if c.id == "" {
		c.id = target
	}
	if c.sharing == "" {
		c.sharing = cache.SharingShared
	}
	return c, nil
}

// cacheMount is a directory of the cache dir, shared between builds.
type cacheMount struct {
	b                   *builder
	id, sharing, target string
	uid, gid            uint64
	mode                fs.FileMode
	// owned is set when uid, gid or mode is given without source= (which
	// makes BuildKit ignore them): BuildKit starts such a cache from a
	// directory made with them (at /cache of the stage of from=, unless
	// it has one), and keeps it apart from the caches of the same id
	// started otherwise.
	owned bool
	ro    bool
	// from is the stage of from=, nil for none; source is the path of it
	// the cache starts as, "/" for none (when uid, gid and mode apply).
	from   *stage
	source string
}

func (m *cacheMount) fields(k *cache.KeyBuilder) {
	k.String("cache", m.target).String("id", m.id).String("sharing", m.sharing).
		String("owner", fmt.Sprintf("%d:%d:%o", m.uid, m.gid, m.mode)).String("ro", strconv.FormatBool(m.ro))
	if m.from != nil {
		k.String("from", m.from.key.String()).String("source", m.source)
	}
}

// start is the path of the stage a cache with from= starts as: source, or
// /cache when uid, gid or mode apply, or the root.
func (m *cacheMount) start() string {
	if m.source == "/" && m.owned {
		return "/cache"
	}
	return m.source
}

// dirID names the cache's directory in the store: the id, and what the
// cache starts from, as BuildKit keys a cache mount by its id and its
// base. A cache that starts empty keeps the bare id. Caches of one id and
// stage that start at different paths are kept apart; BuildKit's are one
// copy of the stage, each mount seeing its path of it.
func (m *cacheMount) dirID() string {
	if !m.owned && m.from == nil {
		return m.id
	}
	base := cache.NewKey("cache-mount-base")
	if m.owned {
		base.String("mkdir", fmt.Sprintf("%d:%d:%o", m.uid, m.gid, m.mode&fs.ModePerm))
	}
	if m.from != nil {
		base.String("from", m.from.key.String()).String("start", m.start())
	}
	return m.id + "\x00" + base.Sum().String()
}

func (m *cacheMount) prepare(ctx context.Context) (prepared, error) {
	dir, release, err := m.b.opts.Store.CacheMount(ctx, m.dirID(), m.sharing, func(dir string) error {
		return m.init(ctx, dir)
	})
	if err != nil {
		return prepared{}, err
	}
	m.b.useMount(ctx, m.dirID(), m.sharing, dir)
	return prepared{mount: &sandbox.Mount{Kind: sandbox.MountBind, Source: dir, Target: m.target, ReadOnly: m.ro}, release: release}, nil
}

// init makes what a new cache holds in dir: a copy of the stage's start
// path; else (none, or no /cache there) an empty directory with the
// owner and mode.
func (m *cacheMount) init(ctx context.Context, dir string) error {
	if m.from != nil {
		stack, err := m.b.stack(ctx, m.from)
		if err != nil {
			return err
		}
		src, err := stack.Resolve(m.start())
		if err != nil {
			return err
		}
		_, err = stack.Lstat(src)
		switch {
		case err == nil:
			return fswrite.NewStage(stack).CopyOut(ctx, src, dir)
		case !errors.Is(err, fs.ErrNotExist):
			return err
		case m.start() != "/cache":
			return fmt.Errorf("source %s: not found in the stage", m.source)
		}
	}
	return fswrite.Apply(dir, fswrite.Meta{Owner: fswrite.Owner{UID: uint32(m.uid), GID: uint32(m.gid)}, Mode: fs.ModeDir | m.mode&fs.ModePerm})
}
