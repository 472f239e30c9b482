package build

import (
	"context"
	"slices"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/fswrite"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// reusableKey holds, in the context of a COPY that missed, the layer of
// its closest earlier record, whose unchanged files the new layer links
// rather than writes (see cache.Reusable).
type reusableKey struct{}

// withReusable puts in ctx the layer the earlier record of a COPY made,
// when the COPY missed for its own inputs (its files, mostly) on the same
// parent, that layer is unpacked and sealed, and the driver lets new
// layers link its files. Not for ADD, whose archives could set the
// metadata of a linked file, through a hard link the archive holds. Not
// after a parent's miss either: the COPY then most likely makes the
// earlier layer again, which the commit keeps, and linking would only
// have changed the ctimes its seal vouches by.
func (b *builder) withReusable(ctx context.Context, p *plan, miss *Miss, in *stepInputs) context.Context {
	if p.kind != "copy" || miss == nil || miss.Earlier == "" || miss.DecidedBy != "" || !b.driver.Features().LinksLayers {
		return ctx
	}
	// The earlier record is among those the miss was explained against,
	// read already (one of the shared cache's is not: it has no layer
	// here).
	i := slices.IndexFunc(b.earlierRecords(), func(r *cache.Record) bool { return r.Key == miss.Earlier })
	if i < 0 {
		return ctx
	}
	rec := b.earlierRecords()[i]
	if rec.Layer == nil || rec.Inputs.Parent != in.Parent || !b.opts.Store.HasLayer(rec.Layer.DiffID) {
		return ctx
	}
	r, err := b.opts.Store.Reusable(rec.Layer.DiffID)
	if err != nil {
		return ctx
	}
	return context.WithValue(ctx, reusableKey{}, r)
}

// reuseOption is the fswrite option that links the files of the layer
// withReusable put in ctx; nil when there is none.
func reuseOption(ctx context.Context) fswrite.LayerOption {
	r, ok := ctx.Value(reusableKey{}).(*cache.Reusable)
	if !ok {
		return nil
	}
	return fswrite.WithReuse(func(p string, m fswrite.Meta, d digest.Digest) (string, bool) {
		return r.File(p, cache.FileMeta{
			Mode: unix.S_IFREG | uint32(toUnixMode(m.Mode)), UID: m.UID, GID: m.GID,
			Mtime: m.Mtime.UnixNano(), Digest: d,
		})
	})
}
