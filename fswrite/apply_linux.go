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

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/mybuild/mybuild/internal/xattr"
	"github.com/mybuild/mybuild/layer"
	"github.com/mybuild/mybuild/overlay"
)

// ApplyLayer applies the uncompressed layer tar r to the whole tree at
// root, as docker's applyLayer does to a merged root filesystem: an entry
// replaces what is at its path (a directory over a directory keeps it and
// takes the new metadata), ".wh.NAME" removes NAME, and ".wh..wh..opq"
// removes what its directory held before this layer. It is how a tree
// that is not an overlay (the root mybuild builds in, in place) takes a
// layer.
//
// Names resolve inside root, as if it were "/". keep says which paths
// (inside root) must be left alone, with everything below them: an entry
// at or below one is skipped, and no whiteout removes one. A directory
// holding one stays when a whiteout or an opaque marker removes it, with
// only what is kept and the directories on the way; an entry that is not
// a directory cannot replace it (ErrKeptBelow), as a symlink /var/run
// cannot replace a container's /var/run that holds a mount point.
func ApplyLayer(ctx context.Context, r io.Reader, root string, keep func(p string) bool) error {
	root, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("apply layer: %w", err)
	}
	l := NewLayer(root, overlay.NewStack())
	l.carried = func(name string) bool { return !xattr.Overlay(name) }
	l.lenient.xattrs = true
	a := &applier{l: l, keep: keep, added: map[string]bool{}}
	err = l.untar(ctx, tar.NewReader(r), "apply layer", "layer entry", func(h *tar.Header, r io.Reader) error {
		return a.entry(ctx, h, r)
	})
	if err != nil {
		return err
	}
	if err := l.Finish(); err != nil {
		return fmt.Errorf("apply layer: %w", err)
	}
	return nil
}

// applier applies one layer.
type applier struct {
	l     *Layer
	keep  func(p string) bool
	added map[string]bool // the paths this layer made, which its opaque markers spare
}

func (a *applier) entry(ctx context.Context, h *tar.Header, r io.Reader) error {
	if h.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	name, err := cleanName(h.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil // the root keeps its own metadata
	}
	dir, base := path.Split(name)
	if a.keep("/" + path.Clean(dir)) {
		return nil
	}
	if strings.HasPrefix(base, layer.WhiteoutPrefix) {
		parent, ok, err := a.existingDir(dir)
		if err != nil || !ok {
			return err // nothing there to remove
		}
		return a.whiteout(parent, base)
	}
	parent, err := a.l.mkParents(dir)
	if err != nil {
		return err
	}
	p := path.Join(parent, base)
	if a.keep(p) {
		return nil
	}
	a.added[p] = true
	if err := a.refuseKeptBelow(p, h.Typeflag == tar.TypeDir); err != nil {
		return err
	}
	if h.Typeflag == tar.TypeLink {
		return a.l.extractLink(ctx, h, p)
	}
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeCont, tar.TypeDir,
		tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return fmt.Errorf("unsupported entry type %q", h.Typeflag)
	}
	m, err := headerMeta(h, nil, a.l.carried)
	if err != nil {
		return err
	}
	if _, err := a.l.replace(p, m.Mode.IsDir()); err != nil {
		return err
	}
	return a.l.makeEntry(ctx, p, m, h.Linkname, r, h.Size)
}

// existingDir resolves dir inside the root, as mkParents does, but makes
// nothing: ok is false when it is not a directory there.
func (a *applier) existingDir(dir string) (p string, ok bool, err error) {
	host, err := securejoin.SecureJoin(a.l.upper, dir)
	if err != nil {
		return "", false, err
	}
	fi, err := os.Lstat(host)
	if err != nil || !fi.IsDir() {
		return "", false, nil
	}
	rel, ok := a.l.inUpper(host)
	if !ok {
		return "", false, errEscape // securejoin promises this never happens
	}
	return rel, !a.keep(rel), nil
}

// whiteout removes what ".wh.NAME" names in parent, or, for the opaque
// marker, everything parent held that this layer did not make.
func (a *applier) whiteout(parent, base string) error {
	if base == layer.OpaqueWhiteout {
		return a.clear(parent)
	}
	if strings.HasPrefix(base, layer.WhiteoutPrefix+layer.WhiteoutPrefix) {
		return nil // other ".wh..wh." names are aufs bookkeeping
	}
	target := strings.TrimPrefix(base, layer.WhiteoutPrefix)
	if target == "." || target == ".." || target == "" {
		return fmt.Errorf("invalid whiteout name")
	}
	p := path.Join(parent, target)
	if a.keep(p) || a.added[p] {
		return nil // a NAME of this layer hides what is below by itself
	}
	_, err := a.removeAll(p)
	return err
}

// clear removes the children of dir that this layer did not make.
func (a *applier) clear(dir string) error {
	entries, err := os.ReadDir(a.l.host(dir))
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := path.Join(dir, e.Name())
		if a.keep(p) || a.added[p] {
			continue
		}
		if _, err := a.removeAll(p); err != nil {
			return err
		}
	}
	return nil
}

// removeAll removes p and all it holds, but for what keep holds and the
// directories on the way to it, as the in-place mode's reset does;
// left says whether p stays for that.
func (a *applier) removeAll(p string) (left bool, err error) {
	host := a.l.host(p)
	fi, err := os.Lstat(host)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case !fi.IsDir():
		return false, os.Remove(host)
	}
	entries, err := os.ReadDir(host)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		c := path.Join(p, e.Name())
		kept := a.keep(c)
		if !kept {
			if kept, err = a.removeAll(c); err != nil {
				return false, err
			}
		}
		left = left || kept
	}
	if left {
		return true, nil
	}
	return false, os.Remove(host)
}

// ErrKeptBelow is the error of a layer entry that would replace a
// directory holding what ApplyLayer must leave alone with a file or a
// symlink.
var ErrKeptBelow = errors.New("a path below it must be left alone")

// refuseKeptBelow fails when an entry that is not a directory would
// replace a directory at p that holds a kept path: the directory cannot
// go, and the entry cannot be made. Nothing is removed then.
func (a *applier) refuseKeptBelow(p string, dir bool) error {
	host := a.l.host(p)
	if fi, err := os.Lstat(host); dir || err != nil || !fi.IsDir() {
		return nil
	}
	var kept string
	err := filepath.WalkDir(host, func(h string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if rel, _ := a.l.inUpper(h); a.keep(rel) {
			kept = rel
			return filepath.SkipAll
		}
		return nil
	})
	if err != nil {
		return err
	}
	if kept != "" {
		return fmt.Errorf("%s is a directory holding %s: %w", p, kept, ErrKeptBelow)
	}
	return nil
}
