package fswrite

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/mybuild/mybuild/internal/xattr"
)

// Untar unpacks an archive into dest (a resolved directory of the layer)
// as ADD does with BuildKit's chrootarchive.Untar: names and symlinks
// resolve inside dest, as if it were the root, through the layers below
// too; entries keep the archive's owner (or chown's, when not nil), mode,
// times and the xattrs a layer carries, and replace what is in their way
// unless both are directories. Whiteout names are ordinary files here.
// Directory times are set by Finish. WithUntarFilter and
// WithOwnersIfPermitted adapt it to archives that are not ADD's.
func (l *Layer) Untar(ctx context.Context, tr *tar.Reader, dest string, chown *Owner) error {
	if l.reuse != nil {
		// A hard link of the archive to a linked file would set its
		// metadata on the earlier layer's inode.
		return errors.New("untar: not into a layer that links files of another (WithReuse)")
	}
	return l.untar(ctx, tr, "read archive", "archive entry", func(h *tar.Header, r io.Reader) error {
		if l.untarFilter != nil {
			if keep, err := l.untarFilter(h); !keep || err != nil {
				return err
			}
		}
		return l.untarEntry(ctx, h, r, dest, chown)
	})
}

func (l *Layer) untarEntry(ctx context.Context, h *tar.Header, r io.Reader, dest string, chown *Owner) error {
	switch h.Typeflag {
	case tar.TypeXGlobalHeader:
		// PAX defaults, no file: skipped before its name makes any
		// parent directory, as moby's Unpack does.
		return nil
	case tar.TypeDir, tar.TypeReg, tar.TypeGNUSparse, tar.TypeSymlink, tar.TypeLink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return fmt.Errorf("unhandled tar header type %q", h.Typeflag)
	}
	rel := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
	if rel == "" {
		return nil // the archive's "./": dest itself keeps its metadata
	}
	parent, err := l.view.ResolveUnder(dest, path.Dir(rel))
	if err != nil {
		return err
	}
	if parent != dest && !strings.HasPrefix(parent, dest+"/") && dest != "/" {
		return fmt.Errorf("path escapes %s", dest)
	}
	if err := l.MkdirAll(parent, 0o755, Owner{}); err != nil {
		return err
	}
	m, err := headerMeta(h, chown, xattr.Carried)
	if err != nil {
		return err
	}
	p := path.Join(parent, path.Base(rel))
	if err := l.clearFor(p, m.Mode.IsDir()); err != nil {
		return err
	}
	if h.Typeflag == tar.TypeLink {
		return l.untarLink(ctx, h, dest, p, m)
	}
	// archive/tar fills in the holes of sparse entries.
	return l.makeEntry(ctx, p, m, h.Linkname, r, h.Size)
}

// clearFor makes way at p for a new entry. Whatever this layer has there
// goes, unless both are directories: then the one in the view is copied
// up. What a lower layer has is hidden by the new entry: a non-directory
// hides all below it, and a directory over a lower file is not merged with
// it.
func (l *Layer) clearFor(p string, dir bool) error {
	existing, err := l.Lookup(p)
	switch {
	case err != nil || existing == nil:
		return err
	case existing.IsDir() && dir:
		return l.copyUp(p)
	}
	l.parents = nil
	if err := os.RemoveAll(l.host(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// untarLink makes p a hard link to the entry h names, in dest. As moby's
// Untar does, the link's own metadata m is then set on the inode it shares
// with its target, whose type it takes: a link to a symlink is one.
func (l *Layer) untarLink(ctx context.Context, h *tar.Header, dest, p string, m Meta) error {
	target, err := l.view.ResolveUnder(dest, strings.TrimPrefix(path.Clean("/"+h.Linkname), "/"))
	if err != nil {
		return err
	}
	if err := l.linkOrCopy(ctx, target, p); err != nil {
		return err
	}
	fi, err := os.Lstat(l.host(p))
	if err != nil {
		return err
	}
	m.Mode = fi.Mode().Type() | m.Mode&^fs.ModeType
	return l.setMeta(p, m)
}

// linkOrCopy hard-links p to target when target is in this layer, and
// copies it otherwise: a layer cannot link to a file of another layer.
func (l *Layer) linkOrCopy(ctx context.Context, target, p string) error {
	if _, err := os.Lstat(l.host(target)); err == nil {
		return os.Link(l.host(target), l.host(p))
	}
	e, err := l.view.Lstat(target)
	if err != nil {
		return fmt.Errorf("hard link target %s: %w", target, err)
	}
	if !e.Mode().IsRegular() {
		return fmt.Errorf("hard link target %s is not a regular file", target)
	}
	return l.copyIn(ctx, e, p)
}
