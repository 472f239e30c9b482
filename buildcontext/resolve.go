package buildcontext

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
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
		p, err := c.follow(rel)
		if err != nil {
			return nil, err
		}
		if p == "" {
			return nil, fmt.Errorf("%s: %w", src, ErrNotFound)
		}
		return []Match{{Path: p, Name: path.Base(rel)}}, nil
	}
	var matches []Match
	if err := c.glob(".", ".", strings.Split(rel, "/"), &matches); err != nil {
		return nil, err
	}
	SortMatches(matches)
	return slices.Compact(matches), nil
}

// SortMatches sorts matches by path, then name.
func SortMatches(m []Match) {
	sort.Slice(m, func(i, j int) bool {
		if m[i].Path != m[j].Path {
			return m[i].Path < m[j].Path
		}
		return m[i].Name < m[j].Name
	})
}

// contextRelative cleans a source path. A leading "/" means the context
// root; ".." may not climb above it.
func contextRelative(src string) (string, error) {
	if src == "" {
		return "", errors.New("empty source path")
	}
	rel := path.Clean(strings.TrimLeft(src, "/"))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s: source path is outside the build context", src)
	}
	return rel, nil
}

// follow resolves rel through symlinks inside the root, and returns the
// resolved relative path, or "" when it does not exist or is ignored.
func (c *Context) follow(rel string) (string, error) {
	if ig, err := c.ignored(rel); err != nil || ig {
		return "", err
	}
	host, err := securejoin.SecureJoin(c.root, rel)
	if err != nil {
		return "", fmt.Errorf("%s: %w", rel, err)
	}
	if _, err := os.Lstat(host); errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	resolved, err := filepath.Rel(c.root, host)
	if err != nil {
		return "", err
	}
	resolved = filepath.ToSlash(resolved)
	if ig, err := c.ignored(resolved); err != nil || ig {
		return "", err
	}
	return resolved, nil
}

// glob matches the remaining components parts below dir (resolved,
// relative to the root; name is its last component as matched) and
// appends what exists and is not ignored.
func (c *Context) glob(dir, name string, parts []string, out *[]Match) error {
	if len(parts) == 0 {
		if dir != "." {
			*out = append(*out, Match{Path: dir, Name: name})
		}
		return nil
	}
	part, rest := parts[0], parts[1:]
	if !hasWildcard(part) {
		next, err := c.follow(path.Join(dir, part))
		if err != nil || next == "" {
			return err
		}
		return c.glob(next, part, rest, out)
	}
	host := filepath.Join(c.root, dir)
	entries, err := os.ReadDir(host)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		ok, err := path.Match(part, e.Name())
		if err != nil {
			return fmt.Errorf("bad pattern %q: %w", part, err)
		}
		if !ok {
			continue
		}
		next, err := c.follow(path.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		if next == "" {
			continue
		}
		if len(rest) > 0 {
			if fi, err := os.Stat(filepath.Join(c.root, next)); err != nil || !fi.IsDir() {
				continue
			}
		}
		if err := c.glob(next, e.Name(), rest, out); err != nil {
			return err
		}
	}
	return nil
}

func hasWildcard(p string) bool {
	return strings.ContainsAny(p, "*?[")
}
