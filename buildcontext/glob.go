package buildcontext

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"syscall"
)

// errNotDir is what listing or looking up below a non-directory fails
// with: no match, as a path that does not exist.
var errNotDir error = syscall.ENOTDIR

// Tree is a directory tree that COPY sources are matched in: the build
// context, or the root filesystem of a stage. Its paths are slash-separated
// and resolved: no symlink in them, and none that leads out of the tree.
type Tree interface {
	// Follow resolves p, a resolved directory joined with one name,
	// through symlinks inside the tree. It returns the resolved path and
	// whether it is a directory; found is false when p names nothing, or
	// nothing the tree shows.
	Follow(p string) (resolved string, dir, found bool, err error)
	// ReadDir returns the names in the resolved directory dir, in any
	// order. One that does not exist, or is not a directory, fails with an
	// error matching fs.ErrNotExist or syscall.ENOTDIR.
	ReadDir(dir string) ([]string, error)
}

// Glob expands pattern, slash-separated, clean and relative to root (a
// resolved directory of t), whose components may hold the wildcards of
// path.Match. It returns what pattern names in t, sorted by path, then
// name: each match's name is its last component as matched, before any
// symlink is followed. A component without wildcards is taken as it is,
// and a path that does not exist matches nothing.
func Glob(t Tree, root, pattern string) ([]Match, error) {
	var out []Match
	if err := glob(t, root, "", strings.Split(pattern, "/"), &out); err != nil {
		return nil, err
	}
	sortMatches(out)
	return out, nil
}

// glob matches parts below dir (resolved; name is its last component as
// matched) and appends what exists.
func glob(t Tree, dir, name string, parts []string, out *[]Match) error {
	if len(parts) == 0 {
		*out = append(*out, Match{Path: dir, Name: name})
		return nil
	}
	part, rest := parts[0], parts[1:]
	names := []string{part}
	if hasWildcard(part) {
		var err error
		if names, err = matchNames(t, dir, part); err != nil {
			return err
		}
	}
	for _, n := range names {
		next, isDir, found, err := t.Follow(path.Join(dir, n))
		if err != nil {
			return err
		}
		if !found || (len(rest) > 0 && !isDir) {
			continue
		}
		if err := glob(t, next, n, rest, out); err != nil {
			return err
		}
	}
	return nil
}

// matchNames returns the names in dir that match part, sorted.
func matchNames(t Tree, dir, part string) ([]string, error) {
	entries, err := t.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sort.Strings(entries)
	var names []string
	for _, e := range entries {
		ok, err := path.Match(part, e)
		if err != nil {
			return nil, fmt.Errorf("bad pattern %q: %w", part, err)
		}
		if ok {
			names = append(names, e)
		}
	}
	return names, nil
}

// sortMatches sorts matches by path, then name.
func sortMatches(m []Match) {
	sort.Slice(m, func(i, j int) bool {
		if m[i].Path != m[j].Path {
			return m[i].Path < m[j].Path
		}
		return m[i].Name < m[j].Name
	})
}

func hasWildcard(p string) bool {
	return strings.ContainsAny(p, "*?[")
}
