package fswrite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/mybuild/mybuild/internal/xattr"
	"github.com/mybuild/mybuild/overlay"
)

// ErrNotMovable is MoveUpper's error for an upper dir holding overlay
// whiteouts or xattrs, which a rename cannot carry over to a plain tree.
var ErrNotMovable = errors.New("upper dir holds overlay markers")

// MoveUpper moves what the overlay upper dir holds onto the tree at root,
// on the same filesystem, by renames, as ApplyLayer would apply its layer:
// an entry replaces what is at its path, and a directory over a directory
// keeps it, takes the upper one's metadata and takes its entries in the
// same way. Nothing is read or written but names and metadata, where
// applying the layer writes every file again.
//
// An upper dir holding whiteouts, opaque directories or other overlay
// xattrs is refused with ErrNotMovable before anything moves. keep is as
// ApplyLayer's: an entry that is not a directory cannot replace a
// directory holding a kept path (ErrKeptBelow). Any other failure leaves
// part of the entries moved: applying the layer then gives the tree the
// layer describes.
func MoveUpper(ctx context.Context, upper, root string, keep func(p string) bool) error {
	if err := movable(ctx, upper); err != nil {
		return err
	}
	m := &mover{upper: upper, root: root, keep: keep}
	return m.dir(ctx, "/")
}

// movable fails with ErrNotMovable when upper holds an overlay marker.
func movable(ctx context.Context, upper string) error {
	return filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.Type()&fs.ModeCharDevice != 0 {
			if fi, err := d.Info(); err != nil || overlay.IsWhiteout(fi) {
				return errors.Join(ErrNotMovable, err)
			}
		}
		if !d.IsDir() {
			return nil
		}
		names, err := xattr.List(p)
		if err != nil {
			return err
		}
		for _, n := range names {
			if xattr.Overlay(n) {
				return fmt.Errorf("%s: %w", p, ErrNotMovable)
			}
		}
		return nil
	})
}

// mover moves one upper dir.
type mover struct {
	upper, root string
	keep        func(p string) bool
}

// dir moves the entries of the upper directory at p (a path inside the
// tree) into the tree's directory at p.
func (m *mover) dir(ctx context.Context, p string) error {
	entries, err := os.ReadDir(filepath.Join(m.upper, p))
	if err != nil {
		return fmt.Errorf("move %s: %w", p, err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := m.entry(ctx, path.Join(p, e.Name()), e.IsDir()); err != nil {
			return err
		}
	}
	return nil
}

// entry moves the upper entry at p into the tree: a directory over a
// directory is merged into it, anything else replaces what is there.
func (m *mover) entry(ctx context.Context, p string, isDir bool) error {
	if m.keep(p) {
		return fmt.Errorf("move %s: left alone by this tree", p)
	}
	src, dst := filepath.Join(m.upper, p), filepath.Join(m.root, p)
	fi, err := os.Lstat(dst)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case isDir && fi.IsDir():
		return m.merge(ctx, p, src, dst)
	case fi.IsDir():
		if err := m.removeDir(p, dst); err != nil {
			return err
		}
	case isDir:
		if err := os.Remove(dst); err != nil {
			return err
		}
	}
	return os.Rename(src, dst)
}

// merge moves the upper directory src's entries into the tree's
// directory dst, then gives dst src's metadata, which the moves change.
func (m *mover) merge(ctx context.Context, p, src, dst string) error {
	sfi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	meta, err := MetaOf(src, sfi, func(name string) bool { return !xattr.Overlay(name) })
	if err != nil {
		return fmt.Errorf("move %s: %w", p, err)
	}
	if err := m.dir(ctx, p); err != nil {
		return err
	}
	return Apply(dst, meta)
}

// removeDir removes the tree's directory dst at p, which an entry that is
// not a directory replaces: refused when it holds a kept path.
func (m *mover) removeDir(p, dst string) error {
	err := filepath.WalkDir(dst, func(h string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if rel, _ := filepath.Rel(m.root, h); m.keep("/" + filepath.ToSlash(rel)) {
			return fmt.Errorf("%s is a directory holding /%s: %w", p, rel, ErrKeptBelow)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return os.RemoveAll(dst)
}
