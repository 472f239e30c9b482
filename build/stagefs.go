package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/mybuild/mybuild/buildcontext"
	"github.com/mybuild/mybuild/overlay"
)

// stageFS is the root filesystem of a stage or image, as COPY --from reads
// it. Paths are absolute in that root, and symlinks resolve inside it.
type stageFS struct {
	stack *overlay.Stack
}

// Resolve expands one source, which may hold wildcards in any component,
// into what it names, sorted. A plain path must exist. As from the context,
// a symlink is followed for the content but keeps its own name.
func (s stageFS) Resolve(src string) ([]buildcontext.Match, error) {
	p := path.Clean("/" + src)
	if !strings.ContainsAny(p, "*?[") {
		r, err := s.stack.Resolve(p)
		if err != nil {
			return nil, err
		}
		if _, err := s.stack.Lstat(r); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%s: not found", src)
			}
			return nil, err
		}
		return []buildcontext.Match{{Path: r, Name: path.Base(p)}}, nil
	}
	var out []buildcontext.Match
	if err := s.glob("/", "/", strings.Split(strings.TrimPrefix(p, "/"), "/"), &out); err != nil {
		return nil, err
	}
	buildcontext.SortMatches(out)
	return out, nil
}

// glob matches parts below dir (resolved; matched is its last component
// as matched) and appends what exists.
func (s stageFS) glob(dir, matched string, parts []string, out *[]buildcontext.Match) error {
	if len(parts) == 0 {
		*out = append(*out, buildcontext.Match{Path: dir, Name: matched})
		return nil
	}
	part, rest := parts[0], parts[1:]
	var names []string
	if strings.ContainsAny(part, "*?[") {
		entries, err := s.stack.ReadDir(dir)
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
			if ok {
				names = append(names, e.Name())
			}
		}
	} else {
		names = []string{part}
	}
	for _, name := range names {
		next, err := s.stack.Resolve(path.Join(dir, name))
		if err != nil {
			return err
		}
		e, err := s.stack.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if len(rest) > 0 && !e.IsDir() {
			continue
		}
		if err := s.glob(next, name, rest, out); err != nil {
			return err
		}
	}
	return nil
}

// Walk lists what copying the resolved path p brings, as
// buildcontext.Context.Walk does for the context: p, then everything below
// it, depth first in name order.
func (s stageFS) Walk(p string) ([]buildcontext.File, error) {
	e, err := s.stack.Lstat(p)
	if err != nil {
		return nil, err
	}
	top, err := stageFile(e, "")
	if err != nil {
		return nil, err
	}
	files := []buildcontext.File{top}
	if !e.IsDir() {
		return files, nil
	}
	return s.walkDir(files, p, "")
}

func (s stageFS) walkDir(files []buildcontext.File, dir, rel string) ([]buildcontext.File, error) {
	entries, err := s.stack.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		childRel := path.Join(rel, e.Name())
		f, err := stageFile(e, childRel)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		if e.IsDir() {
			if files, err = s.walkDir(files, path.Join(dir, e.Name()), childRel); err != nil {
				return nil, err
			}
		}
	}
	return files, nil
}

func stageFile(e overlay.Entry, rel string) (buildcontext.File, error) {
	f := buildcontext.File{Rel: rel, Host: e.HostPath, Info: e.FileInfo}
	if e.Mode()&fs.ModeSymlink != 0 {
		link, err := os.Readlink(e.HostPath)
		if err != nil {
			return f, err
		}
		f.Link = link
	}
	xattrs, err := buildcontext.ReadXattrs(e.HostPath)
	f.Xattrs = xattrs
	return f, err
}
