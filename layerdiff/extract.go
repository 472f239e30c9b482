package layerdiff

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
	"slices"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/mybuild/mybuild/overlay"
)

var (
	errEscape   = errors.New("path escapes the layer root")
	errNotFound = errors.New("hard link target not found in the layer or below it")
)

// Extract unpacks an uncompressed layer tar into dir, which exists, in the
// format overlayfs stacks: a ".wh.NAME" entry becomes a whiteout (a char
// device 0/0) at NAME, a ".wh..wh..opq" entry makes its directory opaque
// (trusted.overlay.opaque=y).
//
// The tar is not trusted. Names are taken relative to dir whatever their
// leading "/" or "./", a name whose ".." would leave dir is refused, and
// symlinks made by earlier entries are followed as if dir were "/", so no
// entry writes outside dir. Xattrs in the overlay namespaces are dropped.
//
// Entries replace earlier ones of the same name; a directory over a
// directory only updates its metadata. Whiteouts follow the OCI rule that
// they only hide the layers below: ".wh.NAME" next to a NAME of the same layer
// does not remove it (a directory NAME becomes opaque instead).
//
// A char device 0/0 in the tar cannot be told from a whiteout in overlay
// format, so it becomes one, as with Docker's overlay2 driver.
func Extract(ctx context.Context, r io.Reader, dir string, opts ...ExtractOption) error {
	var o extractOptions
	for _, opt := range opts {
		opt(&o)
	}
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
	x := &extractor{
		ctx:      ctx,
		root:     root,
		parents:  o.parents,
		dirTimes: make(map[string]times),
		copies:   make(map[string]copied),
	}
	buf := getBuf()
	defer putBuf(buf)
	x.buf = *buf

	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("extract layer: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("extract layer: %w", err)
		}
		if err := x.entry(h, tr); err != nil {
			return fmt.Errorf("layer entry %q: %w", h.Name, err)
		}
	}
	return x.setDirTimes()
}

type extractor struct {
	ctx      context.Context
	root     string
	parents  *overlay.Stack
	view     *overlay.Stack   // this layer over the parents, made on first use
	dirTimes map[string]times // directories' times, set last
	copies   map[string]copied
	buf      []byte
}

type times struct{ atime, mtime time.Time }

// copied is a file copied in from below as the target of a hard link, so that
// further links to the same target link to the copy.
type copied struct {
	host string
	id   fileID
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

func (x *extractor) entry(h *tar.Header, r io.Reader) error {
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
	if strings.HasPrefix(base, whiteoutPrefix) {
		return x.whiteout(dir, base, h.ModTime)
	}
	parent, err := x.mkParents(dir)
	if err != nil {
		return err
	}
	host := filepath.Join(parent, base)
	if h.Typeflag == tar.TypeLink {
		return x.hardlink(h, host)
	}
	return x.create(h, r, host)
}

// whiteout handles ".wh.NAME" and ".wh..wh..opq" in dir. A whiteout made
// gets the entry's mtime, so that extracting is reproducible.
func (x *extractor) whiteout(dir, base string, mtime time.Time) error {
	parent, err := x.mkParents(dir)
	if err != nil {
		return err
	}
	if base == opaqueMarker {
		return overlay.SetOpaque(parent)
	}
	if strings.HasPrefix(base, whiteoutPrefix+whiteoutPrefix) {
		return nil // other ".wh..wh." names are aufs bookkeeping
	}
	target := strings.TrimPrefix(base, whiteoutPrefix)
	if target == "." || target == ".." {
		return fmt.Errorf("invalid whiteout name")
	}
	host := filepath.Join(parent, target)
	fi, err := os.Lstat(host)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := overlay.MakeWhiteout(host); err != nil {
			return err
		}
		return setTimes(host, mtime, mtime)
	case err != nil:
		return err
	case fi.IsDir():
		// NAME is in this layer too: it stays, and hides all below it.
		return overlay.SetOpaque(host)
	}
	return nil // a non-directory NAME of this layer hides what is below by itself
}

// mkParents resolves dir (relative, may pass through symlinks of this layer)
// inside the root and makes the directories that are missing. It returns the
// host path of dir.
func (x *extractor) mkParents(dir string) (string, error) {
	host, err := x.resolve(dir)
	if err != nil || host == x.root {
		return host, err
	}
	cur := x.root
	for _, part := range strings.Split(x.rel(host), "/") {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			err = x.implicitDir(cur, false)
		case err != nil:
		case fi.IsDir():
		case overlay.IsWhiteout(fi):
			// Deleted below and made again in this layer.
			if err = os.Remove(cur); err == nil {
				err = x.implicitDir(cur, true)
			}
		default:
			err = fmt.Errorf("parent %s: %w", x.rel(cur), syscall.ENOTDIR)
		}
		if err != nil {
			return "", err
		}
	}
	return host, nil
}

// resolve returns the host path of rel, following symlinks in this layer as
// if the root were "/".
func (x *extractor) resolve(rel string) (string, error) {
	host, err := securejoin.SecureJoin(x.root, rel)
	if err != nil {
		return "", err
	}
	if host != x.root && !strings.HasPrefix(host, x.root+"/") {
		return "", errEscape // securejoin promises this never happens
	}
	return host, nil
}

// rel returns host relative to the root.
func (x *extractor) rel(host string) string {
	return strings.TrimPrefix(strings.TrimPrefix(host, x.root), "/")
}

// replace clears host for a new entry. An existing directory is kept when
// the new entry is a directory too. It reports whether host was a whiteout,
// which a new directory has to carry on by hiding what is below it.
func (x *extractor) replace(host string, dir bool) (wasWhiteout bool, err error) {
	fi, err := os.Lstat(host)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case fi.IsDir() && dir:
		return false, nil
	case fi.IsDir():
		return false, os.RemoveAll(host)
	}
	return overlay.IsWhiteout(fi), os.Remove(host)
}

// setDirTimes sets the times of the directories, deepest first, now that
// nothing more is created in them. A directory replaced since, or now
// reached through a symlink, is left alone.
func (x *extractor) setDirTimes() error {
	rels := make([]string, 0, len(x.dirTimes))
	for rel := range x.dirTimes {
		rels = append(rels, rel)
	}
	slices.SortFunc(rels, func(a, b string) int {
		if d := strings.Count(b, "/") - strings.Count(a, "/"); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	for _, rel := range rels {
		host := filepath.Join(x.root, rel)
		if resolved, err := x.resolve(rel); err != nil || resolved != host {
			continue
		}
		if fi, err := os.Lstat(host); err != nil || !fi.IsDir() {
			continue
		}
		t := x.dirTimes[rel]
		if err := setTimes(host, t.atime, t.mtime); err != nil {
			return fmt.Errorf("extract layer: %s: %w", rel, err)
		}
	}
	return nil
}
