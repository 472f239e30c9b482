package build

import (
	"context"
	"errors"
	"io/fs"
	"os"

	"github.com/mybuild/mybuild/fswrite"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/overlay"
	"github.com/mybuild/mybuild/rootfs"
)

// writeBeforeBase makes the layer of a COPY or WORKDIR while the base
// layers of its stage are still being unpacked (see prefetch), instead of
// waiting for them: it writes the files on no layer at all, recording
// every path its writer looks at below (as the multi-platform sharing
// does, see shareLayer), and writes and compresses the layer blob. Once
// the base is unpacked, the layer stands when the base shows nothing at
// any of those paths either (COPY . /src, where the base has no /src):
// the writer would have made the same files on it, and the diff (whose
// lookups below are of paths the writer created) the same tar. The root
// is then rebased on the real layers and committed. Otherwise, or when
// the step fails on no layer (a --chown user the base's /etc/passwd
// has), made is false and the caller writes the layer the usual way.
func (b *builder) writeBeforeBase(ctx context.Context, st *stage, p *plan, info StepInfo) (_ *layer.Layer, made bool, err error) {
	// In a multi-platform build, only the platform that writes a layer
	// for all (see shareLayer) writes it ahead: the others' layers are
	// compressed once per diffID (diffOnce). Nor is a COPY that links
	// the files of an earlier layer (withReusable) written ahead: a
	// second writing would link and unlink them again, changing the
	// ctimes that layer's seal vouches by.
	if !viewSteps[p.kind] || b.driver.Features().Exclusive || !st.baseUnpacking() ||
		(b.platformLabel != "" && !writesForAll(ctx)) || reuseOption(ctx) != nil {
		return nil, false, nil
	}
	reads, ok := ctx.Value(readsKey{}).(*overlay.Reads)
	if !ok {
		reads = overlay.NewReads()
		ctx = withReads(ctx, reads)
	}
	root, err := b.driver.Root(ctx, nil)
	if err != nil {
		return nil, false, err
	}
	defer func() {
		// The upper dir of an attempt dropped is scratch space, which
		// the store's cleaning removes anyway.
		if cerr := root.Close(); cerr != nil && err == nil && made {
			err = cerr
		}
	}()
	rebaser, ok := root.(rootfs.Rebaser)
	if !ok {
		return nil, false, nil
	}
	if err := p.layer.makeLayer(ctx, root, info); err != nil {
		return nil, false, ctx.Err()
	}
	l, err := b.writeBlob(ctx, root, b.opts.Compression)
	if err != nil {
		return nil, false, err
	}
	lower, err := b.lower(ctx, st)
	if err != nil {
		return nil, false, err
	}
	base, err := b.driver.View(ctx, lower)
	if err != nil {
		return nil, false, err
	}
	if !baseShowsNothing(reads, root, base) {
		return nil, false, nil
	}
	if err := rebaser.Rebase(lower); err != nil {
		return nil, false, err
	}
	if _, err := root.Commit(l); err != nil {
		return nil, false, err
	}
	if b.platformLabel != "" {
		b.noteCompressed(ctx, l)
	}
	return &l, true, nil
}

// baseShowsNothing reports whether base has nothing at any path reads
// recorded, as no layer has, nor at any name the root's upper dir holds
// at its top: the only paths the diff looks up below that the writer may
// not have (deeper ones it looks up only under a directory the base has).
func baseShowsNothing(reads *overlay.Reads, root rootfs.Root, base *overlay.Stack) bool {
	none, err := fswrite.ViewDigest(reads, overlay.NewStack())
	if err != nil {
		return false
	}
	if view, err := fswrite.ViewDigest(reads, base); err != nil || view != none {
		return false
	}
	upper, _ := root.Files()
	entries, err := os.ReadDir(upper)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if _, err := base.Lstat("/" + e.Name()); !errors.Is(err, fs.ErrNotExist) {
			return false
		}
	}
	return true
}

// baseUnpacking reports whether prefetch is unpacking the stage's base
// at this moment.
func (st *stage) baseUnpacking() bool {
	if st.unpacking == nil {
		return false
	}
	select {
	case <-st.unpacking:
		return false
	default:
		return true
	}
}
