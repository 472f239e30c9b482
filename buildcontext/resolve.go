package buildcontext

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// ErrNotFound reports a COPY source that names nothing in the context.
var ErrNotFound = errors.New("not found in the build context")

// Match is one path a COPY source names.
type Match struct {
	// Path is where it is: relative to the root, symlinks resolved.
	Path string
	// Name is the name a copy of it takes: its last component as written
	// or matched, before any symlink is followed, as in BuildKit (COPY
	// link /d/ makes /d/link, with the content link points to).
	Name string
}

// Resolve expands one COPY source, which may hold wildcards (*, ?, [...])
// in any component, into what it names, sorted. A source without wildcards
// must exist; a wildcard may match nothing, as in BuildKit. Paths are
// relative to the root, with symlinks resolved inside the root: no source
// can read outside the context.
func (c *Context) Resolve(src string) ([]Match, error) {
	rel, err := contextRelative(src)
	if err != nil {
		return nil, err
	}
	if !hasWildcard(rel) {
		p, _, found, err := c.follow(rel)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, fmt.Errorf("%s: %w", src, ErrNotFound)
		}
		return []Match{{Path: p, Name: path.Base(rel)}}, nil
	}
	matches, err := Glob(contextTree{c}, ".", rel)
	if err != nil {
		return nil, err
	}
	// A wildcard never names the whole context, even through a symlink to
	// its root.
	matches = slices.DeleteFunc(matches, func(m Match) bool { return m.Path == "." })
	return slices.Compact(matches), nil
}

// contextRelative cleans a source path. A leading "/" means the context
// root, and so does "", as in BuildKit; ".." may not climb above it.
func contextRelative(src string) (string, error) {
	rel := path.Clean(strings.TrimLeft(src, "/"))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s: source path is outside the build context", src)
	}
	return rel, nil
}

// follow resolves rel through symlinks inside the root, and returns the
// resolved relative path and whether it is a directory; found is false
// when it does not exist or is not visible (see visible).
func (c *Context) follow(rel string) (resolved string, dir, found bool, err error) {
	host, err := securejoin.SecureJoin(c.root, rel)
	if err != nil {
		return "", false, false, fmt.Errorf("%s: %w", rel, err)
	}
	fi, err := os.Lstat(host)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir) {
		return "", false, false, nil
	} else if err != nil {
		return "", false, false, err
	}
	if resolved, err = filepath.Rel(c.root, host); err != nil {
		return "", false, false, err
	}
	resolved = filepath.ToSlash(resolved)
	// The path as written must be visible too: an ignored symlink is not
	// followed, as BuildKit never receives it.
	for _, p := range slices.Compact([]string{rel, resolved}) {
		ok, err := c.visible(p, p == resolved && fi.IsDir())
		if err != nil || !ok {
			return "", false, false, err
		}
	}
	return resolved, fi.IsDir(), true, nil
}

// visible reports whether the context shows rel, as BuildKit's transfer
// of it does: when .dockerignore does not exclude it, or, for a
// directory (isDir: a real one, reached through no symlink) excluded
// with "!" patterns in the file, when something below it comes back.
func (c *Context) visible(rel string, isDir bool) (bool, error) {
	ignored, err := c.ignored(rel)
	if err != nil || !ignored {
		return !ignored, err
	}
	if !isDir || !c.ignore.Exclusions() {
		return false, nil
	}
	return c.bringsBack(rel)
}

// bringsBack reports whether anything below the ignored directory rel is
// not ignored.
func (c *Context) bringsBack(rel string) (bool, error) {
	entries, err := os.ReadDir(filepath.Join(c.root, rel))
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		child := path.Join(rel, e.Name())
		ok, err := c.visible(child, e.IsDir())
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// contextTree is the context as Glob matches in it: what .dockerignore
// excludes is not there.
type contextTree struct{ c *Context }

func (t contextTree) Follow(p string) (string, bool, bool, error) { return t.c.follow(p) }

func (t contextTree) ReadDir(dir string) ([]string, error) {
	f, err := os.Open(filepath.Join(t.c.root, dir))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}
