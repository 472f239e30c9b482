package build

import (
	"context"
	"os"

	"github.com/mybuild/mybuild/cache"
	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/layerdiff"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// reusableKey holds, in the context of a COPY that missed, a reusable:
// the layer of its closest earlier record, whose unchanged files the new
// layer links rather than writes (see cache.Reusable), and whose blob's
// unchanged gzip members it copies rather than compresses.
type reusableKey struct{}

type reusable struct {
	files *cache.Reusable
	layer layer.Layer
}

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
	b.earlier.mu.Lock()
	rec := b.earlier.recs[miss.Earlier]
	b.earlier.mu.Unlock()
	if rec == nil || rec.Layer == nil || rec.Inputs.Parent != in.Parent || !b.opts.Store.HasLayer(rec.Layer.DiffID) {
		return ctx
	}
	r, err := b.opts.Store.Reusable(rec.Layer.DiffID)
	if err != nil {
		return ctx
	}
	return context.WithValue(ctx, reusableKey{}, &reusable{files: r, layer: *rec.Layer})
}

// reuseOption is the fswrite option that links the files of the layer
// withReusable put in ctx; nil when there is none.
func reuseOption(ctx context.Context) fswrite.LayerOption {
	re, ok := ctx.Value(reusableKey{}).(*reusable)
	if !ok {
		return nil
	}
	r := re.files
	return fswrite.WithReuse(func(p string, m fswrite.Meta, d digest.Digest) (string, bool) {
		return r.File(p, cache.FileMeta{
			Mode: unix.S_IFREG | uint32(toUnixMode(m.Mode)), UID: m.UID, GID: m.GID,
			Mtime: m.Mtime.UnixNano(), Digest: d,
		})
	})
}

// previousOption is the layerdiff option that copies the unchanged gzip
// members of the earlier layer withReusable put in ctx, when that layer
// is a gzip blob at the level c asks for, stored with its member table;
// nil when there is none. done closes the earlier blob.
func (b *builder) previousOption(ctx context.Context, c layer.Compression) (opt layerdiff.Option, done func()) {
	re, ok := ctx.Value(reusableKey{}).(*reusable)
	if !ok || c.OrDefault().Algorithm != layer.Gzip || re.layer.Compression().OrDefault() != c.OrDefault() {
		return nil, func() {}
	}
	store := b.opts.Store
	table, err := store.Members(re.layer.Digest)
	if err != nil {
		return nil, func() {}
	}
	members, err := layerdiff.UnmarshalMembers(c, table)
	if err != nil {
		return nil, func() {}
	}
	// Each member copied is checked against the table: a damaged blob is
	// compressed again, not copied.
	f, err := os.Open(store.BlobPath(re.layer.Digest))
	if err != nil {
		return nil, func() {}
	}
	return layerdiff.WithPrevious(&layerdiff.Previous{Members: members, Blob: f}), func() { f.Close() }
}
