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
	"path/filepath"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/mybuild/mybuild/internal/xattr"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/overlay"
)

var (
	errEscape = errors.New("path escapes the layer root")
	// ErrLinkNotFound is a layer's hard link whose target is neither in
	// the layer nor below it.
	ErrLinkNotFound = errors.New("hard link target not found in the layer or below it")
)

// implicitTime is the time of the parent directories a layer does not
// list and nothing below has: the Unix epoch, as whiteouts get, so that
// extracting is reproducible.
var implicitTime = time.Unix(0, 0)

// Extract unpacks the uncompressed layer tar r into dir, which exists, in
// the format overlayfs stacks, over the layers lower (nil for none): see
// layerdiff.Extract for what a layer may hold. Names resolve in this layer
// only, as if dir were "/"; the layers below give the targets of hard
// links the layer does not hold, copied in, and the metadata of parent
// directories it does not list. Xattrs in the overlay namespaces are
// dropped, and those the filesystem cannot hold are skipped. With
// skipDevices, device nodes are not made but reported to it; with digests,
// the content digest of every regular file written is.
func Extract(ctx context.Context, r io.Reader, dir string, lower *overlay.Stack, skipDevices func(p string), digests func(ContentDigest)) error {
	root, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("extract layer: %w", err)
	}
	fi, err := os.Lstat(root)
	if err == nil && !fi.IsDir() {
		err = &os.PathError{Op: "extract layer", Path: root, Err: syscall.ENOTDIR}
	}
	if err != nil {
		return fmt.Errorf("extract layer: %w", err)
	}
	if lower == nil {
		lower = overlay.NewStack()
	}
	l := NewLayer(root, lower)
	l.carried = func(name string) bool { return !xattr.Overlay(name) }
	l.lenient.xattrs = true
	l.skipDevices = skipDevices
	l.digests = digests
	err = l.untar(ctx, tar.NewReader(r), "extract layer", "layer entry", func(h *tar.Header, r io.Reader) error {
		return l.extractEntry(ctx, h, r)
	})
	if err != nil {
		return err
	}
	if err := l.Finish(); err != nil {
		return fmt.Errorf("extract layer: %w", err)
	}
	return nil
}

func (l *Layer) extractEntry(ctx context.Context, h *tar.Header, r io.Reader) error {
	if h.Typeflag == tar.TypeXGlobalHeader {
		return nil // records for the archive, none of which a layer uses
	}
	name, err := cleanName(h.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil // the root: its metadata is the layer dir's own, not the tar's
	}
	dir, base := path.Split(name)
	if strings.HasPrefix(base, layer.WhiteoutPrefix) {
		return l.whiteout(dir, base, h.ModTime)
	}
	parent, err := l.mkParents(dir)
	if err != nil {
		return err
	}
	p := path.Join(parent, base)
	switch h.Typeflag {
	case tar.TypeLink:
		return l.extractLink(ctx, h, p)
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeCont, tar.TypeDir,
		tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return fmt.Errorf("unsupported entry type %q", h.Typeflag)
	}
	m, err := headerMeta(h, nil, l.carried)
	if err != nil {
		return err
	}
	wasWhiteout, err := l.replace(p, m.Mode.IsDir())
	if err != nil {
		return err
	}
	if err := l.makeEntry(ctx, p, m, h.Linkname, r, h.Size); err != nil {
		return err
	}
	if wasWhiteout && m.Mode.IsDir() {
		// Deleted below and made again here: it hides what is below.
		return overlay.SetOpaque(l.host(p))
	}
	return nil
}

// cleanName makes a tar name relative to the layer root: leading "/" and
// "./" go, and a ".." that would climb above the root is an error. "." is
// the root itself.
func cleanName(name string) (string, error) {
	name = strings.TrimLeft(name, "/")
	depth := 0
	for _, part := range strings.Split(name, "/") {
		switch part {
		case "", ".":
		case "..":
			if depth--; depth < 0 {
				return "", errEscape
			}
		default:
			depth++
		}
	}
	return path.Clean(name), nil
}

// whiteout handles ".wh.NAME" and ".wh..wh..opq" in dir. A whiteout made
// gets the entry's mtime, so that extracting is reproducible. Whiteouts
// only hide the layers below, as the OCI rule says: ".wh.NAME" next to a
// NAME of the same layer does not remove it (a directory NAME becomes
// opaque instead).
func (l *Layer) whiteout(dir, base string, mtime time.Time) error {
	parent, err := l.mkParents(dir)
	if err != nil {
		return err
	}
	if base == layer.OpaqueWhiteout {
		return overlay.SetOpaque(l.host(parent))
	}
	if strings.HasPrefix(base, layer.WhiteoutPrefix+layer.WhiteoutPrefix) {
		return nil // other ".wh..wh." names are aufs bookkeeping
	}
	target := strings.TrimPrefix(base, layer.WhiteoutPrefix)
	if target == "." || target == ".." {
		return fmt.Errorf("invalid whiteout name")
	}
	host := l.host(path.Join(parent, target))
	fi, err := os.Lstat(host)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := overlay.MakeWhiteout(host); err != nil {
			return err
		}
		return pathTarget(host).utimes(timespec(mtime), timespec(mtime))
	case err != nil:
		return err
	case fi.IsDir():
		// NAME is in this layer too: it stays, and hides all below it.
		return overlay.SetOpaque(host)
	}
	return nil // a non-directory NAME of this layer hides what is below by itself
}

