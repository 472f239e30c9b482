package layerdiff

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"path"

	"github.com/mybuild/mybuild/internal/atomicfile"
	"github.com/mybuild/mybuild/internal/xattr"
	"github.com/mybuild/mybuild/overlay"
)

// WriteRoot writes the root filesystem that stack shows merged to w, as
// one uncompressed tar, as `docker export` writes a container's: every
// entry as a layer holds it (headers normalised as in Write, hard links
// within a layer kept as links), and no whiteouts, since nothing is
// below. WithSourceDateEpoch clamps its times; WithCompression is
// ignored.
func WriteRoot(ctx context.Context, w io.Writer, stack *overlay.Stack, opts ...Option) error {
	o := newOptions(opts)
	cw := &changeWriter{ctx: ctx, tw: tar.NewWriter(w), epoch: o.epoch, links: make(map[fileID]firstLink)}
	walk := func(fn func(Change) error) error { return walkRoot(ctx, stack, "/", fn) }
	if err := walkAhead(ctx, walk, false, cw.handle); err != nil {
		return fmt.Errorf("write root filesystem: %w", err)
	}
	if err := cw.tw.Close(); err != nil {
		return fmt.Errorf("write root filesystem: %w", err)
	}
	return nil
}

// WriteRootFile replaces the file at p, atomically, with the tar
// WriteRoot writes: buildx's --output type=tar.
func WriteRootFile(ctx context.Context, p string, stack *overlay.Stack, opts ...Option) error {
	return atomicfile.Write(p, func(w io.Writer) error {
		return WriteRoot(ctx, w, stack, opts...)
	})
}

// walkRoot reports every entry under dir in the merged view as an Add, a
// directory before its children, names in order.
func walkRoot(ctx context.Context, stack *overlay.Stack, dir string, fn func(Change) error) error {
	entries, err := stack.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := path.Join(dir, e.Name())
		names, err := xattr.List(e.HostPath)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if err := fn(Change{Kind: Add, Path: p, Info: e.FileInfo, HostPath: e.HostPath, xattrs: names}); err != nil {
			return err
		}
		if e.IsDir() {
			if err := walkRoot(ctx, stack, p, fn); err != nil {
				return err
			}
		}
	}
	return nil
}
