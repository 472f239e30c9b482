package layerdiff

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/mybuild/mybuild/internal/xattr"
	"github.com/mybuild/mybuild/overlay"
)

// ChangeKind says what a change does to the layers below.
type ChangeKind int

// The kinds of change, as in containerd's fs.ChangeKind.
const (
	// Add creates a path that does not exist below.
	Add ChangeKind = iota + 1
	// Modify replaces or changes a path that exists below.
	Modify
	// Delete removes a path that exists below.
	Delete
)

func (k ChangeKind) String() string {
	switch k {
	case Add:
		return "add"
	case Modify:
		return "modify"
	case Delete:
		return "delete"
	}
	return fmt.Sprintf("ChangeKind(%d)", int(k))
}

// Change is one entry of a layer.
type Change struct {
	Kind     ChangeKind
	Path     string      // clean, absolute inside the layer, e.g. "/etc/passwd"
	Info     fs.FileInfo // nil for Delete
	HostPath string      // where the file lives in the upper dir ("" for Delete)
	// Opaque is set on a directory that hides everything below it that is not
	// in this layer: a directory that existed below and was deleted and made
	// again. The tar gets a ".wh..wh..opq" entry for it.
	Opaque bool
	// xattrs names the xattrs of HostPath, when listed is set: the walker
	// lists them anyway, and the writer need not list them again.
	xattrs []string
	listed bool
}

// ErrRedirectOrMetacopy is returned for an upper dir that overlayfs wrote with
// redirect_dir or metacopy on: such a dir does not hold the layer by itself.
var ErrRedirectOrMetacopy = errors.New("overlay redirect or metacopy xattr found: " +
	"mybuild mounts overlays with redirect_dir=off,metacopy=off; " +
	"this upper dir was made with other options and cannot be turned into a layer")

// Changes walks upper in lexical order (depth first, the names in each
// directory sorted bytewise, a directory before its children) and reports
// each change. lower is the merged view of the layers below, or nil when
// there is nothing below.
//
// An overlay whiteout becomes a Delete. A directory marked opaque becomes a
// change with Opaque set only when a directory existed at that path below:
// overlayfs marks a directory opaque when it is made where a whiteout was, and
// may mark new directories too, and there the marker would say nothing.
// Entries carrying trusted.overlay.redirect or trusted.overlay.metacopy make it
// fail with ErrRedirectOrMetacopy.
func Changes(ctx context.Context, upper string, lower *overlay.Stack, fn func(Change) error) error {
	w := walker{ctx: ctx, lower: lower, fn: fn}
	return w.dir(upper, "/", lower != nil)
}

type walker struct {
	ctx   context.Context
	lower *overlay.Stack
	fn    func(Change) error
}

// dir reports the children of the directory host, which is p in the layer.
// below says whether the layers below may hold children of p.
func (w *walker) dir(host, p string, below bool) error {
	names, err := readDirNames(host)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		if err := w.entry(filepath.Join(host, name), path.Join(p, name), below); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) entry(host, p string, below bool) error {
	fi, err := os.Lstat(host)
	if err != nil {
		return fmt.Errorf("diff %s: %w", p, err)
	}
	if overlay.IsWhiteout(fi) {
		return w.fn(Change{Kind: Delete, Path: p})
	}
	names, err := xattr.List(host)
	if err != nil {
		return fmt.Errorf("diff %s: %w", p, err)
	}
	opaque := false
	for _, n := range names {
		switch n {
		case overlay.RedirectXattr, overlay.MetacopyXattr:
			return fmt.Errorf("diff %s: %s: %w", p, n, ErrRedirectOrMetacopy)
		case overlay.OpaqueXattr:
			if fi.IsDir() {
				if opaque, err = overlay.IsOpaque(host); err != nil {
					return fmt.Errorf("diff %s: %w", p, err)
				}
			}
		}
	}

	c := Change{Kind: Add, Path: p, Info: fi, HostPath: host, xattrs: names, listed: true}
	dirBelow := false
	if below {
		e, err := w.lower.Lstat(p)
		switch {
		case err == nil:
			c.Kind = Modify
			dirBelow = e.IsDir()
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("diff %s: lower: %w", p, err)
		}
	}
	c.Opaque = opaque && fi.IsDir() && dirBelow
	if err := w.fn(c); err != nil {
		return err
	}
	if fi.IsDir() {
		// Below an added or opaque directory nothing is visible from the
		// layers below, so there is nothing to look up there.
		return w.dir(host, p, dirBelow && !opaque)
	}
	return nil
}

// readDirNames returns the names in the directory, sorted bytewise.
func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("read dir: %w", err)
	}
	names, err := f.Readdirnames(-1)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("read dir %s: %w", dir, err)
	}
	slices.Sort(names)
	return names, nil
}