// mkParents resolves dir (relative, may pass through symlinks of this
// layer, but not of the layers below) inside the root and makes the
// directories that are missing. It returns dir's path in the layer.
func (l *Layer) mkParents(dir string) (string, error) {
	if p, ok := l.parents[dir]; ok {
		return p, nil
	}
	p, err := l.makeParents(dir)
	if err != nil {
		return "", err
	}
	if l.parents == nil {
		l.parents = map[string]string{}
	}
	l.parents[dir] = p
	return p, nil
}

// makeParents is mkParents without the memory of earlier answers.
func (l *Layer) makeParents(dir string) (string, error) {
	host, err := securejoin.SecureJoin(l.upper, dir)
	if err != nil {
		return "", err
	}
	rel, ok := l.inUpper(host)
	if !ok {
		return "", errEscape // securejoin promises this never happens
	}
	if rel == "/" {
		return "/", nil
	}
	p := ""
	for _, part := range strings.Split(strings.TrimPrefix(rel, "/"), "/") {
		p += "/" + part
		fi, err := os.Lstat(l.host(p))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			err = l.implicitDir(p, false)
		case err != nil:
		case fi.IsDir():
		case overlay.IsWhiteout(fi):
			// Deleted below and made again in this layer.
			l.parents = nil
			if err = os.Remove(l.host(p)); err == nil {
				err = l.implicitDir(p, true)
			}
		default:
			err = fmt.Errorf("parent %s: %w", strings.TrimPrefix(p, "/"), syscall.ENOTDIR)
		}
		if err != nil {
			return "", err
		}
	}
	return p, nil
}

// implicitDir makes a parent directory the tar does not list. It takes the
// metadata of the same directory below, as overlayfs' copy-up would;
// without one, 0755 root:root dated implicitTime. A directory made where
// this layer has a whiteout is opaque, and takes nothing from below.
func (l *Layer) implicitDir(p string, opaque bool) error {
	if !opaque {
		if e, err := l.lower.Lstat(p); err == nil && e.IsDir() {
			return l.copyDir(p, e)
		}
	}
	m := Meta{Mode: fs.ModeDir | 0o755, Mtime: implicitTime}
	if err := mknode(l.host(p), m, ""); err != nil {
		return err
	}
	if opaque {
		if err := overlay.SetOpaque(l.host(p)); err != nil {
			return err
		}
	}
	return l.setMeta(p, m)
}

// replace clears p for a new entry. An existing directory is kept when the
// new entry is a directory too. It reports whether p was a whiteout, which
// a new directory has to carry on by hiding what is below it.
func (l *Layer) replace(p string, dir bool) (wasWhiteout bool, err error) {
	host := l.host(p)
	fi, err := os.Lstat(host)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case fi.IsDir() && dir:
		return false, nil
	}
	l.parents = nil
	if fi.IsDir() {
		return false, os.RemoveAll(host)
	}
	return overlay.IsWhiteout(fi), os.Remove(host)
}

// extractLink makes p a hard link to the entry h names. A target in this
// layer is linked; one only found below is copied in. The link's own
// metadata is the target's.
func (l *Layer) extractLink(ctx context.Context, h *tar.Header, p string) error {
	target, err := cleanName(h.Linkname)
	if err != nil {
		return fmt.Errorf("link target %q: %w", h.Linkname, err)
	}
	if target == "." {
		return fmt.Errorf("link target %q: is the root", h.Linkname)
	}
	tp, err := l.view.ResolveParent("/" + target)
	if err != nil {
		return fmt.Errorf("link target %q: %w", h.Linkname, err)
	}
	e, err := l.view.Lstat(tp)
	if errors.Is(err, fs.ErrNotExist) {
		err = ErrLinkNotFound
	}
	if err != nil {
		return fmt.Errorf("link target %q: %w", h.Linkname, err)
	}
	if e.IsDir() {
		return fmt.Errorf("link target %q: is a directory", h.Linkname)
	}
	host := l.host(p)
	if e.HostPath == host {
		return nil // a link to itself
	}
	if _, err := l.replace(p, false); err != nil {
		return err
	}
	if rel, ok := l.inUpper(e.HostPath); ok && rel != "/" {
		//	ln target host
		return os.Link(e.HostPath, host)
	}
	if err := l.copyIn(ctx, e, p); err != nil {
		return fmt.Errorf("copy link target %q from below: %w", h.Linkname, err)
	}
	return nil
}
